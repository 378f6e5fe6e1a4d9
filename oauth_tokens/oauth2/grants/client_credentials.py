"""Client credentials grant (RFC 6749 section 4.4): confidential clients, no refresh token;
the token is for the request's ``resource`` values (RFC 8707), or the default audience."""

from __future__ import annotations

from oauth_tokens.oauth2 import scopes
from oauth_tokens.oauth2.errors import UnauthorizedClient
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet


class ClientCredentialsGrant(Grant[ClientT, CodeT, RefreshT]):
    grant_type = "client_credentials"
    subject_kinds = ("client",)

    def validate(self) -> None:
        self.check_subject_kind()
        if not self.client.is_confidential:
            raise UnauthorizedClient("Public clients cannot use client_credentials")
        self.scope = scopes.narrow(self.request.get("scope"), self.client.scope_list)
        self.resources = self.requested_resources()

    def issue(self) -> TokenSet:
        return self.store.issue_client_token(self.client, scopes.join(self.scope), self.resources)
