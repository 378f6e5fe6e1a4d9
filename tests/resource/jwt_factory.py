"""Build access tokens, good and hostile, for the resource tests."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt

ISSUER = "https://auth.example.test"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(overrides.pop("now", time.time()))
    base = {
        "iss": ISSUER,
        "sub": "42",
        "aud": ISSUER,
        "client_id": "client-abc",
        "scope": "read write",
        "iat": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key, *, kid: str, alg: str = "RS256", typ: str = "at+jwt", **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": typ, **headers})


def unsigned(payload: dict[str, Any], *, kid: str, alg: str = "none", typ: str = "at+jwt") -> str:
    header = {"alg": alg, "kid": kid, "typ": typ}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(b'x' * 32)}"


def raw(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"sig") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(signature)}"
