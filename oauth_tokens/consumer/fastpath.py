"""The fast path of ``get_access_token``: one small SQL query, no ORM query
building, and no decryption while the row has not changed.

The query reads the row's id, ``version`` and expiry columns. Every write of
the tokens bumps ``version``, so a process keeps the decrypted access token of
the (id, version) it last read and reuses it while the row still has that
version; after a sibling's refresh the versions differ and the new ciphertext
(read by the same query) is decrypted once. Only fresh tokens are returned
here; anything else goes to the single-flight slow path. The memo holds the
grant's DPoP key and token type too (``fresh_credentials``, for ``http_client``),
from the same row version as the token.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Field
from django.utils.dateparse import parse_datetime

from oauth_tokens import process_caches
from oauth_tokens.consumer import models
from oauth_tokens.consumer.fields import decrypt
from oauth_tokens.consumer.models import Credentials, ExternalToken

#: (alias, provider, user id) -> (row id, version, credentials, expiry, obtained_at)
_memo: dict[tuple[str, str, Any], tuple[int, int, Credentials, datetime | None, datetime | None]] = {}
_MEMO_LIMIT = 10_000
_sql: dict[tuple[str, bool], str] = {}
_lock = threading.Lock()


def _column(name: str) -> str:
    """The database column of ExternalToken's concrete field ``name``."""
    field = ExternalToken._meta.get_field(name)
    if not isinstance(field, Field):  # a reverse relation or a generic foreign key
        raise TypeError(f"ExternalToken.{name} has no column")
    return field.column


def _query(alias: str, null_user: bool) -> str:
    key = (alias, null_user)
    sql = _sql.get(key)
    if sql is None:
        quote = connections[alias].ops.quote_name
        meta = ExternalToken._meta
        columns = ", ".join(quote(_column(name)) for name in (
            "id", "version", "status", "access_token", "expires_at", "obtained_at", "token_type", "dpop_key"))
        # Whether the row holds a refresh token (an empty one is stored as ""), without decrypting it.
        columns += f", CASE WHEN {quote(_column('refresh_token'))} = '' THEN 0 ELSE 1 END"
        user = quote(_column("user"))
        provider = quote(_column("provider"))
        condition = f"{user} IS NULL" if null_user else f"{user} = %s"
        # Only quoted identifiers from the model's metadata are interpolated; values are parameters.
        sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {provider} = %s AND {condition}"  # noqa: S608
        _sql[key] = sql
    return sql


def _aware(value: Any) -> datetime | None:
    """A DateTimeField value as the database driver returned it, made aware (USE_TZ)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None and settings.USE_TZ:
        value = value.replace(tzinfo=UTC)
    return value


def fresh_token(alias: str, provider: str, user_id: Any, leeway: float, assumed: float = 0.0) -> str | None:
    """The stored access token when it is fresh, else None (one query). A renewable
    token stored without an expiry is taken to expire ``assumed`` seconds after it
    was obtained (``ExternalToken.expiry``)."""
    found = fresh_credentials(alias, provider, user_id, leeway, assumed)
    return None if found is None else found.access_token


def fresh_credentials(alias: str, provider: str, user_id: Any, leeway: float,
                      assumed: float = 0.0) -> Credentials | None:
    """``fresh_token`` with its token type and the grant's DPoP key."""
    params = [provider] if user_id is None else [provider, user_id]
    with connections[alias].cursor() as cursor:
        cursor.execute(_query(alias, user_id is None), params)
        row = cursor.fetchone()
    if row is None or row[2] != ExternalToken.ACTIVE or not row[3]:
        return None
    key = (alias, provider, user_id)
    memo = _memo.get(key)
    if memo is None or memo[0] != row[0] or memo[1] != row[1]:
        obtained_at = _aware(row[5])
        renewable = user_id is None or bool(row[8])
        found = Credentials(decrypt(row[3]), row[6], decrypt(row[7]) if row[7] else "")
        memo = (row[0], row[1], found, models.expiry(_aware(row[4]), obtained_at,
                                                     assumed if renewable else 0.0), obtained_at)
        with _lock:
            if len(_memo) >= _MEMO_LIMIT:
                _memo.clear()
            _memo[key] = memo
    if not models.is_fresh(memo[3], memo[4], leeway):
        return None
    return memo[2]


@process_caches.resets_on("OAUTH_TOKENS", "DATABASES", "SECRET_KEY")
def reset() -> None:
    with _lock:
        _memo.clear()
        _sql.clear()
