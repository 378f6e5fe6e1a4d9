"""The load part: gunicorn (4 workers) on PostgreSQL and Redis, a realistic mix
from separate processes (``loadgen``), then the invariants (``invariants``) and
each worker's memory (``memory``).

It runs twice: straight to PostgreSQL, then through PgBouncer in transaction
mode (``pgbouncer``), each on a freshly created database. ``--short`` is the
CI run (about 40 s + 25 s of load); otherwise 120 s + 60 s, times
``RELIABILITY_SCALE``, or ``--duration`` seconds each. The memory verdict
(second-half slope of each worker's resident memory) is given on runs of at
least ``MEMORY_JUDGED_FROM`` seconds; shorter runs print the figures only.

Databases: ``DATABASE_URL`` (PostgreSQL) names the server and a base name; the
part drops and creates ``<name>_run`` (default
``postgres://postgres@127.0.0.1:5432/ot_load`` -> ``ot_load_run``). Redis:
``REDIS_URL`` (default ``redis://127.0.0.1:6379/13``).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from reliability import fixtures, invariants
from reliability.loadgen import run_load
from reliability.memory import MemorySampler
from reliability.pgbouncer import PgBouncer
from reliability.pgbouncer import binary as pgbouncer_binary
from reliability.server import LiveServer, recreate_postgres_database, with_database_name

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ot_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
#: Memory is judged on runs at least this long (shorter ones are mostly warm-up).
MEMORY_JUDGED_FROM = 180.0
#: Largest second-half slope of a worker's resident memory, KiB per minute.
#: Bounded caches fill during the first minutes (the verified-token LRU holds
#: VERIFIED_TOKEN_CACHE_SIZE entries, the revocation list the revoked ids until
#: their expiry); once they are full, growth is allocator noise. The issue saw
#: 2,400 KiB/min (0.4 MiB per 10 s); 256 KiB/min is 15 MiB an hour per worker,
#: the most a server could leak before an operator noticed in a day.
MAX_MEMORY_SLOPE = 256.0


def add_arguments(parser) -> None:
    group = parser.add_argument_group("load")
    group.add_argument("--duration", type=float, help="seconds of load in each pass (default: 120 x scale)")
    group.add_argument("--load-processes", type=int, default=2, help="generator processes (default 2)")
    group.add_argument("--load-threads", type=int, default=4, help="threads per generator process (default 4)")
    group.add_argument("--server-workers", type=int, default=4, help="gunicorn workers (default 4)")
    group.add_argument("--pgbouncer", choices=("both", "only", "no"), default="both",
                       help="the pass through PgBouncer (transaction mode): with the direct one, alone, or not")
    group.add_argument("--max-memory-slope", type=float, default=MAX_MEMORY_SLOPE,
                       help=f"KiB/min per worker over the second half (default {MAX_MEMORY_SLOPE:.0f})")


def durations(args) -> tuple[float, float]:
    """Seconds of load for the direct and the PgBouncer pass."""
    scale = float(os.environ.get("RELIABILITY_SCALE", "1") or 1)
    if args.duration:
        return args.duration, args.duration
    if args.short:
        return 40.0 * scale, 25.0 * scale
    return 120.0 * scale, 60.0 * scale


def run(args) -> bool:
    base = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if urlsplit(base).scheme not in ("postgres", "postgresql", "pgsql"):
        print(f"load: needs PostgreSQL (DATABASE_URL is {urlsplit(base).scheme}); not run")
        return False
    database_url = with_database_name(base, urlsplit(base).path.lstrip("/") + "_run")
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    # One set of keys for both servers and this process (the fixtures' secret digests).
    keys = {"OAUTH_TOKENS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "OAUTH_TOKENS_DIGEST_KEY": secrets.token_urlsafe(32)}
    direct, pooled = durations(args)
    ok = True
    if args.pgbouncer != "only":
        ok &= one_pass("PostgreSQL", args, database_url, redis_url, keys, direct, pgbouncer=False)
    if args.pgbouncer != "no":
        if pgbouncer_binary() is None:
            print("load through PgBouncer: pgbouncer is not installed; FAILED")
            return False
        ok &= one_pass("PgBouncer (transaction mode)", args, database_url, redis_url, keys, pooled, pgbouncer=True)
    return ok


def close_django_connections() -> None:
    if "django" in sys.modules:
        from django.apps import apps

        if apps.ready:
            from django.db import connections

            connections.close_all()


def one_pass(title: str, args, database_url: str, redis_url: str, keys: dict[str, str], duration: float, *,
             pgbouncer: bool) -> bool:
    print(f"\n-- load: {title}, {args.server_workers} gunicorn workers, {args.load_processes} x "
          f"{args.load_threads} client threads, {duration:.0f} s --", flush=True)
    recreate_postgres_database(database_url)
    bouncer = PgBouncer(database_url).start() if pgbouncer else None
    try:
        env = {"DATABASE_URL": bouncer.url() if bouncer else database_url, "REDIS_URL": redis_url, **keys}
        if bouncer:
            env["DATABASE_PGBOUNCER"] = "1"
        with LiveServer(env=env, workers=args.server_workers, app="reliability.pid_wsgi:application") as server:
            fixtures.setup_django({**env, "DATABASE_URL": database_url})  # checks go straight to PostgreSQL
            fx = fixtures.create_fixtures(server.url, prefix=f"load{int(time.time())}")
            sampler = MemorySampler(server, every=3.0).start()
            result = run_load(server.url, fx, duration, args.load_processes, args.load_threads)
            sampler.stop()
            print(result.summary())
            problems = list(result.violations)
            problems += [f"server error: {e}" for e in result.server_errors]
            found, figures = invariants.database_checks(result.reuse_detected)
            problems += found
            found, figure = invariants.revoked_in_database(result.revoked)
            problems += found
            figures.append(figure)
            found, figure = invariants.refused_by_every_worker(server.url, result.revoked, server.worker_pids())
            problems += found
            figures.append(figure)
            for line in figures:
                print("  " + line)
            judged = duration >= MEMORY_JUDGED_FROM
            lines, found = sampler.summary(warmup=min(60.0, duration / 4),
                                           max_slope=args.max_memory_slope if judged else None)
            verdict = (f"judged against {args.max_memory_slope:.0f} KiB/min" if judged
                       else f"not judged: runs shorter than {MEMORY_JUDGED_FROM:.0f} s are mostly warm-up")
            print(f"  worker memory (RSS; {verdict}):")
            for line in lines:
                print(line)
            problems += found
    finally:
        close_django_connections()  # the next pass drops and creates the database again
        if bouncer:
            bouncer.stop()
    for problem in problems[:40]:
        print("  PROBLEM: " + problem)
    if len(problems) > 40:
        print(f"  ... and {len(problems) - 40} more")
    sys.stdout.flush()
    return not problems
