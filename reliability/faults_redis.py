"""Faults b and c: the shared cache (Redis) refused or paused, through the proxy.

b. Load on every cache-using path (token endpoint with valid and wrong secrets,
   introspection, revocation with credentials, a protected view) while Redis is
   healthy, refused, healthy, paused, healthy. Expected while it is out: never a
   5xx, never a multi-second stall. Bounds: every cache call gives up after
   ``CACHE_TIMEOUT`` (0.25 s) and a process then leaves the cache alone for
   ``CACHE_RETRY_AFTER`` (5 s), so a paused Redis costs a request at most a
   timeout or two, one request per worker every 5 s: p99 <= ``P99_BOUND`` (1 s,
   room for a loaded 2-core machine) and no request over ``MAX_BOUND`` (2 s;
   before those fixes a paused Redis held requests 10-30 s). Nothing lost:
   tokens issued during the outage still work
   after it, tokens revoked during it are refused after it.
c. A revocation made while Redis is out, with the other workers idle; Redis
   comes back and fresh connections probe every worker with the token. The
   documented bound: every worker refuses it within ``REVOCATION_POLL_INTERVAL``
   when the cache is healthy, at most about twice that (the interval plus a
   cached version's TTL of max(1 s, interval)) when a cache write failed.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import httpx

from reliability.faultkit import Stack, Tally, run_for

P99_BOUND = 1.0  # seconds
MAX_BOUND = 2.0  # seconds: "never a multi-second stall"
POLL_INTERVAL = 1.0  # REVOCATION_POLL_INTERVAL of the example project (the default)
REVOCATION_BOUND = 2 * POLL_INTERVAL + 0.5  # + a request's own time on a loaded 2-core machine


def make_bad_client() -> str:
    """A confidential client that the load sends wrong secrets for; its client_id."""
    from oauth_tokens.provider.models import Client

    client = Client(name="faults wrong-secret target", grant_types="client_credentials", scope="read")
    client.set_secret()
    client.save()
    return client.client_id


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Mix:
    """The cache-using requests, one round per call of ``round``."""

    def __init__(self, stack: Stack, bad_client_id: str) -> None:
        self.stack = stack
        self.bad = bad_client_id
        self.lock = threading.Lock()
        self.issued: list[str] = []  # tokens issued (and not revoked) during the phase
        self.revoked: list[str] = []  # tokens revoked (answered 200) during the phase

    def round(self, tally: Tally, client) -> None:
        service = self.stack.fx.service
        r = tally.timed("token (valid secret)", client.client_credentials, allowed=(200,))
        token = r.json()["access_token"] if r is not None and r.status_code == 200 else None
        tally.timed("token (wrong secret)", lambda: client.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(self.bad, "wrong")),
            allowed=(401, 429))
        if token is None:
            return
        tally.timed("introspect", lambda: client.http.post(
            "/oauth/introspect", data={"token": token}, auth=(service.client_id, service.client_secret)),
            allowed=(200,))
        tally.timed("/api/me", lambda: client.api(token), oauth=False, allowed=(200,))
        second = tally.timed("token (valid secret)", client.client_credentials, allowed=(200,))
        if second is None or second.status_code != 200:
            return
        victim = second.json()["access_token"]
        answer = tally.timed("revoke", lambda: client.revoke(victim, service), allowed=(200,))
        with self.lock:
            self.issued.append(token)
            if answer is not None and answer.status_code == 200:
                self.revoked.append(victim)


def check_after(stack: Stack, mix: Mix, tally: Tally, sample: int = 40) -> None:
    """Once Redis is back and the revocation bound passed: issued tokens work, revoked ones do not."""
    time.sleep(REVOCATION_BOUND)
    client = stack.client()
    try:
        for token in mix.issued[:sample]:
            r = client.api(token)
            if r.status_code != 200:
                tally.lost.append(f"a token issued during the outage is refused afterwards: {r.status_code}")
        for token in mix.revoked[:sample]:
            r = client.api(token)
            if r.status_code != 401:
                tally.lost.append(f"a token revoked during the outage is accepted afterwards: {r.status_code}")
    finally:
        client.close()


def load_under_redis_faults(stack: Stack, *, seconds: float, threads: int = 6) -> list[Tally]:
    bad = make_bad_client()
    tallies = []
    healthy = Tally("b. Redis healthy (before, between, after)")
    for mode in ("pass", "refuse", "pass", "pause", "pass"):
        outage = mode != "pass"
        tally = Tally(f"b. Redis {'refused' if mode == 'refuse' else 'paused'} under load") if outage else healthy
        mix = Mix(stack, bad)
        stack.redis.set_mode(mode)

        def body(_i: int, running) -> None:
            client = stack.client(timeout=30)
            try:
                while running():
                    mix.round(tally, client)  # noqa: B023 (the phase's own mix and tally)
            finally:
                client.close()

        run_for(seconds if outage else seconds / 2, threads, body)
        if outage:
            stack.redis.set_mode("pass")
            check_after(stack, mix, tally)
            if tally.p99() > P99_BOUND:
                tally.violations.append(f"p99 {tally.p99():.2f} s over the {P99_BOUND} s bound")
            if tally.worst() > MAX_BOUND:
                tally.violations.append(f"a request took {tally.worst():.2f} s (bound {MAX_BOUND} s)")
            tallies.append(tally)
    return [healthy, *tallies]


Probe = tuple[int, float, int, float]  # sequence number, start (monotonic), status, seconds


def _probe(stack: Stack, token: str, seq: int, timeout: float = 30.0) -> Probe:
    """GET /api/me on a fresh connection. The query names the probe in the access log."""
    started = time.monotonic()
    try:
        status = httpx.get(f"{stack.url}/api/me", params={"probe": seq}, timeout=timeout,
                           headers={"Authorization": f"Bearer {token}", "Connection": "close"}).status_code
    except httpx.HTTPError:
        status = 0
    return seq, started, status, time.monotonic() - started


def _probe_burst(stack: Stack, token: str, first_seq: int, count: int) -> list[Probe]:
    results: list[Probe] = []
    lock = threading.Lock()

    def one(seq: int) -> None:
        probe = _probe(stack, token, seq)
        with lock:
            results.append(probe)

    threads = [threading.Thread(target=one, args=(first_seq + i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _pids_by_probe(stack: Stack, since: int) -> dict[int, tuple[int, int]]:
    time.sleep(0.3)  # the access log line is written after the answer
    found = {}
    for pid, status, _method, path, query in stack.access_log(since):
        if path == "/api/me" and query.startswith("probe="):
            found[int(query.split("=", 1)[1])] = (pid, status)
    return found


def revocation_during_outage(stack: Stack, *, mode: str, outage: float, limit: float) -> Tally:
    tally = Tally(f"c. revoke while Redis {'refused' if mode == 'refuse' else 'paused'} ({outage:.0f} s)")
    workers = set(stack.server.worker_pids())
    client = stack.client()
    token = client.client_credentials().json()["access_token"]
    # Every worker verifies (and caches) the token first, so each must learn of the revocation.
    offset = stack.log_offset()
    seq = 0
    for _ in range(5):
        burst = _probe_burst(stack, token, seq, 12)
        seq += len(burst)
        if {pid for pid, _ in _pids_by_probe(stack, offset).values()} >= workers:
            break
    if any(status != 200 for _, _, status, _ in burst):
        tally.violations.append("the token was refused before it was revoked")
    time.sleep(1.5)  # the workers go idle with the version cached

    stack.redis.set_mode(mode)
    outage_started = time.monotonic()
    service = stack.fx.service
    r = tally.timed("revoke", lambda: client.revoke(token, service), allowed=(200,))
    revoked_at = time.monotonic()
    if revoked_at - outage_started > MAX_BOUND:
        tally.violations.append(f"the revocation took {revoked_at - outage_started:.1f} s (bound {MAX_BOUND} s)")
    if r is None or r.status_code != 200:
        if mode == "refuse":  # revoke it as another process would (an admin action, a shell)
            from oauth_tokens.provider.models import AccessToken
            from oauth_tokens.provider.revocation import revoke_access_token

            revoke_access_token(AccessToken.objects.get(jti=claims_of(token)["jti"]), reason="faults")
            revoked_at = time.monotonic()
            tally.notes.append("the revocation endpoint failed; revoked from this process instead")
        else:
            stack.redis.set_mode("pass")
            tally.lost.append("the revocation endpoint failed while Redis was paused; nothing revoked")
            return tally
    time.sleep(max(0.0, outage - (time.monotonic() - outage_started)))
    stack.redis.set_mode("pass")
    restored_at = time.monotonic()

    offset = stack.log_offset()
    probes: list[Probe] = []
    while True:
        burst = _probe_burst(stack, token, seq, 8)
        seq += len(burst)
        probes.extend(burst)
        now = time.monotonic()
        accepted = [started for _, started, status, _ in probes if status == 200]
        last_accept = max(accepted, default=None)
        quiet_since = last_accept if last_accept is not None else restored_at
        if now - restored_at >= limit or (now - quiet_since >= 3.0 and now - restored_at >= 3.0):
            break
    for _, _, status, seconds in probes:
        tally.outcome(status, seconds)
    answered = _pids_by_probe(stack, offset)
    started_at = {seq: started for seq, started, _, _ in probes}
    refused_by = {pid for seq, (pid, status) in answered.items()
                  if status == 401 and seq in started_at and (last_accept is None or started_at[seq] > last_accept)}
    tally.notes.append(f"revoke answered after {revoked_at - outage_started:.2f} s; Redis restored "
                       f"{restored_at - revoked_at:.1f} s after the revocation")
    if last_accept is None:
        tally.notes.append("no worker accepted the token after Redis came back")
    else:
        hole = last_accept - revoked_at
        tally.notes.append(f"last acceptance {hole:.1f} s after the revocation "
                           f"({last_accept - restored_at:.1f} s after Redis came back)")
        if hole > REVOCATION_BOUND:
            tally.lost.append(f"revoked token accepted {hole:.1f} s after the revocation "
                              f"(bound {REVOCATION_BOUND:.1f} s)")
    missing = workers - refused_by
    if missing:
        tally.lost.append(f"{len(missing)} of {len(workers)} workers never refused the token in "
                          f"{time.monotonic() - restored_at:.0f} s of probing")
    else:
        tally.notes.append(f"all {len(workers)} workers refused it, over {len(probes)} probes")
    client.close()
    return tally
