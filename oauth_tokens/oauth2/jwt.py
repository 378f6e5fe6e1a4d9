"""JWT access tokens (RFC 9068) and ID tokens (OIDC Core 2): keys, JWKs and
signing with PyJWT. Verification lives in one place, ``oauth2.verifier``: the
algorithm always comes from our key, never from the token header; ``none``, HMAC
and key-carrying headers (``jwk``, ``jku``, ``x5u``, ``x5c``) are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import Algorithm, ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ALGORITHMS = ("RS256", "ES256", "EdDSA")
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c", "crit")
MAX_TOKEN_LENGTH = 8192

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PRIVATE_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
PUBLIC_KEY_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)
#: The PyJWT algorithm family that reads and writes the JWKs of each key kind.
_JWK_BY_ALGORITHM: dict[str, type[Algorithm]] = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}
_JWK_BY_KTY: dict[str, type[Algorithm]] = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}


def generate_private_key(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"Unsupported signing algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def private_key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, PRIVATE_KEY_TYPES):
        raise ValueError(f"Unsupported private key type {type(key).__name__}")
    return key


def public_jwk(key: PrivateKey | PublicKey, *, kid: str, algorithm: str) -> dict[str, Any]:
    """The public JWK of ``key``: never any private parameter."""
    public = key.public_key() if isinstance(key, PRIVATE_KEY_TYPES) else key
    data = _JWK_BY_ALGORITHM[algorithm].to_jwk(public, as_dict=True)
    allowed = {"kty", "crv", "n", "e", "x", "y"}
    jwk = {k: v for k, v in data.items() if k in allowed}
    jwk.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return jwk


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """Load a public key from a JWK; refuses a JWK with private parameters."""
    if any(p in jwk for p in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise ValueError("JWK carries private or symmetric key material")
    key = _JWK_BY_KTY[str(jwk.get("kty"))].from_jwk(json.dumps(dict(jwk)))
    if not isinstance(key, PUBLIC_KEY_TYPES):  # e.g. an Ed448 key: not one we sign or verify with
        raise ValueError(f"Unsupported public key type {type(key).__name__}")
    return key


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: PublicKey


def signed_header(token: str, *, max_length: int) -> dict[str, Any]:
    """The unverified JOSE header of a signed JWT (three segments) of at most
    ``max_length`` characters; ``ValueError`` saying what is wrong otherwise. The
    verifiers of client assertions, assertion grants and exchanged tokens turn it
    into their own error."""
    if len(token) > max_length:
        raise ValueError("too long")
    if token.count(".") == 4:
        raise ValueError("encrypted assertions (JWE) are not supported")
    if token.count(".") != 2:
        raise ValueError("not a signed JWT")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise ValueError("malformed JWT") from None
    if not isinstance(header, dict):
        raise ValueError("malformed JWT")
    return header


class MissingClaim(ValueError):
    """A signature verified but a required claim is absent (its name in ``claim``)."""

    def __init__(self, claim: str) -> None:
        super().__init__(f"the {claim} claim is required")
        self.claim = claim


def decode_with_any(token: str, alg: str, candidates: Sequence[Any], *, require: Sequence[str],
                    leeway: float = 0) -> dict[str, Any] | None:
    """The claims of ``token`` verified with the first of ``candidates`` that verifies
    it under ``alg``, None when none does. Times, ``aud`` and ``iss`` are left to the
    caller; ``MissingClaim`` when one of ``require`` is absent. A key of another type
    than ``alg`` needs, or a malformed payload, moves on to the next key."""
    for key in candidates:
        try:
            return jwt.decode(
                token, key, algorithms=[alg], leeway=leeway,
                options={"require": list(require), "verify_aud": False, "verify_iss": False,
                         "verify_iat": False, "verify_exp": False, "verify_nbf": False},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise MissingClaim(exc.claim) from None
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
    return None


def numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (``exp``, ``iat``, ``nbf``: RFC 7519 section 2) as a finite
    number, None when absent; ``ValueError`` naming the claim for a boolean or any
    other non-number, an integer too large for a float, infinity and NaN (which
    would pass every comparison). The verifiers of client assertions, assertion
    grants and exchanged tokens turn it into their own error."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"{name} must be a finite number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number")
    return number


def check_times(claims: Mapping[str, Any], *, now: float, leeway: float, max_lifetime: float | None = None) -> None:
    """The times of a JWT someone else signed: ``exp`` (required) not passed, ``iat``
    and ``nbf`` (when present) not in the future, all within ``leeway``; with
    ``max_lifetime``, neither from now nor from ``iat`` may it live longer (RFC 7523
    section 3 lets the server limit that). ``ValueError`` saying what is wrong, which
    each verifier turns into its own error."""
    exp = numeric_claim(claims, "exp")
    if exp is None or exp + leeway <= now:
        raise ValueError("it has expired")
    iat = numeric_claim(claims, "iat")
    if max_lifetime is not None and exp - min(now, iat if iat is not None else now) > max_lifetime + leeway:
        raise ValueError(f"it lives longer than {max_lifetime:g} s")
    if iat is not None and iat > now + leeway:
        raise ValueError("iat is in the future")
    nbf = numeric_claim(claims, "nbf")
    if nbf is not None and nbf > now + leeway:
        raise ValueError("it is not valid yet (nbf)")


def sign(claims: Mapping[str, Any], *, key: PrivateKey, kid: str, algorithm: str, typ: str = "at+jwt") -> str:
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers={"kid": kid, "typ": typ})


def access_token_claims(
    *,
    issuer: str,
    audience: str | list[str],
    subject: str,
    client_id: str,
    scope: str,
    jti: str,
    issued_at: int,
    lifetime: int,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """RFC 9068 section 2.2 claims; ``audience`` one string or, for several
    resources (RFC 8707), a list."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client_id,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "jti": jti,
    }
    if scope:
        claims["scope"] = scope
    if extra:
        claims.update({k: v for k, v in extra.items() if k not in claims})
    return claims
