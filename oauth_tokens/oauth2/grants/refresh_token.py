"""Refresh token grant with rotation and reuse detection (RFC 6749 section 6,
RFC 9700 section 4.14.2, DESIGN.md section 4).

A refresh token is single-use. The store rotates it with one compare-and-swap;
the loser of a race, or a client retrying inside the grace window with the
immediately previous token, gets the same successor pair, as many times as the
store's replay cap allows. Any other reuse (later, an older token, or one replay
beyond the cap) revokes the whole family and answers ``invalid_grant``.

The family keeps the scope and the resources (RFC 8707 section 2.2) of its
grant: a refresh may ask for less of either for its access token, never more.

A public client's family bound to a DPoP key (RFC 9449 section 5) is refreshed
only with a proof made with that key; another key, or none, is refused before
anything else, so a stolen bound token neither refreshes nor ends its family.

A family ends: each token lives its idle lifetime from its rotation, and no token
outlives the family's absolute lifetime (``store.family_expires_at``).
"""

from __future__ import annotations

from oauth_tokens.oauth2 import resources, scopes
from oauth_tokens.oauth2.dpop import InvalidDPoPProof
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidScope, InvalidTarget
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet

INVALID_TOKEN = "The refresh token is invalid or has expired"
REUSED_TOKEN = "The refresh token was already used"
FAMILY_ENDED = "The refresh token has expired: its grant reached its maximum lifetime; authorize again"
REVOKED_FOR_REUSE = ("The grant was revoked because an earlier refresh token of it was used again "
                     "(refresh token reuse: possibly stolen); authorize again")


class RefreshTokenGrant(Grant[ClientT, CodeT, RefreshT]):
    grant_type = "refresh_token"

    token: RefreshT

    def validate(self) -> None:
        self.check_subject_kind()
        value = self.request.require("refresh_token")
        token = self.store.find_refresh_token(value)
        # One answer for all three (a client learns nothing about others' tokens);
        # the reason is for the server's audit trail.
        if token is None:
            raise InvalidGrant(INVALID_TOKEN, reason="unknown")
        if not token.issued_to(self.client):
            raise InvalidGrant(INVALID_TOKEN, reason="wrong_client")
        if token.revoked_at is not None:
            # The client's own token: saying why its grant ended tells it nothing about others'.
            # Still invalid_grant (RFC 6749 section 5.2), so clients that only read the code go on as before.
            reused = self.store.revoked_for_reuse(token)
            raise InvalidGrant(REVOKED_FOR_REUSE if reused else INVALID_TOKEN, reason="revoked")
        if token.dpop_jkt:
            if self.request.dpop_jkt is None:
                raise InvalidDPoPProof("This refresh token is bound to a DPoP key: send a DPoP proof made with it")
            if token.dpop_jkt != self.request.dpop_jkt:
                raise InvalidGrant("The refresh token is bound to another DPoP key", reason="dpop_key")
        self.token = token
        if token.used_at is not None:
            # A spent token: issue() answers with the grace successor or revokes the
            # family, even when the tombstone itself has expired meanwhile.
            self.scope: tuple[str, ...] = ()
            self.resources: tuple[str, ...] = ()
            return
        now = self.store.now()
        if token.expires_at <= now:
            raise InvalidGrant(INVALID_TOKEN, reason="expired")
        # A token's expiry is already capped at its family's end when it is issued;
        # this also ends families when the family lifetime was shortened since.
        if self.store.family_expires_at(token, self.client) <= now:
            raise InvalidGrant(FAMILY_ENDED, reason="family_ended")
        # Narrower is fine; wider is invalid_scope. The family keeps the grant's scope,
        # minus any scope the client has lost since.
        granted = scopes.parse(token.scope)
        allowed = tuple(s for s in granted if s in self.client.scope_list)
        if granted and not allowed:
            raise InvalidScope("The client may no longer use any of the granted scopes")
        self.scope = scopes.narrow(self.request.get("scope"), allowed)
        # The same for the resources: within the grant's, minus any the client has lost.
        targets = resources.split(token.resources)
        kept = tuple(r for r in targets if self.client.allows_resource(r))
        if targets and not kept:
            raise InvalidTarget("The client may no longer use any of the granted resources")
        self.resources = resources.narrow(self.requested_resources(), kept)

    def issue(self) -> TokenSet:
        token, presented = self.token, self.request.require("refresh_token")
        if token.used_at is None:
            tokens = self.store.rotate_refresh_token(token, self.client, scopes.join(self.scope), presented,
                                                    self.resources)
            if tokens is not None:
                return tokens
            # Lost the race: a sibling request rotated it an instant ago.
            token = self.store.find_refresh_token(presented) or token
        successor = self.store.grace_successor(token, self.client, presented)
        if successor is not None:
            return successor
        self.store.revoke_family(token, reason="reuse")
        raise InvalidGrant(REUSED_TOKEN, reason="reused")
