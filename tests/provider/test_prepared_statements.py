"""PostgreSQL: the token endpoint's statements are PREPAREd on their second use on
a connection and EXECUTEd from then on, in autocommit only; a token request
still gets its answer when the server lost the statements (a pooler, DISCARD
ALL) or a migration made them stale."""

import logging
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from oauth_tokens.provider import statements
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken
from tests.provider.test_statements import prepared_statements, statements_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; set DATABASE_URL")
    statements.reset()
    yield
    # Leave the session and what this process knows of it in step for the next tests.
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    statements._uses.clear()
    statements.reset()  # forget an alias marked as losing its statements


def first_words(queries) -> list[str]:
    return [q["sql"].split()[0] for q in queries.captured_queries]


def rotate(flow, refresh_token):
    with CaptureQueriesContext(connection) as queries:
        response = flow.refresh(refresh_token)
    assert response.status_code == 200, response.content
    return response.json()["refresh_token"], first_words(queries)


def warm(flow) -> str:
    """A refresh token after two rotations on this connection: its statements prepared."""
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(statements.PREPARE_ON_USE):
        refresh_token, _words = rotate(flow, refresh_token)
    return refresh_token


def test_a_statement_is_prepared_on_its_second_use_and_executed_from_then_on(flow):
    refresh_token = flow.code_tokens()["refresh_token"]
    refresh_token, first = rotate(flow, refresh_token)
    assert first == ["SELECT", "WITH"]  # first use: plain SQL, nothing held by the server
    refresh_token, second = rotate(flow, refresh_token)
    assert second == ["PREPARE", "EXECUTE", "PREPARE", "EXECUTE"]
    with CaptureQueriesContext(connection) as queries:
        response = flow.refresh(refresh_token)
    assert response.status_code == 200, response.content
    # From then on only EXECUTEs: no SQL text for the server to parse and plan.
    assert first_words(queries) == ["EXECUTE", "EXECUTE"]
    assert statements_of(queries) == ["SELECT", "WITH"]
    assert sum(name.startswith("oauth_tokens_") for name in prepared_statements()) == 2


def test_a_connection_per_request_never_prepares(flow):
    """CONN_MAX_AGE = 0: each request gets a new connection, where a PREPARE would
    be an extra round trip for a statement run once."""
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        connection.close()
        refresh_token, words = rotate(flow, refresh_token)
        assert words == ["SELECT", "WITH"]


def test_inside_a_transaction_statements_run_as_plain_sql(flow, monkeypatch):
    """There a lost statement would abort the transaction; ATOMIC_REQUESTS (and the
    code exchange, always in a transaction) run plain SQL."""
    refresh_token = warm(flow)
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # would break an EXECUTE
    refresh_token, words = rotate(flow, refresh_token)
    assert "EXECUTE" not in words and "PREPARE" not in words
    refresh_token, words = rotate(flow, refresh_token)
    assert "EXECUTE" not in words


@pytest.mark.parametrize("lost", ["every statement", "the write only"])
def test_statements_lost_by_the_server_are_answered_and_preparing_stops(flow, caplog, lost):
    refresh_token = warm(flow)
    with connection.cursor() as cursor:
        if lost == "every statement":  # what a pool's reset looks like
            cursor.execute("DEALLOCATE ALL")
        else:  # a pooler's other server session: some statements there, some not
            cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement LIKE '%%WITH swapped%%'")
            cursor.execute(f"DEALLOCATE {cursor.fetchone()[0]}")
    with caplog.at_level(logging.WARNING, logger="oauth_tokens.provider.statements"):
        refresh_token, words = rotate(flow, refresh_token)
    assert "stops preparing statements" in caplog.text
    refresh_token, words = rotate(flow, refresh_token)
    assert words == ["SELECT", "WITH"]  # plain SQL from now on in this process
    assert RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1
    assert AccessToken.objects.count() == 2 + statements.PREPARE_ON_USE + 1  # code, warm-up, then 2 more


@pytest.fixture
def client_name_as_text():
    """A migration changing the type of a column the refresh's read returns."""
    table = Client._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "name" TYPE text')
    yield
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "name" TYPE varchar(200)')


def test_a_statement_made_stale_by_a_migration_is_prepared_again(flow, request):
    refresh_token = warm(flow)  # the read prepared with name as varchar(200)
    request.getfixturevalue("client_name_as_text")
    refresh_token, words = rotate(flow, refresh_token)
    assert words[:4] == ["EXECUTE", "DEALLOCATE", "PREPARE", "EXECUTE"]
    refresh_token, words = rotate(flow, refresh_token)
    assert words == ["EXECUTE", "EXECUTE"]  # still prepared: a stale statement is not a lost one


def test_a_statement_the_session_already_holds_is_prepared_afresh(flow):
    """A pooled server session can hold our statement though this connection never
    prepared it (and it may be stale): it is replaced, not an error."""
    refresh_token = warm(flow)
    statements._uses.clear()
    refresh_token, _words = rotate(flow, refresh_token)
    refresh_token, words = rotate(flow, refresh_token)
    assert "DEALLOCATE" in words


def test_a_percent_sign_in_the_sql_survives_preparing():
    """Django writes a literal % as %%; the PREPAREd text must have one."""
    by_name = statements.SelectOne(
        lambda value: Client.objects.filter(client_id=value).extra(where=["name NOT LIKE 'zz%%'"])
    )
    client = Client.objects.create(name="a client", client_type=Client.CONFIDENTIAL)
    other = Client.objects.create(name="zz hidden", client_type=Client.CONFIDENTIAL)
    for _ in range(statements.PREPARE_ON_USE + 1):
        assert by_name(client.client_id, using="default") == client
        assert by_name(other.client_id, using="default") is None
    assert any("'zz%'" in sql for sql in prepared_statements().values())


def test_each_thread_prepares_on_its_own_connection(flow):
    refresh_token = warm(flow)
    results = []

    def other_thread():
        try:
            with CaptureQueriesContext(connections["default"]) as queries:
                response = flow.refresh(refresh_token)
            results.append((response.status_code, first_words(queries)))
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    # A new connection: the statement's first use there is plain SQL, not an
    # EXECUTE of a statement only the main thread's session holds.
    assert results == [(200, ["SELECT", "WITH"])]


@pytest.mark.parametrize("switch", ["setting", "DISABLE_SERVER_SIDE_CURSORS", "server_side_binding"])
def test_preparing_can_be_turned_off(flow, settings, monkeypatch, switch):
    if switch == "setting":
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PREPARED_STATEMENTS": False}
    elif switch == "DISABLE_SERVER_SIDE_CURSORS":  # Django's switch for PgBouncer in transaction mode
        monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    else:
        monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"server_side_binding": True})
    statements.reset()
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        refresh_token, words = rotate(flow, refresh_token)
        assert words == ["SELECT", "WITH"]
