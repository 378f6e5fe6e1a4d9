"""Token exchange grant (RFC 8693 section 2.1): a client presents a subject token
(and optionally an actor token) and gets a new access token for that subject,
narrower in scope and audience, carrying the delegation chain in ``act``.
The rules are ``oauth2.token_exchange``'s; the store verifies the presented
tokens and issues."""

from __future__ import annotations

from oauth_tokens.oauth2 import resources, scopes
from oauth_tokens.oauth2 import token_exchange as tx
from oauth_tokens.oauth2.errors import InvalidRequest, UnauthorizedClient
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet


class TokenExchangeGrant(Grant[ClientT, CodeT, RefreshT]):
    grant_type = tx.GRANT_TYPE

    @classmethod
    def available(cls, store: object) -> bool:
        return isinstance(store, tx.TokenExchangeStore) and store.token_exchange_enabled()

    @property
    def exchanges(self) -> tx.TokenExchangeStore[ClientT]:
        assert isinstance(self.store, tx.TokenExchangeStore)
        return self.store

    def validate(self) -> None:
        self.check_subject_kind()
        if not self.client.is_confidential:
            raise UnauthorizedClient("Public clients cannot use token exchange: it needs client authentication")
        self.issued_type = self.request.get("requested_token_type") or tx.ACCESS_TOKEN
        if self.issued_type not in tx.ISSUABLE:
            raise InvalidRequest(f"requested_token_type {self.issued_type} cannot be issued here; this server "
                                 f"issues {' or '.join(tx.ISSUABLE)} (never a refresh or ID token)")
        subject_token = self.request.require("subject_token")
        subject_type = self.request.require("subject_token_type")
        actor_token, actor_type = self.request.get("actor_token"), self.request.get("actor_token_type")
        if (actor_token is None) != (actor_type is None):
            raise InvalidRequest("actor_token and actor_token_type go together (section 2.1)")
        # Targets first: a request for a target that is no URI fails before any token is checked.
        requested = resources.parse([*self.request.getlist("resource"), *self.request.getlist("audience")])
        self.subject = self.exchanges.verify_presented_token(subject_token, subject_type, role="subject_token")
        if self.subject.user is None:
            raise tx.invalid_token("subject_token", "it speaks for no user of this server")
        self.actor = None
        if actor_token is not None and actor_type is not None:
            self.actor = self.exchanges.verify_presented_token(actor_token, actor_type, role="actor_token")
        elif not self.exchanges.may_impersonate(self.client):
            raise InvalidRequest("This client may not impersonate: send an actor_token (delegation), "
                                 "or let the client impersonate (Client.token_exchange_impersonation)")
        issuer = self.exchanges.local_issuer()
        tx.check_may_act(self.subject, actor=self.actor, client_id=self.client.client_id, local_issuer=issuer)
        self.act = tx.delegation(self.subject, self.actor, local_issuer=issuer) if self.actor is not None else None
        self.scope = tx.exchanged_scope(self.request.get("scope"), self.subject, self.client.scope_list)
        self.targets = tx.exchanged_targets(requested, self.subject, own=self.exchanges.own_resources(self.client),
                                            allows=self.client.allows_resource,
                                            default=self.exchanges.default_audience())

    def issue(self) -> TokenSet:
        tokens = self.exchanges.issue_exchanged_token(self.client, self.subject, self.actor,
                                                      scope=scopes.join(self.scope), targets=self.targets,
                                                      act=self.act)
        return TokenSet(access_token=tokens.access_token, expires_in=tokens.expires_in, scope=tokens.scope,
                        token_type=tokens.token_type, issued_token_type=self.issued_type)
