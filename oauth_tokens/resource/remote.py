"""Remote mode: a service that only accepts tokens, without the provider app.

Keys come from the provider's JWKS (``OAUTH_TOKENS["JWKS_URL"]``, RFC 7517),
fetched with httpx, kept ``JWKS_CACHE_TTL`` seconds, refetched when a token
names an unknown ``kid`` (after a key rotation) but at most once per
``JWKS_MIN_REFETCH_INTERVAL``, so junk tokens cannot make us hammer the
provider. While the JWKS cannot be fetched (or has no usable key) the keys we
have stay in use, and a token naming another key gets 503
``temporarily_unavailable``, not 401. Verification is otherwise the same cached, strict check as local mode:
a key that leaves the JWKS stops verifying at the next fetch, cached tokens
included, and a token living longer than ``MAX_TOKEN_LIFETIME`` (default
``ACCESS_TOKEN_LIFETIME``) is refused.

Revocation, optional: with ``INTROSPECTION_URL`` each token is also checked
with the provider's RFC 7662 endpoint, and the answer cached for
``INTROSPECTION_CACHE_TTL`` seconds (an inactive answer until the token
expires). Without it, a revoked token works here until it expires: keep
access tokens short-lived.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from oauth_tokens.oauth2 import verifier as spec
from oauth_tokens.oauth2.errors import InvalidToken, TemporarilyUnavailable
from oauth_tokens.oauth2.jwt import VerificationKey, public_key_from_jwk
from oauth_tokens.settings import token_settings

#: (kty, crv) of a JWK, as any JSON values, -> the one algorithm we accept for it.
_ALGORITHM_OF: dict[tuple[object, object], str] = {
    ("RSA", None): "RS256", ("EC", "P-256"): "ES256", ("OKP", "Ed25519"): "EdDSA",
}


def now() -> float:
    """Unix time for token checks (tests patch it)."""
    return time.time()


def monotonic() -> float:
    """Elapsed time for cache ages and refetch rates (tests patch it)."""
    return time.monotonic()


def make_http_client() -> httpx.Client:
    """The HTTP client for JWKS and introspection calls (tests patch it)."""
    return httpx.Client(timeout=float(token_settings.REMOTE_TIMEOUT), follow_redirects=False)


def parse_jwks(document: Any) -> dict[str, VerificationKey]:
    """Signature keys of a JWKS document; anything we cannot use safely is skipped."""
    keys: dict[str, VerificationKey] = {}
    entries = document.get("keys") if isinstance(document, Mapping) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
            continue
        kty, crv = jwk.get("kty"), jwk.get("crv")
        algorithm = _ALGORITHM_OF.get((kty, None if kty == "RSA" else crv))
        if algorithm is None or jwk.get("alg", algorithm) != algorithm:
            continue
        try:
            keys[jwk["kid"]] = VerificationKey(jwk["kid"], algorithm, public_key_from_jwk(jwk))
        except Exception:  # noqa: S112  (a malformed or private key is not one of ours)
            continue
    return keys


class JwksKeys:
    """``kid -> VerificationKey`` from a JWKS URL, cached, refetched with a bounded rate."""

    def __init__(self, url: str, *, http: httpx.Client, ttl: float, min_refetch: float,
                 clock: Callable[[], float] = lambda: monotonic()) -> None:
        self.url = url
        self.http = http
        self.ttl = ttl
        self.min_refetch = min_refetch
        self.clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failing = False  # the last fetch failed or gave no usable key
        self._lock = threading.Lock()
        self.fetches = 0

    def __call__(self, kid: str) -> VerificationKey | None:
        t = self.clock()
        if self._fetched_at is None or t - self._fetched_at >= self.ttl:
            self._fetch(t)
        key = self._keys.get(kid)
        if key is None and (self._attempted_at is None or t - self._attempted_at >= self.min_refetch):
            self._fetch(t)
            key = self._keys.get(kid)
        if key is None and self._failing:
            # Not the token's fault: a 401 would make clients drop good tokens and
            # stampede the provider's token endpoint while it is down.
            raise TemporarilyUnavailable("The provider's signing keys cannot be fetched right now")
        return key

    def _fetch(self, t: float) -> None:
        with self._lock:
            if self._attempted_at is not None and t - self._attempted_at < min(self.min_refetch, self.ttl):
                return  # another thread just fetched (or failed to)
            self._attempted_at = t
            self.fetches += 1
            try:
                response = self.http.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError):
                keys = {}
            if not keys:  # unreachable, or nothing usable: keep the keys we have
                self._failing = True
                return  # the next attempt waits min_refetch
            # The same object for an unchanged key: cached tokens compare keys by
            # identity, and a key that left the JWKS stops its cached tokens now.
            old = self._keys
            self._keys = {kid: old[kid] if old.get(kid) == key else key for kid, key in keys.items()}
            self._fetched_at = t
            self._failing = False


class Introspector:
    """Is this token still active at the provider? (RFC 7662, answers cached)."""

    def __init__(self, url: str, *, client_id: str, client_secret: str, http: httpx.Client, ttl: float,
                 clock: Callable[[], float] = lambda: monotonic(), max_entries: int = 10_000) -> None:
        self.url = url
        self.auth = httpx.BasicAuth(client_id, client_secret)
        self.http = http
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._answers: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0

    def is_active(self, token: str, claims: Mapping[str, Any]) -> bool:
        jti = str(claims["jti"])
        t = self.clock()
        with self._lock:
            answer = self._answers.get(jti)
        if answer is not None and (not answer[0] or t - answer[1] < self.ttl):
            return answer[0]
        self.calls += 1
        try:
            response = self.http.post(
                self.url, data={"token": token, "token_type_hint": "access_token"}, auth=self.auth
            )
            response.raise_for_status()
            active = response.json().get("active") is True
        except (httpx.HTTPError, ValueError, AttributeError):
            raise TemporarilyUnavailable("The token cannot be checked with the provider right now") from None
        with self._lock:
            self._answers[jti] = (active, t)
            self._answers.move_to_end(jti)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return active


class RemoteVerifier:
    """JWKS keys + the same strict, cached verification as local mode + optional introspection."""

    def __init__(self, keys: JwksKeys, introspector: Introspector | None = None) -> None:
        self.keys = keys
        self.introspector = introspector
        self.cache = spec.CachingVerifier(
            key_for=keys,
            config=_config,
            is_revoked=lambda claims: False,
            clock=lambda: now(),
            max_entries=lambda: int(token_settings.VERIFIED_TOKEN_CACHE_SIZE),
        )

    def verify(self, token: str) -> Mapping[str, Any]:
        claims = self.cache.verify(token)
        if self.introspector is not None and not self.introspector.is_active(token, claims):
            raise InvalidToken("The access token has been revoked")
        return claims


def _config() -> spec.VerifierConfig:
    return spec.VerifierConfig(
        issuer=token_settings.issuer, audience=token_settings.audience, leeway=int(token_settings.JWT_LEEWAY),
        lifetime_allowed=_lifetime_allowed,
    )


def _lifetime_allowed(seconds: float) -> bool:
    """``MAX_TOKEN_LIFETIME``, by default ``ACCESS_TOKEN_LIFETIME``: this service
    cannot see the provider's clients, so it is told the longest lifetime."""
    bound = token_settings.MAX_TOKEN_LIFETIME
    return seconds <= (token_settings.ACCESS_TOKEN_LIFETIME if bound is None else bound)


def build_verifier() -> RemoteVerifier:
    http = make_http_client()
    keys = JwksKeys(
        str(token_settings.JWKS_URL),
        http=http,
        ttl=float(token_settings.JWKS_CACHE_TTL),
        min_refetch=float(token_settings.JWKS_MIN_REFETCH_INTERVAL),
    )
    introspector = None
    if token_settings.INTROSPECTION_URL:
        introspector = Introspector(
            str(token_settings.INTROSPECTION_URL),
            client_id=str(token_settings.INTROSPECTION_CLIENT_ID or ""),
            client_secret=str(token_settings.INTROSPECTION_CLIENT_SECRET or ""),
            http=http,
            ttl=float(token_settings.INTROSPECTION_CACHE_TTL),
        )
    return RemoteVerifier(keys, introspector)
