"""The grant interface: ``validate()`` checks the request, ``issue()`` returns tokens."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic

from oauth_tokens.oauth2 import resources
from oauth_tokens.oauth2.errors import InvalidRequest
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet, TokenStore


class Grant(ABC, Generic[ClientT, CodeT, RefreshT]):
    """A grant works with one store's own rows: it hands ``store`` back only the
    client, code and refresh token that ``store`` returned."""

    grant_type: ClassVar[str]
    #: The kind of subject the tokens are for, checked against /token/<token_type>.
    subject_kinds: ClassVar[tuple[str, ...]] = ("user",)

    def __init__(
        self, request: TokenRequest, client: ClientT, store: TokenStore[ClientT, CodeT, RefreshT]
    ) -> None:
        self.request = request
        self.client = client
        self.store = store

    @classmethod
    def available(cls, store: object) -> bool:
        """False when ``store`` does not offer this grant (``unsupported_grant_type``)."""
        return True

    def check_subject_kind(self) -> None:
        kind = self.request.subject_kind
        if kind is not None and kind not in self.subject_kinds:
            raise InvalidRequest(
                f"grant_type {self.grant_type} issues tokens for a {self.subject_kinds[0]}, not a {kind}"
            )

    def requested_resources(self) -> tuple[str, ...]:
        """The request's ``resource`` values (RFC 8707 section 2), each an absolute URI
        without a fragment that the client may get tokens for, else ``invalid_target``."""
        return resources.requested(self.request.getlist("resource"), self.client.allows_resource)

    @abstractmethod
    def validate(self) -> None: ...

    @abstractmethod
    def issue(self) -> TokenSet: ...
