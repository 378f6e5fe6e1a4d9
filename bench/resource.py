"""Request-level benchmark: the same view behind no authentication, ours, DOT's and simplejwt's.

Rounds are interleaved (every view runs once per round) so drift in machine
speed hits all of them alike; the median round is reported. Our
authentication is measured warm (one token presented again and again: the
steady state of a client) and cold (every request presents a token never seen
before by this process), and with a DPoP-bound token (RFC 9449): the token warm,
a new proof per request (verified: an ES256 signature, the claims, ``ath``, the
jti added to the default cache). The proofs are signed before each round, so
the client's signing is not counted.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

from bench.config import Config
from bench.fixtures import Tokens, bearer
from bench.harness import BenchError, Driver, Measurement, sample_queries, timed_round

VIEWS = [
    ("unauthenticated", "/api/plain", None),
    ("ours (warm)", "/api/ours", "ours_access"),
    ("django-oauth-toolkit", "/api/dot", "dot_access"),
    ("simplejwt", "/api/simplejwt", "simplejwt_access"),
]
COLD = "ours (cold)"
DPOP = "ours DPoP (warm token, new proof)"
DPOP_PATH = "/api/ours"


def jwk_of(key) -> dict:
    """The public JWK of an EC private key."""
    from jwt.algorithms import ECAlgorithm

    return ECAlgorithm.to_jwk(key.public_key(), as_dict=True)


def dpop_headers(token: str, key, count: int) -> list[dict[str, str]]:
    """``count`` requests' headers: the token with the DPoP scheme and a new proof each."""
    import jwt

    from oauth_tokens.oauth2.dpop import access_token_hash

    jwk, ath, now = jwk_of(key), access_token_hash(token), int(time.time())
    return [{"HTTP_AUTHORIZATION": f"DPoP {token}",
             "HTTP_DPOP": jwt.encode({"jti": uuid.uuid4().hex, "htm": "GET", "htu": f"http://testserver{DPOP_PATH}",
                                      "iat": now, "ath": ath}, key, algorithm="ES256",
                                     headers={"typ": "dpop+jwt", "jwk": jwk})}
            for _ in range(count)]


def _caller(driver: Driver, path: str, token: str | None) -> Callable[[], bytes]:
    headers = bearer(token) if token else {}
    return lambda: driver.request("GET", path, headers)


def _check(name: str, body: bytes) -> None:
    data = json.loads(body)
    if set(data) != {"sub", "scope"} or (name != "unauthenticated" and "read" not in data["scope"].split()):
        raise BenchError(f"{name} answered {data!r}")


def run(driver: Driver, tokens: Tokens, config: Config) -> tuple[list[Measurement], dict]:
    """Measurements in table order, and the facts the query target needs (loop time, poll interval)."""
    from oauth_tokens.settings import token_settings

    callers = {name: _caller(driver, path, getattr(tokens, attr) if attr else None) for name, path, attr in VIEWS}
    for name, call in callers.items():
        _check(name, call())
        for _ in range(config.warmup):
            call()

    cold_tokens: Iterator[str] = iter(tokens.ours_cold)

    def cold_call() -> bytes:
        return driver.request("GET", "/api/ours", bearer(next(cold_tokens)))

    _check(COLD, cold_call())
    cold_budget = len(tokens.ours_cold) - 1 - config.sample
    per_round = max(1, min(config.cold_per_round, cold_budget // config.rounds))

    proofs: Iterator[dict[str, str]] = iter(())

    def dpop_call() -> bytes:
        return driver.request("GET", DPOP_PATH, next(proofs))

    proofs = iter(dpop_headers(tokens.ours_dpop, tokens.dpop_key, 1 + config.warmup))
    _check(DPOP, dpop_call())
    for _ in range(config.warmup):
        dpop_call()

    results = {name: Measurement(name) for name in [*callers, COLD, DPOP]}
    # Per round: unauthenticated, ours warm, ours cold, then the peers. Adjacent
    # windows see the same machine, so per-round ratios pair them.
    order = [(name, call, False) for name, call in callers.items()]
    order.insert(2, (COLD, cold_call, True))
    order.insert(3, (DPOP, dpop_call, True))
    started = time.perf_counter()
    for _ in range(config.rounds):
        for name, call, cold in order:
            if name == DPOP:  # this round's proofs, signed before the clock starts
                proofs = iter(dpop_headers(tokens.ours_dpop, tokens.dpop_key, per_round))
            if cold:
                timed_round(results[name], call, seconds=0.0, min_requests=per_round, max_requests=per_round)
            else:
                timed_round(results[name], call, seconds=config.seconds, min_requests=20)
    loop_seconds = time.perf_counter() - started

    for name, call in callers.items():
        sample_queries(results[name], (call for _ in range(config.sample)))
    sample_queries(results[COLD], (cold_call for _ in range(config.sample)))
    proofs = iter(dpop_headers(tokens.ours_dpop, tokens.dpop_key, config.sample))
    sample_queries(results[DPOP], (dpop_call for _ in range(config.sample)))
    interval = float(getattr(token_settings, "REVOCATION_POLL_INTERVAL", 0) or 0)
    return list(results.values()), {"loop_seconds": loop_seconds, "poll_interval": interval}
