"""Single-flight proven with real concurrency: 16 threads in 4 processes ask for
the same expiring token, against our provider running in its own process over
HTTP (2 s access tokens, rotation, reuse detection with no grace window), for
several expiry cycles. On PostgreSQL or MariaDB (row lock), whichever
DATABASE_URL points at, and on a SQLite file (lease).

Time is real here (the provider has its own clock), so each run lasts seconds.
Margins for a busy machine: each run is long enough for the cycles it counts
even when a cycle takes twice as long as it should; the gaps between refreshes
are lower bounds (a refresh is due half a lifetime after the previous answer
arrived, so a busy machine only lengthens them).
"""

import multiprocessing
from collections import Counter
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import override_settings

from tests.consumer import workers
from tests.consumer.remote_provider import RemoteProvider

pytestmark = pytest.mark.slow

PROCESSES, THREADS, DURATION = 4, 4, 8.0
LIFETIME = 2  # provider access tokens; refreshed at half-life (1 s) by the consumer's leeway cap


@pytest.fixture
def provider(tmp_path):
    remote = RemoteProvider(str(tmp_path / "provider.sqlite3"), access_lifetime=LIFETIME, grace=0)
    yield remote
    remote.stop()


def run_workers(db_url, providers, user_id, duration=DURATION, target=workers.ask_for_tokens):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES * THREADS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=target,
                    args=(db_url, providers, "remote", user_id, THREADS, duration, barrier, results))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return reports


def check(provider, reports, refresh_count):
    errors = [e for r in reports for e in r["errors"]]
    assert errors == []
    stats = provider.stats()
    refreshes = [r for r in stats["token_requests"] if r["grant_type"] == "refresh_token"]
    # Every refresh that reached the provider succeeded: no invalid_grant, no reuse detected.
    assert [r["status"] for r in refreshes] == [200] * len(refreshes)
    assert stats["reuse_detected"] == 0 and stats["live_refresh_tokens"] == 1
    # Several expiry cycles (one per second at best), exactly one refresh request per expiry.
    assert len(refreshes) >= 3
    times = sorted(r["t"] for r in refreshes)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) > LIFETIME / 2 * 0.7, gaps
    # The consumer saved every rotation, and nobody saw a token that was not the current one.
    assert refresh_count == len(refreshes)
    seen = set().union(*(r["seen"] for r in reports))
    assert len(seen) == len(refreshes)
    # All 16 workers got the same new token at the first expiry.
    firsts = [f for r in reports for f in r["first"]]
    assert len(firsts) == PROCESSES * THREADS and len(set(firsts)) == 1
    return len(refreshes), sum(r["calls"] for r in reports)


def server_database_url() -> str:
    """A URL of the test database (PostgreSQL or MariaDB: the tests are ``server_db``),
    for worker processes."""
    s = connection.settings_dict
    scheme, port = ("postgres", 5432) if connection.vendor == "postgresql" else ("mysql", 3306)
    auth = quote(s["USER"] or "") + (":" + quote(s["PASSWORD"]) if s.get("PASSWORD") else "")
    return f"{scheme}://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or port}/{s['NAME']}"


@pytest.mark.server_db
@pytest.mark.django_db(transaction=True)
def test_one_refresh_per_expiry_across_processes_on_a_server_database(provider):
    db_url = server_database_url()
    providers = {"remote": provider.provider_config()}
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}):
        user_id = workers.store_expiring("remote", provider.info)
    reports = run_workers(db_url, providers, user_id)
    from oauth_tokens.consumer.models import ExternalToken

    row = ExternalToken.objects.get(provider="remote", user_id=user_id)
    print(connection.vendor, "refreshes, calls =", check(provider, reports, row.refresh_count))


def test_one_refresh_per_expiry_across_processes_on_sqlite(provider, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'consumer.sqlite3'}"
    providers = {"remote": provider.provider_config()}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        user_id = pool.apply(workers.prepare_sqlite, (db_url, providers, "remote", provider.info))
    reports = run_workers(db_url, providers, user_id)
    with ctx.Pool(1) as pool:
        row = pool.apply(workers.read_row, (db_url, providers, "remote", user_id))
    print("sqlite: refreshes, calls =", check(provider, reports, row["refresh_count"]))


def check_client_credentials(provider, reports):
    """The project's own token (user=None): created once, fetched once per expiry."""
    assert [e for r in reports for e in r["errors"]] == []
    fetches = [r for r in provider.stats()["token_requests"] if r["grant_type"] == "client_credentials"]
    assert [r["status"] for r in fetches] == [200] * len(fetches) and len(fetches) >= 2
    times = sorted(r["t"] for r in fetches)
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) > LIFETIME / 2 * 0.7
    assert len(set().union(*(r["seen"] for r in reports))) == len(fetches)
    firsts = [f for r in reports for f in r["first"]]
    assert len(set(firsts)) == 1  # no row existed: one worker created it and fetched, all used its token


@pytest.mark.server_db
@pytest.mark.django_db(transaction=True)
def test_one_client_credentials_fetch_per_expiry_on_a_server_database(provider):
    db_url = server_database_url()
    reports = run_workers(db_url, {"remote": provider.provider_config()}, None, duration=4.0)
    check_client_credentials(provider, reports)


def test_one_client_credentials_fetch_per_expiry_on_sqlite(provider, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'consumer.sqlite3'}"
    providers = {"remote": provider.provider_config()}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        pool.apply(workers.prepare_sqlite, (db_url, providers, "remote", None))
    reports = run_workers(db_url, providers, None, duration=4.0)
    check_client_credentials(provider, reports)


HOLD_OFF = 2.0


@pytest.fixture
def losing_provider(tmp_path):
    """Our provider with a 10 s grace window (one replay), whose answer to the first
    refresh is lost on the way (it rotates, the consumer gets a 502); 60 s tokens."""
    remote = RemoteProvider(str(tmp_path / "provider.sqlite3"), access_lifetime=60, grace=10,
                            lose_refresh_answers=1)
    yield remote
    remote.stop()


def check_hold_off(provider, reports):
    """16 workers kept asking for an expired token: the first refresh's answer was lost;
    nobody presented the token again during the hold-off; then exactly one replay
    got the grace pair, and every worker used it."""
    stats = provider.stats()
    refreshes = [r for r in stats["token_requests"] if r["grant_type"] == "refresh_token"]
    assert [(r["status"], r["answer_lost"]) for r in refreshes] == [(200, True), (200, False)]
    assert refreshes[1]["t"] - refreshes[0]["t"] >= HOLD_OFF
    assert (stats["grace_replayed"], stats["reuse_detected"], stats["live_refresh_tokens"]) == (1, 0, 1)
    threads = [t for r in reports for t in r["threads"]]
    kinds = Counter(kind for t in threads for kind, _ in t["failures"])
    assert set(kinds) == {"lost", "held"} and kinds["lost"] == 1 and kinds["held"] > len(threads), kinds
    for thread in threads:  # each got the replayed pair, and failed only before
        assert thread["first_success"] is not None
        assert all(at < thread["first_success"] for _, at in thread["failures"])
    assert len(set().union(*(r["seen"] for r in reports))) == 1
    return kinds


@pytest.mark.server_db
@pytest.mark.django_db(transaction=True)
def test_a_lost_refresh_answer_holds_every_process_off_then_one_replay_on_a_server_database(losing_provider):
    db_url = server_database_url()
    providers = {"remote": losing_provider.provider_config(refresh_hold_off=HOLD_OFF)}
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}):
        user_id = workers.store_expiring("remote", losing_provider.info)
    reports = run_workers(db_url, providers, user_id, duration=HOLD_OFF + 3, target=workers.ask_through_hold_off)
    print(connection.vendor, "failures:", check_hold_off(losing_provider, reports))


def test_a_lost_refresh_answer_holds_every_process_off_then_one_replay_on_sqlite(losing_provider, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'consumer.sqlite3'}"
    providers = {"remote": losing_provider.provider_config(refresh_hold_off=HOLD_OFF)}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        user_id = pool.apply(workers.prepare_sqlite, (db_url, providers, "remote", losing_provider.info))
    reports = run_workers(db_url, providers, user_id, duration=HOLD_OFF + 3, target=workers.ask_through_hold_off)
    print("sqlite failures:", check_hold_off(losing_provider, reports))
