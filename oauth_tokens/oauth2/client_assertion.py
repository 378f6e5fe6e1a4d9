"""JWT client authentication: ``private_key_jwt`` and ``client_secret_jwt``
(RFC 7523 sections 2.2 and 3, RFC 7521 section 4.2, OpenID Connect Core section 9).

The client sends ``client_assertion_type`` =
``urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and
``client_assertion``, a JWT it signed: with its private key (its public keys
registered as ``jwks`` or ``jwks_uri``) or with its client secret (HMAC). This
module checks that JWT; the web layer supplies the keys, the audiences and the
replay record. Every failure is ``invalid_client`` (RFC 7521 section 4.2.1).

The checks:

- the algorithm is one the client's method allows: asymmetric ones for
  ``private_key_jwt``, HMAC for ``client_secret_jwt``, never ``none``; the key
  must match it (a JWK's own ``alg``, when it has one, too);
- ``iss`` and ``sub`` are both the client's id;
- ``aud`` is one of the audiences the web layer accepts (draft-ietf-oauth-
  rfc7523bis: the issuer identifier; for compatibility also the endpoint URLs,
  see ``provider.client_assertions``): a string, or an array of exactly one;
- ``exp`` is required and no further than ``max_lifetime`` from now (and from
  ``iat`` when given); ``iat`` not in the future and ``nbf`` reached, each with
  the leeway;
- ``jti`` is required and accepted once: ``ReplayRecord.first_use`` says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import jwt

from oauth_tokens.oauth2.errors import InvalidClient
from oauth_tokens.oauth2.jwt import MissingClaim, check_times, decode_with_any, public_key_from_jwk, signed_header

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PRIVATE_KEY_JWT = "private_key_jwt"
CLIENT_SECRET_JWT = "client_secret_jwt"
METHODS = (PRIVATE_KEY_JWT, CLIENT_SECRET_JWT)
#: What ``private_key_jwt`` assertions may be signed with (PyJWT with ``cryptography``).
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: What ``client_secret_jwt`` assertions may be signed with.
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
#: Header members that would let the assertion bring its own key: refused.
FORBIDDEN_HEADERS = ("jwk", "jku", "x5u", "x5c", "crit")
MAX_ASSERTION_LENGTH = 8192

_Client_contra = TypeVar("_Client_contra", contravariant=True)


class ReplayRecord(Protocol):
    """Where the ``jti`` of accepted assertions are remembered until they expire."""

    def first_use(self, client_id: str, jti: str, expires_at: float) -> bool:
        """Record ``jti`` for ``client_id`` until ``expires_at`` (a Unix time) and say
        whether this is its first use (atomically, across processes)."""


class AssertionVerifier(Protocol[_Client_contra]):
    """What ``server.authenticate_client`` calls to check a client assertion:
    returns when ``assertion`` authenticates ``client``, raises ``InvalidClient``."""

    def verify(self, client: _Client_contra, assertion: str) -> None: ...


@dataclass(frozen=True)
class Policy:
    """What an assertion is checked against, besides its key."""

    audiences: Sequence[str]
    now: float
    leeway: float = 30
    max_lifetime: float = 300


def allowed_algorithms(method: str) -> tuple[str, ...]:
    if method == PRIVATE_KEY_JWT:
        return ASYMMETRIC_ALGORITHMS
    if method == CLIENT_SECRET_JWT:
        return HMAC_ALGORITHMS
    return ()


def _fail(description: str) -> InvalidClient:
    return InvalidClient(f"Invalid client assertion: {description}")


def unverified_subject(assertion: str) -> str | None:
    """The ``sub`` (else ``iss``) of ``assertion``, unverified: the client id it
    claims, for a request that sends no ``client_id`` (RFC 7523 section 3). None
    when it is not a JWT with a string there."""
    if len(assertion) > MAX_ASSERTION_LENGTH or assertion.count(".") != 2:
        return None
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    value = claims.get("sub", claims.get("iss"))
    return value if isinstance(value, str) and value else None


def header_of(assertion: str) -> dict[str, Any]:
    """The assertion's JOSE header, or ``InvalidClient`` when it is no JWT."""
    try:
        return signed_header(assertion, max_length=MAX_ASSERTION_LENGTH)
    except ValueError as exc:
        raise _fail(str(exc)) from None


#: ``keys(kid, alg)``: the client's candidate verification keys for that header
#: (key objects, or the secret's bytes for HMAC); empty when none fits.
KeySource = Callable[[str | None, str], Sequence[Any]]


def verify(assertion: str, *, client_id: str, method: str, keys: KeySource, policy: Policy,
           replay: ReplayRecord) -> Mapping[str, Any]:
    """The claims of ``assertion`` when it authenticates ``client_id`` registered for
    ``method``; ``InvalidClient`` saying why otherwise."""
    header = header_of(assertion)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed_algorithms(method):
        raise _fail(f"alg {alg!r} is not accepted for {method}")
    if any(name in header for name in FORBIDDEN_HEADERS):
        raise _fail("the header must not carry keys or critical extensions")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _fail("kid must be a string")
    candidates = keys(kid, alg)
    if not candidates:
        raise _fail("no registered key of this client matches the assertion's kid and alg")
    claims = _decode(assertion, alg, candidates)
    _check_claims(claims, client_id, policy)
    if not replay.first_use(client_id, claims["jti"], float(claims["exp"])):
        raise _fail("this assertion (its jti) was already used")
    return claims


def _decode(assertion: str, alg: str, candidates: Sequence[Any]) -> dict[str, Any]:
    try:
        claims = decode_with_any(assertion, alg, candidates, require=("exp", "iss", "sub", "aud", "jti"))
    except MissingClaim as exc:
        raise _fail(str(exc)) from None
    if claims is None:
        raise _fail("the signature does not verify with this client's keys")
    return claims


def _check_claims(claims: Mapping[str, Any], client_id: str, policy: Policy) -> None:
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise _fail("iss and sub must both be the client_id")
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) == 1:
        aud = aud[0]
    if not isinstance(aud, str) or aud not in policy.audiences:
        raise _fail("aud must be this server's issuer identifier")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise _fail("jti must be a non-empty string of at most 255 characters")
    try:
        check_times(claims, now=policy.now, leeway=policy.leeway, max_lifetime=policy.max_lifetime)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def public_jwks_problem(value: Any) -> str | None:
    """What is wrong with a client's registered ``jwks`` (RFC 7517 section 5: an
    object with a ``keys`` array of public JWKs); None when nothing."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        return 'must be a JSON object {"keys": [...]} with at least one key'
    for jwk in value["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str):
            return "every key must be a JSON object with a kty"
        if any(p in jwk for p in ("d", "p", "q", "dp", "dq", "qi", "k", "oth")):
            return "must hold public keys only (a key carries private or symmetric material)"
        if "kid" in jwk and not isinstance(jwk["kid"], str):
            return "kid must be a string"
    if len(json.dumps(value)) > 64 * 1024:
        return "is too large"
    return None


_KTY_OF = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_CURVE_OF = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def jwks_keys(jwks: Mapping[str, Any] | None, kid: str | None, alg: str) -> tuple[list[Any], bool]:
    """The public keys of ``jwks`` that may verify a ``kid`` / ``alg`` header, and
    whether ``kid`` was found at all (False asks the caller to refetch a
    ``jwks_uri``). Keys for another use, algorithm, key type or curve are skipped,
    and so is any key carrying private material."""
    found = False
    keys: list[Any] = []
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or (kid is not None and jwk.get("kid") != kid):
            continue
        found = True
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
            continue
        if jwk.get("kty") != _KTY_OF.get(alg[:2]) or (alg in _CURVE_OF and jwk.get("crv") != _CURVE_OF[alg]):
            continue
        try:
            keys.append(public_key_from_jwk(jwk))
        except (ValueError, TypeError, KeyError, jwt.PyJWTError):
            continue
    return keys, found or kid is None
