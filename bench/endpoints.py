"""Token-endpoint benchmark: client_credentials and refresh-token rotation, ours vs DOT.

Every side uses confidential clients authenticating with HTTP Basic, as
deployed: our client secrets are checked against an HMAC digest; DOT's
against its default PBKDF2 hash ("DOT", the default) and, on applications
with ``hash_client_secret=False``, compared as stored ("tuned DOT", what a DOT
user who cares about speed configures). Refresh rotation follows the chain:
every request presents the refresh token the previous response returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from bench.config import Config
from bench.fixtures import FORM, Clients, Tokens, basic, form
from bench.harness import Driver, Measurement, sample_queries, timed_round


def _client_credentials(driver: Driver, path: str, auth: dict[str, str]) -> Callable[[], bytes]:
    body = form(grant_type="client_credentials", scope="read")
    return lambda: driver.request("POST", path, auth, body, FORM)


def _rotation(driver: Driver, path: str, auth: dict[str, str], first: str) -> Callable[[], bytes]:
    state = {"refresh_token": first}

    def call() -> bytes:
        content = driver.request("POST", path, auth, form(grant_type="refresh_token", **state), FORM)
        state["refresh_token"] = json.loads(content)["refresh_token"]
        return content

    return call


def run(driver: Driver, clients: Clients, tokens: Tokens, config: Config) -> list[Measurement]:
    """Interleaved rounds, per grant: ours for ``endpoint_seconds``, tuned DOT for as long, then
    one request of default DOT (about 0.25 s: PBKDF2)."""
    ours_auth = basic(clients.ours.client_id, clients.ours_secret)
    triples = [
        (("ours client_credentials", _client_credentials(driver, "/oauth/token", ours_auth)),
         ("tuned DOT client_credentials",
          _client_credentials(driver, "/o/token/", basic(clients.tuned_cc.client_id, clients.tuned_cc_secret))),
         ("DOT client_credentials",
          _client_credentials(driver, "/o/token/", basic(clients.dot_cc.client_id, clients.dot_cc_secret)))),
        (("ours refresh rotation", _rotation(driver, "/oauth/token", ours_auth, tokens.ours_refresh)),
         ("tuned DOT refresh rotation",
          _rotation(driver, "/o/token/", basic(clients.tuned_code.client_id, clients.tuned_code_secret),
                    tokens.tuned_refresh)),
         ("DOT refresh rotation",
          _rotation(driver, "/o/token/", basic(clients.dot_code.client_id, clients.dot_code_secret),
                    tokens.dot_refresh))),
    ]
    results = {name: Measurement(name) for triple in triples for name, _ in triple}
    for triple in triples:
        for _name, call in triple:
            call()  # first request: imports, key loading
    for _ in range(config.endpoint_rounds):
        for (ours, ours_call), (tuned, tuned_call), (dot, dot_call) in triples:
            timed_round(results[ours], ours_call, seconds=config.endpoint_seconds, min_requests=5)
            timed_round(results[tuned], tuned_call, seconds=config.endpoint_seconds, min_requests=5)
            timed_round(results[dot], dot_call, seconds=0.0, min_requests=1, max_requests=1)
    for (ours, ours_call), (tuned, tuned_call), _dot in triples:
        sample_queries(results[ours], iter([ours_call]), limit=20)
        sample_queries(results[tuned], iter([tuned_call]), limit=20)
    return list(results.values())
