"""What the fault scenarios share: the stack under test and what the clients saw.

``Stack`` is the example project on gunicorn (4 workers, PostgreSQL, Redis)
whose ``REDIS_URL`` points at a ``TcpProxy`` in front of the real Redis, so a
scenario can refuse or pause "Redis" without touching the shared server. The
access log records each request's worker pid, so a scenario can tell which
worker answered. ``Tally`` counts what clients saw: statuses, latencies, and
every answer that breaks the contract (a 5xx other than a proper 503, an error
without ``Cache-Control: no-store`` or not in OAuth JSON).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from reliability import fixtures
from reliability.server import LiveServer, recreate_postgres_database, with_database_name
from reliability.tcpproxy import TcpProxy

#: Access-log line: worker pid, status, query string (gunicorn's format atoms).
ACCESS_LOG_FORMAT = "ACCESS %(p)s %(s)s %(m)s %(U)s %(q)s"
_ACCESS = re.compile(r"ACCESS <(\d+)> (\d{3}) (\S+) (\S+) (\S*)")


def scale() -> float:
    return float(os.environ.get("RELIABILITY_SCALE", "1") or 1)


def database_url() -> str:
    """DATABASE_URL (PostgreSQL) naming this part's own database: ``<name>_faults``."""
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/oauth_tokens"
    name = urlsplit(base).path.lstrip("/") or "oauth_tokens"
    return with_database_name(base, f"{name}_faults")


def redis_target() -> tuple[str, int, int]:
    """(host, port, db) of the real Redis, from REDIS_URL (default 127.0.0.1:6379/0)."""
    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    db = int(parts.path.lstrip("/") or 0)
    return parts.hostname or "127.0.0.1", parts.port or 6379, db


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Tally:
    """What the clients of one scenario (or phase) saw. Thread-safe."""

    name: str
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unstored: Counter = field(default_factory=Counter)  # API errors without no-store, by label
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, label: str, response: httpx.Response | None, seconds: float, *, oauth: bool = True,
               allowed: tuple[int, ...] = ()) -> None:
        """One answer. ``response`` None: the connection failed (counted as status 0).
        ``allowed``: the statuses this request may get; anything else is a violation.
        ``oauth``: an OAuth endpoint (errors in OAuth JSON with ``no-store``); a
        protected API view only has to answer its errors in OAuth JSON."""
        status = response.status_code if response is not None else 0
        if not oauth and response is not None and status >= 400 \
                and "no-store" not in response.headers.get("cache-control", ""):
            with self._lock:
                self.unstored[label] += 1
        problem = ""
        if response is None:
            problem = "no answer (connection failed or timed out)"
        elif status >= 500 and not (status == 503 and _error(response) == "temporarily_unavailable"):
            problem = f"{status} {response.headers.get('content-type', '')}"
        elif oauth and status == 503 and "no-store" not in response.headers.get("cache-control", ""):
            problem = "503 without Cache-Control: no-store"
        elif status >= 400 and _error(response) is None:
            problem = f"{status} is not an OAuth JSON error"
        elif oauth and status >= 400 and "no-store" not in response.headers.get("cache-control", ""):
            problem = f"{status} without Cache-Control: no-store"
        elif allowed and status not in allowed:
            problem = f"{status} ({_error(response)}), expected {allowed}"
        with self._lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)
            if problem:
                self.violations.append(f"{label}: {problem}")

    def outcome(self, name: str, seconds: float) -> None:
        """A result that is not an HTTP status (e.g. the exception a library call raised)."""
        with self._lock:
            self.statuses[name] += 1
            self.latencies.append(seconds)

    def timed(self, label: str, call: Callable[[], httpx.Response], **kwargs) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response: httpx.Response | None = call()
        except httpx.HTTPError:
            response = None
        self.record(label, response, time.monotonic() - started, **kwargs)
        return response

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    def worst(self) -> float:
        return max(self.latencies, default=0.0)

    def statuses_text(self) -> str:
        return " ".join(f"{s}:{n}" for s, n in sorted(self.statuses.items()))

    def ok(self) -> bool:
        return not self.violations and not self.lost

    def report(self) -> None:
        print(f"  {self.name}: {self.requests} requests, statuses {self.statuses_text() or '-'}, "
              f"p50 {percentile(self.latencies, 0.5) * 1000:.0f} ms, p99 {self.p99() * 1000:.0f} ms, "
              f"max {self.worst() * 1000:.0f} ms, lost {len(self.lost)}", flush=True)
        for note in self.notes:
            print(f"    {note}")
        for label, count in self.unstored.items():
            print(f"    note: {count} error answers of {label} without Cache-Control: no-store")
        for kind, items in (("violation", self.violations), ("lost", self.lost)):
            shown = Counter(items)
            for text, count in shown.most_common(8):
                print(f"    {kind}: {text}" + (f" (x{count})" if count > 1 else ""))


def _error(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None


def run_for(seconds: float, threads: int, body: Callable[[int, Callable[[], bool]], None]) -> None:
    """``body(index, running)`` in ``threads`` threads until ``seconds`` pass."""
    deadline = time.monotonic() + seconds

    def running() -> bool:
        return time.monotonic() < deadline

    workers = [threading.Thread(target=body, args=(i, running), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


class Stack:
    """Redis proxy + LiveServer + in-process Django on the same database, and fixtures."""

    def __init__(self, *, workers: int = 4, extra_env: dict[str, str] | None = None) -> None:
        host, port, db = redis_target()
        self.redis_db = db
        self.redis = TcpProxy(host, port)
        self.database_url = database_url()
        self.log_path = Path(tempfile.mkstemp(prefix="reliability-faults-", suffix=".log")[1])
        self.workers = workers
        self.extra_env = extra_env or {}
        self.server: LiveServer | None = None
        self.fx: fixtures.Fixtures | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://{self.redis.host}:{self.redis.port}/{self.redis_db}"

    @property
    def url(self) -> str:
        assert self.server
        return self.server.url

    def start(self) -> Stack:
        recreate_postgres_database(self.database_url)
        self.redis.start()
        _flush_redis(self.redis_url)  # a version cached by an earlier run must not outlive its database
        env = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_LOG_FORMAT}'",
            **self.extra_env,
        }
        self.server = LiveServer(env=env, workers=self.workers, log_path=self.log_path).start()
        fixtures.setup_django({**env, **{k: self.server.env[k] for k in (
            "OAUTH_TOKENS_ENCRYPTION_KEYS", "OAUTH_TOKENS_DIGEST_KEY", "OAUTH_TOKENS_ISSUER")}})
        self.fx = fixtures.create_fixtures(self.server.url, prefix="faults")
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()
        self.redis.stop()

    def client(self, *, timeout: float = 30.0) -> fixtures.OAuthClient:
        assert self.fx
        return fixtures.OAuthClient(self.url, self.fx, timeout=timeout)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def access_log(self, since: int = 0) -> list[tuple[int, int, str, str, str]]:
        """(pid, status, method, path, query) of each request logged after offset ``since``."""
        with self.log_path.open("rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        return [(int(m[1]), int(m[2]), m[3], m[4], m[5]) for m in _ACCESS.finditer(text)]

    def tracebacks(self, since: int = 0) -> int:
        with self.log_path.open("rb") as f:
            f.seek(since)
            return f.read().count(b"Traceback (most recent call last)")

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def close_db_connections() -> None:
    """Drop this process's database connections (after a scenario killed them)."""
    from django.db import connections

    connections.close_all()
