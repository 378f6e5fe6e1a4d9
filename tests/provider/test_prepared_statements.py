"""PostgreSQL: the token endpoint's statements are PREPAREd once per connection
and then EXECUTEd, and a token request still gets its answer when the server
lost the statements (a pooler, DISCARD ALL) or a migration made them stale."""

import logging

import pytest
from django.db import connection

from oauth_tokens.provider import statements
from oauth_tokens.provider.models import RefreshToken
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
    statements._prepared.clear()
    statements.reset()  # forget an alias marked as losing its statements


def first_words(queries) -> list[str]:
    return [q["sql"].split()[0] for q in queries.captured_queries]


def rotate(flow, refresh_token):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = flow.refresh(refresh_token)
    return response, queries


def test_each_statement_is_prepared_once_per_connection(flow):
    tokens = flow.code_tokens()
    first, _ = rotate(flow, tokens["refresh_token"])
    assert first.status_code == 200, first.content
    second, queries = rotate(flow, first.json()["refresh_token"])
    assert second.status_code == 200, second.content
    # The second refresh sends only EXECUTEs: no SQL text for the server to parse and plan.
    assert first_words(queries) == ["EXECUTE", "EXECUTE"]
    assert statements_of(queries) == ["SELECT", "WITH"]
    held = prepared_statements()
    assert sum(name.startswith("oauth_tokens_") for name in held) >= 2


def test_statements_lost_by_the_server_are_answered_and_preparing_stops(flow, caplog):
    tokens = flow.code_tokens()
    first, _ = rotate(flow, tokens["refresh_token"])
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pool's reset or another server connection looks like
    with caplog.at_level(logging.WARNING, logger="oauth_tokens.provider.statements"):
        second, _ = rotate(flow, first.json()["refresh_token"])
    assert second.status_code == 200, second.content
    assert "stops preparing statements" in caplog.text
    third, queries = rotate(flow, second.json()["refresh_token"])
    assert third.status_code == 200, third.content
    assert first_words(queries) == ["SELECT", "WITH"]  # plain SQL from now on in this process
    assert RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1


def test_statements_lost_inside_atomic_requests_answer_503_then_the_retry_works(flow, monkeypatch):
    tokens = flow.code_tokens()
    first, _ = rotate(flow, tokens["refresh_token"])
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    lost, _ = rotate(flow, first.json()["refresh_token"])
    assert lost.status_code == 503, lost.content
    assert lost.json()["error"] == "temporarily_unavailable" and lost["Cache-Control"] == "no-store"
    live = RefreshToken.objects.get(used_at__isnull=True)
    assert live.successor_response == "" and live.revoked_at is None  # nothing was spent: the retry gets fresh tokens
    retry, _ = rotate(flow, first.json()["refresh_token"])
    assert retry.status_code == 200, retry.content


@pytest.fixture
def client_name_as_text():
    """A migration changing the type of a column the refresh's read returns."""
    table = "oauth_tokens_provider_client"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "name" TYPE text')
    yield
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE {table} ALTER COLUMN "name" TYPE varchar(200)')


@pytest.mark.parametrize("atomic_requests", [False, True])
def test_a_statement_made_stale_by_a_migration_is_prepared_again(flow, monkeypatch, request, atomic_requests):
    tokens = flow.code_tokens()
    first, _ = rotate(flow, tokens["refresh_token"])  # prepared, with name as varchar(200)
    request.getfixturevalue("client_name_as_text")
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", atomic_requests)
    refresh_token = first.json()["refresh_token"]
    response, _ = rotate(flow, refresh_token)
    if atomic_requests:  # the aborted transaction answers 503; the retry prepares afresh
        assert response.status_code == 503, response.content
        response, _ = rotate(flow, refresh_token)
    assert response.status_code == 200, response.content
    again, queries = rotate(flow, response.json()["refresh_token"])
    assert again.status_code == 200, again.content
    assert "EXECUTE" in first_words(queries)  # still prepared: a stale statement is not a lost one


def test_a_statement_the_session_already_holds_is_prepared_afresh(flow):
    """A pooled server session can hold our statement though this connection never
    prepared it (and it may be stale): it is replaced, not an error."""
    tokens = flow.code_tokens()
    first, _ = rotate(flow, tokens["refresh_token"])
    statements._prepared.clear()
    second, queries = rotate(flow, first.json()["refresh_token"])
    assert second.status_code == 200, second.content
    assert "DEALLOCATE" in first_words(queries)


@pytest.mark.parametrize("switch", ["setting", "DISABLE_SERVER_SIDE_CURSORS", "server_side_binding"])
def test_preparing_can_be_turned_off(flow, settings, monkeypatch, switch):
    if switch == "setting":
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "PREPARED_STATEMENTS": False}
    elif switch == "DISABLE_SERVER_SIDE_CURSORS":  # Django's switch for PgBouncer in transaction mode
        monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    else:
        monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"server_side_binding": True})
    statements.reset()
    tokens = flow.code_tokens()
    response, queries = rotate(flow, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    assert first_words(queries) == ["SELECT", "WITH"]


@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke"])
def test_other_endpoints_answer_503_not_500_when_a_statement_is_lost_in_a_transaction(flow, monkeypatch, path):
    tokens = flow.code_tokens()  # prepares the client lookup on this connection
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    response = flow.token({"token": tokens["refresh_token"]}, path=path)
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable" and response["Cache-Control"] == "no-store"
    retry = flow.token({"token": tokens["refresh_token"]}, path=path)
    assert retry.status_code == 200, retry.content
