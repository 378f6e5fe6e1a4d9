"""Helpers for JWT client authentication tests (RFC 7523): client keys, their
JWKs, assertions, and a JWK Set served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://auth.example.test"
TOKEN_URL = ISSUER + "/oauth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    jwk = algorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


def jwks(*pairs: tuple[Any, str]) -> dict[str, Any]:
    return {"keys": [public_jwk(key, kid) for key, kid in pairs]}


def assertion(key: Any, client_id: str, *, alg: str = "RS256", kid: str | None = "k1", aud: Any = ISSUER,
              lifetime: float = 60, now: float | None = None, headers: dict[str, Any] | None = None,
              **claims: Any) -> str:
    """A client assertion: iss = sub = client_id, a fresh jti, exp ``lifetime`` from now."""
    moment = time.time() if now is None else now
    payload = {"iss": client_id, "sub": client_id, "aud": aud, "jti": uuid.uuid4().hex,
               "iat": int(moment), "exp": int(moment + lifetime), **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {**({"kid": kid} if kid else {}), **(headers or {})}
    return jwt.encode(payload, key, algorithm=alg, headers=header or None)


def form(value: str, **params: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": value, **params}


class JwksServer:
    """An HTTP server on 127.0.0.1 serving ``document`` at ``/jwks`` (and counting hits)."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.headers: dict[str, str] = {"Content-Type": "application/json", "Cache-Control": "max-age=300"}
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.hits += 1
                body = json.dumps(owner.document).encode()
                self.send_response(owner.status)
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
