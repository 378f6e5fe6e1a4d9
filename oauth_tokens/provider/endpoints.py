"""Token revocation (RFC 7009), introspection (RFC 7662) and OIDC userinfo.

Revocation: ``token`` (access or refresh), any ``token_type_hint`` (a wrong or
unknown hint only changes the search order, section 2.1), 200 for unknown
tokens (section 2.2). A client that sends credentials must authenticate and
can revoke only its own tokens; another client's token is left alone, still
with 200. Without client credentials, presenting a valid access token is proof
enough to revoke *that* token (seed 003: ``token=ACCESS_TOKEN``); a refresh
token needs its client: confidential clients authenticate, public ones send
``client_id`` (section 5). Revoking a refresh token revokes its whole family,
access tokens included. Revocations that no confidential client authenticated
are rate-limited per address (``UNAUTHENTICATED_REVOCATION_LIMIT``): each one
makes every process load the newly revoked ids.

Introspection: the caller must authenticate as a confidential client (section
2.1); it sees its own tokens, and a client allowed the ``INTROSPECTION_SCOPE``
(a resource server) sees every token. Anything inactive, unknown or not the
caller's is exactly ``{"active": false}`` (section 2.2).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from oauth_tokens.oauth2 import bearer, oidc, scopes
from oauth_tokens.oauth2.dpop import confirmed_jkt
from oauth_tokens.oauth2.errors import InsufficientScope, InvalidClient, InvalidToken, RateLimited
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.provider import (
    client_assertions,
    client_auth,
    dpop,
    issuing,
    local_verifier,
    revocation,
    stores,
    throttle,
)
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken
from oauth_tokens.provider.views import SENSITIVE, OAuthView, parse_request
from oauth_tokens.responses import bearer_token_of, json_response
from oauth_tokens.settings import token_settings

INACTIVE = {"active": False}


def authenticate(request: TokenRequest, store: stores.OrmTokenStore, *, required: bool,
                 endpoint: tuple[str, str]) -> Client | None:
    """The client the request authenticates as; None when it sent no client credentials
    (and they are optional). Failures are throttled and audited like the token endpoint's."""
    creds = request.credentials
    if not creds.client_id:
        if required:
            raise InvalidClient("Client authentication is required", used_basic=True)
        return None
    return client_auth.authenticate(request, store, endpoint=endpoint)


def _search_order(hint: str | None) -> tuple[str, str]:
    return ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")


def find_access_token(token: str) -> tuple[dict[str, Any], AccessToken] | None:
    """(claims, row) of an unexpired access token we signed, whatever its revocation state."""
    if token.count(".") != 2:
        return None
    try:
        claims = local_verifier.decode(token)
    except InvalidToken:
        return None
    row = AccessToken.objects.select_related("client", "user").filter(jti=claims["jti"]).first()
    return (claims, row) if row is not None else None


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters(*SENSITIVE), name="dispatch")
class RevokeView(OAuthView):
    http_method_names = ["post", "options"]

    @method_decorator(sensitive_variables())
    def post(self, request: HttpRequest) -> HttpResponse:
        token_request = parse_request(request)
        store = stores.OrmTokenStore(ip=token_request.client_ip)
        client = authenticate(token_request, store, required=False,
                              endpoint=client_assertions.REVOCATION_ENDPOINT)
        if (client is None or not client.is_confidential) and not throttle.revocation_allowed(store.ip or ""):
            raise RateLimited(
                retry_after=int(token_settings.UNAUTHENTICATED_REVOCATION_WINDOW),
                description="Too many revocation requests without client authentication from this address; "
                            "retry later, or authenticate as a confidential client",
            )
        token = token_request.require("token")
        for kind in _search_order(token_request.get("token_type_hint")):
            if kind == "access_token":
                found = find_access_token(token)
                if found is not None:
                    row = found[1]
                    if client is None or row.client_id == client.pk:
                        revocation.revoke_access_token(row, ip=store.ip)
                    break
            else:
                refresh = store.find_refresh_token(token)
                if refresh is not None:
                    if client is None:
                        raise InvalidClient("Revoking a refresh token needs the client's credentials", used_basic=True)
                    if refresh.issued_to(client):
                        store.revoke_family(refresh, reason="revoked")
                    break
        return json_response({})


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters(*SENSITIVE), name="dispatch")
class IntrospectView(OAuthView):
    http_method_names = ["post", "options"]

    @method_decorator(sensitive_variables())
    def post(self, request: HttpRequest) -> HttpResponse:
        token_request = parse_request(request)
        store = stores.OrmTokenStore(ip=token_request.client_ip)
        caller = authenticate(token_request, store, required=True,
                              endpoint=client_assertions.INTROSPECTION_ENDPOINT)
        assert caller is not None
        if not caller.is_confidential:
            raise InvalidClient("Introspection needs a confidential client")
        token = token_request.require("token")
        for kind in _search_order(token_request.get("token_type_hint")):
            answer = self.access(token) if kind == "access_token" else self.refresh(token, store)
            if answer is not None:
                owner, body = answer
                sees_all = token_settings.INTROSPECTION_SCOPE in caller.scope_list
                return json_response(body if owner == caller.pk or sees_all else INACTIVE)
        return json_response(INACTIVE)

    def access(self, token: str) -> tuple[int, dict[str, Any]] | None:
        found = find_access_token(token)
        if found is None:
            return None
        claims, row = found
        # ``state`` also says expired once exp has passed: the verifier's leeway is
        # for other servers' clocks, not for the issuer answering about its own token.
        if row.state != "active" or not row.client.is_active or not _user_active(row.user):
            return row.client_id, INACTIVE
        # A DPoP-bound token says so: token_type DPoP and its cnf (RFC 9449 section 6.2).
        token_type = "DPoP" if confirmed_jkt(claims) else "Bearer"
        body: dict[str, Any] = {"active": True, **claims, "token_type": token_type}
        if row.user is not None:
            body["username"] = row.user.get_username()
        return row.client_id, body

    def refresh(self, token: str, store: stores.OrmTokenStore) -> tuple[int, dict[str, Any]] | None:
        row: RefreshToken | None = store.find_refresh_token(token)
        if row is None:
            return None
        if row.state != "active" or not row.client.is_active:
            return row.client_id, INACTIVE
        body: dict[str, Any] = {
            "active": True,
            "token_type": "refresh_token",
            **({"cnf": {"jkt": row.dpop_jkt}} if row.dpop_jkt else {}),
            "iss": token_settings.issuer,
            "client_id": row.client.client_id,
            "sub": oidc.subject(row.client.client_id, row.user_id),
            "scope": row.scope,
            "iat": int(row.created_at.timestamp()),
            "exp": int(row.expires_at.timestamp()),
        }
        if row.user is not None:
            body["username"] = row.user.get_username()
        return row.client_id, body


def _user_active(user: Any) -> bool:
    return user is None or bool(getattr(user, "is_active", True))


def _userinfo_bearer(request: HttpRequest) -> str:
    """The Bearer token of a userinfo request (header, form body or query, RFC 6750)."""
    token = bearer_token_of(request)
    if token is None:
        raise bearer.MissingToken()
    return token


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(OAuthView):
    """OIDC Core section 5.3: the claims of the token's user, for scope ``openid``."""

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        claims = dpop.presented_token(request, _userinfo_bearer)[1]
        granted = scopes.parse(str(claims.get("scope", "")))
        if "openid" not in granted:
            raise InsufficientScope(scope="openid")
        row = AccessToken.objects.select_related("client", "user").filter(jti=claims["jti"]).first()
        if row is None or row.user is None or not _user_active(row.user):
            raise InvalidToken("The access token does not speak for an active user")
        body = {"sub": claims["sub"], **issuing.user_claims(row.user, row.client, granted)}
        return json_response(body)

    post = get
