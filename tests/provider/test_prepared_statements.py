"""PostgreSQL (psycopg 3): the token endpoint's statements are prepared on their
second use on a connection and reused from then on, in autocommit only; a token
request still gets its answer when the server lost the statements (a pooler,
DISCARD ALL) or a migration made them stale.

What the server holds is read from ``pg_prepared_statements`` of the test's own
session (its ``generic_plans + custom_plans`` count the executions of each)."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oauth_tokens.provider import statements
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def psycopg3_only():
    if connection.vendor != "postgresql" or connection.Database.__name__ != "psycopg":
        pytest.skip("prepared statements need PostgreSQL through psycopg 3; set DATABASE_URL")
    statements.reset()
    connection.close()  # a session of this test's own: nothing prepared yet
    yield
    connection.close()  # and none left for the next tests
    statements.reset()  # forget an alias marked as losing its statements


def held() -> dict[str, int]:
    """Our statements this session holds: first words of the SQL -> executions."""
    raw = connection.connection
    if raw is None:
        return {}
    with raw.cursor() as cursor:  # the DB-API cursor: psycopg does not see this query
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE '%oauth_tokens_provider%'")
        return {" ".join(sql.split()[:2]): runs for sql, runs in cursor.fetchall()}


def rotate(flow, refresh_token: str) -> str:
    response = flow.refresh(refresh_token)
    assert response.status_code == 200, response.content
    return response.json()["refresh_token"]


def test_a_statement_is_prepared_on_its_second_use_and_reused(flow):
    refresh_token = rotate(flow, flow.code_tokens()["refresh_token"])
    assert held() == {}  # first use on this connection: sent as a plain query
    refresh_token = rotate(flow, refresh_token)
    assert held() == {"SELECT \"oauth_tokens_provider_refreshtoken\".\"id\",": 1, "WITH swapped": 1}
    for _ in range(3):
        refresh_token = rotate(flow, refresh_token)
    # Executed by name three more times: the server neither parsed nor prepared them again.
    assert held() == {"SELECT \"oauth_tokens_provider_refreshtoken\".\"id\",": 4, "WITH swapped": 4}


def test_prepared_statements_are_counted_and_routed_like_any_query(flow):
    refresh_token = rotate(flow, rotate(flow, flow.code_tokens()["refresh_token"]))
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql.split()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        rotate(flow, refresh_token)
    assert seen == ["SELECT", "WITH"]
    assert sum(held().values()) == 4


def test_a_connection_per_request_never_prepares(flow):
    """CONN_MAX_AGE = 0: a new connection per request, where preparing would cost a
    round trip for a statement run once."""
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        connection.close()
        refresh_token = rotate(flow, refresh_token)
        assert held() == {}


def test_inside_a_transaction_statements_are_not_prepared(flow, monkeypatch):
    """There a lost statement would abort the transaction: ATOMIC_REQUESTS (and the
    code exchange, always in a transaction) send plain queries."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        refresh_token = rotate(flow, refresh_token)
    assert held() == {}


def test_while_queries_are_logged_they_are_not_prepared(flow):
    """DEBUG or CaptureQueriesContext: connection.queries shows the SQL and its values."""
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            refresh_token = rotate(flow, refresh_token)
        assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "WITH"]
        assert "IS NULL AND" in queries.captured_queries[1]["sql"]
    assert held() == {}


def deallocate(like: str) -> None:
    """Drop statements behind psycopg's back, as a pooler's other session or a
    pool's DISCARD ALL would."""
    with connection.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement LIKE %s", [like])
        for (name,) in cursor.fetchall():
            cursor.execute(f'DEALLOCATE "{name}"')


@pytest.mark.parametrize("lost", ["%oauth_tokens_provider%", "%WITH swapped%"], ids=["every statement", "the write"])
def test_statements_lost_by_the_server_are_answered_and_preparing_stops(flow, caplog, lost):
    refresh_token = rotate(flow, rotate(flow, flow.code_tokens()["refresh_token"]))
    deallocate(lost)
    with caplog.at_level(logging.WARNING, logger="oauth_tokens.provider.statements"):
        refresh_token = rotate(flow, refresh_token)
    assert "stops preparing statements" in caplog.text
    before = held()
    for _ in range(2):
        refresh_token = rotate(flow, refresh_token)
    assert held() == before  # plain queries from now on in this process
    assert RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1
    assert AccessToken.objects.count() == 1 + 2 + 1 + 2  # the code's, two warm-up, the lost one, two more


@pytest.fixture
def client_name_as_text():
    """A migration changing the type of a column the refresh's read returns."""
    table = Client._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "name" TYPE text')
    yield
    connection.close()  # its statements were prepared against the changed table
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "name" TYPE varchar(200)')


def test_a_statement_made_stale_by_a_migration_is_prepared_again(flow, request):
    refresh_token = rotate(flow, rotate(flow, flow.code_tokens()["refresh_token"]))
    request.getfixturevalue("client_name_as_text")
    refresh_token = rotate(flow, refresh_token)  # "cached plan must not change result type", answered
    assert held() == {}  # the stale statements were dropped
    for _ in range(2):
        refresh_token = rotate(flow, refresh_token)
    assert set(held().values()) == {2}  # prepared afresh: a stale statement is not a lost one


@pytest.mark.parametrize("switch", ["setting", "DISABLE_SERVER_SIDE_CURSORS"])
def test_preparing_can_be_turned_off(flow, settings, monkeypatch, switch):
    if switch == "setting":
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PREPARED_STATEMENTS": False}
    else:  # Django's switch for PgBouncer in transaction mode
        monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
        statements.reset()
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        refresh_token = rotate(flow, refresh_token)
    assert held() == {}
