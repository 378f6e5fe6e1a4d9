"""The revoked-token index lives outside the model state (migration 0004), so no
migration re-creates it if a table rebuild drops it: this notices. Resource
servers read the revoked, unexpired ids through it after every revocation."""

import pytest
from django.db import connection

from oauth_tokens.provider.models import AccessToken

pytestmark = pytest.mark.django_db


def index_definition(name: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        else:
            cursor.execute(
                "SELECT GROUP_CONCAT(column_name) FROM information_schema.statistics"
                " WHERE table_schema = DATABASE() AND table_name = %s AND index_name = %s",
                [AccessToken._meta.db_table, name],
            )
        row = cursor.fetchone()
    return (row and row[0]) or ""


def test_the_revoked_token_index_exists_and_is_partial_where_the_database_allows():
    definition = index_definition("oauth_at_revoked_idx")
    assert "revoked_at" in definition
    if connection.vendor in ("postgresql", "sqlite"):
        assert "WHERE" in definition and "IS NOT NULL" in definition, definition
