"""Making new tokens: the signed access token and its row, a refresh token and
its row, an ID token, and the user claims of the ID token and userinfo.

Everything here happens before any write (signing is the slow part): the store
then only runs the INSERTs (and, for a rotation or a code, the
compare-and-swap), so it holds its locks for as short as possible. Rows are
returned unsaved; the claims are built by the spec layer (``oauth2.jwt``,
``oauth2.oidc``) from plain values read here.

DPoP (RFC 9449): given the thumbprint of the request's proof key (``jkt``), an
access token carries ``cnf: {"jkt": ...}`` and its response says ``token_type:
DPoP``, whatever grant issued it. A public client's refresh token is bound to
the key too (section 5), and its successors keep the binding; a confidential
client's is not (it authenticates at each refresh instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils.module_loading import import_string

from oauth_tokens import crypto
from oauth_tokens.oauth2 import dpop, oidc, resources, scopes
from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.oauth2.store import TokenSet
from oauth_tokens.provider import family_usage, keys
from oauth_tokens.provider.models import AccessToken, AuthorizationCode, Client, DeviceCode, RefreshToken
from oauth_tokens.settings import token_settings

#: What a token is issued from: the code (or device code) it redeems, the refresh
#: token it rotates, or nothing (client_credentials). It gives the user and the family.
Origin = AuthorizationCode | DeviceCode | RefreshToken | None


@dataclass(frozen=True)
class NewAccessToken:
    value: str
    row: AccessToken  # unsaved
    lifetime: int
    token_type: str = "Bearer"

    def response(self, *, refresh_token: str | None = None, id_token: str | None = None) -> TokenSet:
        return TokenSet(access_token=self.value, expires_in=self.lifetime, scope=self.row.scope,
                        refresh_token=refresh_token, id_token=id_token, token_type=self.token_type)


def access_token(client: Client, scope: str, origin: Origin, *, now: datetime, ip: str | None,
                 targets: tuple[str, ...] = (), jkt: str | None) -> NewAccessToken:
    """An RFC 9068 access token for ``client`` and ``origin``'s user, in ``origin``'s family,
    whose ``aud`` is ``targets`` (RFC 8707 resources; none: the default audience); bound
    to the DPoP key whose thumbprint is ``jkt`` (RFC 9449 section 6.1), if given. ``jkt``
    has no default on purpose: every caller passes its store's ``dpop_jkt``, so no
    grant issues a Bearer token to a request that sent a DPoP proof."""
    user_id = origin.user_id if origin is not None else None
    lifetime = client.access_lifetime()
    # Time-ordered: unique, not secret, and cheap to insert into a big jti index.
    jti = crypto.time_ordered_uuid().hex
    claims = oauth_jwt.access_token_claims(
        issuer=token_settings.issuer,
        audience=resources.audience(targets, token_settings.audience),
        subject=oidc.subject(client.client_id, user_id),
        client_id=client.client_id,
        scope=scope,
        jti=jti,
        issued_at=int(now.timestamp()),
        lifetime=lifetime,
        extra={"cnf": {"jkt": jkt}} if jkt else None,
    )
    row = AccessToken(
        jti=jti,
        family=origin.family if origin is not None else None,
        client=client,
        user_id=user_id,
        scope=scope,
        ip_address=ip,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    return NewAccessToken(keys.sign(claims), row, lifetime, dpop.TOKEN_TYPE if jkt else "Bearer")


def refresh_token(
    client: Client, origin: AuthorizationCode | DeviceCode | RefreshToken, *, now: datetime, jkt: str | None
) -> tuple[str, RefreshToken]:
    """(plaintext, unsaved row) of the next refresh token of ``origin``'s family: the
    first one (``origin`` is the code) or the successor of ``origin``. It keeps the
    family's scope and resources and lives its idle lifetime, but never past the end of its family
    (which began when the code was redeemed). A successor keeps its family's DPoP
    binding; a first token of a public client is bound to ``jkt`` when given."""
    parent = origin if isinstance(origin, RefreshToken) else None
    started = (parent.family_started_at if parent is not None else None) or now
    family_ends = started + timedelta(seconds=client.family_lifetime())
    value = crypto.new_token(32)
    row = RefreshToken(
        digest=crypto.digest(value),
        family=origin.family,
        parent=parent,
        client=client,
        user_id=origin.user_id,
        scope=origin.scope,
        resources=origin.resources,
        created_at=now,
        expires_at=min(now + timedelta(seconds=client.refresh_lifetime()), family_ends),
        family_started_at=started,
        dpop_jkt=parent.dpop_jkt if parent is not None else (jkt or "") if not client.is_confidential else "",
    )
    return value, row


@dataclass(frozen=True)
class FirstTokens:
    response: TokenSet
    access: AccessToken  # unsaved
    refresh: RefreshToken | None  # unsaved


def first_tokens(client: Client, grant: AuthorizationCode | DeviceCode, *, now: datetime,
                 ip: str | None, targets: tuple[str, ...] = (), jkt: str | None) -> FirstTokens:
    """What redeeming ``grant`` (an authorization code, an approved device code)
    issues: an access token for ``targets`` (RFC 8707: some of the grant's
    resources); a refresh token, the first of a new family, when the
    client may refresh (the family's usage history starts on it: anomaly
    detection); an ID token for scope ``openid``."""
    new_access = access_token(client, grant.scope, grant, now=now, ip=ip, targets=targets, jkt=jkt)
    refresh_value, refresh = None, None
    if "refresh_token" in client.grant_type_list:
        refresh_value, refresh = refresh_token(client, grant, now=now, jkt=jkt)
        family_usage.start(refresh, ip=ip, now=now)
    id_token_value = id_token(client, grant, now=now) if "openid" in scopes.parse(grant.scope) else None
    return FirstTokens(new_access.response(refresh_token=refresh_value, id_token=id_token_value),
                       new_access.row, refresh)


def id_token(client: Client, code: AuthorizationCode | DeviceCode, *, now: datetime) -> str | None:
    """The signed ID token of ``code``'s user (None when the code has none)."""
    user = code.user
    if user is None:
        return None
    issued_at = int(now.timestamp())
    claims = oidc.id_token_claims(
        issuer=token_settings.issuer,
        subject=oidc.subject(client.client_id, code.user_id),
        audience=client.client_id,
        issued_at=issued_at,
        lifetime=int(token_settings.ID_TOKEN_LIFETIME),
        auth_time=int(code.auth_time.timestamp()) if code.auth_time is not None else None,
        nonce=code.nonce,
        user=user_claims(user, client, scopes.parse(code.scope)),
    )
    return keys.sign(claims, typ="JWT")


def user_claims(user: Any, client: Client, granted: tuple[str, ...]) -> dict[str, Any]:
    """The OIDC claims about ``user`` that ``granted`` releases, with the project's
    ``ID_TOKEN_CLAIMS_HOOK`` over them (ID token and userinfo)."""
    return oidc.user_claims(profile(user), granted, extra=_hook_claims(user, client, granted))


def profile(user: Any) -> oidc.Profile:
    """What the standard claims may say about ``user``, read from the user model."""
    return oidc.Profile(
        username=user.get_username(),
        name=user.get_full_name() if hasattr(user, "get_full_name") else "",
        given_name=getattr(user, "first_name", "") or "",
        family_name=getattr(user, "last_name", "") or "",
        email=getattr(user, "email", None) or "",
    )


def _hook_claims(user: Any, client: Client, granted: tuple[str, ...]) -> dict[str, Any] | None:
    hook = token_settings.ID_TOKEN_CLAIMS_HOOK
    if not hook:
        return None
    func = import_string(hook) if isinstance(hook, str) else hook
    return func(user=user, client=client, scopes=granted) or {}
