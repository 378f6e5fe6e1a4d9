"""This project's access-token verifier: our signing keys, our revocation state.

One ``CachingVerifier`` per process, registered with the spec layer in
``AppConfig.ready()`` (``oauth2.verifier.register_local_verifier``), so the
resource side of the same project uses it without importing the provider.
Keys come from ``keys.verification_key`` (cached per process); revocations from
a ``RevocationList`` fed by ``revocation`` (polled, never a query per request).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.signals import setting_changed

from oauth_tokens.oauth2 import verifier as spec
from oauth_tokens.oauth2.revocation_list import Entry, RevocationList
from oauth_tokens.provider import keys, models, revocation
from oauth_tokens.settings import token_settings


def config() -> spec.VerifierConfig:
    return spec.VerifierConfig(
        issuer=token_settings.issuer, audience=token_settings.audience, leeway=int(token_settings.JWT_LEEWAY)
    )


def wall_clock() -> float:
    """Unix time from the provider's clock seam (tests patch ``models.now``)."""
    return models.now().timestamp()


revocations = RevocationList(
    version=revocation.current_version,
    load=revocation.load_revoked,
    interval=lambda: float(token_settings.REVOCATION_POLL_INTERVAL),
    clock=time.monotonic,
    wall_clock=wall_clock,
    authoritative_version=revocation.authoritative_version,
)


def _revoked_here(entries: list[Entry], *, committed: bool) -> None:
    revocations.add(entries, provisional=not committed)


revocation.on_local_change(_revoked_here)

_verifier = spec.CachingVerifier(
    key_for=keys.verification_key,
    config=config,
    is_revoked=lambda claims: revocations.is_revoked(claims["jti"]),
    clock=wall_clock,
    max_entries=lambda: int(token_settings.VERIFIED_TOKEN_CACHE_SIZE),
)


def verifier() -> spec.CachingVerifier:
    return _verifier


def decode(token: str) -> dict[str, Any]:
    """Verify signature and claims without the cache or the revocation list
    (introspection and revocation look the row up themselves)."""
    return spec.decode_access_token(token, key_for=keys.verification_key, config=config(), now=wall_clock())


def reset() -> None:
    """Forget verified tokens and reload revocations (settings or keys changed)."""
    _verifier.clear()
    revocation.forget_pending()
    revocations.invalidate()


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("OAUTH_TOKENS", "SECRET_KEY"):
        reset()


setting_changed.connect(_settings_changed, dispatch_uid="oauth_tokens.provider.authority")


def register() -> None:
    spec.register_local_verifier(verifier)
