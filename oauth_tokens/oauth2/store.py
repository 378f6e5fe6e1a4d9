"""What the spec layer needs from storage, as Protocols.

The Django app implements them with the ORM (``oauth_tokens.provider.stores``);
the pure tests implement them with dicts. Every method that changes state is
one transaction in the implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class TokenSet:
    """A successful token response (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = None
    token_type: str = "Bearer"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        if self.id_token:
            body["id_token"] = self.id_token
        return body


class Client(Protocol):
    @property
    def client_id(self) -> str: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_confidential(self) -> bool: ...
    @property
    def grant_type_list(self) -> Sequence[str]: ...
    @property
    def scope_list(self) -> Sequence[str]: ...
    @property
    def redirect_uri_list(self) -> Sequence[str]: ...
    def check_secret(self, secret: str) -> bool: ...


class AuthorizationCode(Protocol):
    def issued_to(self, client: Client) -> bool: ...
    @property
    def redirect_uri(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def code_challenge(self) -> str: ...
    @property
    def code_challenge_method(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def used_at(self) -> datetime | None: ...


class RefreshToken(Protocol):
    def issued_to(self, client: Client) -> bool: ...
    @property
    def scope(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def used_at(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...


class TokenStore(Protocol):
    """Everything the token endpoint's grants read and write."""

    def now(self) -> datetime: ...

    def get_client(self, client_id: str) -> Client | None: ...

    def find_code(self, code: str) -> AuthorizationCode | None: ...

    def exchange_code(self, code: AuthorizationCode, client: Client) -> TokenSet | None:
        """Claim ``code`` (atomically, once) and issue its tokens in one transaction.
        None when another request claimed it first."""

    def revoke_code_tokens(self, code: AuthorizationCode) -> None:
        """A used code came back with valid client auth: revoke what it issued."""

    def find_refresh_token(self, token: str) -> RefreshToken | None: ...

    def rotate_refresh_token(self, token: RefreshToken, client: Client, scope: str, presented: str) -> TokenSet | None:
        """Compare-and-swap: mark ``token`` used and issue its successor in one
        transaction. None when another request rotated it first. ``presented`` is
        the plaintext token, to seal the successor for the grace window."""

    def grace_successor(self, token: RefreshToken, presented: str) -> TokenSet | None:
        """The successor pair of ``token`` if ``token`` is the immediately previous
        refresh token of its family, the grace window is still open and
        ``presented`` is the token itself."""

    def revoke_family(self, token: RefreshToken, *, reason: str) -> None:
        """Revoke every refresh and access token of ``token``'s family."""

    def issue_client_token(self, client: Client, scope: str) -> TokenSet: ...
