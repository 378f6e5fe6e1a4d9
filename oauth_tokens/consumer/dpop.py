"""DPoP (RFC 9449) in the consumer role: the key pair of a grant, the proofs
made with it, and the server nonces remembered per origin.

A provider marked ``"dpop": True`` gets one key pair per grant (per
``ExternalToken`` row): made when the grant is first obtained (the code
exchange, the first client_credentials request; at the next refresh for a grant
stored before DPoP was turned on), kept for every refresh, stored encrypted
like the tokens (``ExternalToken.dpop_key``, a PKCS#8 PEM), and forgotten with
the grant. Every request to the provider for that grant (token, refresh,
revocation, API calls through ``http_client``) carries a fresh proof (section
4.2): header ``typ`` ``dpop+jwt``, ``alg``, ``jwk`` (the public key); claims
``jti``, ``htm``, ``htu`` (the URL without query and fragment), ``iat``, plus
``ath`` with an access token and ``nonce`` once the server gave one.

Nonces (section 8): the latest ``DPoP-Nonce`` each origin sent, on an error or
a success, is kept in process memory and put in the next proof to that
origin; an answer asking for a nonce (``use_dpop_nonce``) is retried once by
the caller with a new proof carrying it.

Only the spec layer is used (``oauth2.dpop`` for the thumbprint and ``ath``,
``oauth2.jwt`` for the keys): the consumer never imports the provider or the
resource server.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from oauth_tokens import process_caches
from oauth_tokens.consumer.config import DPOP_ALGORITHMS, origin
from oauth_tokens.oauth2 import dpop as spec
from oauth_tokens.oauth2.jwt import PrivateKey, generate_private_key, load_private_key, private_key_to_pem, public_jwk

__all__ = ["DPOP_ALGORITHMS", "ProofKey", "asks_for_nonce", "load_key", "new_key", "remember_nonce"]

#: RFC 9449 section 8.1: ``nonce = 1*NQCHAR`` (printable ASCII but ``"`` and ``\``).
_NONCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,512}")
_USE_NONCE = re.compile(r'(?i)\berror\s*=\s*"?use_dpop_nonce"?')


class ProofKey:
    """A grant's DPoP key pair: signs its proofs. ``pem`` is the private key to store
    (encrypted); ``jkt`` the public key's thumbprint (RFC 7638), what the provider
    binds the tokens to (``cnf.jkt``). Its repr shows the thumbprint only."""

    def __init__(self, key: PrivateKey) -> None:
        self.key = key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise ValueError("a DPoP EC key must be on P-256 (ES256)")
            self.alg = "ES256"
        elif isinstance(key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        else:
            self.alg = "EdDSA"  # load_private_key accepts no other kind
        self.jwk: dict[str, Any] = spec.key_members(public_jwk(key, kid="", algorithm=self.alg))
        self.jkt = spec.thumbprint(self.jwk)

    def __repr__(self) -> str:
        return f"<ProofKey {self.alg} jkt={self.jkt}>"

    @property
    def pem(self) -> str:
        return private_key_to_pem(self.key)

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
        """A new proof for one request (section 4.2): never reuse it (its ``jti`` is single-use)."""
        parts = urlsplit(str(url))
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(24),
            "htm": method.upper(),
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
            "iat": int(time.time()),
        }
        if access_token is not None:
            claims["ath"] = spec.access_token_hash(access_token)
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self.key, algorithm=self.alg, headers={"typ": spec.PROOF_TYPE, "jwk": self.jwk})


def new_key(algorithm: str) -> ProofKey:
    """A new key pair for ``algorithm`` (one of ``DPOP_ALGORITHMS``)."""
    if algorithm not in DPOP_ALGORITHMS:
        raise ValueError(f"DPoP algorithm must be one of {', '.join(DPOP_ALGORITHMS)}")
    return ProofKey(generate_private_key(algorithm))


@lru_cache(maxsize=1024)
def load_key(pem: str) -> ProofKey:
    """The stored key (a PEM, decrypted): loaded once per process, not per request."""
    return ProofKey(load_private_key(pem))


_nonces: dict[str, str] = {}
_NONCE_LIMIT = 10_000
_lock = threading.Lock()


def nonce_for(url: str) -> str | None:
    """The latest nonce the server at ``url``'s origin gave, if any."""
    key = origin(str(url))
    return _nonces.get(key) if key else None


def remember_nonce(url: str, response: httpx.Response) -> str | None:
    """Keep the ``DPoP-Nonce`` of ``response`` (an error or a success) for the next
    proofs to ``url``'s origin; returns it (None when absent or malformed)."""
    value = response.headers.get("DPoP-Nonce", "").strip()
    key = origin(str(url))
    if not key or not _NONCE.fullmatch(value):
        return None
    with _lock:
        if len(_nonces) >= _NONCE_LIMIT and key not in _nonces:
            _nonces.clear()
        _nonces[key] = value
    return value


def asks_for_nonce(response: httpx.Response, *, at_resource: bool) -> bool:
    """The server refused the proof for want of a (newer) nonce and gave one (section
    8): at a token endpoint a 400 ``use_dpop_nonce`` JSON error, at a resource a 401
    whose ``WWW-Authenticate: DPoP`` challenge says ``error="use_dpop_nonce"``."""
    if not _NONCE.fullmatch(response.headers.get("DPoP-Nonce", "").strip()):
        return False
    if at_resource:
        challenge = response.headers.get("WWW-Authenticate", "")
        return response.status_code == 401 and "dpop" in challenge.lower() and bool(_USE_NONCE.search(challenge))
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"


@process_caches.resets_on("OAUTH_TOKENS")
def reset() -> None:
    """Forget the remembered nonces (settings changed; tests)."""
    with _lock:
        _nonces.clear()
