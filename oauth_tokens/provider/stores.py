"""The ORM implementation of ``oauth2.store.TokenStore``.

Each state change is one transaction; rotation and code redemption are a single
conditional UPDATE (``... WHERE used_at IS NULL``), so N concurrent requests
with one token give one successor on SQLite and PostgreSQL alike. Signals go
out after commit.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.utils.module_loading import import_string

from oauth_tokens import crypto, signals
from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.oauth2 import scopes
from oauth_tokens.oauth2.store import TokenSet
from oauth_tokens.provider import keys, models, revocation
from oauth_tokens.provider.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    RefreshToken,
    TokenEvent,
)
from oauth_tokens.settings import token_settings


def subject_for(client: Client, user: Any | None) -> str:
    """RFC 9068 ``sub``: the user's id, or for client_credentials the client id."""
    return str(user.pk) if user is not None else client.client_id


def _atomic():
    return transaction.atomic(using=router.db_for_write(RefreshToken))


def user_claims(user: Any, client: Client, granted: tuple[str, ...]) -> dict[str, Any]:
    """OIDC standard claims for the granted scopes, plus the project's hook."""
    claims: dict[str, Any] = {}
    if "profile" in granted:
        claims["preferred_username"] = user.get_username()
        name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        if name:
            claims["name"] = name
        for attr, claim in (("first_name", "given_name"), ("last_name", "family_name")):
            if getattr(user, attr, ""):
                claims[claim] = getattr(user, attr)
    if "email" in granted and getattr(user, "email", ""):
        claims["email"] = user.email
        claims["email_verified"] = False
    hook = token_settings.ID_TOKEN_CLAIMS_HOOK
    if hook:
        func = import_string(hook) if isinstance(hook, str) else hook
        claims.update(func(user=user, client=client, scopes=granted) or {})
    return claims


def _by_digest(queryset, value: str):
    """The row whose digest column matches ``value`` under the current or a fallback key."""
    candidates = crypto.digest_candidates(value)
    try:
        if len(candidates) == 1:
            return queryset.get(digest=candidates[0])
        return queryset.filter(digest__in=candidates).first()
    except queryset.model.DoesNotExist:
        return None


def _of_active_user(row):
    """``row``, or None when its user was deactivated: a deactivated user gets no new
    tokens, so their codes and refresh tokens are as good as unknown (invalid_grant)."""
    if row is not None and row.user is not None and not getattr(row.user, "is_active", True):
        return None
    return row


class OrmTokenStore:
    def __init__(self, *, ip: str = "") -> None:
        self.ip = ip or None

    def now(self) -> datetime:
        # Looked up on the module at each call: tests patch ``models.now`` to move time.
        return models.now()

    # -- lookups -------------------------------------------------------------
    # Lookups use get() on a unique column: no ORDER BY to build and run, which is
    # a measurable share of a token request.
    def get_client(self, client_id: str) -> Client | None:
        try:
            return Client.objects.get(client_id=client_id)
        except Client.DoesNotExist:
            return None

    def find_code(self, code: str) -> AuthorizationCode | None:
        return _of_active_user(_by_digest(AuthorizationCode.objects.select_related("client", "user"), code))

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        # The grant checks the token against the authenticated client, which it
        # already holds; only the user is needed with the row.
        return _of_active_user(_by_digest(RefreshToken.objects.select_related("user"), token))

    # -- issuing -------------------------------------------------------------
    def _issue(
        self,
        client: Client,
        user: Any | None,
        scope: str,
        *,
        family: uuid.UUID | None,
        refresh_scope: str | None = None,
        parent: RefreshToken | None = None,
        nonce: str = "",
        auth_time: datetime | None = None,
        id_token: bool = False,
    ) -> tuple[TokenSet, AccessToken, RefreshToken | None]:
        now = self.now()
        issued_at = int(now.timestamp())
        lifetime = client.access_lifetime()
        refresh_row, refresh_value = None, None
        if refresh_scope is not None:
            refresh_value = crypto.new_token(32)
            refresh_row = RefreshToken.objects.create(
                digest=crypto.digest(refresh_value),
                family=family,
                parent=parent,
                client=client,
                user=user,
                scope=refresh_scope,
                created_at=now,
                expires_at=now + timedelta(seconds=client.refresh_lifetime()),
            )
        jti = uuid.uuid4().hex
        claims = oauth_jwt.access_token_claims(
            issuer=token_settings.issuer,
            audience=token_settings.audience,
            subject=subject_for(client, user),
            client_id=client.client_id,
            scope=scope,
            jti=jti,
            issued_at=issued_at,
            lifetime=lifetime,
        )
        access_row = AccessToken.objects.create(
            jti=jti,
            family=family,
            refresh_token=refresh_row,
            client=client,
            user=user,
            scope=scope,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
        )
        id_token_value = None
        if id_token and user is not None:
            id_claims: dict[str, Any] = {
                "iss": token_settings.issuer,
                "sub": subject_for(client, user),
                "aud": client.client_id,
                "iat": issued_at,
                "exp": issued_at + int(token_settings.ID_TOKEN_LIFETIME),
            }
            if auth_time is not None:
                id_claims["auth_time"] = int(auth_time.timestamp())
            if nonce:
                id_claims["nonce"] = nonce
            id_claims.update(
                {k: v for k, v in user_claims(user, client, scopes.parse(scope)).items() if k not in id_claims}
            )
            id_token_value = keys.sign(id_claims, typ="JWT")
        tokens = TokenSet(
            access_token=keys.sign(claims),
            expires_in=lifetime,
            scope=scope,
            refresh_token=refresh_value,
            id_token=id_token_value,
        )
        return tokens, access_row, refresh_row

    def _event(self, kind: str, client: Client | None, user: Any | None, *, family=None, detail="") -> None:
        TokenEvent.objects.create(
            kind=kind,
            client=client,
            client_identifier=client.client_id if client else "",
            user=user,
            family=family,
            ip_address=self.ip,
            detail=detail,
        )

    def exchange_code(self, code: AuthorizationCode, client: Client) -> TokenSet | None:
        with _atomic():
            claimed = AuthorizationCode.objects.filter(pk=code.pk, used_at__isnull=True).update(used_at=self.now())
            if claimed != 1:
                return None
            wants_refresh = "refresh_token" in client.grant_type_list
            tokens, access, refresh = self._issue(
                client,
                code.user,
                code.scope,
                family=code.family,
                refresh_scope=code.scope if wants_refresh else None,
                nonce=code.nonce,
                auth_time=code.auth_time,
                id_token="openid" in scopes.parse(code.scope),
            )
            self._event(TokenEvent.ISSUED, client, code.user, family=code.family, detail="authorization_code")
            transaction.on_commit(
                lambda: signals.token_issued.send(
                    sender=Client, client=client, user=code.user, access_token=access,
                    refresh_token=refresh, grant_type="authorization_code",
                )
            )
        return tokens

    def issue_client_token(self, client: Client, scope: str) -> TokenSet:
        with _atomic():
            tokens, access, _ = self._issue(client, None, scope, family=None)
            self._event(TokenEvent.ISSUED, client, None, detail="client_credentials")
            transaction.on_commit(
                lambda: signals.token_issued.send(
                    sender=Client, client=client, user=None, access_token=access,
                    refresh_token=None, grant_type="client_credentials",
                )
            )
        return tokens

    # -- rotation --------------------------------------------------------------
    def rotate_refresh_token(
        self, token: RefreshToken, client: Client, scope: str, presented: str
    ) -> TokenSet | None:
        now = self.now()
        grace = int(token_settings.REFRESH_TOKEN_GRACE_PERIOD)
        with _atomic():
            # The compare-and-swap. It is the only row this transaction locks, so a
            # family revocation running at the same time cannot deadlock with it.
            swapped = RefreshToken.objects.filter(
                pk=token.pk, used_at__isnull=True, revoked_at__isnull=True
            ).update(used_at=now)
            if swapped != 1:
                return None
            token.used_at = now  # receivers of token_refreshed see the tombstone as it is
            tokens, access, new = self._issue(
                client, token.user, scope, family=token.family, refresh_scope=token.scope, parent=token
            )
            if grace > 0:
                # Kept for the grace window, sealed with a key derived from the token
                # just spent: only whoever presents it again can open the successor.
                sealed = crypto.encrypt_bound(presented, json.dumps({**tokens.to_dict(), "issued_at": now.timestamp()}))
                RefreshToken.objects.filter(pk=token.pk).update(successor_response=sealed)
            self._event(TokenEvent.REFRESHED, client, token.user, family=token.family)
            transaction.on_commit(
                lambda: signals.token_refreshed.send(
                    sender=RefreshToken, client=client, user=token.user, old=token, new=new
                )
            )
        return tokens

    def grace_successor(self, token: RefreshToken, presented: str) -> TokenSet | None:
        token.refresh_from_db(fields=["used_at", "revoked_at", "successor_response"])
        if token.used_at is None or token.revoked_at is not None or not token.successor_response:
            return None
        grace = float(token_settings.REFRESH_TOKEN_GRACE_PERIOD)
        elapsed = (self.now() - token.used_at).total_seconds()
        if elapsed > grace:
            RefreshToken.objects.filter(pk=token.pk).update(successor_response="")
            return None
        # Only the immediately previous token qualifies: its successor must be unspent.
        successor = RefreshToken.objects.filter(parent=token).only("used_at", "revoked_at").first()
        if successor is None or successor.used_at is not None or successor.revoked_at is not None:
            return None
        try:
            data = json.loads(crypto.decrypt_bound(presented, token.successor_response))
        except (crypto.InvalidToken, ValueError):
            return None
        data.pop("issued_at", None)
        data["expires_in"] = max(0, int(data["expires_in"] - elapsed))
        return TokenSet(**data)

    # -- revocation ---------------------------------------------------------------
    def revoke_family(self, token: RefreshToken, *, reason: str) -> None:
        revoke_family(token.family, client=token.client, user=token.user, reason=reason, ip=self.ip)

    def revoke_code_tokens(self, code: AuthorizationCode) -> None:
        revoke_family(code.family, client=code.client, user=code.user, reason="code_replay", ip=self.ip)


def revoke_family(
    family: uuid.UUID, *, client: Client | None, user: Any | None, reason: str, ip: str | None = None
) -> int:
    """Revoke every refresh and access token of ``family``; returns how many rows changed."""
    now = models.now()
    kind = {
        "reuse": TokenEvent.REUSE_DETECTED,
        "code_replay": TokenEvent.CODE_REPLAYED,
    }.get(reason, TokenEvent.REVOKED)
    with _atomic():
        revocation.lock_rows(RefreshToken.objects.filter(family=family, revoked_at__isnull=True))
        count = RefreshToken.objects.filter(family=family, revoked_at__isnull=True).update(
            revoked_at=now, successor_response=""
        )
        count += AccessToken.objects.filter(family=family, revoked_at__isnull=True).update(revoked_at=now)
        TokenEvent.objects.create(
            kind=kind, client=client, client_identifier=client.client_id if client else "",
            user=user, family=family, ip_address=ip, detail=reason,
        )
        revocation.changed()

        def notify() -> None:
            if reason == "reuse":
                signals.refresh_token_reused.send(sender=RefreshToken, client=client, user=user, family=family, ip=ip)
            signals.token_revoked.send(sender=RefreshToken, client=client, user=user, family=family, reason=reason)

        transaction.on_commit(notify)
    return count
