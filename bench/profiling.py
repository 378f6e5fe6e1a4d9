"""Where our requests spend their time (``--profile``): cProfile summaries of the
authenticated view (warm and cold, next to the unauthenticated view) and of
our token endpoint (client_credentials and refresh rotation)."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable, Iterable

from django.contrib.auth import get_user_model

from bench import endpoints
from bench.fixtures import Clients, Tokens, basic, bearer, our_code_exchange
from bench.harness import Driver

REQUESTS = 2000
ENDPOINT_REQUESTS = 200
LINES = 14


def _profile(label: str, calls: Iterable[Callable[[], object]]) -> str:
    profiler = cProfile.Profile()
    n = 0
    profiler.enable()
    for call in calls:
        call()
        n += 1
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    out.write(f"\n-- profile: {label}, {n} requests, {total / n * 1e6:.0f} us/request under cProfile --\n")
    stats.sort_stats("tottime").print_stats(LINES)
    stats.sort_stats("cumulative").print_stats(r"oauth_tokens", LINES)
    return out.getvalue()


def profile_ours(driver: Driver, clients: Clients, tokens: Tokens, cold: list[str]) -> str:
    def get(path: str, headers: dict[str, str]) -> Callable[[], bytes]:
        return lambda: driver.request("GET", path, headers)

    auth = basic(clients.ours.client_id, clients.ours_secret)
    user = get_user_model().objects.filter(username__startswith="bench").order_by("pk").first()
    refresh = our_code_exchange(driver, clients, user)["refresh_token"]
    cc = endpoints._client_credentials(driver, "/oauth/token", auth)
    rotate = endpoints._rotation(driver, "/oauth/token", auth, refresh)
    return "".join([
        _profile("unauthenticated view", (get("/api/plain", {}) for _ in range(REQUESTS))),
        _profile("ours warm", (get("/api/ours", bearer(tokens.ours_access)) for _ in range(REQUESTS))),
        _profile("ours cold", (get("/api/ours", bearer(t)) for t in cold)),
        _profile("ours client_credentials", (cc for _ in range(ENDPOINT_REQUESTS))),
        _profile("ours refresh rotation", (rotate for _ in range(ENDPOINT_REQUESTS))),
    ])
