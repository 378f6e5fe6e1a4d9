"""The token endpoint's hand-written statements (``provider/precompiled_sql.py``) give what
the ORM gives, on SQLite and (with DATABASE_URL) PostgreSQL, and a token request
runs only the statements it needs."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oauth_tokens import crypto
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.provider import precompiled_sql, stores
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken
from tests.conftest import basic
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

by_client_id = precompiled_sql.SelectOne(Client, "client_id")
refresh_with_user = precompiled_sql.SelectOne(RefreshToken, "digest", related=("user",))


def concrete_values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def refresh_row(client, user, **fields) -> RefreshToken:
    now = timezone.now()
    return RefreshToken.objects.create(
        digest=crypto.digest(crypto.new_token()), family=crypto.time_ordered_uuid(), client=client, user=user,
        scope="read", expires_at=now + timedelta(days=1), **fields,
    )


def test_select_one_builds_what_the_orm_builds():
    client = ClientFactory()
    user = UserFactory()
    row = refresh_row(client, user, used_at=timezone.now())
    got = refresh_with_user(row.digest, using="default")
    expected = RefreshToken.objects.select_related("user").get(pk=row.pk)
    # Every column converted as the ORM converts it (SQLite hands back strings for
    # datetimes and UUIDs), and the related user already loaded.
    assert concrete_values(got) == concrete_values(expected)
    assert isinstance(got.family, uuid.UUID) and got.used_at.tzinfo is not None
    with CaptureQueriesContext(connection) as queries:
        assert got.user == user and got.user.username == user.username
    assert len(queries) == 0
    assert by_client_id(client.client_id, using="default") == client
    assert by_client_id("no such client", using="default") is None


def test_insert_sets_the_key_and_the_row_reads_back_equal():
    client = ClientFactory()
    row = AccessToken(jti=crypto.time_ordered_uuid().hex, client=client, scope="read write", ip_address="2001:db8::1",
                      expires_at=timezone.now() + timedelta(hours=1))
    precompiled_sql.insert(row, using="default")
    assert row.pk is not None and not row._state.adding
    assert concrete_values(AccessToken.objects.get(pk=row.pk)) == concrete_values(row)


def test_update_if_unset_is_a_compare_and_swap():
    row = refresh_row(ClientFactory(), None)
    now = timezone.now()
    def claim() -> int:
        return precompiled_sql.update_if_unset(RefreshToken, row.pk, {"used_at": now}, unset=["used_at"],
                                               using="default")

    assert claim() == 1
    assert claim() == 0
    row.refresh_from_db()
    assert row.used_at == now


def test_swap_and_insert_writes_the_pair_only_when_it_wins():
    client, user = ClientFactory(), UserFactory()
    spent = refresh_row(client, user)
    now = timezone.now()

    def pair():
        successor = RefreshToken(digest=crypto.digest(crypto.new_token()), family=spent.family, parent=spent,
                                 client=client, user=user, scope="read", created_at=now,
                                 expires_at=now + timedelta(days=30))
        access = AccessToken(jti=crypto.time_ordered_uuid().hex, family=spent.family, client=client, user=user,
                             scope="read", ip_address="127.0.0.1", created_at=now,
                             expires_at=now + timedelta(hours=1))
        return successor, access

    successor, access = pair()
    assert precompiled_sql.swap_and_insert(
        spent, {"used_at": now, "successor_response": "sealed"}, unset=["used_at", "revoked_at"],
        successor=successor, access=access, link="refresh_token", using="default",
    )
    spent.refresh_from_db()
    assert spent.used_at == now and spent.successor_response == "sealed"
    assert concrete_values(RefreshToken.objects.get(pk=successor.pk)) == concrete_values(successor)
    saved = AccessToken.objects.get(pk=access.pk)
    assert concrete_values(saved) == concrete_values(access) and saved.refresh_token_id == successor.pk
    # The loser of the swap writes nothing.
    loser, loser_access = pair()
    assert not precompiled_sql.swap_and_insert(
        spent, {"used_at": now, "successor_response": "other"}, unset=["used_at", "revoked_at"],
        successor=loser, access=loser_access, link="refresh_token", using="default",
    )
    assert loser.pk is None and RefreshToken.objects.filter(parent=spent).count() == 1
    assert AccessToken.objects.count() == 1
    spent.refresh_from_db()
    assert spent.successor_response == "sealed"


def test_access_token_ids_are_time_ordered_uuids(flow):
    jtis = []
    for _ in range(3):
        response = flow.token({"grant_type": "client_credentials", "scope": "read"})
        assert response.status_code == 200
        jtis.append(AccessToken.objects.order_by("-pk").values_list("jti", flat=True).first())
    parsed = [uuid.UUID(hex=j) for j in jtis]
    assert all(u.version == 7 for u in parsed)
    assert [u.int >> 80 for u in parsed] == sorted(u.int >> 80 for u in parsed)  # the millisecond prefix
    assert len(set(jtis)) == 3


def statements_of(queries) -> list[str]:
    # The test runs inside a transaction (pytest-django), where the token endpoint
    # wraps its single statements in a savepoint; in autocommit there is none.
    first_words = [q["sql"].split()[0] for q in queries.captured_queries]
    return [word for word in first_words if word not in ("SAVEPOINT", "RELEASE")]


def test_a_refresh_reads_client_and_token_in_one_query_and_writes_in_one_statement(flow):
    refresh_token = flow.code_tokens()["refresh_token"]
    with CaptureQueriesContext(connection) as queries:
        response = flow.refresh(refresh_token)
    assert response.status_code == 200, response.content
    statements_run = statements_of(queries)
    reads = [s for s in statements_run if s == "SELECT"]
    assert len(reads) == 1  # the refresh token joined with its client (and the user's is_active)
    if connection.vendor == "postgresql":
        assert statements_run == ["SELECT", "WITH"]  # no BEGIN/COMMIT round trips
    else:
        assert [s for s in statements_run if s in ("UPDATE", "INSERT")] == ["UPDATE", "INSERT", "INSERT"]


def test_client_credentials_is_one_read_and_one_insert(flow):
    flow.token({"grant_type": "client_credentials"})  # the first one loads (here: creates) the signing key
    with CaptureQueriesContext(connection) as queries:
        response = flow.token({"grant_type": "client_credentials", "scope": "read"})
    assert response.status_code == 200, response.content
    assert statements_of(queries) == ["SELECT", "INSERT"]


def refresh_request(client, value: str) -> TokenRequest:
    return TokenRequest.build(
        content_type="application/x-www-form-urlencoded",
        body=f"grant_type=refresh_token&refresh_token={value}".encode(),
        authorization=basic(client.client_id, client.secret),
    )


def test_a_row_read_ahead_is_handed_out_once():
    """After losing a rotation race the grant looks the token up again: it must see
    the row as it is now, not the copy read ahead."""
    client = ClientFactory()
    value = crypto.new_token()
    row = RefreshToken.objects.create(digest=crypto.digest(value), family=crypto.time_ordered_uuid(),
                                      client=client, scope="read", expires_at=timezone.now() + timedelta(days=1))
    store = stores.OrmTokenStore()
    clients = store.read_ahead(refresh_request(client, value))
    RefreshToken.objects.filter(pk=row.pk).update(used_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        assert clients.get_client(client.client_id) == client
        assert store.find_refresh_token(value).used_at is None  # the read-ahead copy
    assert len(queries) == 0
    assert store.find_refresh_token(value).used_at is not None  # read again


def test_the_store_looks_clients_up_in_the_database_whatever_was_read_ahead():
    """Only the lookup that ``read_ahead`` returned holds the client it read: the
    store's own ``get_client`` keeps no state between calls."""
    client = ClientFactory()
    value = crypto.new_token()
    RefreshToken.objects.create(digest=crypto.digest(value), family=crypto.time_ordered_uuid(), client=client,
                                scope="read", expires_at=timezone.now() + timedelta(days=1))
    store = stores.OrmTokenStore()
    store.read_ahead(refresh_request(client, value))
    Client.objects.filter(pk=client.pk).update(is_active=False)
    with CaptureQueriesContext(connection) as queries:
        assert store.get_client(client.client_id).is_active is False
    assert len(queries) == 1
    assert store.read_ahead(refresh_request(ClientFactory(), value)) is store  # another client's token


def test_a_token_of_another_client_is_not_preloaded_for_this_one(flow):
    refresh_token = flow.code_tokens()["refresh_token"]
    other = ClientFactory(grant_types="refresh_token")
    response = flow.token({"grant_type": "refresh_token", "refresh_token": refresh_token},
                          auth=basic(other.client_id, other.secret))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert RefreshToken.objects.get(digest=crypto.digest(refresh_token)).used_at is None
