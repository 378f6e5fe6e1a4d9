"""Consumer benchmark: ``python -m bench.consumer_bench`` (``make bench-consumer``).

1. ``get_access_token`` on a fresh token: database queries and microseconds per
   call; and what building (and closing) one ``http_client()`` costs.
2. P processes x T threads calling an API through one shared, rotating token
   (our provider in its own process: short-lived access tokens, refresh-token
   rotation, reuse detection with no grace window), written with
   ``oauth_tokens.consumer.http_client`` (one client per thread, then a new
   client for every call as the consumer guide's view does) and, in the same run, with
   Authlib's ``OAuth2Session`` + ``update_token`` as its docs show. Reported:
   refresh requests that reach the provider per expiry (target 1),
   ``invalid_grant`` answers (target 0), API calls that failed, and the calls
   the per-request pattern made as a share of the per-thread one (target: at
   least 80 %).

SQLite (a WAL file in a temporary directory) always; PostgreSQL too with
``--postgres [URL]`` or when ``DATABASE_URL`` points at PostgreSQL (database
``oauth_tokens_consumer_bench``, or ``--postgres-db``, dropped and recreated).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PG_NAME = "oauth_tokens_consumer_bench"
TARGETS = ("targets: fresh path <= 1 query; exactly 1 refresh request per expiry; 0 invalid_grant; "
           "a client per request makes >= 80 % of the calls of a client per thread")
#: The rotation runs: name in the JSON -> label in the table.
STYLES = {
    "ours": "consumer, client/thread",
    "ours-per-request": "consumer, client/request",
    "authlib": "Authlib OAuth2Session",
}
PER_REQUEST_TARGET = 0.8


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.consumer_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per process")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each rotation run")
    parser.add_argument("--lifetime", type=int, default=4, help="provider access-token lifetime, seconds")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL")
    parser.add_argument("--postgres-db", default=PG_NAME, help=f"database to (re)create (default {PG_NAME})")
    parser.add_argument("--quick", action="store_true", help="2 x 2 workers, 6 s runs")
    parser.add_argument("--smoke", action="store_true", help="one tiny run (the test suite runs this)")
    parser.add_argument("--json", help="write the numbers to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one database in this process
    args = parser.parse_args(argv)
    if args.quick:
        args.processes, args.threads, args.seconds = 2, 2, 6.0
    if args.smoke:
        args.processes, args.threads, args.seconds, args.lifetime = 1, 2, 2.5, 2
    return args


# -- one database, in a process of its own ---------------------------------------
def fast_path(name: str, rounds: int = 5, seconds: float = 0.5) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oauth_tokens import crypto
    from oauth_tokens.consumer import get_access_token
    from oauth_tokens.consumer.service import store_tokens

    user, _ = get_user_model().objects.get_or_create(username="bench-fast")
    store_tokens(name, user, {"access_token": crypto.new_token(600), "refresh_token": crypto.new_token(32),
                              "expires_in": 3600})
    for _ in range(500):
        get_access_token(name, user)
    with CaptureQueriesContext(connection) as queries:
        get_access_token(name, user)
    samples = []
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            get_access_token(name, user)
            count += 1
        samples.append((time.perf_counter() - start) / count * 1e6)
    sealed = crypto.encrypt(crypto.new_token(600))
    start, n = time.perf_counter(), 2000
    for _ in range(n):
        crypto.decrypt(sealed)
    decrypt_us = (time.perf_counter() - start) / n * 1e6
    return {"queries": len(queries), "us_per_call": statistics.median(samples), "decrypt_us": decrypt_us,
            **client_cost(name, user)}


def client_cost(name: str, user, n: int = 50) -> dict:
    """CPU time of building and closing one ``http_client()`` (no request is sent)."""
    from oauth_tokens.consumer import http_client

    http_client(name, user).close()  # the first one may build what is shared
    start = time.process_time()
    for _ in range(n):
        with http_client(name, user):
            pass
    return {"client_us": (time.process_time() - start) / n * 1e6}


def bursts(times: list[float], gap: float) -> list[int]:
    """Sizes of groups of refresh requests (a new group after ``gap`` seconds of quiet): one group per
    expiry. Once a grant is dead, every call tries to refresh and the groups merge."""
    groups: list[int] = []
    last = None
    for t in sorted(times):
        if last is None or t - last > gap:
            groups.append(0)
        groups[-1] += 1
        last = t
    return groups


def first_refresh(config: dict, refresh_token: str) -> dict:
    import httpx

    answer = httpx.post(config["token_url"], json={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": config["client_id"], "client_secret": config["client_secret"],
    }, timeout=10)
    answer.raise_for_status()
    return answer.json()


def store_fresh(name: str, pair: dict) -> int:
    from django.contrib.auth import get_user_model

    from oauth_tokens.consumer.service import store_tokens

    user, _ = get_user_model().objects.get_or_create(username="bench-rotation")
    store_tokens(name, user, pair)
    return user.pk


def rotation(style: str, db_url: str, args: argparse.Namespace, tmp: Path) -> dict:
    from bench import consumer_workers
    from tests.consumer.remote_provider import RemoteProvider

    provider = RemoteProvider(str(tmp / f"provider-{style}.sqlite3"), access_lifetime=args.lifetime, grace=0)
    try:
        providers = {"remote": provider.provider_config(timeout=5.0)}
        from django.conf import settings
        from django.test.utils import override_settings

        with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}):
            user_id = store_fresh("remote", provider.info)
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(args.processes * args.threads + 1)
        results = ctx.Queue()
        target = {"ours": consumer_workers.ours, "ours-per-request": consumer_workers.ours_per_request,
                  "authlib": consumer_workers.authlib}[style]
        extra = (args.lifetime / 2,) if style == "authlib" else ()  # same refresh point as ours: half-life
        procs = [ctx.Process(target=target, args=(db_url, providers, user_id, args.threads, args.seconds,
                                                  barrier, results, *extra)) for _ in range(args.processes)]
        for proc in procs:
            proc.start()
        # A worker that dies before the barrier breaks it (BrokenBarrierError) instead of hanging the run.
        barrier.wait(timeout=120)  # every worker thread is ready
        # Both styles start from a pair fresh at this moment (valid for ``lifetime`` seconds).
        pair = first_refresh(providers["remote"], provider.info["refresh_token"])
        with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}):
            store_fresh("remote", pair)
            consumer_workers.store_authlib_token(pair)
        barrier.wait(timeout=120)  # go
        reports = [results.get(timeout=args.seconds + 120) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        stats = provider.stats()
    finally:
        provider.stop()
    # The first refresh request was ours, before the run (first_refresh).
    refreshes = [r for r in stats["token_requests"] if r["grant_type"] == "refresh_token"][1:]
    groups = bursts([r["t"] for r in refreshes], gap=args.lifetime / 4)
    errors: dict[str, int] = {}
    for report in reports:
        for key, value in report["errors"].items():
            errors[key] = errors.get(key, 0) + value
    return {
        "style": style,
        "calls": sum(r["calls"] for r in reports),
        "failed": sum(r["failed"] for r in reports),
        "errors": errors,
        "refresh_requests": len(refreshes),
        "refresh_ok": sum(r["status"] == 200 for r in refreshes),
        "invalid_grant": sum(r["error"] == "invalid_grant" for r in refreshes),
        "reuse_detected": stats["reuse_detected"],
        "expiries": len(groups),
        "first_expiry": groups[0] if groups else 0,
        "max_per_expiry": max(groups, default=0),
        "mean_per_expiry": (len(refreshes) / len(groups)) if groups else 0.0,
    }


def run_one(db_url: str, args: argparse.Namespace) -> dict:
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    call_command("migrate", verbosity=0)
    fast = {"fast": {"token_url": "https://provider.invalid/token", "client_id": "c", "client_secret": "s"}}
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": fast}):
        timing = (1, 0.1) if args.smoke else (5, 0.5)
        result = {"database": connection.vendor, "fast_path": fast_path("fast", *timing)}
    connection.close()
    with tempfile.TemporaryDirectory() as tmp:
        result["rotation"] = [rotation(style, db_url, args, Path(tmp)) for style in STYLES]
    calls = {row["style"]: row["calls"] for row in result["rotation"]}
    result["per_request_share"] = calls["ours-per-request"] / calls["ours"] if calls["ours"] else 0.0
    return result


# -- orchestration ------------------------------------------------------------------
def postgres_url(explicit: str | None, name: str = PG_NAME) -> str | None:
    source = explicit or os.environ.get("DATABASE_URL", "")
    if not source.startswith(("postgres://", "postgresql://")):
        return f"postgres://postgres@127.0.0.1:5432/{name}" if explicit is not None else None
    return urlunsplit(urlsplit(source)._replace(path=f"/{name}"))


def recreate_postgres(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def print_report(runs: list[dict], args: argparse.Namespace) -> None:
    print("\n== Consumer: get_access_token on a fresh token ==")
    for run in runs:
        fast = run["fast_path"]
        print(f"  {run['database']:<10} {fast['queries']} query, {fast['us_per_call']:.0f} us per call "
              f"(a Fernet decrypt, done once per row version, costs {fast['decrypt_us']:.0f} us); "
              f"building one http_client(): {fast['client_us']:.0f} us of CPU")
    print(f"\n== Consumer: {args.processes} processes x {args.threads} threads, {args.seconds:.0f} s, "
          f"{args.lifetime} s access tokens, rotation + reuse detection, no grace window ==")
    header = (f"  {'database':<10} {'client':<25} {'API calls':>9} {'failed':>7} {'expiries':>8} "
              f"{'refresh requests':>16} {'at 1st expiry':>13} {'max per expiry':>14} {'invalid_grant':>13}")
    print(header)
    for run in runs:
        for row in run["rotation"]:
            name = STYLES[row["style"]]
            print(f"  {run['database']:<10} {name:<25} {row['calls']:>9} {row['failed']:>7} {row['expiries']:>8} "
                  f"{row['refresh_requests']:>16} {row['first_expiry']:>13} {row['max_per_expiry']:>14} "
                  f"{row['invalid_grant']:>13}")
    for run in runs:
        share = run["per_request_share"]
        verdict = "meets" if share >= PER_REQUEST_TARGET else "MISSES"
        print(f"  {run['database']:<10} a client per request made {share:.0%} of the calls of a client per thread "
              f"({verdict} the {PER_REQUEST_TARGET:.0%} target)")
    print(f"\n  {TARGETS}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args)))
        return 0
    urls = []
    with tempfile.TemporaryDirectory() as tmp:
        urls.append(f"sqlite:///{Path(tmp) / 'consumer-bench.sqlite3'}")
        pg = postgres_url(args.postgres, args.postgres_db)
        if pg:
            recreate_postgres(pg)
            urls.append(pg)
        runs = []
        passthrough = [f"--processes={args.processes}", f"--threads={args.threads}",
                       f"--seconds={args.seconds}", f"--lifetime={args.lifetime}"] + ["--smoke"] * args.smoke
        for url in urls:
            env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
            done = subprocess.run([sys.executable, "-m", "bench.consumer_bench", "--one", url, *passthrough],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
                return 1
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_report(runs, args)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
