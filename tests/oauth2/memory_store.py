"""A dict-backed ``oauth2.store.TokenStore`` for the pure spec tests.

It follows the same contract as the ORM store (DESIGN.md section 4): codes and
refresh tokens are single-use, rotation is compare-and-swap, the immediately
previous refresh token may be retried inside the grace window and gets the
same successor pair (``replays`` times at most), a family ends
``family_lifetime`` after its code exchange, and a family is revoked as a whole. Time only moves when a
test calls ``advance()``. No Django import.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from oauth_tokens.oauth2 import resources as resource_indicators
from oauth_tokens.oauth2.store import TokenSet

EPOCH = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class MemClient:
    client_id: str
    secret: str | None = None
    grant_type_list: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials")
    scope_list: tuple[str, ...] = ("read", "write", "openid")
    redirect_uri_list: tuple[str, ...] = ("https://app.example.test/cb", "http://127.0.0.1/cb")
    is_active: bool = True
    token_endpoint_auth_method: str = ""
    #: RFC 8707: the client's own resources (empty: any the server allows) and the server's.
    resource_list: tuple[str, ...] = ()
    server_resources: tuple[str, ...] = ()

    def allows_resource(self, resource: str) -> bool:
        return resource_indicators.allowed(resource, server=self.server_resources, client=self.resource_list)

    @property
    def is_confidential(self) -> bool:
        return self.secret is not None

    def check_secret(self, secret: str) -> bool:
        return self.secret is not None and hmac.compare_digest(secret.encode(), self.secret.encode())


@dataclass
class MemCode:
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    expires_at: datetime
    family: uuid.UUID = field(default_factory=uuid.uuid4)
    used_at: datetime | None = None
    resources: str = ""
    dpop_jkt: str = ""

    def issued_to(self, client: MemClient) -> bool:
        return self.client_id == client.client_id


@dataclass
class MemRefreshToken:
    value: str
    client_id: str
    scope: str
    family: uuid.UUID
    expires_at: datetime
    family_started_at: datetime
    parent: MemRefreshToken | None = None
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    successor: MemRefreshToken | None = None
    successor_response: TokenSet | None = None
    grace_replays: int = 0
    resources: str = ""
    dpop_jkt: str = ""

    def issued_to(self, client: MemClient) -> bool:
        return self.client_id == client.client_id


@dataclass
class MemAccessToken:
    client_id: str
    scope: str
    family: uuid.UUID | None
    revoked_at: datetime | None = None
    #: What the token's ``aud`` would be (RFC 8707): its resources, () for the default.
    resources: tuple[str, ...] = ()


class MemoryStore:
    def __init__(self, *, grace: int = 10, access_lifetime: int = 3600, refresh_lifetime: int = 30 * 86400,
                 family_lifetime: int = 90 * 86400, replays: int = 1) -> None:
        self.clock = EPOCH
        self.grace = grace
        self.replays = replays
        self.family_lifetime = family_lifetime
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.clients: dict[str, MemClient] = {}
        self.codes: dict[str, MemCode] = {}
        self.refresh_tokens: dict[str, MemRefreshToken] = {}
        self.access_tokens: dict[str, MemAccessToken] = {}
        #: (kind, family) audit trail: "issued", "refreshed", "reuse", "code_replay".
        self.events: list[tuple[str, uuid.UUID | None]] = []

    # -- test helpers --------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)

    def add_client(self, client_id: str, **fields: object) -> MemClient:
        client = MemClient(client_id, **fields)  # type: ignore[arg-type]
        self.clients[client_id] = client
        return client

    def add_code(self, client: MemClient, *, scope: str = "read", challenge: str = "", method: str = "",
                 redirect_uri: str = "https://app.example.test/cb", ttl: int = 60,
                 resources: tuple[str, ...] = ()) -> str:
        value = secrets.token_urlsafe(32)
        self.codes[value] = MemCode(client.client_id, redirect_uri, scope, challenge, method,
                                    self.clock + timedelta(seconds=ttl), resources="\n".join(resources))
        return value

    def live_refresh_tokens(self, family: uuid.UUID) -> list[MemRefreshToken]:
        return [t for t in self.refresh_tokens.values()
                if t.family == family and t.used_at is None and t.revoked_at is None]

    def access(self, value: str) -> MemAccessToken:
        return self.access_tokens[value]

    # -- TokenStore -----------------------------------------------------------
    def now(self) -> datetime:
        return self.clock

    def get_client(self, client_id: str) -> MemClient | None:
        return self.clients.get(client_id)

    def find_code(self, code: str) -> MemCode | None:
        return self.codes.get(code)

    def find_refresh_token(self, token: str) -> MemRefreshToken | None:
        return self.refresh_tokens.get(token)

    def _issue(self, client: MemClient, scope: str, family: uuid.UUID | None, *,
               refresh_scope: str | None = None, parent: MemRefreshToken | None = None,
               resources: tuple[str, ...] = (), grant_resources: str = "") -> TokenSet:
        access = "at-" + secrets.token_urlsafe(16)
        self.access_tokens[access] = MemAccessToken(client.client_id, scope, family, resources=resources)
        refresh = None
        if refresh_scope is not None:
            assert family is not None
            refresh = "rt-" + secrets.token_urlsafe(16)
            started = parent.family_started_at if parent is not None else self.clock
            expires = min(self.clock + timedelta(seconds=self.refresh_lifetime),
                          started + timedelta(seconds=self.family_lifetime))
            row = MemRefreshToken(refresh, client.client_id, refresh_scope, family, expires, started, parent=parent,
                                  resources=grant_resources)
            self.refresh_tokens[refresh] = row
            if parent is not None:
                parent.successor = row
        return TokenSet(access_token=access, expires_in=self.access_lifetime, scope=scope, refresh_token=refresh)

    def exchange_code(self, code: MemCode, client: MemClient, resources: tuple[str, ...] = ()) -> TokenSet | None:
        if code.used_at is not None:
            return None
        code.used_at = self.clock
        wants_refresh = "refresh_token" in client.grant_type_list
        self.events.append(("issued", code.family))
        return self._issue(client, code.scope, code.family, refresh_scope=code.scope if wants_refresh else None,
                           resources=resources, grant_resources=code.resources)

    def revoke_code_tokens(self, code: MemCode) -> None:
        self._revoke(code.family, "code_replay")

    def rotate_refresh_token(
        self, token: MemRefreshToken, client: MemClient, scope: str, presented: str,
        resources: tuple[str, ...] = (),
    ) -> TokenSet | None:
        if token.used_at is not None or token.revoked_at is not None:
            return None
        token.used_at = self.clock
        tokens = self._issue(client, scope, token.family, refresh_scope=token.scope, parent=token,
                             resources=resources, grant_resources=token.resources)
        token.successor_response = tokens
        if token.parent is not None:
            token.parent.successor_response = None  # only the immediately previous token may retry
        self.events.append(("refreshed", token.family))
        return tokens

    def family_expires_at(self, token: MemRefreshToken, client: MemClient) -> datetime:
        return token.family_started_at + timedelta(seconds=self.family_lifetime)

    def grace_successor(self, token: MemRefreshToken, client: MemClient, presented: str) -> TokenSet | None:
        if token.used_at is None or token.revoked_at is not None or token.successor_response is None:
            return None
        elapsed = (self.clock - token.used_at).total_seconds()
        successor = token.successor
        if elapsed > self.grace or successor is None or successor.used_at or successor.revoked_at:
            return None
        if token.grace_replays >= self.replays:
            return None
        token.grace_replays += 1
        self.events.append(("grace_replay", token.family))
        return replace(token.successor_response, expires_in=max(0, int(token.successor_response.expires_in - elapsed)))

    def revoke_family(self, token: MemRefreshToken, *, reason: str) -> None:
        self._revoke(token.family, reason)

    def revoked_for_reuse(self, token: MemRefreshToken) -> bool:
        return ("reuse", token.family) in self.events

    def _revoke(self, family: uuid.UUID, reason: str) -> None:
        for row in [*self.refresh_tokens.values(), *self.access_tokens.values()]:
            if row.family == family and row.revoked_at is None:
                row.revoked_at = self.clock
        self.events.append((reason, family))

    def issue_client_token(self, client: MemClient, scope: str, resources: tuple[str, ...] = ()) -> TokenSet:
        self.events.append(("issued", None))
        return self._issue(client, scope, None, resources=resources)
