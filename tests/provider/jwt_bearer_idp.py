"""A test enterprise identity provider for the JWT bearer grant (RFC 7523 section
2.1): its key, its issuer configuration, and the assertions it signs, plain or
as identity assertion grants (ID-JAG, typ ``oauth-id-jag+jwt``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from tests.provider.jwt_clients import ISSUER, jwks, rsa_key

IDP = "https://idp.example.test"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ID_JAG_TYP = "oauth-id-jag+jwt"
KEY = rsa_key()


def issuers(**config: Any) -> dict[str, Any]:
    """``JWT_BEARER_ISSUERS`` trusting ``IDP`` with its key inline (``config`` over it)."""
    return {IDP: {"jwks": jwks((KEY, "idp-1")), **config}}


def settings_for(settings, **extra: Any) -> None:
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "JWT_BEARER_ENABLED": True,
                             "JWT_BEARER_ISSUERS": issuers(), **extra}


def assertion(subject: str = "alice", *, key: Any = KEY, alg: str = "RS256", kid: str | None = "idp-1",
              iss: str = IDP, aud: Any = ISSUER, lifetime: float = 120, now: float | None = None,
              typ: str | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
    """An assertion about ``subject`` with a fresh jti; a claim given as None is left out."""
    moment = time.time() if now is None else now
    payload = {"iss": iss, "sub": subject, "aud": aud, "jti": uuid.uuid4().hex, "iat": int(moment),
               "exp": int(moment + lifetime), **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {**({"kid": kid} if kid else {}), **({"typ": typ} if typ else {}), **(headers or {})}
    return jwt.encode(payload, key, algorithm=alg, headers=header or None)


def id_jag(subject: str, client_id: str, **claims: Any) -> str:
    """An identity assertion grant for ``client_id`` (the profile MCP's enterprise-managed
    authorization uses): typ oauth-id-jag+jwt, aud our issuer, client_id claim."""
    return assertion(subject, typ=ID_JAG_TYP, client_id=client_id, **claims)
