"""Worker processes of ``bench.consumer_bench``: threads that call the provider's
API through a shared, rotating token, written two ways.

* ours: ``http_client(provider, user)`` from ``oauth_tokens.consumer``, one
  client per thread, reused for every call.
* ours, per request: a new ``with http_client(provider, user) as api:`` for each
  call, the pattern docs/consumer.md shows for a view.
* Authlib: the pattern its docs show for a web app. Each call fetches the stored
  token, builds ``OAuth2Session(..., token=token, update_token=update_token)``
  and makes the request; Authlib refreshes an expired token itself and calls
  ``update_token``, which saves the new pair found by its refresh token.

Both use the same database (a table of their own for Authlib). Only functions
here: a spawned child imports this module before Django is set up.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

AUTHLIB_TABLE = "bench_authlib_token"


def setup_django(db_url: str, providers: dict[str, Any]) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}).enable()


def _threads(count: int, barrier: Any, seconds: float, call) -> dict[str, Any]:
    """``count`` threads run ``call`` in a loop for ``seconds``, all starting when
    the parent, having stored a fresh token pair, opens ``barrier``'s second phase."""
    report = {"calls": 0, "ok": 0, "failed": 0, "errors": {}}
    lock = threading.Lock()

    def run() -> None:
        from django.db import connections

        state = call(None)  # per-thread setup
        calls = ok = 0
        errors: dict[str, int] = {}
        barrier.wait()  # every thread ready: the parent now stores a fresh pair
        barrier.wait()  # stored: go
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            calls += 1
            try:
                status = call(state)
            except Exception as exc:  # counted, the loop goes on as an app would
                status = type(exc).__name__
            if status == 200:
                ok += 1
            else:
                errors[str(status)] = errors.get(str(status), 0) + 1
        connections.close_all()
        with lock:
            report["calls"] += calls
            report["ok"] += ok
            report["failed"] += calls - ok
            for key, value in errors.items():
                report["errors"][key] = report["errors"].get(key, 0) + value

    pool = [threading.Thread(target=run) for _ in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return report


def ours(db_url: str, providers: dict[str, Any], user_id: int, threads: int, seconds: float,
         barrier: Any, results: Any) -> None:
    setup_django(db_url, providers)
    from oauth_tokens.consumer import http_client

    def call(client):
        if client is None:
            return http_client("remote", user_id)
        return client.get("/api/me").status_code

    results.put(_threads(threads, barrier, seconds, call))


def ours_per_request(db_url: str, providers: dict[str, Any], user_id: int, threads: int, seconds: float,
                     barrier: Any, results: Any) -> None:
    setup_django(db_url, providers)
    from oauth_tokens.consumer import http_client

    def call(state):
        if state is None:
            return True
        with http_client("remote", user_id) as api:
            return api.get("/api/me").status_code

    results.put(_threads(threads, barrier, seconds, call))


def store_authlib_token(pair: dict[str, Any]) -> None:
    """The token table an Authlib app keeps (its docs' ``OAuth2Token`` model)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {AUTHLIB_TABLE}")
        cursor.execute(f"CREATE TABLE {AUTHLIB_TABLE} (name VARCHAR(40) PRIMARY KEY, token_type VARCHAR(40), "
                       "access_token TEXT, refresh_token TEXT, expires_at BIGINT)")
        cursor.execute(f"INSERT INTO {AUTHLIB_TABLE} VALUES (%s, %s, %s, %s, %s)",
                       ["remote", "Bearer", pair["access_token"], pair["refresh_token"],
                        int(time.time()) + int(pair["expires_in"])])


def authlib(db_url: str, providers: dict[str, Any], user_id: int, threads: int, seconds: float,
            barrier: Any, results: Any, leeway: float) -> None:
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the bench provider is plain http on 127.0.0.1
    setup_django(db_url, providers)
    from authlib.integrations.requests_client import OAuth2Session
    from django.db import connection

    config = providers["remote"]

    def fetch_token() -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT token_type, access_token, refresh_token, expires_at FROM {AUTHLIB_TABLE} "
                           "WHERE name = %s", ["remote"])
            token_type, access, refresh, expires_at = cursor.fetchone()
        return {"token_type": token_type, "access_token": access, "refresh_token": refresh,
                "expires_at": expires_at}

    def update_token(token, refresh_token=None, access_token=None):
        # As in Authlib's docs: find the row by the refresh token that was used, save the new pair.
        if not refresh_token:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AUTHLIB_TABLE} SET access_token = %s, refresh_token = %s, expires_at = %s "
                "WHERE name = %s AND refresh_token = %s",
                [token["access_token"], token.get("refresh_token"), int(token["expires_at"]), "remote", refresh_token],
            )

    def call(state):
        if state is None:
            return True
        session = OAuth2Session(
            config["client_id"], config["client_secret"], token=fetch_token(),
            token_endpoint=config["token_url"], update_token=update_token,
            leeway=leeway,
        )
        with session:
            return session.get(config["api_base_url"] + "/api/me", timeout=10).status_code

    results.put(_threads(threads, barrier, seconds, call))
