"""``python -m bench.dashboard``: the admin page "Token activity" on a large table.

Seeds 1,000,000 access-token rows (``--rows``), as many refresh tokens (one
family's rotations chained by ``parent``, one family in 5 still on its first
token), and 60,000 token events of every kind the page charts and some it
does not, spread over the last ``--days`` days (30 by default; 7 puts every row
inside the page's longest window), for 20 clients of very unequal volume. On
PostgreSQL the rows come from ``generate_series`` in one INSERT per table, then
``VACUUM ANALYZE``, as autovacuum leaves an insert-mostly table; elsewhere from
``bulk_create`` (slow for a million rows).

Then it opens the page through Django's test client as a superuser, both
windows, ``--rounds`` times each after one untimed request, and prints the page
time (median and best) and each query's time in the median round.

PostgreSQL: ``--postgres [URL]`` or ``DATABASE_URL``; it drops and recreates
its own database ``oauth_tokens_bench_dashboard`` on that server. Without
either, a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.__main__ import postgres_url

DB_NAME = "oauth_tokens_bench_dashboard"
PAGE = "/admin/oauth_tokens_provider/activity/"
CLIENTS = 20
EVENTS = {"client_auth_failed": 20_000, "refresh_failed": 20_000, "revoked": 15_000, "grace_replayed": 3_000,
          "reuse_detected": 500, "anomaly": 1_500}
ANOMALIES = ("frequent_refresh", "failed_refresh", "new_location", "impossible_travel")


def configure(database_url: str) -> None:
    import environ
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-dashboard-not-for-production-0123456789abcdef", DEBUG=False, ALLOWED_HOSTS=["*"],
        USE_TZ=True, TIME_ZONE="America/Chicago", ROOT_URLCONF="example_project.urls",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField", STATIC_URL="static/",
        INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                        "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
                        "rest_framework", "oauth_tokens.provider", "oauth_tokens.consumer", "example_project.demo"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "django.contrib.messages.middleware.MessageMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                    "DIRS": [str(Path(__file__).resolve().parent.parent / "example_project" / "templates")],
                    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                       "django.contrib.auth.context_processors.auth",
                                                       "django.contrib.messages.context_processors.messages"]}}],
        DATABASES={"default": environ.Env.db_url_config(database_url)},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        OAUTH_TOKENS={"ENCRYPTION_KEYS": ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="],
                      "DIGEST_KEY": "bench-digest-key"},
    )
    import django

    django.setup()


def recreate_postgres(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_clients() -> list[int]:
    from oauth_tokens.provider.models import Client

    return [Client.objects.create(name=f"client {i:02d}").pk for i in range(CLIENTS)]


def seed_postgres(rows: int, days: int, clients: list[int]) -> None:
    """Client k of 20 gets a share of about 1/(k+1)^1.5 (``power(random(), 3)`` picks low indexes)."""
    from django.db import connection

    families = max(rows // 5, 1)

    def client_of(uniform: str) -> str:  # a uniform number in [0, 1) -> a client id, low indexes first
        return f"(ARRAY{clients})[1 + floor(power({uniform}, 3) * {CLIENTS})::int]"

    pick = client_of("random()")
    family_client = client_of(f"mod(mod(g, {families}) * 7919, 10007) / 10007.0")  # the same for a family
    spread = f"now() - random() * interval '{days} days'"
    with connection.cursor() as cursor:
        # Refresh tokens: row g is the (g / families)-th rotation of family g % families, created after
        # its parent (g - families); client and family follow the family.
        cursor.execute(f"""
            INSERT INTO oauth_tokens_provider_refreshtoken
              (id, digest, family, parent_id, client_id, scope, created_at, expires_at, family_started_at,
               used_at, successor_response, grace_replays)
            SELECT g, md5(g::text) || md5('rt' || g::text),
                   md5('family' || mod(g, {families})::text)::uuid,
                   CASE WHEN g > {families} THEN g - {families} END,
                   {family_client},
                   'read', t, t + interval '30 days', t, NULL, '', 0
            FROM (SELECT g, now() - interval '{days} days' + (g::float / {rows}) * interval '{days} days' AS t
                  FROM generate_series(1, {rows}) AS g) AS s""")
        cursor.execute("SELECT setval(pg_get_serial_sequence('oauth_tokens_provider_refreshtoken', 'id'), %s)",
                       [rows])
        cursor.execute(f"""
            INSERT INTO oauth_tokens_provider_accesstoken (jti, client_id, scope, created_at, expires_at)
            SELECT md5('at' || g::text), {pick}, 'read', t, t + interval '1 hour'
            FROM (SELECT g, {spread} AS t FROM generate_series(1, {rows}) AS g) AS s""")
        for kind, count in EVENTS.items():
            detail = (f"(ARRAY{list(ANOMALIES)})[1 + mod(g, 4)] || ': seeded'" if kind == "anomaly" else "''")
            cursor.execute(f"""
                INSERT INTO oauth_tokens_provider_tokenevent (kind, client_id, client_identifier, detail, created_at)
                SELECT %s, {pick}, '', {detail}, {spread} FROM generate_series(1, {count}) AS g""", [kind])
    with connection.cursor() as cursor:  # outside a transaction: autocommit
        cursor.execute("VACUUM ANALYZE")


def seed_orm(rows: int, days: int, clients: list[int]) -> None:
    import random
    import uuid
    from datetime import timedelta

    from django.utils import timezone

    from oauth_tokens.provider.models import AccessToken, RefreshToken, TokenEvent

    now, span, rnd = timezone.now(), timedelta(days=days).total_seconds(), random.Random(13)

    def when():
        return now - timedelta(seconds=rnd.random() * span)

    def client():
        return clients[int(rnd.random() ** 3 * CLIENTS)]

    batch = 5_000
    for start in range(0, rows, batch):
        made = [when() for _ in range(min(batch, rows - start))]
        AccessToken.objects.bulk_create([
            AccessToken(jti=uuid.uuid4().hex, client_id=client(), created_at=t, expires_at=t + timedelta(hours=1))
            for t in made])
        roots = RefreshToken.objects.bulk_create([
            RefreshToken(digest=uuid.uuid4().hex, family=uuid.uuid4(), client_id=client(), created_at=t,
                         expires_at=t + timedelta(days=30)) for t in made[: len(made) // 2]])
        RefreshToken.objects.bulk_create([
            RefreshToken(digest=uuid.uuid4().hex, family=r.family, client_id=r.client_id, parent=r,
                         created_at=r.created_at + timedelta(minutes=50), expires_at=r.expires_at) for r in roots])
    for kind, count in EVENTS.items():
        TokenEvent.objects.bulk_create([
            TokenEvent(kind=kind, client_id=client(), created_at=when(),
                       detail=f"{ANOMALIES[i % 4]}: seeded" if kind == "anomaly" else "")
            for i in range(count)], batch_size=batch)


def measure(window: str, rounds: int) -> tuple[list[float], list[tuple[float, str]]]:
    """Page times (s) of ``rounds`` requests, and the queries (s, SQL) of the median one."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    browser = Client()
    browser.force_login(get_user_model().objects.get(username="bench-admin"))
    url = f"{PAGE}?window={window}"
    assert browser.get(url).status_code == 200
    runs = []
    for _ in range(rounds):
        queries: list[tuple[float, str]] = []

        def timed(execute, sql, params, many, context, queries=queries):
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                queries.append((time.perf_counter() - start, sql))

        with connection.execute_wrapper(timed):
            start = time.perf_counter()
            response = browser.get(url)
            elapsed = time.perf_counter() - start
        assert response.status_code == 200
        runs.append((elapsed, queries))
    runs.sort(key=lambda run: run[0])
    return [t for t, _ in runs], runs[len(runs) // 2][1]


def label(sql: str) -> str:
    tables = ("accesstoken", "refreshtoken", "tokenevent", "client", "session", "user")
    table = next((t for t in tables if f"oauth_tokens_provider_{t}" in sql or f"auth_{t}" in sql
                  or f"django_{t}" in sql), "?")
    what = "GROUP BY" if "GROUP BY" in sql else "lookup"
    return f"{table} {what}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="PostgreSQL server (default: DATABASE_URL's); its database " + DB_NAME)
    parser.add_argument("--db-name", default=DB_NAME, help=f"the PostgreSQL database to drop and recreate ({DB_NAME})")
    parser.add_argument("--rows", type=int, default=1_000_000, help="access tokens, and refresh tokens (1,000,000)")
    parser.add_argument("--days", type=int, default=30, help="the rows are spread over this many days (30)")
    parser.add_argument("--rounds", type=int, default=7, help="timed requests per window (7)")
    parser.add_argument("--reuse", action="store_true", help="PostgreSQL: time the rows the last run left")
    args = parser.parse_args(argv)

    url = postgres_url(args.postgres, args.db_name)
    if url and not args.reuse:
        recreate_postgres(url)
    elif not url:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'dashboard.sqlite3'}"
    configure(url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    if args.reuse and url.startswith("postgres"):
        from oauth_tokens.provider.models import AccessToken

        print(f"{connection.vendor}: {AccessToken.objects.count():,} access tokens from the last run")
    else:
        call_command("migrate", verbosity=0)
        get_user_model().objects.create_superuser("bench-admin", "bench@example.test", "bench")
        start = time.perf_counter()
        clients = make_clients()
        (seed_postgres if connection.vendor == "postgresql" else seed_orm)(args.rows, args.days, clients)
        print(f"{connection.vendor}: seeded {args.rows:,} access tokens, {args.rows:,} refresh tokens and "
              f"{sum(EVENTS.values()):,} events over {args.days} days in {time.perf_counter() - start:.1f} s")
    for window in ("24h", "7d"):
        times, queries = measure(window, args.rounds)
        print(f"\n{PAGE}?window={window}: median {statistics.median(times) * 1000:.0f} ms, "
              f"best {times[0] * 1000:.0f} ms, worst {times[-1] * 1000:.0f} ms ({args.rounds} requests)")
        for seconds, sql in queries:
            print(f"  {seconds * 1000:7.1f} ms  {label(sql)}")
        print(f"  {sum(s for s, _ in queries) * 1000:7.1f} ms  in {len(queries)} queries")
    return 0


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    sys.exit(main())
