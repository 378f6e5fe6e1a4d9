"""Fill the token tables fast: ours, django-oauth-toolkit's and simplejwt's.

Rows go in with one ``executemany`` per batch on SQLite and ``COPY`` on
PostgreSQL, so a million issued tokens take seconds, not an hour of ORM
saves. Every seeded token is live (unexpired) and 1 % of ours are revoked, as
in a real table. Column values that do not vary are prepared once with the
field's own ``get_db_prep_save``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone

BATCH = 50_000
USERS = 1_000
REVOKED_EVERY = 100
SQLITE_SEED_CACHE_KIB = 1_000_000  # 1 % of our seeded tokens are revoked


def random_hex(count: int, nbytes: int) -> Callable[[int], str]:
    """``count`` random hex strings of ``nbytes`` bytes each, by index (one urandom call)."""
    blob = os.urandom(count * nbytes).hex()
    width = nbytes * 2
    return lambda i: blob[i * width:(i + 1) * width]


def _fixed_values(model: type[models.Model], varying: list[str], fixed: dict[str, Any]) -> dict[str, Any]:
    """Every other concrete column: given, or the field's default / NULL / now."""
    now = timezone.now()
    values: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in varying:
            continue
        if f.attname in fixed:
            value = fixed[f.attname]
        elif f.name in fixed:
            value = fixed[f.name]
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        elif f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        elif f.empty_strings_allowed and f.blank:
            value = ""
        else:
            raise ValueError(f"{model.__name__}.{f.name} needs a value")
        values[f.column] = f.get_db_prep_save(value, connection)
    return values


def _droppable_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that back no constraint."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", [table, table],
        )
    else:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                       "AND sql IS NOT NULL", [table])
    return list(cursor.fetchall())


def _foreign_keys(cursor, table: str) -> list[tuple[str, str]]:
    """PostgreSQL: (name, definition) of the table's foreign keys, re-added (one validating join) after the load."""
    if connection.vendor != "postgresql":
        return []  # SQLite's deferred checks are cheap
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = %s::regclass AND contype = 'f'", [table])
    return list(cursor.fetchall())


def bulk_insert(model: type[models.Model], rows: Iterable[tuple], varying: list[str], fixed: dict[str, Any]) -> None:
    """Insert ``rows`` (values for the ``varying`` attnames, already DB-ready) plus the fixed columns.

    Rows go in sorted by their first value (the unique key); the other indexes
    (and on PostgreSQL the foreign keys) are dropped during the load and
    rebuilt after it (a sort, not a million random B-tree inserts and trigger
    checks): the standard way to bulk load.
    """
    constants = _fixed_values(model, varying, fixed)
    by_attname = {f.attname: f.column for f in model._meta.concrete_fields}
    columns = [by_attname[a] for a in varying]
    columns += list(constants)
    tail = tuple(constants.values())
    table = model._meta.db_table
    quoted = connection.ops.quote_name(table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    rows = sorted(rows)
    with transaction.atomic(), connection.cursor() as cursor:
        indexes, foreign_keys = _droppable_indexes(cursor, table), _foreign_keys(cursor, table)
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        for name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {quoted} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + tail)
        else:
            sql = f"INSERT INTO {quoted} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
            for start in range(0, len(rows), BATCH):
                cursor.executemany(sql, [row + tail for row in rows[start:start + BATCH]])
    # Rebuilt after the commit: PostgreSQL refuses while deferred foreign-key checks are pending.
    with transaction.atomic(), connection.cursor() as cursor:
        for _name, create in indexes:
            cursor.execute(create)
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")


def seed_users(count: int = USERS) -> list[int]:
    User = get_user_model()
    User.objects.bulk_create(
        [User(username=f"bench{i}", password="!") for i in range(count)], batch_size=1000
    )
    return list(User.objects.filter(username__startswith="bench").order_by("pk").values_list("pk", flat=True))


def seed_ours(client, user_ids: list[int], count: int) -> None:
    from oauth_tokens.provider.models import AccessToken, RefreshToken

    now = timezone.now()
    revoked = connection.ops.adapt_datetimefield_value(now)
    n_users = len(user_ids)
    jti = random_hex(count, 16)
    bulk_insert(
        AccessToken,
        ((jti(i), user_ids[i % n_users], revoked if i % REVOKED_EVERY == 1 else None) for i in range(count)),
        ["jti", "user_id", "revoked_at"],
        {"client_id": client.pk, "scope": "read write", "created_at": now, "expires_at": now + timedelta(hours=1)},
    )
    digest, family = random_hex(count, 32), random_hex(count, 16)
    bulk_insert(
        RefreshToken,
        ((digest(i), family(i), user_ids[i % n_users], revoked if i % REVOKED_EVERY == 1 else None)
         for i in range(count)),
        ["digest", "family", "user_id", "revoked_at"],
        {"client_id": client.pk, "scope": "read write", "created_at": now, "expires_at": now + timedelta(days=30)},
    )


def seed_dot(application, user_ids: list[int], count: int) -> None:
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    now = timezone.now()
    n_users = len(user_ids)
    for model, lifetime in ((get_access_token_model(), timedelta(hours=1)),
                            (get_refresh_token_model(), timedelta(days=30))):
        token = random_hex(count, 20)

        def rows(token=token):
            for i in range(count):
                value = token(i)
                yield hashlib.sha256(value.encode()).hexdigest(), value, user_ids[i % n_users]

        fixed = {"application_id": application.pk, "created": now, "updated": now}
        if model is get_access_token_model():
            fixed.update({"expires": now + lifetime, "scope": "read write"})
        bulk_insert(model, rows(), ["token_checksum", "token", "user_id"], fixed)


def seed_simplejwt(user_ids: list[int], count: int) -> None:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    now = timezone.now()
    n_users = len(user_ids)
    jti = random_hex(count, 16)
    # The token text is a placeholder: JWTAuthentication never reads this table.
    bulk_insert(
        OutstandingToken,
        ((jti(i), jti(i), user_ids[i % n_users]) for i in range(count)),
        ["jti", "token", "user_id"],
        {"created_at": now, "expires_at": now + timedelta(days=1)},
    )


def seed_all(client, application, user_ids: list[int], count: int, log: Callable[[str], None]) -> None:
    for name, fn in (("ours", lambda: seed_ours(client, user_ids, count)),
                     ("django-oauth-toolkit", lambda: seed_dot(application, user_ids, count)),
                     ("simplejwt", lambda: seed_simplejwt(user_ids, count))):
        start = time.perf_counter()
        fn()
        log(f"  seeded {count:,} issued tokens for {name} in {time.perf_counter() - start:.1f} s")
