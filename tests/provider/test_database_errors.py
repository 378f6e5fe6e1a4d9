"""A database that fails for a moment (a lock, a deadlock, the connection) gives
503 temporarily_unavailable on the OAuth endpoints, with the request's
transaction rolled back; one that fails for good (a missing table) stays
Django's 500, with its logging and error reports."""

import sqlite3

import pytest
from django.db import OperationalError, connection

from oauth_tokens.provider import stores
from oauth_tokens.provider.dberrors import transient
from oauth_tokens.provider.models import TokenEvent

pytestmark = pytest.mark.django_db(transaction=True)


def raised_from(cause: BaseException) -> OperationalError:
    """What Django raises for a driver's error."""
    error = OperationalError(*cause.args)
    error.__cause__ = cause
    return error


def test_sqlite_lock_is_transient_and_a_missing_table_is_not():
    assert transient(raised_from(sqlite3.OperationalError("database is locked")))
    assert not transient(raised_from(sqlite3.OperationalError("no such table: oauth_tokens_provider_client")))


def test_postgresql_errors_are_told_apart_by_sqlstate():
    errors = pytest.importorskip("psycopg.errors")
    for cause in (errors.LockNotAvailable(), errors.DeadlockDetected(), errors.SerializationFailure(),
                  errors.QueryCanceled(), errors.AdminShutdown(), errors.TooManyConnections(),
                  errors.ConnectionFailure()):
        assert transient(raised_from(cause)), cause
    assert transient(raised_from(errors.OperationalError("connection failed: Connection refused")))
    for cause in (errors.UndefinedTable(), errors.DiskFull(), errors.InsufficientPrivilege()):
        assert not transient(raised_from(cause)), cause


def fail_after_writing(monkeypatch, error: OperationalError) -> None:
    """The family revocation writes a row of the request's transaction, then the
    database fails."""
    def revoke_family(self, token, *, reason):
        TokenEvent.objects.create(kind=TokenEvent.REVOKED, client=token.client,
                                  client_identifier=token.client.client_id, detail="half done")
        raise error

    monkeypatch.setattr(stores.OrmTokenStore, "revoke_family", revoke_family)


def test_a_transient_error_answers_503_and_rolls_back_what_the_request_wrote(flow, monkeypatch):
    tokens = flow.code_tokens()
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    fail_after_writing(monkeypatch, raised_from(sqlite3.OperationalError("database is locked")))
    response = flow.token({"token": tokens["refresh_token"]}, path="/oauth/revoke")
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Cache-Control"] == "no-store" and response["Retry-After"] == "1"
    assert not TokenEvent.objects.filter(detail="half done").exists()  # rolled back, not committed


def test_a_lasting_error_is_djangos_500(flow, monkeypatch):
    tokens = flow.code_tokens()
    fail_after_writing(monkeypatch, raised_from(sqlite3.OperationalError("no such table: x")))
    with pytest.raises(OperationalError, match="no such table"):  # the test client re-raises a 500's exception
        flow.token({"token": tokens["refresh_token"]}, path="/oauth/revoke")
