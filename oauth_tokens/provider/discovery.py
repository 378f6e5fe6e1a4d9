"""Discovery documents: RFC 8414 authorization-server metadata, OpenID Connect
Discovery 1.0, and the JWKS (RFC 7517) of our current and still-valid previous keys.

Mount at the site root with ``path("", include("oauth_tokens.provider.well_known_urls"))``.
``issuer`` is ``OAUTH_TOKENS["ISSUER"]``, exactly the ``iss`` of our tokens
(RFC 8414 section 3.3); endpoint URLs are the issuer's origin plus the paths
where the provider's URLs are mounted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from oauth_tokens.oauth2 import client_assertion, dpop, pkce
from oauth_tokens.oauth2.errors import InvalidRequest
from oauth_tokens.provider import jwt_bearer, keys
from oauth_tokens.provider.endpoint_urls import url_of
from oauth_tokens.provider.views import OAuthView
from oauth_tokens.responses import json_response
from oauth_tokens.settings import token_settings

GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_AUTH_METHODS = [client_assertion.PRIVATE_KEY_JWT, client_assertion.CLIENT_SECRET_JWT]
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", *JWT_AUTH_METHODS, "none"]
#: RFC 8414 section 2: the algorithms client assertions may be signed with.
AUTH_SIGNING_ALGORITHMS = [*client_assertion.ASYMMETRIC_ALGORITHMS, *client_assertion.HMAC_ALGORITHMS]
CACHE_CONTROL = "public, max-age=300"
OIDC_CLAIMS = [
    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
    "name", "given_name", "family_name", "preferred_username", "email", "email_verified",
]


def authorization_server_metadata() -> dict[str, Any]:
    """RFC 8414 section 2; RFC 8628 section 4 when the device grant is on, RFC 9126
    section 5 when PAR is, the ``end_session_endpoint`` of RP-initiated logout, and
    RFC 7591's ``registration_endpoint`` when dynamic registration is on. Client
    authentication by JWT (RFC 7523) at the token, revocation and introspection
    endpoints, with the algorithms of ``*_auth_signing_alg_values_supported``."""
    metadata: dict[str, Any] = {
        "issuer": token_settings.issuer,
        "authorization_endpoint": url_of("oauth_tokens:authorize", "/oauth/authorize"),
        "token_endpoint": url_of("oauth_tokens:token", "/oauth/token"),
        "jwks_uri": url_of("oauth_tokens_well_known:jwks", "/.well-known/jwks.json"),
        "userinfo_endpoint": url_of("oauth_tokens:userinfo", "/oauth/userinfo"),
        "revocation_endpoint": url_of("oauth_tokens:revoke", "/oauth/revoke"),
        "introspection_endpoint": url_of("oauth_tokens:introspect", "/oauth/introspect"),
        "scopes_supported": list(token_settings.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                          *JWT_AUTH_METHODS],
        "introspection_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGORITHMS,
        "code_challenge_methods_supported": [pkce.S256],
        # RFC 9207: every authorization response carries ``iss``.
        "authorization_response_iss_parameter_supported": True,
        # RFC 9449 section 5.1: DPoP proofs are accepted at the token endpoint.
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),
    }
    if token_settings.DEVICE_AUTHORIZATION_ENABLED:
        metadata["device_authorization_endpoint"] = url_of("oauth_tokens:device-authorization",
                                                           "/oauth/device_authorization")
        metadata["grant_types_supported"] = [*GRANT_TYPES, DEVICE_GRANT_TYPE]
    if jwt_bearer.enabled():  # RFC 7523 section 2.1 (and ID-JAG)
        metadata["grant_types_supported"] = [*metadata["grant_types_supported"], JWT_BEARER_GRANT_TYPE]
    if token_settings.TOKEN_EXCHANGE_ENABLED:  # RFC 8693
        metadata["grant_types_supported"] = [*metadata["grant_types_supported"], TOKEN_EXCHANGE_GRANT_TYPE]
    if token_settings.PUSHED_AUTHORIZATION_REQUESTS_ENABLED:  # RFC 9126 section 5
        metadata["pushed_authorization_request_endpoint"] = url_of("oauth_tokens:par", "/oauth/par")
        metadata["require_pushed_authorization_requests"] = bool(
            token_settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS)
    if token_settings.RP_INITIATED_LOGOUT_ENABLED:  # OpenID Connect RP-Initiated Logout 1.0 section 2.1
        metadata["end_session_endpoint"] = url_of("oauth_tokens:logout", "/oauth/logout")
    if token_settings.REGISTRATION_ENABLED:
        metadata["registration_endpoint"] = url_of("oauth_tokens:register", "/oauth/register")
    if token_settings.CLIENT_ID_METADATA_DOCUMENTS:
        # A client_id may be the https URL of the client's metadata document.
        metadata["client_id_metadata_document_supported"] = True
    return metadata


def id_token_signing_algorithms() -> list[str]:
    """What ID tokens are actually signed with: the algorithm of the current signing key.

    Not ``SIGNING_ALGORITHM``: changing that setting takes effect at the next
    ``rotatekeys``, and until then tokens are still signed with the old key's
    algorithm. OpenID Connect Discovery requires RS256 here, so relying parties
    need ``SIGNING_ALGORITHM = "RS256"`` (the default)."""
    return [keys.current_key()[1]]


def openid_configuration() -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 section 3."""
    return {
        **authorization_server_metadata(),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": id_token_signing_algorithms(),
        "claims_supported": OIDC_CLAIMS,
    }


def _public(body: dict[str, Any]) -> HttpResponse:
    response = json_response(body)
    response["Cache-Control"] = CACHE_CONTROL
    del response["Pragma"]
    return response


def _issuer_path_matches(issuer_path: str | None) -> None:
    """An issuer with a path has its documents at a URL naming that path (RFC 8414
    section 3.1: ``/.well-known/oauth-authorization-server/<path>``; OpenID Connect
    Discovery section 4: ``<issuer>/.well-known/openid-configuration``). Any other
    path is not ours: 404."""
    if issuer_path is None:
        return
    if "/" + issuer_path.strip("/") != urlsplit(token_settings.issuer).path.rstrip("/"):
        raise InvalidRequest("No authorization server has this issuer", status_code=404)


@method_decorator(csrf_exempt, name="dispatch")  # read-only: a write is the OAuth 405, not the CSRF page
class AuthorizationServerMetadataView(OAuthView):
    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest, issuer_path: str | None = None) -> HttpResponse:
        _issuer_path_matches(issuer_path)
        return _public(authorization_server_metadata())


@method_decorator(csrf_exempt, name="dispatch")  # read-only: a write is the OAuth 405, not the CSRF page
class OpenIDConfigurationView(OAuthView):
    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest, issuer_path: str | None = None) -> HttpResponse:
        _issuer_path_matches(issuer_path)
        return _public(openid_configuration())


@method_decorator(csrf_exempt, name="dispatch")  # read-only: a write is the OAuth 405, not the CSRF page
class JwksView(OAuthView):
    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return _public(keys.jwks())
