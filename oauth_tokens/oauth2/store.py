"""What the spec layer needs from storage, as Protocols.

The Django app implements them with the ORM (``oauth_tokens.provider.stores``);
the pure tests implement them with dicts. Every method that changes state is
one transaction in the implementation.

A store is generic in its own row types: the grants only ever hand a store the
client, code and refresh token that store returned, so an implementation may
take its concrete rows (ORM models, dataclasses) rather than any object that
looks like one. ``TokenStore[ClientT, CodeT, RefreshT]`` says exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar


@dataclass(frozen=True)
class TokenSet:
    """A successful token response (RFC 6749 section 5.1)."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = None
    token_type: str = "Bearer"
    #: Token exchange (RFC 8693 section 2.2.1): the type of the token issued.
    issued_token_type: str | None = None

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
        if self.issued_token_type:
            body["issued_token_type"] = self.issued_token_type
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
    @property
    def token_endpoint_auth_method(self) -> str:
        """The registered client authentication method (RFC 7591 section 2); "" for
        the default: a secret (Basic or body) when confidential, ``none`` when public."""
    def check_secret(self, secret: str) -> bool: ...
    def allows_resource(self, resource: str) -> bool:
        """May this client get tokens for ``resource`` (RFC 8707; ``resources.allowed``)?"""


# The protocols below are generic in the row types one store works with. Their
# own parameters carry no bound: mypy checks an explicit ``TokenStore[X, ...]``
# against a bound before it can read a Django model field's type (a descriptor),
# and would refuse ``TokenStore[models.Client, ...]``. The grants and the server,
# which use the rows, carry the bounds (ClientT, CodeT, RefreshT below).
_Client = TypeVar("_Client")
_Client_co = TypeVar("_Client_co", covariant=True)
_Client_contra = TypeVar("_Client_contra", contravariant=True)
_Code = TypeVar("_Code")
_Refresh = TypeVar("_Refresh")


class AuthorizationCode(Protocol[_Client_contra]):
    def issued_to(self, client: _Client_contra) -> bool: ...
    @property
    def redirect_uri(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def resources(self) -> str:
        """The resources the user authorized (RFC 8707), one per line; "" for none."""
    @property
    def dpop_jkt(self) -> str:
        """The ``dpop_jkt`` of the authorization request (RFC 9449 section 10); "" for none."""
    @property
    def code_challenge(self) -> str: ...
    @property
    def code_challenge_method(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def used_at(self) -> datetime | None: ...


class RefreshToken(Protocol[_Client_contra]):
    def issued_to(self, client: _Client_contra) -> bool: ...
    @property
    def scope(self) -> str: ...
    @property
    def resources(self) -> str:
        """The resources of the family's grant (RFC 8707), one per line; "" for none."""
    @property
    def dpop_jkt(self) -> str:
        """The DPoP key thumbprint the family is bound to (RFC 9449 section 5); "" when unbound."""
    @property
    def expires_at(self) -> datetime: ...
    @property
    def used_at(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...


class ClientLookup(Protocol[_Client_co]):
    """All that client authentication needs from a store."""

    def get_client(self, client_id: str) -> _Client_co | None: ...


class TokenStore(ClientLookup[_Client], Protocol[_Client, _Code, _Refresh]):
    """Everything the token endpoint's grants read and write."""

    def now(self) -> datetime: ...

    def find_code(self, code: str) -> _Code | None: ...

    def exchange_code(self, code: _Code, client: _Client, resources: tuple[str, ...]) -> TokenSet | None:
        """Claim ``code`` (atomically, once) and issue its tokens in one transaction:
        an access token for ``resources`` (a subset of the code's; empty: the default
        audience) and a refresh token for all of the code's. None when another
        request claimed it first."""

    def revoke_code_tokens(self, code: _Code) -> None:
        """A used code came back with valid client auth: revoke what it issued."""

    def find_refresh_token(self, token: str) -> _Refresh | None: ...

    def rotate_refresh_token(self, token: _Refresh, client: _Client, scope: str, presented: str,
                             resources: tuple[str, ...]) -> TokenSet | None:
        """Compare-and-swap: mark ``token`` used and issue its successor in one
        transaction. None when another request rotated it first. ``presented`` is
        the plaintext token, to seal the successor for the grace window. The access
        token is for ``resources``; the successor keeps the family's resources."""

    def grace_successor(self, token: _Refresh, client: _Client, presented: str) -> TokenSet | None:
        """The successor pair of ``token`` if ``token`` is the immediately previous
        refresh token of its family, ``client``'s grace window is still open,
        ``presented`` is the token itself, and the pair has been handed out again
        fewer times than the replay cap (counted atomically: N concurrent replays
        under a cap of 1 give exactly one pair). Every pair handed out again is
        recorded (the requester's address with it)."""

    def family_expires_at(self, token: _Refresh, client: _Client) -> datetime:
        """When ``token``'s family ends (its start plus ``client``'s absolute family
        lifetime): no token of it may be rotated from then on."""

    def revoke_family(self, token: _Refresh, *, reason: str) -> None:
        """Revoke every refresh and access token of ``token``'s family."""

    def revoked_for_reuse(self, token: _Refresh) -> bool:
        """Whether ``token``'s family was revoked because one of its spent refresh
        tokens came back (reuse detection), so that the client holding the newest
        token can be told why its grant ended. Asked only after a refusal."""

    def issue_client_token(self, client: _Client, scope: str, resources: tuple[str, ...]) -> TokenSet: ...


#: A store's client type, as the grants and the server functions use it.
ClientT = TypeVar("ClientT", bound=Client)
#: A store's authorization code type.
CodeT = TypeVar("CodeT", bound="AuthorizationCode[Any]")
#: A store's refresh token type.
RefreshT = TypeVar("RefreshT", bound="RefreshToken[Any]")
