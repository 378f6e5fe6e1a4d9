"""The ORM implementation of ``oauth2.store.TokenStore``.

Each state change is atomic: one statement (client_credentials; a rotation on
PostgreSQL) or one transaction. Rotation and code redemption are a conditional
UPDATE (``... WHERE used_at IS NULL``), so N concurrent requests with one token
give one successor on SQLite and PostgreSQL alike; the grace replays of a
rotation are counted the same way (``... WHERE grace_replays < cap``). The
tokens are made before any write (``issuing``); an authorization code and an
approved device code are redeemed the same way (``_redeem``); the hot
statements are written once (``precompiled_sql``); revoking is
``revocation``'s. Signals go out after commit.

The refresh request's read-ahead: a refresh request names its client and its
refresh token, and both come in one query (the token joined with its client)
instead of two. The token view asks for it explicitly, before client
authentication (``read_ahead``): it returns the lookup that authentication
uses, holding that client row, and keeps the token for ``find_refresh_token``.
Client authentication itself knows nothing of it (it takes any
``ClientLookup``), and ``get_client`` always reads the database.

Over our usual 300 lines: it is one class, the whole ``TokenStore`` protocol for
the ORM, each method a few lines; the work they share lives in ``issuing``,
``revocation`` and ``precompiled_sql``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import router, transaction
from django.db.models import F

from oauth_tokens import crypto, signals
from oauth_tokens.oauth2 import device
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.store import ClientLookup, TokenSet
from oauth_tokens.provider import family_usage, issuing, models, precompiled_sql, revocation
from oauth_tokens.provider.device_codes import OrmDeviceCodes
from oauth_tokens.provider.jwt_bearer import OrmAssertionGrants
from oauth_tokens.provider.models import (
    AccessToken,
    AuthorizationCode,
    Client,
    DeviceCode,
    RefreshToken,
    TokenEvent,
)
from oauth_tokens.provider.token_exchange import OrmTokenExchange
from oauth_tokens.settings import token_settings


def _by_digest(queryset, value: str, select: precompiled_sql.SelectOne):
    """The row whose digest column matches ``value`` under the current or a fallback key."""
    candidates = crypto.digest_candidates(value)
    if len(candidates) == 1:
        return select(candidates[0], using=router.db_for_read(queryset.model))
    return queryset.filter(digest__in=candidates).first()


def _of_active_user(row):
    """``row``, or None when its user was deactivated: a deactivated user gets no new
    tokens, so their codes and refresh tokens are as good as unknown (invalid_grant)."""
    if row is None or row.user_id is None:
        return row
    active = getattr(row, "user_is_active", None)  # annotated by the refresh-token lookups
    if active is None:
        active = getattr(row.user, "is_active", True)
    return row if active else None


# The token endpoint's lookups, their SQL written once (precompiled_sql.py). A refresh
# token comes with its user's ``is_active`` (a scalar subquery), not the user.
_client_by_id = precompiled_sql.SelectOne(Client, "client_id")
_code_by_digest = precompiled_sql.SelectOne(AuthorizationCode, "digest", related=("client", "user"))
_refresh_by_digest = precompiled_sql.SelectOne(RefreshToken, "digest", user_is_active=True)
_refresh_with_client_by_digest = precompiled_sql.SelectOne(RefreshToken, "digest", related=("client",),
                                                           user_is_active=True)


def _user_of(token: RefreshToken) -> Any | None:
    """The token's user (one query, run only when a signal has listeners), or None
    when the user was deleted meanwhile."""
    try:
        return token.user
    except ObjectDoesNotExist:
        return None


@dataclass(frozen=True)
class ClientRead:
    """A ``ClientLookup`` that answers with a client row already read; any other id
    is looked up in ``store``."""

    client: Client
    store: OrmTokenStore

    def get_client(self, client_id: str) -> Client | None:
        return self.client if client_id == self.client.client_id else self.store.get_client(client_id)


# The device code grant's lookups and polls: device_codes.py; the JWT bearer grant's: jwt_bearer.py;
# token exchange (RFC 8693): token_exchange.py.
class OrmTokenStore(OrmDeviceCodes, OrmAssertionGrants, OrmTokenExchange):
    def __init__(self, *, ip: str = "", dpop_jkt: str | None = None) -> None:
        self.ip = ip or None
        #: The thumbprint of the request's verified DPoP proof key: every access token
        #: this store issues is bound to it (RFC 9449; ``issuing``). None: Bearer.
        self.dpop_jkt = dpop_jkt
        #: Why ``grace_successor`` refused a spent token, for the reuse event's detail.
        self._refused_because = ""
        #: The refresh token ``read_ahead`` read, by its plaintext; handed out once.
        self._read_ahead: dict[str, RefreshToken] = {}
        #: The row the last refresh token looked up named (its user active or not), for
        #: the audit of a refused refresh (``failed_refreshes``).
        self.refresh_token_seen: RefreshToken | None = None

    def read_ahead(self, request: TokenRequest) -> ClientLookup[Client]:
        """The lookup client authentication should use for ``request``.

        For a refresh request, one query reads the refresh token joined with its
        client. When that is the claimed client, authentication gets the lookup
        holding that row (its checks are the usual ones) and ``find_refresh_token``
        the token, once. Otherwise (another grant, an unknown token, one issued to
        another client) it is the store itself, which reads the database as usual.
        """
        value, client_id = request.get("refresh_token"), request.credentials.client_id
        if request.get("grant_type") != "refresh_token" or not value or not client_id:
            return self
        candidates = crypto.digest_candidates(value)
        if len(candidates) != 1:
            return self
        row = _refresh_with_client_by_digest(candidates[0], using=router.db_for_read(RefreshToken))
        if row is None or row.client.client_id != client_id:
            return self
        self._read_ahead[value] = row
        return ClientRead(row.client, self)

    def now(self) -> datetime:
        # Looked up on the module at each call: tests patch ``models.now`` to move time.
        return models.now()

    # -- lookups -------------------------------------------------------------
    # The hot lookups write their SQL once (precompiled_sql.py), not on every request.
    def get_client(self, client_id: str) -> Client | None:
        return _client_by_id(client_id, using=router.db_for_read(Client))

    def find_code(self, code: str) -> AuthorizationCode | None:
        queryset = AuthorizationCode.objects.select_related("client", "user")
        return _of_active_user(_by_digest(queryset, code, _code_by_digest))

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        # The grant checks the token against the authenticated client, which it
        # already holds; only the user is needed with the row.
        # Popped: a second lookup (after losing a rotation race) must read the row again.
        row = self._read_ahead.pop(token, None)
        if row is None:
            row = _by_digest(RefreshToken.objects.select_related("user"), token, _refresh_by_digest)
        self.refresh_token_seen = row
        return _of_active_user(row)

    # -- issuing -------------------------------------------------------------
    # The tokens are made and signed (``issuing``) before any write, so each write
    # holds its locks for as short as possible.
    def exchange_code(self, code: AuthorizationCode, client: Client, resources: tuple[str, ...] = ()
                      ) -> TokenSet | None:
        now = self.now()
        return self._redeem(code, client, resources, now=now, grant_type="authorization_code",
                            spend=lambda using: (
            precompiled_sql.update_if_unset(AuthorizationCode, code.pk, {"used_at": now}, unset=["used_at"],
                                            using=using) == 1))

    def redeem_device_code(self, code: DeviceCode, client: Client, resources: tuple[str, ...] = ()
                           ) -> TokenSet | None:
        return self._redeem(code, client, resources, now=self.now(), grant_type=device.GRANT_TYPE,
                            spend=lambda using: (
            DeviceCode.objects.using(using).filter(pk=code.pk, status=DeviceCode.APPROVED).update(
                status=DeviceCode.USED) == 1))

    def _redeem(self, grant: AuthorizationCode | DeviceCode, client: Client, resources: tuple[str, ...], *,
                now: datetime, grant_type: str, spend: Callable[[str], bool]) -> TokenSet | None:
        """Redeem a code or an approved device code (the access token for ``resources``,
        some of the grant's: RFC 8707): its tokens are made first, then
        one transaction spends it (``spend``, a compare-and-swap: False when another
        request spent it first, and nothing is issued) and inserts the rows."""
        issued = issuing.first_tokens(client, grant, now=now, ip=self.ip, targets=resources, jkt=self.dpop_jkt)
        access, refresh = issued.access, issued.refresh
        using = router.db_for_write(AccessToken)
        with transaction.atomic(using=using):
            if not spend(using):
                return None
            precompiled_sql.insert_linked(access, link="refresh_token", linked=refresh, using=using)
            transaction.on_commit(
                lambda: signals.token_issued.send(
                    sender=Client, client=client, user=grant.user, access_token=access,
                    refresh_token=refresh, grant_type=grant_type, ip=self.ip,
                ),
                using=using,
            )
        return issued.response

    def issue_client_token(self, client: Client, scope: str, resources: tuple[str, ...] = ()) -> TokenSet:
        new_access = issuing.access_token(client, scope, None, now=self.now(), ip=self.ip, targets=resources,
                                          jkt=self.dpop_jkt)
        tokens, access = new_access.response(), new_access.row
        using = router.db_for_write(AccessToken)
        # One INSERT: atomic on its own, no transaction to open and commit around it.
        with precompiled_sql.savepoint_if_in_transaction(using):
            precompiled_sql.insert(access, using=using)
        transaction.on_commit(
            lambda: signals.token_issued.send(
                sender=Client, client=client, user=None, access_token=access,
                refresh_token=None, grant_type="client_credentials", ip=self.ip,
            ),
            using=using,
        )
        return tokens

    # -- rotation --------------------------------------------------------------
    def rotate_refresh_token(
        self, token: RefreshToken, client: Client, scope: str, presented: str, resources: tuple[str, ...] = ()
    ) -> TokenSet | None:
        now = self.now()
        new_access = issuing.access_token(client, scope, token, now=now, ip=self.ip, targets=resources,
                                          jkt=self.dpop_jkt)
        refresh_value, new = issuing.refresh_token(client, token, now=now, jkt=self.dpop_jkt)
        # The family's usage goes on to ``new``; an anomaly whose action revokes refuses here.
        watch = family_usage.Rotation(token, new, client, ip=self.ip, now=now)
        watch.refuse_if_revoking()
        tokens, access = new_access.response(refresh_token=refresh_value), new_access.row
        sealed = ""
        if client.grace_period() > 0 and int(token_settings.REFRESH_TOKEN_GRACE_REPLAYS) > 0:
            # Kept for the grace window, sealed with a key derived from the token
            # just spent: only whoever presents it again can open the successor.
            sealed = crypto.encrypt_bound(presented, json.dumps({**tokens.to_dict(), "issued_at": now.timestamp()}))
        using = router.db_for_write(RefreshToken)
        # The compare-and-swap, which also stores the sealed successor, and the new
        # rows: one statement on PostgreSQL, one transaction elsewhere. The spent
        # token is the only existing row it locks, so a family revocation running
        # at the same time cannot deadlock with it.
        if not precompiled_sql.swap_and_insert(
            token, {"used_at": now, "successor_response": sealed}, unset=["used_at", "revoked_at"],
            successor=new, access=access, link="refresh_token", using=using,
        ):
            return None
        token.used_at = now  # receivers of token_refreshed see the tombstone as it is
        watch.rotated()

        def notify() -> None:
            # token.user is loaded (one query) only when someone listens.
            if not signals.token_refreshed.has_listeners(RefreshToken):
                return
            signals.token_refreshed.send(
                sender=RefreshToken, client=client, user=_user_of(token), old=token, new=new, access_token=access,
                ip=self.ip,
            )

        transaction.on_commit(notify, using=using)
        return tokens

    def family_expires_at(self, token: RefreshToken, client: Client) -> datetime:
        return token.family_expires_at(client)

    def grace_successor(self, token: RefreshToken, client: Client, presented: str) -> TokenSet | None:
        # Decided on the primary: a lagging replica could still show the token
        # unspent and turn a harmless race into a reuse that revokes the family.
        primary = router.db_for_write(RefreshToken)
        token.refresh_from_db(using=primary, fields=["used_at", "revoked_at", "successor_response"])
        if token.used_at is None or token.revoked_at is not None:
            return None
        if not token.successor_response:
            self._refused_because = "reuse, no grace pair kept (no window, or it has passed)"
            return None
        elapsed = (self.now() - token.used_at).total_seconds()
        grace = client.grace_period()
        if grace <= 0 or elapsed > grace:
            RefreshToken.objects.using(primary).filter(pk=token.pk).update(successor_response="")
            self._refused_because = "reuse after the grace window"
            return None
        # Only the immediately previous token qualifies: its successor must be unspent.
        successor = RefreshToken.objects.using(primary).filter(parent=token).only("used_at", "revoked_at").first()
        if successor is None or successor.used_at is not None or successor.revoked_at is not None:
            self._refused_because = "reuse of a token whose successor was already used"
            return None
        try:
            data = json.loads(crypto.decrypt_bound(presented, token.successor_response))
        except (crypto.InvalidToken, ValueError):
            return None
        cap = int(token_settings.REFRESH_TOKEN_GRACE_REPLAYS)
        with transaction.atomic(using=primary):
            # The cap's compare-and-swap: of N concurrent replays, only as many as
            # the cap allows see the counter below it (the row is locked from the
            # UPDATE to the commit, so the next one re-reads the raised count).
            if RefreshToken.objects.using(primary).filter(
                pk=token.pk, grace_replays__lt=cap, revoked_at__isnull=True
            ).update(grace_replays=F("grace_replays") + 1) != 1:
                self._refused_because = f"replayed more than {cap} time(s) in the grace window"
                return None
            replays = RefreshToken.objects.using(primary).values_list("grace_replays", flat=True).get(pk=token.pk)
            self._record_grace_replay(token, client, replays=replays, elapsed=elapsed, using=primary)
        data.pop("issued_at", None)
        data["expires_in"] = max(0, int(data["expires_in"] - elapsed))
        return TokenSet(**data)

    def _record_grace_replay(self, token: RefreshToken, client: Client, *, replays: int, elapsed: float,
                             using: str) -> None:
        """The audit row and, after commit, the ``refresh_token_replayed`` signal."""
        TokenEvent.objects.using(using).create(
            kind=TokenEvent.GRACE_REPLAYED, client=client, client_identifier=client.client_id,
            user_id=token.user_id, family=token.family, ip_address=self.ip,
            detail=f"refresh token #{token.pk} replayed {elapsed:.1f} s after its rotation "
                   f"(replay {replays} of {int(token_settings.REFRESH_TOKEN_GRACE_REPLAYS)})",
        )

        def notify() -> None:
            if not signals.refresh_token_replayed.has_listeners(RefreshToken):
                return
            signals.refresh_token_replayed.send(
                sender=RefreshToken, client=client, user=_user_of(token), family=token.family, token=token,
                replays=replays, elapsed=elapsed, ip=self.ip,
            )

        transaction.on_commit(notify, using=using)

    # -- revocation ---------------------------------------------------------------
    def revoked_for_reuse(self, token: RefreshToken) -> bool:
        return models.TokenEvent.objects.filter(family=token.family, kind=models.TokenEvent.REUSE_DETECTED).exists()

    def revoke_family(self, token: RefreshToken, *, reason: str) -> None:
        detail = f"{reason}: {self._refused_because}" if reason == "reuse" and self._refused_because else reason
        revocation.revoke_family(token.family, client=token.client, user=token.user, reason=reason, ip=self.ip,
                                 detail=detail)

    def revoke_code_tokens(self, code: AuthorizationCode) -> None:
        revocation.revoke_family(code.family, client=code.client, user=code.user, reason="code_replay", ip=self.ip)

