"""Which verifier checks this project's bearer tokens.

- Local mode (default): the provider app is installed here; its verifier
  (our keys, our revocation state) is registered with the spec layer in its
  ``AppConfig.ready()`` and found with ``oauth2.verifier.local_verifier()``.
- Remote mode (``OAUTH_TOKENS["JWKS_URL"]`` set): a separate service verifies
  with the provider's JWKS, optionally asking its introspection endpoint
  (``remote.py``).

Either way a token string is verified once and its claims cached until it
expires; revocation is still checked on every request.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from oauth_tokens import process_caches
from oauth_tokens.oauth2 import verifier as spec
from oauth_tokens.resource.tokens import AccessToken
from oauth_tokens.settings import token_settings

_chosen: spec.AccessTokenVerifier | None = None


def get_verifier() -> spec.AccessTokenVerifier:
    global _chosen
    chosen = _chosen
    if chosen is None:
        chosen = _chosen = _build()
    return chosen


def _build() -> spec.AccessTokenVerifier:
    if token_settings.JWKS_URL:
        from oauth_tokens.resource import remote

        return remote.build_verifier()
    local = spec.local_verifier()
    if local is None:
        raise ImproperlyConfigured(
            'Bearer tokens need a verifier: add "oauth_tokens.provider" to INSTALLED_APPS (local mode) '
            'or set OAUTH_TOKENS["JWKS_URL"] to the provider\'s JWKS (remote mode).'
        )
    return local


def verify(token: str) -> AccessToken:
    """The verified token, or ``InvalidToken`` (or ``TemporarilyUnavailable``)."""
    return AccessToken(get_verifier().verify(token))


@process_caches.resets_on("OAUTH_TOKENS", "INSTALLED_APPS")
def reset() -> None:
    global _chosen
    _chosen = None
