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
``OAUTH_TOKENS["RESOURCE"]`` is set, RFC 9728 section 5.1).
"""

from __future__ import annotations

from importlib.util import find_spec

from django.http import HttpRequest
from rest_framework import authentication
from rest_framework.request import Request

from oauth_tokens.oauth2.errors import OAuth2Error, bearer_challenge
from oauth_tokens.resource import verifier
from oauth_tokens.resource.errors import OAuthAPIException
from oauth_tokens.resource.metadata import metadata_url
from oauth_tokens.resource.tokens import AccessToken, ClientPrincipal, TokenUser, principal_for
from oauth_tokens.responses import bearer_token_of

__all__ = ["BearerTokenAuthentication", "ClientPrincipal", "TokenUser", "authenticate_request"]


def authenticate_request(request: HttpRequest | Request) -> AccessToken | None:
    """The verified bearer token of a Django request, None without bearer credentials,
    or an ``OAuth2Error`` (RFC 6750 section 3.1)."""
    raw = bearer_token_of(request)
    return None if raw is None else verifier.verify(raw)


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
        return bearer_challenge(realm=self.www_authenticate_realm, resource_metadata=metadata_url())


if find_spec("drf_spectacular") is not None:  # optional: document the scheme in OpenAPI
    from oauth_tokens.resource import spectacular  # noqa: F401,E402  (registers the extension)
