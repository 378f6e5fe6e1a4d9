"""Access-token verification for resource servers (RFC 9068 section 4, RFC 7515).

``decode_access_token`` checks one compact JWS strictly: the header ``typ``
(at+jwt), no key-carrying or ``crit`` headers, a ``kid`` naming one of *our*
keys, the algorithm of that key (never the header's choice, so ``none`` and
HMAC-with-the-public-key cannot work), the signature, then the claims: exact
``iss``, ``aud`` containing us, ``exp`` / ``nbf`` / ``iat`` with a small leeway,
every RFC 9068 required claim present with the right type, and a lifetime
(``exp - iat``) this issuer could have granted. Every segment must be the one
canonical base64url spelling of its bytes, so a valid token has no second
spelling that a deny-list or a cache keyed on the string would miss.

``CachingVerifier`` verifies a token string once and keeps its claims in a
bounded LRU until the token's ``exp``; every hit still asks ``is_revoked`` and
whether the key that verified the token is still one of ours (a dict lookup:
a key removed from the key set stops its cached tokens at the key set's next
reload).

A provider in the same project registers its verifier with
``register_local_verifier``; the resource side finds it with
``local_verifier()``, so neither imports the other.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.oauth2.jwt import ACCESS_TOKEN_TYPES, FORBIDDEN_HEADERS, MAX_TOKEN_LENGTH, VerificationKey

Claims = Mapping[str, Any]

EXPIRED = "The access token has expired"
MALFORMED = "The access token is malformed"

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_SIGNERS = {
    "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
    "ES256": ECAlgorithm(ECAlgorithm.SHA256),
    "EdDSA": OKPAlgorithm(),
}
_STRING_CLAIMS = ("iss", "sub", "client_id", "jti")
_NUMERIC_CLAIMS = ("exp", "iat")


@dataclass(frozen=True)
class VerifierConfig:
    issuer: str
    audience: str
    leeway: int = 30
    #: ``lifetime_allowed(seconds)``: could this issuer have granted an access
    #: token living ``seconds`` (``exp - iat`` less the leeway)? None: any lifetime.
    lifetime_allowed: Callable[[float], bool] | None = None
    #: ``accepts_audience(aud)``: an ``aud`` value besides ``audience`` that this
    #: verifier accepts too (an issuer verifying its own tokens, whatever resource
    #: they were issued for: RFC 8707). None: only ``audience``.
    accepts_audience: Callable[[str], bool] | None = None


def _segment(value: str) -> bytes:
    """The bytes of one base64url segment, which must be their canonical spelling
    (no padding, unused low bits of the last character zero)."""
    if len(value) % 4 == 1:
        raise ValueError("impossible base64 length")
    data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=") != value.encode("ascii"):
        raise ValueError("not the canonical base64url spelling")
    return data


#: The canonical base64url reading, for the other compact JWS the spec layer reads itself (DPoP proofs).
canonical_segment = _segment


def _json_object(segment: str, what: str = "access token") -> dict[str, Any]:
    try:
        data = json.loads(_segment(segment))
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidToken(MALFORMED.replace("access token", what)) from None
    if not isinstance(data, dict):
        raise InvalidToken(MALFORMED.replace("access token", what))
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def decode_access_token(
    token: str,
    *,
    key_for: Callable[[str], VerificationKey | None],
    config: VerifierConfig,
    now: float,
) -> dict[str, Any]:
    """The claims of a valid access token, or ``InvalidToken`` saying what is wrong."""
    return _decode(token, key_for=key_for, config=config, now=now)[0]


def _decode(
    token: str,
    *,
    key_for: Callable[[str], VerificationKey | None],
    config: VerifierConfig,
    now: float,
) -> tuple[dict[str, Any], VerificationKey]:
    """(claims, the key that verified them) of a valid access token."""
    claims, key = verify_signature(token, key_for=key_for, types=ACCESS_TOKEN_TYPES)
    check_claims(claims, config=config, now=now)
    return claims, key


def verify_signature(
    token: str,
    *,
    key_for: Callable[[str], VerificationKey | None],
    types: tuple[str, ...],
    what: str = "access token",
) -> tuple[dict[str, Any], VerificationKey]:
    """(claims, key) of a compact JWS signed by one of our keys, whose header ``typ``
    is one of ``types`` (lower case); the claims are not checked. ``InvalidToken``
    naming ``what`` otherwise. Shared by access tokens and ID token hints."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _COMPACT.fullmatch(token):
        raise InvalidToken(MALFORMED.replace("access token", what))
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = _json_object(header_b64, what)
    if any(name in header for name in FORBIDDEN_HEADERS):
        raise InvalidToken(f"The {what} carries a forbidden header")
    if str(header.get("typ", "")).lower() not in types:
        raise InvalidToken(f"The {what} has the wrong type")
    kid = header.get("kid")
    key = key_for(kid) if isinstance(kid, str) and kid else None
    if key is None:
        raise InvalidToken(f"The {what} was signed by an unknown key")
    signer = _SIGNERS.get(key.algorithm)
    if signer is None or header.get("alg") != key.algorithm:
        raise InvalidToken(f"The {what} has the wrong algorithm")
    try:
        signature = _segment(signature_b64)
    except (ValueError, binascii.Error):
        raise InvalidToken(f"The {what} signature is not canonical base64url") from None
    try:
        valid = signer.verify(f"{header_b64}.{payload_b64}".encode("ascii"), key.key, signature)
    except Exception:  # any malformed signature is just an invalid one
        valid = False
    if not valid:
        raise InvalidToken(f"The {what} signature is invalid")
    return _json_object(payload_b64, what), key


def audiences_of(claims: Mapping[str, Any]) -> list[Any]:
    """The ``aud`` claim as a list (RFC 7519 section 4.1.3: one string or an array)."""
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []


def check_claims(claims: Mapping[str, Any], *, config: VerifierConfig, now: float) -> None:
    """RFC 9068 section 4 claim checks (the signature is already verified)."""
    for name in _STRING_CLAIMS:
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise InvalidToken(f"The access token has no valid {name!r} claim")
    for name in _NUMERIC_CLAIMS:
        if not _is_number(claims.get(name)):
            raise InvalidToken(f"The access token has no valid {name!r} claim")
    if claims["iss"] != config.issuer:
        raise InvalidToken("The access token was issued by another server")
    audiences = audiences_of(claims)
    if config.audience not in audiences and not (
        config.accepts_audience is not None
        and any(isinstance(a, str) and config.accepts_audience(a) for a in audiences)
    ):
        raise InvalidToken("The access token is meant for another audience")
    if "scope" in claims and not isinstance(claims["scope"], str):
        raise InvalidToken("The access token has no valid 'scope' claim")
    leeway = config.leeway
    if now >= claims["exp"] + leeway:
        raise InvalidToken(EXPIRED)
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or nbf > now + leeway):
        raise InvalidToken("The access token is not yet valid")
    if claims["iat"] > now + leeway:
        raise InvalidToken("The access token was issued in the future")
    allowed = config.lifetime_allowed
    if allowed is not None and not allowed(claims["exp"] - claims["iat"] - leeway):
        raise InvalidToken("The access token lives longer than this issuer grants")


class AccessTokenVerifier(Protocol):
    def verify(self, token: str) -> Claims:
        """Claims of a valid, unrevoked access token (read-only), or ``InvalidToken``."""


class CachingVerifier:
    """Verify each token string once; keep its claims until ``exp`` (bounded LRU).

    ``key_for(kid)`` returns our key; it is asked on every call, so it must be
    cheap for a known key (a cached dict): a hit whose key is gone, or is
    another key now, is verified again (and refused if its key is gone).
    ``config()`` gives the issuer / audience / leeway / lifetime bound (read on
    a cache miss only), ``is_revoked(claims)`` is asked on every call,
    ``clock()`` returns the current Unix time.
    """

    def __init__(
        self,
        *,
        key_for: Callable[[str], VerificationKey | None],
        config: Callable[[], VerifierConfig],
        is_revoked: Callable[[Claims], bool],
        clock: Callable[[], float],
        max_entries: Callable[[], int] | int = 10_000,
    ) -> None:
        self.key_for = key_for
        self.config = config
        self.is_revoked = is_revoked
        self.clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Claims, float, VerificationKey]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def verify(self, token: str) -> Claims:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
        if entry is not None:
            claims, valid_until, key = entry
            if now >= valid_until:
                self.forget(token)
                raise InvalidToken(EXPIRED)
            current = self.key_for(key.kid)
            if current is not key and current != key:
                # The key set lost this key (a leaked key deleted) or holds another
                # key under its kid: the token is only as good as a fresh check.
                self.forget(token)
                entry = None
            else:
                self.hits += 1
        if entry is None:
            self.misses += 1
            claims = self._verify_cold(token, now)
        if self.is_revoked(claims):
            raise InvalidToken("The access token has been revoked")
        return claims

    def _verify_cold(self, token: str, now: float) -> Claims:
        config = self.config()
        decoded, key = _decode(token, key_for=self.key_for, config=config, now=now)
        claims = MappingProxyType(decoded)
        limit = self._max_entries() if callable(self._max_entries) else self._max_entries
        if limit > 0:
            with self._lock:
                self._entries[token] = (claims, claims["exp"] + config.leeway, key)
                while len(self._entries) > limit:
                    self._entries.popitem(last=False)
        return claims

    def forget(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_local_verifier: Callable[[], AccessTokenVerifier] | None = None


def register_local_verifier(factory: Callable[[], AccessTokenVerifier] | None) -> None:
    """The provider app calls this in ``AppConfig.ready()`` with a callable that
    returns its verifier (keys and revocation state of this project)."""
    global _local_verifier
    _local_verifier = factory


def local_verifier() -> AccessTokenVerifier | None:
    """The verifier of a provider installed in this project, if any."""
    return _local_verifier() if _local_verifier is not None else None
