"""Where our requests spend their time (``--profile``): cProfile summaries of the
authenticated view (warm and cold, next to the unauthenticated view) and of
our token endpoint (client_credentials and refresh rotation), then the token
endpoint's phases timed without a profiler (wall and CPU time per request)."""

from __future__ import annotations

import cProfile
import io
import os
import pkgutil
import pstats
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from unittest import mock

from django.contrib.auth import get_user_model

from bench import endpoints
from bench.fixtures import Clients, Tokens, basic, bearer, our_code_exchange
from bench.harness import Driver

REQUESTS = 2000
ENDPOINT_REQUESTS = 200
LINES = int(os.environ.get("BENCH_PROFILE_LINES", "14"))  # rows of each cProfile table


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


#: (module or class path, attribute, label) of the token endpoint's phases.
PHASES = [
    ("django.core.handlers.wsgi.WSGIHandler", "__call__", "whole request (WSGI handler)"),
    ("oauth_tokens.provider.views.TokenView", "post", "  token view"),
    ("oauth_tokens.provider.views", "parse_request", "    parse the body and the Basic header"),
    ("oauth_tokens.provider.precompiled_sql.SelectOne", "__call__", "    read: client / refresh token (1 query)"),
    ("oauth_tokens.provider.issuing", "access_token", "    make the access token (claims, row)"),
    ("oauth_tokens.provider.issuing", "refresh_token", "    make the refresh token (row)"),
    ("oauth_tokens.provider.keys", "sign", "      sign (RS256)"),
    ("oauth_tokens.provider.family_usage.Rotation", "__init__", "    anomalies: carry the family's usage, judge"),
    ("oauth_tokens.provider.family_usage.Rotation", "rotated", "    anomalies: record, count the client's rate"),
    ("oauth_tokens.crypto", "encrypt_bound", "    seal the grace-window successor"),
    ("oauth_tokens.provider.precompiled_sql", "insert", "    write: INSERT"),
    ("oauth_tokens.provider.precompiled_sql", "swap_and_insert", "    write: swap + INSERTs"),
    ("oauth_tokens.provider.views", "json_response", "    render the JSON response"),
]


def _timed_phases(label: str, call: Callable[[], object], n: int) -> str:
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)

    def timer(name: str, original: Callable) -> Callable:
        def timed(*args, **kwargs):
            w, c = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                wall[name] += time.perf_counter() - w
                cpu[name] += time.process_time() - c
        return timed

    with ExitStack() as stack:
        for target, attribute, name in PHASES:
            owner = pkgutil.resolve_name(target)  # a module or a class
            stack.enter_context(mock.patch.object(owner, attribute, timer(name, getattr(owner, attribute))))
        for _ in range(20):
            call()
        wall.clear()
        cpu.clear()
        for _ in range(n):
            call()
    lines = [f"\n-- phases: {label}, {n} requests, us/request (wall / CPU) --"]
    lines += [f"  {name:45s} {wall[name] / n * 1e6:7.0f} {cpu[name] / n * 1e6:7.0f}"
              for _t, _a, name in PHASES if name in wall]
    return "\n".join(lines) + "\n"


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
        _timed_phases("ours client_credentials", cc, 5 * ENDPOINT_REQUESTS),
        _timed_phases("ours refresh rotation", rotate, 5 * ENDPOINT_REQUESTS),
    ])
