"""Migration 0005 gives existing refresh tokens their family's start (the oldest
created_at of the family) and caps their expiry at that start plus the family
lifetime, on the database under test (SQLite, PostgreSQL, MariaDB)."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

APP = "oauth_tokens_provider"
BEFORE, AFTER = (APP, "0004_revoked_index_outside_state"), (APP, "0005_refresh_family_lifetime_grace_replays")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_backfill_sets_the_family_start_and_caps_the_expiry(django_user_model):
    try:
        apps = migrate(BEFORE)
        Client = apps.get_model(APP, "Client")
        RefreshToken = apps.get_model(APP, "RefreshToken")
        client = Client.objects.create(name="old", client_id="old-client")
        now = timezone.now().replace(microsecond=0)
        old, recent = uuid.uuid4(), uuid.uuid4()

        def token(family, age_days, *, used=True):
            created = now - timedelta(days=age_days)
            return RefreshToken.objects.create(
                digest=uuid.uuid4().hex, family=family, client=client, scope="read", created_at=created,
                expires_at=created + timedelta(days=30), used_at=created + timedelta(days=29) if used else None,
            )

        # A family rotated monthly since 100 days ago, and one that began 10 days ago.
        chain = [token(old, 100), token(old, 71), token(old, 42), token(old, 13, used=False)]
        young = [token(recent, 10, used=False)]
        apps = migrate(AFTER)
        RefreshToken = apps.get_model(APP, "RefreshToken")
        for row in RefreshToken.objects.filter(family=old):
            assert row.family_started_at == now - timedelta(days=100)
            # 90 days (the default family lifetime) after the start: already over.
            assert row.expires_at <= now - timedelta(days=10)
            assert row.grace_replays == 0
        live = RefreshToken.objects.get(pk=chain[-1].pk)
        assert live.expires_at == now - timedelta(days=10)
        assert RefreshToken.objects.get(pk=young[0].pk).family_started_at == now - timedelta(days=10)
        assert RefreshToken.objects.get(pk=young[0].pk).expires_at == now + timedelta(days=20)  # not capped
        client = apps.get_model(APP, "Client").objects.get(pk=client.pk)
        assert client.refresh_family_lifetime is None and client.refresh_grace_period is None
    finally:
        migrate(AFTER)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
