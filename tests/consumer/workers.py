"""Child processes for the multi-process tests and the benchmark. Each sets up
Django against the database it is given (the PostgreSQL test database, or a
SQLite file) and runs threads that ask for the same stored token.

Only functions here: a spawned child imports this module before Django is set up.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any


def setup_django(db_url: str, providers: dict[str, Any]) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}).enable()


def prepare_sqlite(db_url: str, providers: dict[str, Any], name: str, pair: dict[str, Any] | None) -> int | None:
    """Migrate a SQLite file; with ``pair``, create a user and store it as already expiring (returns the user id)."""
    setup_django(db_url, providers)
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
    call_command("migrate", verbosity=0)
    return store_expiring(name, pair) if pair else None


def store_expiring(name: str, pair: dict[str, Any]) -> int:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from oauth_tokens.consumer import dpop
    from oauth_tokens.consumer.models import ExternalToken
    from oauth_tokens.consumer.providers import get_provider
    from oauth_tokens.consumer.service import store_tokens

    user, _ = get_user_model().objects.get_or_create(username="concurrent-user")
    config = get_provider(name)
    # A DPoP provider: the grant has its key, which every refresh, whoever makes it, must use.
    key = dpop.new_key(config.dpop_algorithm) if config.dpop else None
    row = store_tokens(name, user, pair, dpop_key=key)
    ExternalToken.objects.filter(pk=row.pk).update(expires_at=timezone.now())  # everyone must refresh at once
    return user.pk


def read_row(db_url: str, providers: dict[str, Any], name: str, user_id: int) -> dict[str, Any]:
    setup_django(db_url, providers)
    from oauth_tokens.consumer.models import ExternalToken

    row = ExternalToken.objects.get(provider=name, user_id=user_id)
    return {"refresh_count": row.refresh_count, "status": row.status, "version": row.version,
            "dpop_jkt": row.dpop_jkt, "token_type": row.token_type}


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def ask_for_tokens(db_url: str, providers: dict[str, Any], name: str, user_id: int, threads: int,
                   duration: float, barrier: Any, results: Any) -> None:
    """``threads`` threads call get_access_token in a loop for ``duration`` seconds."""
    setup_django(db_url, providers)
    from django.db import connections

    from oauth_tokens.consumer import get_access_token

    report: dict[str, Any] = {"pid": os.getpid(), "first": [], "seen": {}, "errors": [], "calls": 0}
    lock = threading.Lock()

    def run() -> None:
        seen: dict[str, int] = {}
        errors: list[str] = []
        calls = 0
        first = None
        barrier.wait()
        end = time.monotonic() + duration
        while time.monotonic() < end:
            try:
                token = fingerprint(get_access_token(name, user_id))
            except Exception as exc:  # reported to the test, which fails on any
                errors.append(repr(exc)[:300])
                continue
            finally:
                calls += 1
            first = first or token
            seen[token] = seen.get(token, 0) + 1
        connections.close_all()
        with lock:
            report["first"].append(first)
            report["errors"] += errors
            report["calls"] += calls
            for token, count in seen.items():
                report["seen"][token] = report["seen"].get(token, 0) + count

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put(report)


def ask_through_hold_off(db_url: str, providers: dict[str, Any], name: str, user_id: int, threads: int,
                         duration: float, barrier: Any, results: Any) -> None:
    """Like ``ask_for_tokens``, pausing 20 ms after a failure as a client would; reports
    per thread each failure's kind and time and the first success's time (seconds
    after the barrier), and the tokens seen."""
    setup_django(db_url, providers)
    from django.db import connections

    from oauth_tokens.consumer import ProviderUnavailable, get_access_token

    report: dict[str, Any] = {"pid": os.getpid(), "threads": [], "seen": set()}
    lock = threading.Lock()

    def run() -> None:
        failures: list[tuple[str, float]] = []
        first_success = None
        seen = set()
        barrier.wait()
        start = time.monotonic()
        while time.monotonic() < start + duration:
            try:
                seen.add(fingerprint(get_access_token(name, user_id)))
                first_success = first_success or time.monotonic() - start
                continue
            except ProviderUnavailable as exc:
                kind = "held" if "refresh held off" in str(exc) else "lost" if "may have reached" in str(exc) \
                    else repr(exc)[:300]
            except Exception as exc:  # reported to the test, which fails on any
                kind = repr(exc)[:300]
            failures.append((kind, time.monotonic() - start))
            time.sleep(0.02)
        connections.close_all()
        with lock:
            report["threads"].append({"failures": failures, "first_success": first_success})
            report["seen"] |= seen

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put(report)
