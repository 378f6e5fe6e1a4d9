"""The provider on two hosts and an API in remote mode: a token issued on one host,
used on the other and at the API, revoked through the other, and refused by every
worker of all three within the documented bounds (docs/scaling.md).

Runs (``make cluster-demo``, or ``python -m reliability.cluster``):

- PgBouncer in transaction mode (the system's ``pgbouncer``) in front of a
  database made afresh for the run: ``DATABASE_URL``'s name plus ``_cluster``
  (default ``postgres://postgres@127.0.0.1:5432/oauth_tokens`` ->
  ``oauth_tokens_cluster``); one Redis, ``REDIS_URL`` (default
  ``redis://127.0.0.1:6379/14``);
- host A and host B: the example project under gunicorn, two workers each, with
  the settings modules ``reliability.cluster.host_a`` / ``host_b`` (the same
  keys, ``SECRET_KEY`` and ``ISSUER``; a different ``HOST_NAME``), both on
  PgBouncer and Redis;
- the remote service: gunicorn, two workers, ``reliability.cluster.remote_settings``
  (JWKS from host A, introspection at host B).

Every answer names its host and worker (``X-Served-By``, ``reliability.cluster.wsgi``):
each check asks over fresh connections until every worker of a process has
answered. After a revocation every worker is asked until each has answered for a
request that started after its bound; a worker that accepts the revoked token in
a request started later than its bound (plus ``--slack``) fails the run, as does
any other answer than 200 before and 401 ``invalid_token`` after. The bounds: a
provider worker ``REVOCATION_POLL_INTERVAL`` (1 s), a remote worker
``INTROSPECTION_CACHE_TTL`` (5 s), each from the moment the revoking response
arrived. A shared-cache call slower than ``CACHE_TIMEOUT`` counts as a failure (the
hosts log it; the worker then leaves the cache alone for ``CACHE_RETRY_AFTER``): for
a round around which the hosts logged one, the provider workers are held to the
documented bound for a faulty cache, the interval plus the cached version's TTL (2 s),
and the output says so. Before round 1 every worker verifies a first token (a fresh
worker's first Redis calls are the slowest), and the demo waits out any failure that
caused. Exit status 0 when everything held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet

from reliability import fixtures
from reliability.pgbouncer import PgBouncer
from reliability.pgbouncer import binary as pgbouncer_binary
from reliability.server import LiveServer, recreate_postgres_database, with_database_name

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/oauth_tokens"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
WORKERS = 2
#: Seconds of clock resolution granted past a bound (one monotonic clock on one machine;
#: a request is judged by when it started, however long a busy machine then takes).
SLACK = 0.05
#: Most seconds a check asks for after a bound before giving up on a worker that never answers.
PATIENCE = 20.0
#: Pause of each asking thread between two requests (keeps two cores usable).
PACE = 0.05
#: What ``oauth_tokens.sharedcache`` logs when a call on the shared cache failed (raised, or
#: did not answer within CACHE_TIMEOUT): that worker then leaves the cache alone for
#: CACHE_RETRY_AFTER seconds, and a revocation it makes meanwhile cannot publish its version.
#: Seconds added before the CACHE_RETRY_AFTER window of a revocation in which a logged
#: cache failure counts (the log is read every 0.1 s, and a request may have started earlier).
WINDOW_MARGIN = 0.5
CACHE_FAILURE = re.compile(r"^Cache '[^']*' (?:did not answer|raised)", re.M)

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.2f} s] {message}", flush=True)


@dataclass
class Process:
    """One gunicorn master of the cluster and what it must honour."""

    name: str  # "host A"
    host: str  # its HOST_NAME, the first part of X-Served-By
    server: LiveServer
    bound: float = 0.0  # seconds within which it refuses a token revoked elsewhere
    rule: str = ""  # the setting that gives the bound
    #: The bound while the shared cache fails (None: the cache plays no part), and its rule.
    fault_bound: float | None = None
    fault_rule: str = ""
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def workers(self) -> set[str]:
        return {f"{self.host}/{pid}" for pid in self.server.worker_pids()}

    def client(self, i: int) -> httpx.Client:
        """The ``i``-th asking thread's HTTP client, made once (before any revocation: making
        one costs a busy machine tens of milliseconds); each request on a new connection."""
        while len(self._clients) <= i:
            self._clients.append(httpx.Client(base_url=self.url, timeout=15, headers={"Connection": "close"}))
        return self._clients[i]

    def close(self) -> None:
        for client in self._clients:
            client.close()


@dataclass
class Answer:
    worker: str  # "host-a/1234"
    status: int
    started: float  # seconds since the revocation (or since the check began)
    error: str = ""


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    last_refusal: float = 0.0  # when the last worker of all started refusing


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ask(http: httpx.Client, token: str, since: float) -> Answer:
    started = time.monotonic() - since
    response = http.get("/api/me", headers=bearer(token))
    error = ""
    if response.status_code == 401:
        error = str(response.json().get("error", ""))
    return Answer(response.headers.get("x-served-by", "?"), response.status_code, started, error)


def ask_every_worker(processes: list[Process], token: str, *, since: float | None = None,
                     after: float = 0.0) -> dict[str, dict[str, list[Answer]]]:
    """Ask each process over fresh connections until each of its workers has answered a
    request that started at least ``after`` seconds after ``since``: every answer, by
    process and worker."""
    since = time.monotonic() if since is None else since
    answers: dict[str, dict[str, list[Answer]]] = {p.name: {} for p in processes}
    expected = {p.name: p.workers() for p in processes}
    lock = threading.Lock()

    def done(process: Process) -> bool:
        with lock:
            seen = {w for w, got in answers[process.name].items() if any(a.started >= after for a in got)}
        return expected[process.name] <= seen

    def loop(process: Process, i: int, give_up: float) -> None:
        http = process.client(i)
        while not done(process) and time.monotonic() - since < give_up:
            try:
                answer = ask(http, token, since)
            except httpx.HTTPError as exc:
                answer = Answer("?", 0, time.monotonic() - since, f"no answer: {exc}")
            with lock:
                answers[process.name].setdefault(answer.worker, []).append(answer)
            time.sleep(PACE)

    jobs = [(p, i, max(after, p.bound) + PATIENCE) for p in processes for i in range(WORKERS)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(lambda job: loop(*job), jobs))
    return answers


def warm(processes: list[Process], token: str, what: str) -> list[str]:
    """Every worker of every process accepts ``token`` (and has it cached after)."""
    problems = []
    started = time.monotonic()
    answers = ask_every_worker(processes, token)
    for process in processes:
        got = answers[process.name]
        codes = sorted({a.status for a in sum(got.values(), [])})
        missing = process.workers() - set(got)
        say(f"  {process.name}: {len(got)} workers ({', '.join(sorted(got))}) answered "
            f"{', '.join(map(str, codes))} for {what}")
        problems += [f"{process.name} worker {w} answered {a.status} for {what} before any revocation"
                     for w, list_ in got.items() for a in list_ if a.status != 200]
        problems += [f"{process.name} worker {w} never answered" for w in missing]
    say(f"  every worker accepted it ({time.monotonic() - started:.2f} s)")
    return problems


def judge(name: str, worker: str, got: list[Answer], bound: float,
          slack: float) -> tuple[str, list[str], float | None]:
    """One worker's answers after a revocation: (a line saying when it started refusing,
    the problems, that moment or None). A request started later than ``bound + slack``
    must get 401 ``invalid_token``; nothing but 200 and that 401 may come back."""
    got = sorted(got, key=lambda a: a.started)
    accepted = [a.started for a in got if a.status == 200]
    last_accepted = max(accepted) if accepted else None
    refusals = [a.started for a in got if a.status == 401 and (last_accepted is None or a.started > last_accepted)]
    switched = refusals[0] if refusals else None
    if switched is None:
        text = "NEVER REFUSED"
    elif last_accepted is None:
        text = f"refused every request (the first started +{switched:.3f} s)"
    else:
        text = f"accepted until +{last_accepted:.3f} s, refused from +{switched:.3f} s"
    problems = [f"{name} worker {worker} accepted the revoked token in a request started {a.started:.3f} s "
                f"after the revocation (bound {bound:g} s)"
                for a in got if a.status == 200 and a.started > bound + slack]
    problems += [f"{name} worker {worker} answered {a.status} {a.error}".rstrip() for a in got
                 if a.status not in (200, 401) or (a.status == 401 and a.error != "invalid_token")]
    if switched is None:
        problems.append(f"{name} worker {worker} never refused the revoked token")
    return f"{name} {worker:<16} {len(got):4d} requests: {text}", problems, switched


class CacheFailures:
    """The shared-cache failures the provider hosts log, counted every 0.1 s with when
    they were seen: did the cache fail around a revocation?"""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.samples: list[tuple[float, int]] = [(time.monotonic(), self.count())]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> int:
        return sum(len(CACHE_FAILURE.findall(p.read_text(errors="replace"))) for p in self.paths if p.exists())

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append((time.monotonic(), self.count()))

    def start(self) -> CacheFailures:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def last_seen(self) -> float | None:
        """When the latest failure was first counted (None: none since the start)."""
        if self.samples[-1][1] == self.samples[0][1]:
            return None
        return next(at for at, n in self.samples if n == self.samples[-1][1])

    def since(self, t: float) -> int:
        """Failures logged from ``t`` until now."""
        before = max((n for at, n in self.samples if at <= t), default=0)
        return self.count() - before


def watch(processes: list[Process], token: str, since: float, slack: float,
          failures: CacheFailures | None = None, retry_after: float = 0.0) -> Outcome:
    """Ask every worker from ``since`` (the revocation) until each has answered a request
    started after its bound: when it started refusing, and any acceptance too late.
    When the hosts logged a shared-cache failure from ``retry_after`` seconds before the
    revocation on, the cache may have lost the revocation's write: the hosts are held to
    their bound for a faulty cache instead, and the output says so."""
    latest = max(max(p.bound, p.fault_bound or 0.0) for p in processes) + slack
    answers = ask_every_worker(processes, token, since=since, after=latest)
    failed = failures.since(since - retry_after - WINDOW_MARGIN) if failures else 0
    if failed:
        say(f"  the shared cache failed {failed} call(s) from {retry_after:g} s before the revocation on "
            f"(\"did not answer within CACHE_TIMEOUT\" in the hosts' logs): the hosts' bound is the one for "
            "a faulty cache")
    outcome = Outcome()
    for process in processes:
        bound, rule = process.bound, process.rule
        if failed and process.fault_bound is not None:
            bound, rule = process.fault_bound, process.fault_rule
        switched_at = []
        for worker, got in sorted(answers[process.name].items()):
            line, problems, switched = judge(process.name, worker, got, bound, slack)
            say("  " + line)
            outcome.problems += problems
            if switched is not None:
                switched_at.append(switched)
        missing = process.workers() - set(answers[process.name])
        outcome.problems += [f"{process.name} worker {w} never answered after the revocation" for w in missing]
        if switched_at:
            last = max(switched_at)
            outcome.last_refusal = max(outcome.last_refusal, last)
            verdict = "within" if last <= bound + slack else "AFTER"
            say(f"  {process.name}: every worker refused it by +{last:.3f} s, {verdict} its bound of "
                f"{bound:g} s ({rule})")
    return outcome


def api(process: Process, token: str) -> httpx.Response:
    return httpx.get(process.url + "/api/me", headers=bearer(token), timeout=15)


def served_by(response: httpx.Response) -> str:
    return response.headers.get("x-served-by", "?")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reliability.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revocation-poll-interval", type=float,
                        help="REVOCATION_POLL_INTERVAL of both hosts (default: the library's, 1 s)")
    parser.add_argument("--introspection-cache-ttl", type=float,
                        help="INTROSPECTION_CACHE_TTL of the remote service (default: the library's, 5 s)")
    parser.add_argument("--slack", type=float, default=SLACK,
                        help=f"seconds granted past each bound for the clock (default {SLACK})")
    parser.add_argument("--no-reuse", action="store_true", help="leave out the refresh-token reuse round")
    parser.add_argument("--logs", type=Path, help="directory for the gunicorn logs (default: a temporary one)")
    return parser.parse_args(argv)


def shown(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)).geturl()


def preflight(database_url: str, redis_url: str) -> str | None:
    """Why the demo cannot run here, or None."""
    if urlsplit(database_url).scheme not in ("postgres", "postgresql", "pgsql"):
        return f"needs PostgreSQL (DATABASE_URL is {urlsplit(database_url).scheme})"
    if pgbouncer_binary() is None:
        return "pgbouncer is not installed (Debian / Ubuntu: apt-get install pgbouncer)"
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable Redis
        return f"Redis at {shown(redis_url)} does not answer: {type(exc).__name__}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    why = preflight(base, redis_url)
    if why:
        print(f"cluster demo: {why}; not run", file=sys.stderr)
        return 1
    database_url = with_database_name(base, urlsplit(base).path.lstrip("/") + "_cluster")
    logs = args.logs or Path(tempfile.mkdtemp(prefix="cluster-demo-"))
    logs.mkdir(parents=True, exist_ok=True)
    servers: list[LiveServer] = []
    try:
        ok = run(args, database_url, redis_url, logs, servers)
    finally:
        for server in reversed(servers):
            server.stop()
        close_connections()
    return 0 if ok else 1


def close_connections() -> None:
    if "django" in sys.modules:
        from django.apps import apps

        if apps.ready:
            from django.db import connections

            connections.close_all()


def run(args: argparse.Namespace, database_url: str, redis_url: str, logs: Path, servers: list[LiveServer]) -> bool:
    say(f"database {urlsplit(database_url).path.lstrip('/')} (made afresh), Redis {shown(redis_url)}, "
        f"logs in {logs}")
    recreate_postgres_database(database_url)
    with PgBouncer(database_url) as bouncer:
        try:
            return cluster(args, database_url, redis_url, bouncer, logs, servers)
        finally:  # gunicorn first: PgBouncer waits for its clients' transactions
            for server in reversed(servers):
                server.stop()


def cluster(args: argparse.Namespace, database_url: str, redis_url: str, bouncer: PgBouncer, logs: Path,
            servers: list[LiveServer]) -> bool:
    say(f"PgBouncer (pool_mode = transaction) on 127.0.0.1:{bouncer.port} in front of PostgreSQL")
    issuer = "https://auth.cluster.test"  # the name a load balancer would carry: the same on every host
    shared = {
        "DATABASE_URL": bouncer.url(), "DATABASE_PGBOUNCER": "1", "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(40), "OAUTH_TOKENS_ISSUER": issuer,
        "OAUTH_TOKENS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "OAUTH_TOKENS_DIGEST_KEY": secrets.token_urlsafe(32),
    }
    if args.revocation_poll_interval is not None:
        shared["CLUSTER_REVOCATION_POLL_INTERVAL"] = str(args.revocation_poll_interval)
    app = "reliability.cluster.wsgi:application"

    def provider(name: str, module: str, *, migrate: bool) -> LiveServer:
        server = LiveServer(env={**shared, "DJANGO_SETTINGS_MODULE": module}, workers=WORKERS, app=app,
                            migrate=migrate, log_path=logs / f"{name}.log")
        servers.append(server)
        return server

    t = time.monotonic()
    a = provider("host-a", "reliability.cluster.host_a", migrate=True).start()
    say(f"host A up at {a.url}: migrated through PgBouncer, gunicorn workers {a.worker_pids()} "
        f"({time.monotonic() - t:.1f} s)")

    # Clients and a user, written straight to PostgreSQL by this process (as an admin would).
    fixtures.setup_django({**shared, "DATABASE_URL": database_url})
    fx = fixtures.create_fixtures(a.url, prefix="cluster")
    from oauth_tokens.provider.models import Client
    from oauth_tokens.settings import DEFAULTS

    api_client = Client(name="Remote API (introspection)", grant_types="client_credentials", scope="introspection")
    api_secret = api_client.set_secret()
    api_client.save()
    close_connections()  # nothing of this process stays connected

    poll = args.revocation_poll_interval if args.revocation_poll_interval is not None \
        else float(DEFAULTS["REVOCATION_POLL_INTERVAL"])
    ttl = args.introspection_cache_ttl if args.introspection_cache_ttl is not None \
        else float(DEFAULTS["INTROSPECTION_CACHE_TTL"])
    b = provider("host-b", "reliability.cluster.host_b", migrate=False)
    remote_env = {
        "DJANGO_SETTINGS_MODULE": "reliability.cluster.remote_settings", "OAUTH_TOKENS_ISSUER": issuer,
        "CLUSTER_JWKS_URL": a.url + "/.well-known/jwks.json",
        "CLUSTER_INTROSPECTION_URL": b.url + "/oauth/introspect",
        "CLUSTER_INTROSPECTION_CLIENT_ID": api_client.client_id, "CLUSTER_INTROSPECTION_CLIENT_SECRET": api_secret,
        "CLUSTER_REMOTE_SECRET_KEY": secrets.token_urlsafe(40),
    }
    if args.introspection_cache_ttl is not None:
        remote_env["CLUSTER_INTROSPECTION_CACHE_TTL"] = str(args.introspection_cache_ttl)
    remote = LiveServer(env=remote_env, workers=WORKERS, app=app, migrate=False, ready_path="/health",
                        log_path=logs / "remote.log")
    servers.append(remote)
    t = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(LiveServer.start, (b, remote)))
    say(f"host B up at {b.url} (the same database, Redis and keys; HOST_NAME host-b), workers {b.worker_pids()}")
    say(f"remote API up at {remote.url} (remote mode: JWKS from host A, introspection at host B), "
        f"workers {remote.worker_pids()} ({time.monotonic() - t:.1f} s)")
    # With a faulty cache (oauth_tokens.provider.revocation_broadcast.version_cache_ttl): the
    # interval plus the life of a version in the cache, one interval and at least 1 s.
    faulty = poll + max(1, math.ceil(poll))
    faulty_rule = "REVOCATION_POLL_INTERVAL + the cached version's TTL, with a faulty cache"
    host_a = Process("host A", "host-a", a, poll, "REVOCATION_POLL_INTERVAL", faulty, faulty_rule)
    host_b = Process("host B", "host-b", b, poll, "REVOCATION_POLL_INTERVAL", faulty, faulty_rule)
    service = Process("remote", "remote", remote, ttl, "INTROSPECTION_CACHE_TTL")
    everyone = [host_a, host_b, service]
    failures = CacheFailures([logs / "host-a.log", logs / "host-b.log"]).start()
    retry_after = float(DEFAULTS["CACHE_RETRY_AFTER"])

    def check(token: str, since: float) -> Outcome:
        return watch(everyone, token, since, args.slack, failures, retry_after)

    last_refusals: list[float] = []

    # -- 0. every worker's first requests ---------------------------------------------------
    say("0. a first token for every worker of the three (each connects to PgBouncer, Redis, the provider)")
    starter = fixtures.OAuthClient(a.url, fx)
    first = starter.client_credentials()
    starter.close()
    if first.status_code != 200:
        say(f"  token endpoint answered {first.status_code}: {first.text}")
        return False
    problems: list[str] = warm(everyone, first.json()["access_token"], "a first token")
    time.sleep(0.3)  # the log sampler's next look
    last = failures.last_seen()
    if last is not None:
        wait = max(0.0, last + retry_after + WINDOW_MARGIN + 0.1 - time.monotonic())
        failed = failures.since(failures.samples[0][0])
        say(f"  the shared cache failed {failed} call(s) in the workers' first requests "
            f"(\"did not answer within CACHE_TIMEOUT\": a fresh worker's first Redis calls on a busy machine); "
            f"waiting {wait:.1f} s for CACHE_RETRY_AFTER to pass, so that round 1 meets a working cache")
        time.sleep(wait)

    # -- 1. client_credentials on A, used on B and at the API, revoked through B ------------
    say("1. client_credentials token issued on host A")
    http = fixtures.OAuthClient(a.url, fx)
    issued = http.client_credentials()
    if issued.status_code != 200:
        say(f"  token endpoint answered {issued.status_code}: {issued.text}")
        return False
    token = issued.json()["access_token"]
    say(f"  issued by {served_by(issued)}: {token[:24]}... (expires_in {issued.json()['expires_in']} s)")
    for process in (host_b, service):
        response = api(process, token)
        say(f"  used on {process.name}: GET /api/me -> {response.status_code} from {served_by(response)}")
        if response.status_code != 200:
            problems.append(f"{process.name} refused a fresh token: {response.status_code} {response.text}")
    problems += warm(everyone, token, "the token")
    revoked = httpx.post(b.url + "/oauth/revoke", data={"token": token, "token_type_hint": "access_token"},
                         auth=(fx.service.client_id, fx.service.client_secret or ""), timeout=15)
    since = time.monotonic()
    say(f"  revoked through host B: POST /oauth/revoke -> {revoked.status_code} from {served_by(revoked)}")
    if revoked.status_code != 200:
        problems.append(f"revocation at host B answered {revoked.status_code}: {revoked.text}")
    say("  asking every worker until each has answered after its bound (times from the revocation's answer):")
    outcome = check(token, since)
    problems += outcome.problems
    last_refusals.append(outcome.last_refusal)
    say(f"  the last worker started refusing +{outcome.last_refusal:.3f} s after the revocation")

    # -- 2. a refresh rotation on A, the old refresh token replayed on B ------------------
    if not args.no_reuse:
        problems += reuse_round(everyone, a, b, fx, check, last_refusals)
    http.close()
    failures.stop()
    for process in everyone:
        process.close()

    say("the last worker's first refusal, per round: " + ", ".join(f"+{t:.3f} s" for t in last_refusals))
    for problem in problems:
        say(f"PROBLEM: {problem}")
    if problems:
        say(f"FAILED ({len(problems)} problems); gunicorn logs in {logs}")
        return False
    say("OK: issued on host A, accepted on host B and at the remote API, revoked through host B, "
        "refused by every worker of the three within its bound")
    return True


def reuse_round(everyone: list[Process], a: LiveServer, b: LiveServer, fx: fixtures.Fixtures,
                check: Callable[[str, float], Outcome], last_refusals: list[float]) -> list[str]:
    problems = []
    say("2. code flow for a public client (PKCE; no grace window): log in on host A, consent on host B, "
        "the code exchanged on host A; a refresh rotation on A")
    browser = fixtures.OAuthClient(a.url, fx)
    browser.login()
    consent = fixtures.OAuthClient(b.url, fx, session=browser.http.cookies)
    code, verifier = consent.authorization_code(fx.public)
    consent.close()
    say("  logged in on host A; the consent page and its form on host B took that session (the same SECRET_KEY "
        "and database): a code")
    exchanged = browser.token(fx.public, grant_type="authorization_code", code=code,
                              redirect_uri=fx.public.redirect_uri, code_verifier=verifier)
    say(f"  code exchanged on host A -> {exchanged.status_code} from {served_by(exchanged)}")
    if exchanged.status_code != 200:
        return [f"the code exchange at host A answered {exchanged.status_code}: {exchanged.text}"]
    first = exchanged.json()
    rotated = browser.refresh(first["refresh_token"], fx.public)
    say(f"  rotated on host A: refresh -> {rotated.status_code} from {served_by(rotated)}")
    if rotated.status_code != 200:
        return [f"refresh at host A answered {rotated.status_code}: {rotated.text}"]
    access, newest = rotated.json()["access_token"], rotated.json()["refresh_token"]
    problems += warm(everyone, access, "the rotated access token")
    replay = httpx.post(b.url + "/oauth/token", data={"grant_type": "refresh_token", "client_id": fx.public.client_id,
                                                      "refresh_token": first["refresh_token"]}, timeout=15)
    since = time.monotonic()
    body = replay.json()
    say(f"  the old refresh token replayed on host B -> {replay.status_code} {body.get('error')} "
        f"from {served_by(replay)}: reuse, the family is revoked")
    if replay.status_code != 400 or body.get("error") != "invalid_grant":
        problems.append(f"the replayed refresh token got {replay.status_code} {body}")
    say("  asking every worker about the family's access token:")
    outcome = check(access, since)
    problems += outcome.problems
    last_refusals.append(outcome.last_refusal)
    say(f"  the last worker started refusing +{outcome.last_refusal:.3f} s after the reuse")
    newest_answer = browser.refresh(newest, fx.public)
    description = newest_answer.json().get("error_description", "")
    say(f"  the family's newest refresh token on host A -> {newest_answer.status_code} "
        f"{newest_answer.json().get('error')}: {description}")
    if newest_answer.status_code != 400:
        problems.append(f"the family's newest refresh token still works: {newest_answer.status_code}")
    browser.close()
    return problems
