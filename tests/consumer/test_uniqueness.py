"""One stored token per (provider, user) and one client_credentials token per
provider, refused by the database itself on SQLite, PostgreSQL and MariaDB: the
single-flight refresh locks "the" row, so a second row would be refreshed
independently (two refresh requests, and a rotating provider's reuse detection
revoking the user's grant)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from oauth_tokens.consumer.models import ExternalToken
from tests.factories import UserFactory


def refused(**fields) -> bool:
    try:
        with transaction.atomic():
            ExternalToken.objects.create(**fields)
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
def test_a_second_client_credentials_row_for_a_provider_is_refused():
    ExternalToken.objects.create(provider="p", user=None)
    assert refused(provider="p", user=None)
    assert not refused(provider="q", user=None)  # another provider's
    assert ExternalToken.objects.filter(user=None).count() == 2


@pytest.mark.django_db
def test_a_second_row_for_the_same_user_and_provider_is_refused(alice):
    bob = UserFactory(username="bob")
    ExternalToken.objects.create(provider="p", user=alice)
    assert refused(provider="p", user=alice)
    assert not refused(provider="p", user=bob)
    assert not refused(provider="q", user=alice)
    assert not refused(provider="p", user=None)  # the client's own token is no user's
    assert ExternalToken.objects.count() == 4


@pytest.mark.django_db
def test_the_owner_column_is_computed_by_the_database(alice):
    ExternalToken.objects.create(provider="p", user=alice)
    ExternalToken.objects.create(provider="p", user=None)
    assert dict(ExternalToken.objects.values_list("user_id", "owner")) == {alice.pk: str(alice.pk), None: ""}


COLUMNS = ("provider", "user_id", "status", "access_token", "refresh_token", "token_type", "scope", "version",
           "refresh_count", "last_error", "created_at", "updated_at")


def insert_old_row(provider, user_id, status, access_token, minutes_ago):
    """A row as 0001's schema stores it (no ``owner``); its id, or None if refused."""
    at = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(minutes=minutes_ago))
    values = (provider, user_id, status, access_token, "", "Bearer", "", 0, 0, "", at, at)
    table, quote = ExternalToken._meta.db_table, connection.ops.quote_name
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(table)} ({', '.join(map(quote, COLUMNS))})"
                f" VALUES ({', '.join(['%s'] * len(values))})",
                values,
            )
            cursor.execute(f"SELECT MAX({quote('id')}) FROM {quote(table)}")
            return cursor.fetchone()[0]
    except IntegrityError:
        return None


@pytest.mark.django_db(transaction=True)
def test_upgrading_keeps_one_row_per_owner_the_usable_one_written_last(alice):
    """Upgrading from 0001: every row gets its owner, and where 0001 let duplicates
    in (MariaDB, which never created its partial constraints) one row per owner is
    kept, the usable one written last, whatever the ids' order."""
    call_command("migrate", "oauth_tokens_consumer", "0001", verbosity=0)
    try:
        token = "gAAAAAB-ciphertext-the-migration-never-decrypts"
        kept = {
            insert_old_row("p", None, "active", token, minutes_ago=5): "",
            insert_old_row("p", alice.pk, "active", token, minutes_ago=30): str(alice.pk),
            insert_old_row("q", alice.pk, "needs_reauth", "", minutes_ago=2): str(alice.pk),
        }
        duplicates = [
            insert_old_row("p", None, "active", "", minutes_ago=1),  # newer, but created empty, never fetched
            insert_old_row("p", None, "active", token, minutes_ago=9),  # older
            insert_old_row("p", alice.pk, "needs_reauth", "", minutes_ago=2),  # newer, but dead
        ]
    finally:
        call_command("migrate", "oauth_tokens_consumer", verbosity=0)

    if connection.vendor == "mysql":
        assert None not in duplicates  # the situation the migration resolves did exist
    assert dict(ExternalToken.objects.values_list("pk", "owner")) == kept
    assert refused(provider="p", user=None) and refused(provider="p", user=alice)
