"""Making DPoP proofs (RFC 9449 section 4) in tests: a client's key and its proofs."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from oauth_tokens.oauth2 import dpop


class ProofKey:
    """A DPoP key pair (ES256 by default, RS256 with ``rsa=True``) that signs proofs."""

    def __init__(self, *, rsa_key: bool = False) -> None:
        if rsa_key:
            self.key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg, self.jwk = "RS256", RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
            self.alg, self.jwk = "ES256", ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jkt = dpop.thumbprint(self.jwk)

    def proof(self, htm: str, htu: str, *, access_token: str | None = None, nonce: str | None = None,
              iat: float | None = None, jti: str | None = None, header: dict[str, Any] | None = None,
              claims: dict[str, Any] | None = None) -> str:
        payload: dict[str, Any] = {"jti": jti or uuid.uuid4().hex, "htm": htm, "htu": htu,
                                   "iat": int(time.time() if iat is None else iat)}
        if access_token is not None:
            payload["ath"] = base64.urlsafe_b64encode(
                hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims or {})
        headers = {"typ": "dpop+jwt", "jwk": self.jwk, **(header or {})}
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, self.key, algorithm=self.alg,
                          headers=headers)
