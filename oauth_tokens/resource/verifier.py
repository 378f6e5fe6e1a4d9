"""Which verifier checks this project's bearer tokens.

- Local mode (default): the provider app is installed here; its verifier
  (our keys, our revocation state) is registered with the spec layer in its
  ``AppConfig.ready()`` and found with ``oauth2.verifier.local_verifier()``.
- Remote mode (``OAUTH_TOKENS["JWKS_URL"]`` set): a separate service verifies
  with the provider's JWKS, optionally asking its introspection endpoint
  (``remote.py``).

Either way a token string is verified once and its claims cached until it
expires; revocation is still checked on every request. With
``OAUTH_TOKENS["RESOURCE"]`` set, a token whose ``aud`` does not contain this
resource server's identifier is refused (RFC 9068 section 4, RFC 8707): one
provider may serve several resources, and a token meant for another is not ours.
Without it, ``aud`` must contain the default audience (``AUDIENCE``, else the
issuer). The local verifier accepts the tokens its provider issued for any
resource, so this check, on every request, is what keeps them apart.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from oauth_tokens import process_caches
from oauth_tokens.oauth2 import verifier as spec
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.resource.tokens import AccessToken
from oauth_tokens.settings import token_settings

_chosen: spec.AccessTokenVerifier | None = None
#: The audience this resource server accepts and what a token for another one is told,
#: read from the settings once per change (it is checked on every request).
_audience: tuple[str, str] | None = None


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
    claims = get_verifier().verify(token)
    audience, problem = _audience or _accepted_audience()
    aud = claims.get("aud")  # RFC 7519 section 4.1.3: one string or an array
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise InvalidToken(problem)
    return AccessToken(claims)


def _accepted_audience() -> tuple[str, str]:
    """``RESOURCE`` when set (RFC 8707: tokens for another resource of the same
    provider are refused here), else the default audience."""
    global _audience
    resource = token_settings.RESOURCE
    if resource:
        _audience = (str(resource), "The access token is meant for another resource")
    else:
        _audience = (token_settings.audience, "The access token is meant for another audience")
    return _audience


@process_caches.resets_on("OAUTH_TOKENS", "INSTALLED_APPS")
def reset() -> None:
    global _chosen, _audience
    _chosen = None
    _audience = None
