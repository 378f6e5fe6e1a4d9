"""A rotation and a family revocation racing on PostgreSQL or MariaDB: no
deadlock, no 500, and no live token left in a revoked family."""

import logging
import threading
import time
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction
from django.test import Client as HttpClient

from oauth_tokens.provider import precompiled_sql
from oauth_tokens.provider.models import AccessToken, RefreshToken
from tests.conftest import basic

pytestmark = [
    pytest.mark.server_db,
    pytest.mark.django_db(transaction=True),
]


def waiting_on_a_lock() -> int:
    """Connections to this test database waiting for a row lock."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM information_schema.innodb_trx t"
                " JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id"
                " WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()"
            )
        return cursor.fetchone()[0]


def test_reuse_detected_while_the_successor_is_being_rotated(flow, monkeypatch, settings):
    # No grace window: presenting the first token again is reuse, at once.
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REFRESH_TOKEN_GRACE_PERIOD": 0}
    first = flow.code_tokens(scope="read")
    second = flow.refresh(first["refresh_token"]).json()
    auth = basic(flow.client.client_id, flow.client.secret)

    inside_rotation, release = threading.Event(), threading.Event()
    real_swap = precompiled_sql.swap_and_insert

    def swap_then_wait(*args, **kwargs):
        # The rotation's writes done, its transaction (as under ATOMIC_REQUESTS)
        # still open: R2 stays locked while the thief's revocation comes in.
        if threading.current_thread().name != "rotation":
            return real_swap(*args, **kwargs)
        with transaction.atomic(using=kwargs["using"]):
            swapped = real_swap(*args, **kwargs)
            inside_rotation.set()
            release.wait(10)
        return swapped

    monkeypatch.setattr(precompiled_sql, "swap_and_insert", swap_then_wait)
    results = {}

    def post(name, refresh_token):
        try:
            results[name] = HttpClient().post(
                "/oauth/token", {"grant_type": "refresh_token", "refresh_token": refresh_token},
                content_type="application/json", HTTP_AUTHORIZATION=auth,
            )
        finally:
            connections.close_all()

    rotation = threading.Thread(target=post, args=("rotation", second["refresh_token"]), name="rotation")
    rotation.start()
    assert inside_rotation.wait(10)  # R2 is locked and R3 written, not yet committed
    thief = threading.Thread(target=post, args=("thief", first["refresh_token"]), name="thief")
    thief.start()
    deadline = time.monotonic() + 10
    # InnoDB refreshes information_schema.innodb_trx only after 0.1 s without a read.
    pause = 0.01 if connection.vendor == "postgresql" else 0.2
    while waiting_on_a_lock() == 0 and time.monotonic() < deadline:
        time.sleep(pause)  # until the revocation queues behind the rotation's lock
    assert waiting_on_a_lock() > 0  # the race this test is about did happen
    release.set()
    rotation.join(20)
    thief.join(20)

    assert results["thief"].status_code == 400 and results["thief"].json()["error"] == "invalid_grant"
    assert results["rotation"].status_code in (200, 400, 503), results["rotation"].content
    family = RefreshToken.objects.get(parent__isnull=True).family
    assert not RefreshToken.objects.filter(family=family, revoked_at__isnull=True).exists()
    assert not AccessToken.objects.filter(family=family, revoked_at__isnull=True).exists()
    if results["rotation"].status_code == 200:
        again = flow.refresh(results["rotation"].json()["refresh_token"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@contextmanager
def short_lock_waits():
    """This connection gives up on a row lock after 200 ms (PostgreSQL) or 1 s
    (MariaDB counts whole seconds)."""
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'" if postgresql else "SET SESSION innodb_lock_wait_timeout = 1")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0" if postgresql else "SET SESSION innodb_lock_wait_timeout = DEFAULT")


@contextmanager
def row_locked_elsewhere(row):
    """``row`` locked by another connection (a rotation of it in flight), and this
    connection giving up on a lock quickly."""
    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {row._meta.db_table} WHERE id = %s FOR UPDATE", [row.pk])
        with short_lock_waits():
            yield
    finally:
        holder.rollback()
        holder.close()


def test_a_lock_timeout_inside_atomic_requests_answers_503_and_spends_nothing(flow, monkeypatch):
    """Under ATOMIC_REQUESTS the rotation's statement runs inside the request's
    transaction: a lock timeout there answers 503 (not 500) and spends nothing;
    the client's retry succeeds."""
    tokens = flow.code_tokens(scope="read")
    row = RefreshToken.objects.get(parent__isnull=True)
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    with row_locked_elsewhere(row):
        response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Cache-Control"] == "no-store"
    row.refresh_from_db()
    assert row.used_at is None and row.successor_response == ""
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


def test_a_lock_timeout_while_revoking_answers_503_and_revokes_nothing(flow, monkeypatch, caplog):
    """Any OAuth endpoint, not only the token endpoint: a database OperationalError
    is a 503 the client may retry (logged for the operator), never a 500, and the
    request's transaction is rolled back."""
    tokens = flow.code_tokens(scope="read")
    row = RefreshToken.objects.get()
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    with row_locked_elsewhere(row), caplog.at_level(logging.WARNING, logger="oauth_tokens.provider.views"):
        response = flow.token({"token": tokens["refresh_token"]}, path="/oauth/revoke")
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Cache-Control"] == "no-store" and response["Retry-After"] == "1"
    assert "answered 503" in caplog.text
    row.refresh_from_db()
    assert row.revoked_at is None and not AccessToken.objects.filter(revoked_at__isnull=False).exists()
    retry = flow.token({"token": tokens["refresh_token"]}, path="/oauth/revoke")
    assert retry.status_code == 200, retry.content
    row.refresh_from_db()
    assert row.revoked_at is not None
