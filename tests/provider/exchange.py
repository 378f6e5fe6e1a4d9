"""Helpers for the token exchange tests (RFC 8693): settings, an external issuer
with its own key, and the token types."""

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from oauth_tokens.oauth2 import token_exchange as tx
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

GRANT = tx.GRANT_TYPE
ACCESS = tx.ACCESS_TOKEN
JWT_TYPE = tx.JWT
IDP = "https://idp.example.test"
ISSUER = TEST_OAUTH["ISSUER"]


class ExternalIssuer:
    """A trusted identity provider: an EC key, its JWK Set, and JWTs it signs."""

    def __init__(self, issuer: str = IDP, kid: str = "idp-1") -> None:
        self.issuer, self.kid = issuer, kid
        self.key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict:
        jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def token(self, key=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "sub": "ext-42", "aud": ISSUER, "iat": now, "exp": now + 300,
                "jti": uuid.uuid4().hex, "email": "alice@example.test", "scope": "read write", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="ES256", headers={"kid": self.kid})


def enabled(**extra) -> dict:
    return {**TEST_OAUTH, "TOKEN_EXCHANGE_ENABLED": True, **extra}


def with_issuer(idp: ExternalIssuer, **policy) -> dict:
    entry = {"jwks": idp.jwks(), "scopes": ["read", "write"], **policy}
    return enabled(TOKEN_EXCHANGE_ISSUERS={idp.issuer: entry})


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})
