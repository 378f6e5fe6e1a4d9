"""DPoP proofs (RFC 9449): checking a proof JWT, the key's thumbprint, server
nonces, and the errors and challenge of sections 5, 7.1 and 8.

A DPoP proof is a JWT the client signs with its own key for one HTTP request
and sends in the ``DPoP`` header. ``verify_proof`` checks (section 4.3):

- exactly one well-formed JWT; header ``typ`` ``dpop+jwt``, ``alg`` asymmetric
  (``ALGORITHMS``: never ``none`` nor HMAC), ``jwk`` a public key of the kind
  ``alg`` needs (no private or symmetric members), no ``crit``; the signature
  verifies with that key;
- ``jti`` a string, ``htm`` the request's method, ``htu`` its URI without query
  and fragment, both compared after the normalization of RFC 3986 sections
  6.2.2 and 6.2.3 (``normalize_uri``);
- ``iat`` no older than ``max_age`` and not in the future (each with the leeway);
- ``nonce`` one the server issued, when the server requires nonces (else
  ``use_dpop_nonce`` with a fresh one, section 8);
- ``ath``, the base64url SHA-256 of the access token, on requests to a
  resource (section 7);
- last, the ``jti`` is recorded; a second use inside the window is refused
  (section 11.1). The web layer chooses the record (database or shared cache).

The result carries the key's thumbprint (RFC 7638, SHA-256): ``jkt``, what a
token is bound to (``cnf.jkt``, section 6.1).

Over our usual 300 lines: the proof check, the thumbprint, the nonces and the
errors are a section of the RFC each, short, and always used together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import jwt
from jwt.algorithms import get_default_algorithms

from oauth_tokens.oauth2.client_assertion import ASYMMETRIC_ALGORITHMS, ReplayRecord
from oauth_tokens.oauth2.errors import InvalidToken, OAuth2Error
from oauth_tokens.oauth2.jwt import public_key_from_jwk
from oauth_tokens.oauth2.verifier import canonical_segment

#: ``token_type`` of a DPoP-bound access token (section 5), and the HTTP auth scheme (section 7.1).
TOKEN_TYPE = "DPoP"
SCHEME = "DPoP"
PROOF_TYPE = "dpop+jwt"
#: What a proof may be signed with: ``dpop_signing_alg_values_supported`` (section 5.1).
ALGORITHMS = ASYMMETRIC_ALGORITHMS
MAX_PROOF_LENGTH = 8192
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")  # an empty signature: alg none, refused below
#: PyJWT's algorithm objects (``cryptography``): the signature is checked with them
#: directly, each segment read once in its canonical base64url spelling.
_SIGNERS = {name: algorithm for name, algorithm in get_default_algorithms().items() if name in ALGORITHMS}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_KTY_OF = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
_CURVE_OF = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
#: RFC 7638 section 3.2: the members of the thumbprint's input, by key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def _quote(value: str) -> str:
    return '"' + "".join(c for c in value if c not in '"\\' and 0x20 <= ord(c) < 0x7F) + '"'


def dpop_challenge(error: str = "", description: str = "", *, algs: Sequence[str] = ALGORITHMS) -> str:
    """A ``WWW-Authenticate: DPoP`` value (section 7.1): ``algs`` always, the error when there is one."""
    parts = []
    if error:
        parts.append(f"error={_quote(error)}")
    if description:
        parts.append(f"error_description={_quote(description)}")
    parts.append(f"algs={_quote(' '.join(algs))}")
    return f"{SCHEME} " + ", ".join(parts)


class DPoPError(OAuth2Error):
    """A refused proof. At the token endpoint a 400 JSON error (section 5); a
    resource server turns it into a 401 with the DPoP challenge (``at_resource``).
    ``nonce``: a fresh server nonce, sent back as ``DPoP-Nonce`` (section 8)."""

    status_code = 400
    nonce: str = ""
    challenge: str = ""

    def at_resource(self, *, algs: Sequence[str] = ALGORITHMS) -> DPoPError:
        """This error as a resource server answers it: 401 with ``WWW-Authenticate: DPoP``."""
        self.status_code = 401
        self.challenge = dpop_challenge(self.error, self.description, algs=algs)
        return self

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.challenge:
            headers["WWW-Authenticate"] = self.challenge
        if self.nonce:
            headers["DPoP-Nonce"] = self.nonce
        return headers


class InvalidDPoPProof(DPoPError):
    error = "invalid_dpop_proof"
    description = "The DPoP proof is invalid"


class UseDPoPNonce(DPoPError):
    """Section 8: the server requires a nonce; the client retries with the one in ``DPoP-Nonce``."""

    error = "use_dpop_nonce"
    description = "Resend the request with a DPoP proof carrying the nonce given in the DPoP-Nonce header"

    def __init__(self, nonce: str, description: str | None = None) -> None:
        super().__init__(description)
        self.nonce = nonce


class DPoPInvalidToken(InvalidToken):
    """``invalid_token`` for a request that used the DPoP scheme: its challenge is DPoP's (section 7.1)."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": dpop_challenge(self.error, self.description)}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_members(jwk: Mapping[str, Any]) -> dict[str, str]:
    """The members of ``jwk`` that make the public key: those RFC 7638 hashes for the
    thumbprint, which for RSA, EC and OKP keys are the whole public key (what a proof
    header carries, section 4.2); ``ValueError`` for anything else."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ValueError("not a public RSA, EC or OKP JWK")
    return {m: jwk[m] for m in members}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The JWK SHA-256 thumbprint (RFC 7638), base64url: the ``jkt`` of a key."""
    canonical = json.dumps(key_members(jwk), separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(access_token: str) -> str:
    """``ath`` (section 4.2): base64url SHA-256 of the access token's ASCII."""
    return _b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = "-._~"


def _normalize_path(path: str) -> str:
    # RFC 3986 6.2.2.2: decode percent-encoded unreserved characters, upper-case
    # the hex digits of the others; 6.2.2.3: remove dot segments.
    pieces = []
    for segment in path.split("/"):
        decoded = unquote(segment, errors="strict")
        pieces.append(quote(decoded, safe="!$&'()*+,;=:@" + _UNRESERVED))
    output: list[str] = []
    for segment in pieces:
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if pieces and pieces[-1] in (".", ".."):
        output.append("")
    normalized = "/".join(output)
    return normalized if normalized.startswith("/") else "/" + normalized


@lru_cache(maxsize=1024)
def normalize_uri(uri: str) -> str:
    """``uri`` without query and fragment, normalized as section 4.3 asks (RFC 3986
    sections 6.2.2 and 6.2.3): lower-case scheme and host, no default port, an
    empty path is ``/``, percent-encodings normalized, no dot segments."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http(s) URI")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _normalize_path(parts.path), "", ""))


@dataclass(frozen=True)
class Nonces:
    """Stateless server nonces (section 8): an HMAC of the current time window under
    ``key``, so any process with the key accepts them. A nonce is good in its
    window and the next one: between ``lifetime`` and twice that."""

    key: bytes
    lifetime: float = 300

    def _for_window(self, window: int) -> str:
        return _b64url(hmac.new(self.key, f"dpop-nonce:{window}".encode(), hashlib.sha256).digest()[:24])

    def current(self, now: float) -> str:
        return self._for_window(int(now // self.lifetime))

    def accepts(self, nonce: Any, now: float) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        window = int(now // self.lifetime)
        return any(hmac.compare_digest(nonce, self._for_window(w)) for w in (window, window - 1))


@dataclass(frozen=True)
class ProofPolicy:
    """What a proof is checked against: the request, the clock, and the server's rules."""

    method: str
    #: The URIs the request may be named by (its own; for the token endpoint also the
    #: advertised one): ``htu`` must equal one of them once normalized.
    uris: Sequence[str]
    now: float
    max_age: float = 60
    leeway: float = 30
    #: Server nonces, when they are required; None: a nonce is not checked.
    nonces: Nonces | None = None
    #: The access token of a request to a resource: ``ath`` must be its hash.
    access_token: str | None = None
    algorithms: Sequence[str] = ALGORITHMS


@dataclass(frozen=True)
class Proof:
    """A verified proof: the thumbprint of its key (``jkt``) and its claims."""

    jkt: str
    claims: Mapping[str, Any]


def _fail(description: str) -> InvalidDPoPProof:
    return InvalidDPoPProof(f"Invalid DPoP proof: {description}")


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        data = json.loads(canonical_segment(segment))
    except (ValueError, binascii.Error, RecursionError):
        raise _fail("malformed JWT") from None
    if not isinstance(data, dict):
        raise _fail("malformed JWT")
    return data


def _parts(proof: str) -> tuple[str, str, str]:
    """The three segments of the one compact JWS the header holds."""
    if len(proof) > MAX_PROOF_LENGTH:
        raise _fail("too long")
    proof = proof.strip()
    if proof.count(".") != 2 or "," in proof or " " in proof:
        raise _fail("the DPoP header must hold exactly one signed JWT")
    if not _COMPACT.fullmatch(proof):
        raise _fail("malformed JWT")
    header, payload, signature = proof.split(".")
    return header, payload, signature


def _key(header: Mapping[str, Any], algorithms: Sequence[str]) -> tuple[Any, str, str]:
    """(public key, alg, jkt) of a proof header, or ``InvalidDPoPProof``."""
    if str(header.get("typ", "")).lower() != PROOF_TYPE:  # a media type: case-insensitive
        raise _fail(f"typ must be {PROOF_TYPE}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise _fail(f"alg {alg!r} is not accepted: use one of {' '.join(algorithms)}")
    if "crit" in header:
        raise _fail("critical header extensions are not supported")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _fail("the header must carry the public key as jwk")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise _fail("jwk must be a public key (it carries private or symmetric material)")
    if jwk.get("kty") != _KTY_OF.get(alg[:2]) or (alg in _CURVE_OF and jwk.get("crv") != _CURVE_OF[alg]):
        raise _fail(f"jwk is not a key for {alg}")
    try:
        jkt = thumbprint(jwk)
        # A client signs many proofs with one key: the key is loaded once (the
        # thumbprint's members are the whole public key, so they name it exactly).
        return _public_key(tuple(key_members(jwk).items())), alg, jkt
    except (ValueError, TypeError, KeyError, jwt.PyJWTError):
        raise _fail("jwk is not a usable public key") from None


@lru_cache(maxsize=1024)
def _public_key(members: tuple[tuple[str, str], ...]) -> Any:
    return public_key_from_jwk(dict(members))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _uri_matches(htu: Any, uris: Sequence[str]) -> bool:
    if not isinstance(htu, str) or len(htu) > 2048:
        return False
    try:
        wanted = normalize_uri(htu)
        return any(wanted == normalize_uri(uri) for uri in uris)
    except ValueError:
        return False


def verify_proof(proof: str, policy: ProofPolicy, replay: ReplayRecord) -> Proof:
    """The verified ``proof`` for the request ``policy`` describes; ``InvalidDPoPProof``
    (or ``UseDPoPNonce``) saying why not. Its ``jti`` is recorded with ``replay``
    (keyed by the key's thumbprint) once every other check passed."""
    header_b64, payload_b64, signature_b64 = _parts(proof)
    key, alg, jkt = _key(_json_segment(header_b64), policy.algorithms)
    try:
        signature = canonical_segment(signature_b64)
        valid = _SIGNERS[alg].verify(f"{header_b64}.{payload_b64}".encode("ascii"), key, signature)
    except Exception:  # any malformed signature is just an invalid one
        valid = False
    if not valid:
        raise _fail("the signature does not verify with its jwk")
    claims = _json_segment(payload_b64)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise _fail("jti must be a non-empty string of at most 255 characters")
    if claims.get("htm") != policy.method:
        raise _fail(f"htm must be the request's method, {policy.method}")
    if not _uri_matches(claims.get("htu"), policy.uris):
        raise _fail("htu must be the request's URI (without query and fragment)")
    iat = _number(claims.get("iat"))
    if iat is None:
        raise _fail("iat must be a number")
    if iat > policy.now + policy.leeway:
        raise _fail("iat is in the future")
    if iat < policy.now - policy.max_age - policy.leeway:
        raise _fail("it is too old (iat); make a new proof for each request")
    if policy.access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str):
            raise _fail("ath (the hash of the access token) is required")
        if not hmac.compare_digest(ath, access_token_hash(policy.access_token)):
            raise _fail("ath does not match the access token")
    if policy.nonces is not None and not policy.nonces.accepts(claims.get("nonce"), policy.now):
        missing = "nonce" not in claims
        raise UseDPoPNonce(policy.nonces.current(policy.now),
                           "A DPoP nonce is required" if missing else "The DPoP nonce is stale or unknown")
    if not replay.first_use(jkt, jti, iat + policy.max_age + 2 * policy.leeway):
        raise _fail("this proof (its jti) was already used")
    return Proof(jkt=jkt, claims=claims)


def confirmed_jkt(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` a token's claims bind it to (section 6.1), None when unbound."""
    cnf = claims.get("cnf")
    if not isinstance(cnf, Mapping):
        return None
    jkt = cnf.get("jkt")
    return jkt if isinstance(jkt, str) and jkt else None
