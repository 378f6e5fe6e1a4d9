"""DRF ``BearerTokenAuthentication`` (RFC 6750 section 2.1, RFC 9068 section 4).

Thin by design: find the bearer token (``oauth2.bearer``), verify it (the
cached verifier: no query, no signature check after the first request with a
given token), hand DRF the token and a lazy user. ``None`` when the request
carries no bearer credentials (another authentication class may take it);
otherwise an RFC 6750 error: 401 ``invalid_token`` with a description, 400
``invalid_request`` for a malformed request, each with its
``WWW-Authenticate: Bearer`` challenge. Put it first in
``DEFAULT_AUTHENTICATION_CLASSES`` so that DRF's plain 401 carries
``WWW-Authenticate: Bearer realm="api"`` (and ``resource_metadata="..."`` when
``OAUTH_TOKENS["RESOURCE"]`` is set, RFC 9728 section 5.1), followed by the
DPoP challenge (``DPoP algs="..."``): both schemes are accepted.

DPoP (RFC 9449 section 7): ``Authorization: DPoP <token>`` with a ``DPoP``
proof for this request (``dpop_http.check_binding``: method, URI, ``ath``,
fresh ``iat``, unused ``jti`` in the shared cache, the token's ``cnf.jkt``;
a nonce when ``DPOP_RESOURCE_NONCE_REQUIRED``). No database query either. A
DPoP-bound token sent as ``Bearer`` is refused (section 7.2).
"""

from __future__ import annotations

from importlib.util import find_spec

from django.http import HttpRequest
from rest_framework import authentication
from rest_framework.request import Request

from oauth_tokens import dpop_http
from oauth_tokens.oauth2.dpop import DPoPInvalidToken, dpop_challenge
from oauth_tokens.oauth2.errors import InvalidToken, OAuth2Error, bearer_challenge
from oauth_tokens.resource import verifier
from oauth_tokens.resource.errors import OAuthAPIException
from oauth_tokens.resource.metadata import metadata_url
from oauth_tokens.resource.tokens import AccessToken, ClientPrincipal, TokenUser, principal_for
from oauth_tokens.responses import bearer_token_of
from oauth_tokens.settings import token_settings

__all__ = ["BearerTokenAuthentication", "ClientPrincipal", "TokenUser", "authenticate_request",
           "unauthenticated_challenge"]


def authenticate_request(request: HttpRequest | Request) -> AccessToken | None:
    """The verified access token of a Django request (Bearer, or DPoP with its proof),
    None without credentials, or an ``OAuth2Error`` (RFC 6750 section 3.1, RFC 9449
    section 7.1)."""
    dpop_token = dpop_http.token_of(request)
    if dpop_token is not None:
        try:
            token = verifier.verify(dpop_token)
        except InvalidToken as error:
            raise DPoPInvalidToken(error.description) from None
        dpop_http.check_binding(request, dpop_token, token.claims,
                                nonce_required=bool(token_settings.DPOP_RESOURCE_NONCE_REQUIRED))
        return token
    raw = bearer_token_of(request)
    if raw is None:
        return None
    token = verifier.verify(raw)
    dpop_http.refuse_bound_bearer(token.claims)
    return token


def unauthenticated_challenge(realm: str = "api") -> str:
    """The challenge of a request without credentials: Bearer, then DPoP (both accepted)."""
    return f"{bearer_challenge(realm=realm, resource_metadata=metadata_url())}, {dpop_challenge()}"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request):
        try:
            token = authenticate_request(request)  # DRF's Request hands META and body through
        except OAuth2Error as error:
            raise OAuthAPIException(error) from None
        if token is None:
            return None
        return principal_for(token), token

    def authenticate_header(self, request) -> str:
        return unauthenticated_challenge(self.www_authenticate_realm)


if find_spec("drf_spectacular") is not None:  # optional: document the scheme in OpenAPI
    from oauth_tokens.resource import spectacular  # noqa: F401,E402  (registers the extension)
