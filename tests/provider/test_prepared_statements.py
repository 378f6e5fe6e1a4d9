"""PostgreSQL (psycopg 3): the token endpoint's statements are prepared on their
second use on a connection and reused from then on, in autocommit only; a token
request still gets its answer when the session's statements went missing,
stale or foreign (a pool's DISCARD ALL, a migration, a shared session), and
nothing is prepared through a connection pooler.

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


def warm(flow) -> str:
    """A refresh token, after two rotations: this session holds the rotation's statements."""
    refresh_token = rotate(flow, rotate(flow, flow.code_tokens()["refresh_token"]))
    assert len(held()) == 2
    return refresh_token


def test_a_statement_is_prepared_on_its_second_use_and_reused(flow):
    refresh_token = rotate(flow, flow.code_tokens()["refresh_token"])
    assert held() == {}  # first use on this connection: sent as a plain query
    refresh_token = rotate(flow, refresh_token)
    assert held() == {"SELECT \"oauth_tokens_provider_refreshtoken\".\"id\",": 1, "WITH swapped": 1}
    for _ in range(3):
        refresh_token = rotate(flow, refresh_token)
    # Executed by name three more times: the server neither parsed nor prepared them again.
    assert held() == {"SELECT \"oauth_tokens_provider_refreshtoken\".\"id\",": 4, "WITH swapped": 4}


def test_client_credentials_statements_are_prepared_too(flow):
    for _ in range(3):
        response = flow.token({"grant_type": "client_credentials", "scope": "read"})
        assert response.status_code == 200, response.content
    assert held() == {"SELECT \"oauth_tokens_provider_client\".\"id\",": 2, "INSERT INTO": 2}


def test_prepared_statements_go_through_execute_wrappers_like_any_query(flow):
    refresh_token = warm(flow)
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


def behind_psycopgs_back(*statements_sql: str) -> None:
    """Change the session's prepared statements without psycopg knowing, as a
    pooler's other session or a pool's DISCARD ALL would."""
    with connection.connection.cursor() as cursor:
        for sql in statements_sql:
            cursor.execute(sql)


def name_of(like: str) -> str:
    with connection.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement LIKE %s", [like])
        return cursor.fetchone()[0]


def answered_and_preparing_stops(flow, caplog, refresh_token: str, sqlstate: str) -> None:
    with caplog.at_level(logging.WARNING, logger="oauth_tokens.provider.statements"):
        refresh_token = rotate(flow, refresh_token)  # answered all the same
    assert f"a prepared statement failed ({sqlstate}" in caplog.text and "stops preparing" in caplog.text
    before = held()
    for _ in range(2):
        refresh_token = rotate(flow, refresh_token)
    assert held() == before  # plain queries from now on in this process
    assert RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1


def test_a_statement_the_server_lost_is_answered_and_preparing_stops(flow, caplog):
    refresh_token = warm(flow)
    behind_psycopgs_back(f'DEALLOCATE "{name_of("%WITH swapped%")}"')
    answered_and_preparing_stops(flow, caplog, refresh_token, "26000")
    assert AccessToken.objects.count() == 1 + 2 + 1 + 2  # the code's, two warm-up, the answered one, two more


def test_a_name_already_taken_in_the_session_is_answered_and_preparing_stops(flow, caplog):
    refresh_token = rotate(flow, flow.code_tokens()["refresh_token"])  # each statement ran once: not prepared
    behind_psycopgs_back("PREPARE _pg3_0 AS SELECT 1")
    answered_and_preparing_stops(flow, caplog, refresh_token, "42P05")


def test_a_name_meaning_another_statement_is_answered_and_preparing_stops(flow, caplog):
    refresh_token = warm(flow)
    read = name_of('SELECT "oauth_tokens_provider_refreshtoken"%')
    behind_psycopgs_back(f'DEALLOCATE "{read}"', f'PREPARE "{read}" AS SELECT $1::int, $2::int')
    answered_and_preparing_stops(flow, caplog, refresh_token, "08P01")


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


def test_a_statement_made_stale_by_a_migration_is_answered(flow, request, caplog):
    refresh_token = warm(flow)
    request.getfixturevalue("client_name_as_text")
    # "cached plan must not change result type": answered, and no more preparing
    # in this process (its connections renewed after the deploy will prepare again).
    answered_and_preparing_stops(flow, caplog, refresh_token, "0A000")


@pytest.mark.parametrize("switch", ["setting", "DISABLE_SERVER_SIDE_CURSORS", "prepare_threshold"])
def test_preparing_can_be_turned_off(flow, settings, monkeypatch, switch):
    if switch == "setting":
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PREPARED_STATEMENTS": False}
    elif switch == "DISABLE_SERVER_SIDE_CURSORS":  # Django's switch for PgBouncer in transaction mode
        monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
        statements.reset()
    else:  # psycopg's own preparing, configured by the project, prepares every query
        monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"prepare_threshold": 5})
        statements.reset()
    refresh_token = flow.code_tokens()["refresh_token"]
    for _ in range(3):
        refresh_token = rotate(flow, refresh_token)
    assert held() == {}


@pytest.fixture
def through_a_pooler():
    """A second connection to the test database through PgBouncer in transaction
    mode, when one listens on 127.0.0.1:6432 (not on CI: skipped there)."""
    import psycopg
    from django.db import connections

    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": 6432}
    try:
        psycopg.connect(host="127.0.0.1", port=6432, user=settings_dict["USER"], dbname=settings_dict["NAME"],
                        connect_timeout=1).close()
    except psycopg.OperationalError:
        pytest.skip("no PgBouncer on 127.0.0.1:6432")
    pooled = connections.create_connection("default")
    pooled.settings_dict = settings_dict
    yield pooled
    pooled.close()
    with connection.cursor() as cursor:  # the pooler's server sessions, or the test database cannot be dropped
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def test_nothing_is_prepared_through_a_connection_pooler(through_a_pooler, caplog):
    """PgBouncer hands out a process id of its own: no statement is prepared on a
    session the next transaction may not get."""
    sql, _params = Client.objects.filter(client_id="x").values_list("pk").query.sql_with_params()
    with caplog.at_level(logging.INFO, logger="oauth_tokens.provider.statements"):
        for _ in range(3):
            with statements._run(through_a_pooler, sql.replace('"x"', "%s"), ["nobody"]) as cursor:
                assert cursor.fetchall() == []
    assert "reached through a connection pooler" in caplog.text
    assert through_a_pooler.connection.prepare_threshold is None
