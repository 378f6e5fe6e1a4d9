"""The load generator: a realistic mix of OAuth traffic from its own processes.

``run_load(base_url, fixtures, duration, processes, threads)`` starts
``processes`` processes (``spawn``: nothing of the caller's Django comes along),
each running ``threads`` threads with one ``OAuthClient`` apiece, until
``duration`` seconds have passed. Each thread picks, by weight:

- ``client_credentials`` and a protected call with the token;
- an authorization-code flow (login once, consent, exchange) that starts a chain;
- a refresh of one of its chains, sometimes retried at once with the token it
  just rotated (the grace window must hand back the same pair);
- a replay of an older, already rotated refresh token of a chain (reuse: must be
  ``invalid_grant``, and the family dies: its current refresh token must be
  refused too, and its access tokens join the revoked ones);
- a revocation (RFC 7009) of an access token, or of a chain's refresh token;
- a protected call (``/api/me``) with a live token;
- a probe: a token revoked more than ``PROBE_AFTER`` seconds ago must get 401.

Every answer is counted per endpoint and status with its latency. An answer
other than the expected one is a *violation* when ``strict`` (the default: a
healthy server under load); the fault part passes ``strict=False`` and reads
the counts instead. Every 5xx is kept (status, endpoint, start of the body).
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from reliability.fixtures import Fixtures, OAuthClient

#: Relative weights of the actions.
MIX = {
    "client_credentials": 22,
    "code_flow": 8,
    "refresh": 24,
    "replay_old": 3,
    "revoke": 6,
    "api": 30,
    "probe": 7,
}
#: A probe asks a token revoked at least this long ago (the poll interval is 1 s).
PROBE_AFTER = 1.5
#: Chains and client_credentials tokens kept per thread (oldest dropped).
KEEP_CHAINS = 12
KEEP_TOKENS = 30
#: Share of refreshes retried at once with the token just rotated.
GRACE_RETRY_SHARE = 0.15


@dataclass
class RevokedToken:
    """An access token this run revoked (or whose family it saw revoked)."""

    token: str
    at: float  # wall clock (time.time()) when the revocation answered
    how: str  # "revoke" | "revoke_refresh" | "reuse"


@dataclass
class LoadResult:
    duration: float = 0.0
    counts: Counter = field(default_factory=Counter)  # (endpoint, status) -> n; status 0: no answer
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # seconds
    revoked: list[RevokedToken] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)  # every answer >= 500
    reuse_detected: int = 0  # replays of old refresh tokens that answered invalid_grant
    grace_retries: int = 0  # retries inside the grace window that got the same pair

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    def by_status(self) -> Counter:
        statuses: Counter = Counter()
        for (_, status), n in self.counts.items():
            statuses[status] += n
        return statuses

    def merge(self, other: dict[str, Any]) -> None:
        for key, n in other["counts"]:
            self.counts[tuple(key)] += n
        for endpoint, values in other["latencies"].items():
            self.latencies[endpoint].extend(values)
        self.revoked.extend(RevokedToken(*r) for r in other["revoked"])
        self.violations.extend(other["violations"])
        self.server_errors.extend(other["server_errors"])
        self.reuse_detected += other["reuse_detected"]
        self.grace_retries += other["grace_retries"]

    def summary(self) -> str:
        """requests/s, p50 / p99 per endpoint, and counts per status."""
        rate = self.requests / max(self.duration, 1e-9)
        lines = [f"{self.requests} requests in {self.duration:.1f} s: {rate:.0f} req/s"]
        lines.append(f"  {'endpoint':<28} {'n':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
        for endpoint in sorted(self.latencies):
            values = sorted(self.latencies[endpoint])
            lines.append(
                f"  {endpoint:<28} {len(values):>7} {len(values) / max(self.duration, 1e-9):>7.1f} "
                f"{percentile(values, 50) * 1000:>8.1f} {percentile(values, 99) * 1000:>8.1f}"
            )
        statuses = ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(self.by_status().items()))
        lines.append(f"  statuses: {statuses}")
        unexpected = [(k, n) for k, n in sorted(self.counts.items()) if k[1] >= 500 or k[1] == 0]
        if unexpected:
            lines.append("  5xx / no answer: " + ", ".join(f"{e} {s}: {n}" for (e, s), n in unexpected))
        lines.append(f"  reuse detected (replays refused): {self.reuse_detected}; grace retries answered with "
                     f"the same pair: {self.grace_retries}; access tokens revoked: {len(self.revoked)}")
        return "\n".join(lines)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


@dataclass
class Chain:
    """A refresh-token family as the client sees it."""

    access: str
    refresh: str
    rotated: list[str] = field(default_factory=list)  # refresh tokens already spent, oldest first
    access_tokens: list[str] = field(default_factory=list)  # every access token of the family


class Worker:
    """One thread's client and its state."""

    def __init__(self, base_url: str, fixtures: Fixtures, deadline: float, strict: bool, seed: int) -> None:
        self.client = OAuthClient(base_url, fixtures, timeout=30)
        self.fx = fixtures
        self.deadline = deadline
        self.strict = strict
        self.rng = random.Random(seed)
        self.counts: Counter = Counter()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.revoked: list[tuple[str, float, str]] = []
        self.violations: list[str] = []
        self.server_errors: list[str] = []
        self.reuse_detected = 0
        self.grace_retries = 0
        self.chains: list[Chain] = []
        self.tokens: list[str] = []  # live client_credentials access tokens

    # -- bookkeeping ---------------------------------------------------------
    def call(self, endpoint: str, send, *expected: int) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = send()
        except httpx.HTTPError as exc:
            self.latencies[endpoint].append(time.perf_counter() - started)
            self.counts[(endpoint, 0)] += 1
            self.violate(f"{endpoint}: no answer ({type(exc).__name__}: {exc})")
            return None
        self.latencies[endpoint].append(time.perf_counter() - started)
        self.counts[(endpoint, response.status_code)] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{endpoint} {response.status_code}: {response.text[:200]!r}")
        if expected and response.status_code not in expected:
            self.violate(f"{endpoint}: {response.status_code} (expected {expected}): {response.text[:200]!r}")
        return response

    def violate(self, message: str) -> None:
        if self.strict and len(self.violations) < 200:
            self.violations.append(message)

    def mark_revoked(self, tokens: list[str], how: str) -> None:
        at = time.time()
        self.revoked.extend((t, at, how) for t in tokens)

    # -- actions -------------------------------------------------------------
    def client_credentials(self) -> None:
        r = self.call("token client_credentials", self.client.client_credentials, 200)
        if r is not None and r.status_code == 200:
            token = r.json()["access_token"]
            self.keep_token(token)
            self.call("api/me", lambda: self.client.api(token), 200)

    def keep_token(self, token: str) -> None:
        self.tokens.append(token)
        del self.tokens[:-KEEP_TOKENS]

    def code_flow(self) -> None:
        if not self.client._logged_in:
            started = time.perf_counter()
            try:
                self.client.login()  # the login page and the POST, timed together
            except (AssertionError, httpx.HTTPError) as exc:
                self.counts[("login (page + post)", 0)] += 1
                self.violate(f"login: {type(exc).__name__}: {exc}")
                return
            self.latencies["login (page + post)"].append(time.perf_counter() - started)
            self.counts[("login (page + post)", 200)] += 1
        creds = self.fx.web
        started = time.perf_counter()
        try:
            code, verifier = self.client.authorization_code(creds, "read write")
        except (AssertionError, KeyError, httpx.HTTPError) as exc:
            self.counts[("authorize (consent)", 0)] += 1
            self.violate(f"authorize: {type(exc).__name__}: {exc}")
            return
        # Two requests (the consent page and the allow POST), timed together.
        self.latencies["authorize (page + allow)"].append(time.perf_counter() - started)
        self.counts[("authorize (page + allow)", 200)] += 1
        r = self.call("token authorization_code", lambda: self.client.token(
            creds, grant_type="authorization_code", code=code, redirect_uri=creds.redirect_uri,
            code_verifier=verifier), 200)
        if r is not None and r.status_code == 200:
            body = r.json()
            self.chains.append(Chain(body["access_token"], body["refresh_token"],
                                     access_tokens=[body["access_token"]]))
            del self.chains[:-KEEP_CHAINS]

    def refresh(self) -> None:
        if not self.chains:
            return self.code_flow()
        chain = self.rng.choice(self.chains)
        presented = chain.refresh
        r = self.call("token refresh_token", lambda: self.client.refresh(presented), 200)
        if r is None or r.status_code != 200:
            self.chains.remove(chain)
            return
        body = r.json()
        if body["refresh_token"] == presented:
            self.violate("refresh: the answer carried the presented refresh token back")
        chain.rotated.append(presented)
        chain.access, chain.refresh = body["access_token"], body["refresh_token"]
        chain.access_tokens.append(chain.access)
        if self.rng.random() < GRACE_RETRY_SHARE:
            # A retry inside the grace window (the client lost the first answer):
            # the same pair again, once.
            again = self.call("token refresh (grace retry)", lambda: self.client.refresh(presented), 200)
            if again is not None and again.status_code == 200:
                pair = again.json()
                if (pair["access_token"], pair["refresh_token"]) != (chain.access, chain.refresh):
                    self.violate("grace retry: a different pair than the first answer")
                else:
                    self.grace_retries += 1

    def replay_old(self) -> None:
        old = [c for c in self.chains if len(c.rotated) >= 2]
        if not old:
            return self.refresh()
        chain = self.rng.choice(old)
        stale = self.rng.choice(chain.rotated[:-1])  # its successor is spent too: no grace
        r = self.call("token refresh (replay old)", lambda: self.client.refresh(stale), 400)
        self.chains.remove(chain)
        if r is None or r.status_code != 400:
            return
        self.reuse_detected += 1
        self.mark_revoked(chain.access_tokens, "reuse")
        self.call("token refresh (after reuse)", lambda: self.client.refresh(chain.refresh), 400)

    def revoke(self) -> None:
        choice = self.rng.random()
        if choice < 0.4 and self.tokens:
            token = self.tokens.pop(self.rng.randrange(len(self.tokens)))
            r = self.call("revoke access token", lambda: self.client.revoke(token, self.fx.service), 200)
            if r is not None and r.status_code == 200:
                self.mark_revoked([token], "revoke")
        elif choice < 0.8 and any(c.access for c in self.chains):
            chain = self.rng.choice([c for c in self.chains if c.access])
            token = chain.access
            r = self.call("revoke access token", lambda: self.client.revoke(token, hint="access_token"), 200)
            if r is not None and r.status_code == 200:
                self.mark_revoked([token], "revoke")
                # The family lives on: a refresh gives a new access token.
                chain.access_tokens.remove(token)
                chain.access = ""
        elif self.chains:
            chain = self.chains.pop(self.rng.randrange(len(self.chains)))
            r = self.call("revoke refresh token", lambda: self.client.revoke(chain.refresh, hint="refresh_token"),
                          200)
            if r is not None and r.status_code == 200:
                self.mark_revoked(chain.access_tokens, "revoke_refresh")
                self.call("token refresh (after revoke)", lambda: self.client.refresh(chain.refresh), 400)
        else:
            self.client_credentials()

    def api(self) -> None:
        live = self.tokens + [c.access for c in self.chains if c.access]
        if not live:
            return self.client_credentials()
        token = self.rng.choice(live)
        self.call("api/me", lambda: self.client.api(token), 200)

    def probe(self) -> None:
        cutoff = time.time() - PROBE_AFTER
        old = [r for r in self.revoked if r[1] <= cutoff]
        if not old:
            return self.api()
        token, at, how = self.rng.choice(old)
        r = self.call("api/me (revoked token)", lambda: self.client.api(token), 401)
        if r is not None and r.status_code == 200:
            self.violate(f"a token revoked ({how}) {time.time() - at:.1f} s ago was accepted")

    def run(self) -> None:
        actions = list(MIX)
        weights = [MIX[a] for a in actions]
        try:
            while time.time() < self.deadline:
                action = self.rng.choices(actions, weights)[0]
                try:
                    getattr(self, action)()
                except Exception:  # a bug in the generator must not look like a server fault
                    self.violate(f"generator error in {action}: {traceback.format_exc(limit=3)}")
        finally:
            self.client.close()

    def report(self) -> dict[str, Any]:
        return {
            "counts": list(self.counts.items()), "latencies": dict(self.latencies), "revoked": self.revoked,
            "violations": self.violations, "server_errors": self.server_errors[:50],
            "reuse_detected": self.reuse_detected, "grace_retries": self.grace_retries,
        }


def _process(base_url: str, fixtures: Fixtures, deadline: float, threads: int, strict: bool, seed: int,
             queue: Any) -> None:
    workers = [Worker(base_url, fixtures, deadline, strict, seed * 1000 + i) for i in range(threads)]
    pool = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    merged = LoadResult()
    for w in workers:
        merged.merge(w.report())
    queue.put({
        "counts": list(merged.counts.items()), "latencies": dict(merged.latencies),
        "revoked": [(r.token, r.at, r.how) for r in merged.revoked], "violations": merged.violations,
        "server_errors": merged.server_errors, "reuse_detected": merged.reuse_detected,
        "grace_retries": merged.grace_retries,
    })


def run_load(base_url: str, fixtures: Fixtures, duration: float, processes: int = 2, threads: int = 4, *,
             strict: bool = True, seed: int | None = None) -> LoadResult:
    """Drive the mix against ``base_url`` for ``duration`` seconds; the merged result."""
    seed = random.randrange(1 << 30) if seed is None else seed
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    started = time.time()
    deadline = started + duration
    procs = [ctx.Process(target=_process, args=(base_url, fixtures, deadline, threads, strict, seed + i, queue),
                         daemon=True) for i in range(processes)]
    for p in procs:
        p.start()
    result = LoadResult()
    for _ in procs:
        result.merge(queue.get(timeout=duration + 180))
    for p in procs:
        p.join(timeout=30)
    result.duration = time.time() - started
    return result
