"""Authorization code grant with PKCE (RFC 6749 section 4.1.3, RFC 7636 section 4.6).

The access token is for the ``resource`` values of the request, which must be
among those the user authorized with the code (RFC 8707 section 2.2), or for
all of them when the request names none; the refresh token keeps all of them.

The code is single-use: the store claims it with one conditional write. A code
presented again with valid client auth and a valid verifier revokes every token
it issued (RFC 6749 section 4.1.2); an invalid replay revokes nothing (OAuth 2.1:
that would hand attackers a denial of service).

A code whose authorization request named ``dpop_jkt`` (RFC 9449 section 10) is
redeemed only with a DPoP proof made with that key.
"""

from __future__ import annotations

from oauth_tokens.oauth2 import pkce, resources
from oauth_tokens.oauth2.errors import InvalidGrant, InvalidRequest
from oauth_tokens.oauth2.grants.base import Grant
from oauth_tokens.oauth2.store import ClientT, CodeT, RefreshT, TokenSet

INVALID_CODE = "The authorization code is invalid, expired or already used"


class AuthorizationCodeGrant(Grant[ClientT, CodeT, RefreshT]):
    grant_type = "authorization_code"

    code: CodeT

    def validate(self) -> None:
        self.check_subject_kind()
        value = self.request.require("code")
        code = self.store.find_code(value)
        if code is None or not code.issued_to(self.client):
            raise InvalidGrant(INVALID_CODE)
        redirect_uri = self.request.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != code.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the authorization request")
        if redirect_uri is None and not code.code_challenge:
            # RFC 6749 4.1.3: required when it was in the request (always, for a 2.0 client without PKCE).
            raise InvalidRequest("Missing required parameter: redirect_uri")
        pkce.verify(code.code_challenge, code.code_challenge_method, self.request.get("code_verifier"))
        if code.dpop_jkt and code.dpop_jkt != self.request.dpop_jkt:
            raise InvalidGrant("The DPoP proof is not made with the key the authorization request named (dpop_jkt)")
        if code.used_at is not None:
            self.store.revoke_code_tokens(code)
            raise InvalidGrant(INVALID_CODE)
        if code.expires_at <= self.store.now():
            raise InvalidGrant(INVALID_CODE)
        self.resources = resources.narrow(self.requested_resources(), resources.split(code.resources))
        self.code = code

    def issue(self) -> TokenSet:
        tokens = self.store.exchange_code(self.code, self.client, self.resources)
        if tokens is None:
            raise InvalidGrant(INVALID_CODE)
        return tokens
