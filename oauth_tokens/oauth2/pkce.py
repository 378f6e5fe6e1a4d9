"""PKCE (RFC 7636): S256 only; ``plain`` is refused (RFC 9700 section 2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from oauth_tokens.oauth2.errors import InvalidGrant, InvalidRequest

#: RFC 7636 section 4.1: 43-128 unreserved characters.
VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
#: An S256 challenge is base64url(sha256) without padding: exactly 43 characters.
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
#: The only code_challenge_method accepted (and sent by the consumer).
S256 = "S256"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def validate_challenge(challenge: str | None, method: str | None, *, required: bool) -> tuple[str, str]:
    """Check an authorization request's challenge. Returns (challenge, method) or ("", "")."""
    if not challenge:
        if method:
            raise InvalidRequest("code_challenge_method sent without code_challenge")
        if required:
            raise InvalidRequest("code_challenge is required (PKCE with S256)")
        return "", ""
    if method != S256:
        # RFC 7636 4.3: an omitted method means "plain", which we do not accept.
        raise InvalidRequest("code_challenge_method must be S256")
    if not CHALLENGE_RE.match(challenge):
        raise InvalidRequest("code_challenge is not a valid S256 challenge")
    return challenge, method


def verify(challenge: str, method: str, verifier: str | None) -> None:
    """Check a token request's verifier against the code's challenge (RFC 7636 4.6)."""
    if not challenge:
        if verifier:
            # RFC 9700 4.8.2: a verifier without a challenge is a downgrade attempt.
            raise InvalidRequest("code_verifier sent but the authorization request had no code_challenge")
        return
    if not verifier:
        raise InvalidRequest("Missing required parameter: code_verifier")
    if not VERIFIER_RE.match(verifier):
        raise InvalidRequest("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
    if method != S256 or not hmac.compare_digest(s256(verifier), challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
