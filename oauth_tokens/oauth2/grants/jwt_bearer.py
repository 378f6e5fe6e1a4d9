"""JWT bearer authorization grant (RFC 7523 section 2.1, RFC 7521 section 4.1) and
its identity assertion profile (ID-JAG): an access token for the user an
assertion from a trusted issuer names (``oauth2.jwt_bearer`` checks it).

The client authenticates as usual and must have the grant. The assertion must
be for this client: an issuer's ``clients`` list names who may present its
assertions, and an ID-JAG's ``client_id`` claim must be the caller. The scope
is what the client may have, within the assertion's ``scope`` when it has one;
the resources (RFC 8707) are the request's, within the assertion's ``resource``
when it has one (all of those when the request names none). The assertion's
``jti`` is recorded last, once everything else holds, so that a request refused
for another reason does not burn a valid assertion; a second use is refused.
"""

from __future__ import annotations

from typing import Any

from oauth_tokens.oauth2 import jwt_bearer, resources, scopes
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidScope
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet


class JwtBearerGrant(Grant[ClientT, CodeT, RefreshT]):
    grant_type = jwt_bearer.GRANT_TYPE

    @classmethod
    def available(cls, store: object) -> bool:
        return isinstance(store, jwt_bearer.AssertionGrantStore) and store.jwt_bearer_enabled()

    @property
    def assertions(self) -> jwt_bearer.AssertionGrantStore[ClientT, Any]:
        assert isinstance(self.store, jwt_bearer.AssertionGrantStore)
        return self.store

    def validate(self) -> None:
        self.check_subject_kind()
        assertion = self.assertions.verify_assertion(self.request.require("assertion"))
        client_id = self.client.client_id
        if not assertion.issuer.allows_client(client_id):
            raise InvalidGrant("Invalid assertion: this client may not present this issuer's assertions",
                               reason="assertion")
        if assertion.client_id is not None and assertion.client_id != client_id:
            raise InvalidGrant("Invalid assertion: it was issued for another client (client_id)", reason="assertion")
        allowed = tuple(self.client.scope_list)
        if assertion.scope is not None:
            allowed = tuple(s for s in allowed if s in assertion.scope)
            if not allowed:
                raise InvalidScope("None of the assertion's scopes is one this client may have")
        self.scope = scopes.narrow(self.request.get("scope"), allowed)
        wanted = self.requested_resources()
        if assertion.resources:
            self.resources = resources.narrow(wanted, assertion.resources)
            resources.requested(self.resources, self.client.allows_resource)
        else:
            self.resources = wanted
        user = self.assertions.assertion_user(assertion, self.client)
        if user is None:
            raise InvalidGrant("Invalid assertion: its subject is not a user here", reason="no_user")
        if not self.assertions.first_use_of_assertion(assertion):
            raise InvalidGrant("Invalid assertion: it was already used (jti)", reason="replayed")
        self.user, self.assertion = user, assertion

    def issue(self) -> TokenSet:
        return self.assertions.issue_assertion_tokens(self.client, self.user, scopes.join(self.scope),
                                                      self.resources, self.assertion)
