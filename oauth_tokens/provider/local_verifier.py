"""This project's access-token verifier: our signing keys, our revocation state.

One ``CachingVerifier`` per process, registered with the spec layer in
``AppConfig.ready()`` (``oauth2.verifier.register_local_verifier``), so the
resource side of the same project uses it without importing the provider.
Keys come from ``keys.verification_key`` (cached per process); revocations from
a ``RevocationList`` fed by ``revocation_broadcast`` (polled, never a query per
request).

It accepts every token this server issued, whatever resource it is for (RFC
8707: ``aud`` the default audience or any resource this server issues for), as
introspection, userinfo and the validation endpoint must; the resource side
then checks that ``aud`` names *its* identifier (``resource.verifier``).
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.db import DatabaseError
from django.db.models import Max
from django.db.models.signals import post_delete, post_save

from oauth_tokens import process_caches
from oauth_tokens.oauth2 import resources as resource_indicators
from oauth_tokens.oauth2 import verifier as spec
from oauth_tokens.oauth2.errors import TemporarilyUnavailable
from oauth_tokens.oauth2.revocation_list import Entry, RevocationList
from oauth_tokens.provider import keys, models, revocation_broadcast
from oauth_tokens.settings import token_settings


def config() -> spec.VerifierConfig:
    return spec.VerifierConfig(
        issuer=token_settings.issuer, audience=token_settings.audience, leeway=int(token_settings.JWT_LEEWAY),
        lifetime_allowed=lifetime_allowed, accepts_audience=issued_for,
    )


def issued_for(audience: str) -> bool:
    """Is ``audience`` a resource this server issues tokens for (``RESOURCES``, or
    without a list any the default policy allows)?"""
    listed = token_settings.RESOURCES
    return audience in listed if listed else resource_indicators.acceptable_by_default(audience)


#: (read at, longest client override in seconds, 0 for none).
_longest_override: tuple[float, int] = (-math.inf, 0)
#: A lifetime beyond every bound we know re-reads the overrides at most this often.
UNKNOWN_LIFETIME_RELOAD_INTERVAL = 1.0


def lifetime_allowed(seconds: float) -> bool:
    """Could this provider have granted an access token living ``seconds``?

    ``MAX_TOKEN_LIFETIME`` when set; else up to ``ACCESS_TOKEN_LIFETIME`` (no
    query), or up to the longest client override, read from the database at
    most once per ``SIGNING_KEY_RELOAD_INTERVAL``, and at once (at most once a
    second) when a token lives longer than the override we know: a client whose
    override was just raised in another process is not refused.
    """
    bound = token_settings.MAX_TOKEN_LIFETIME
    if bound is not None:
        return seconds <= bound
    if seconds <= token_settings.ACCESS_TOKEN_LIFETIME:
        return True
    global _longest_override
    read_at, longest = _longest_override
    age = time.monotonic() - read_at
    if seconds <= longest and age < float(token_settings.SIGNING_KEY_RELOAD_INTERVAL):
        return True
    if seconds > longest and age < UNKNOWN_LIFETIME_RELOAD_INTERVAL:
        return False
    try:
        longest = models.Client.objects.aggregate(m=Max("access_token_lifetime"))["m"] or 0
    except DatabaseError as exc:
        raise TemporarilyUnavailable("The clients' token lifetimes cannot be read; retry shortly") from exc
    _longest_override = (time.monotonic(), longest)
    return seconds <= longest


def forget_lifetimes(**kwargs: Any) -> None:
    """A client was saved or deleted here: read the overrides again when needed."""
    global _longest_override
    _longest_override = (-math.inf, 0)


def wall_clock() -> float:
    """Unix time from the provider's clock seam (tests patch ``models.now``)."""
    return models.now().timestamp()


revocations = RevocationList(
    version=revocation_broadcast.current_version,
    load=revocation_broadcast.load_revoked,
    interval=lambda: float(token_settings.REVOCATION_POLL_INTERVAL),
    clock=time.monotonic,
    wall_clock=wall_clock,
    authoritative_version=revocation_broadcast.authoritative_version,
)


def _revoked_here(entries: list[Entry], *, committed: bool) -> None:
    revocations.add(entries, provisional=not committed)


revocation_broadcast.on_local_change(_revoked_here)

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


@process_caches.resets_on("OAUTH_TOKENS", "SECRET_KEY")
def reset() -> None:
    """Forget verified tokens and reload revocations (settings or keys changed)."""
    _verifier.clear()
    revocation_broadcast.forget_pending()
    revocations.invalidate()
    forget_lifetimes()


def register() -> None:
    spec.register_local_verifier(verifier)
    uid = "oauth_tokens.provider.local_verifier.lifetimes"
    post_save.connect(forget_lifetimes, sender=models.Client, dispatch_uid=uid + "_saved")
    post_delete.connect(forget_lifetimes, sender=models.Client, dispatch_uid=uid + "_deleted")
