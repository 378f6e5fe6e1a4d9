"""One run of the benchmark: one database, one token-table size, every contender
side by side in this process. ``python -m bench`` starts one run per database
and size (a fresh process each, as a freshly started worker would be) and
collects what each writes to ``--json-out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def prepare_database(url: str) -> None:
    """Start from an empty database: delete the SQLite file, or drop and create the PostgreSQL one."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        path = Path(parts.path[1:] if parts.path.startswith("//") else parts.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--mode", choices=["full", "quick", "smoke"], default="full")
    parser.add_argument("--driver", choices=["wsgi", "client"], default="wsgi")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json-out")
    parser.add_argument("--algorithm", choices=["RS256", "ES256", "EdDSA"], default="RS256")
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_DATABASE_URL"] = args.db_url
    os.environ["BENCH_SIGNING_ALGORITHM"] = args.algorithm
    prepare_database(args.db_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import endpoints, fixtures, metrics_cost, monitoring, resource, seed
    from bench.config import Config
    from bench.harness import Driver
    from bench.report import run_tables

    backend = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    config = Config.named(args.mode)
    log(f"\n[{backend}, {args.tokens:,} tokens] migrating and seeding ...")
    call_command("migrate", interactive=False, verbosity=0)
    clients = fixtures.create_clients()
    user_ids = seed.seed_users(min(seed.USERS, max(1, args.tokens)))
    started = time.perf_counter()
    seed.seed_all(clients.ours, clients.dot_code, user_ids, args.tokens, log)
    seed_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    driver = Driver(args.driver)
    cold = config.rounds * config.cold_per_round + config.sample + 1
    profile_tokens = 500 if args.profile else 0
    tokens = fixtures.make_tokens(driver, clients, cold + profile_tokens)
    # A small table (--smoke) has few live rows to sign for: keep half of them for the measurement.
    profile_tokens = min(profile_tokens, len(tokens.ours_cold) // 2)
    profile_cold = tokens.ours_cold[len(tokens.ours_cold) - profile_tokens:]
    del tokens.ours_cold[len(tokens.ours_cold) - profile_tokens:]
    log(f"  {len(tokens.ours_cold):,} first-use tokens signed; measuring ...")
    load_before = os.getloadavg()[0]
    measured, loop = resource.run(driver, tokens, config)
    result = {
        "backend": backend,
        "tokens": args.tokens,
        "driver": args.driver,
        "algorithm": args.algorithm,
        "mode": args.mode,
        "seed_seconds": round(seed_seconds, 1),
        "resource": [m.as_dict() for m in measured],
        "resource_loop": loop,
        "endpoints": [m.as_dict() for m in [*endpoints.run(driver, clients, tokens, config),
                                            *monitoring.run(driver, clients, tokens, config)]],
        "metrics": [m.as_dict() for m in metrics_cost.run(driver, clients, config) or []],
        "versions": {p: version(p) for p in ("Django", "djangorestframework", "PyJWT", "django-oauth-toolkit",
                                             "djangorestframework-simplejwt")},
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    log(run_tables(result))
    if args.profile:
        from bench.profiling import profile_ours

        log(profile_ours(driver, clients, tokens, profile_cold))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
