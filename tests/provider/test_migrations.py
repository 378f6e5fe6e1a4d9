"""The provider's migrations apply and unapply cleanly on the database under test,
and the models match them (no migration missing)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def unique_indexes(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name: info["columns"] for name, info in constraints.items() if info["unique"] and not info["primary_key"]}


def test_no_model_change_lacks_a_migration():
    out = StringIO()
    call_command("makemigrations", "oauth_tokens_provider", "oauth_tokens_consumer", check=True, dry_run=True,
                 stdout=out)


def test_0003_unapplies_and_applies_again():
    """Going back to 0002 restores unique indexes on jti and digest, under Django's
    original names on PostgreSQL (renamed in place, no index rebuilt); forward
    again they are the named constraints the models declare."""
    table = "oauth_tokens_provider_accesstoken"
    try:
        call_command("migrate", "oauth_tokens_provider", "0002", verbosity=0)
        back = unique_indexes(table)
        assert ["jti"] in back.values()
        if connection.vendor == "postgresql":
            assert "oauth_tokens_provider_accesstoken_jti_212c264f_uniq" in back
    finally:
        call_command("migrate", verbosity=0)
    forward = unique_indexes(table)
    assert forward.get("oauth_at_jti_unique") == ["jti"]
    assert list(forward.values()).count(["jti"]) == 1
