"""Precompiled SQL: the token endpoint's hot statements, written once per model and
database alias from public API only, then only bound to values on each call.

The ORM builds and compiles every query on every call. For the statements of
a token request (find the client, find the refresh token, the rotation's
compare-and-swap, the INSERTs of the new rows) that was a large share of the
request's time (docs/architecture.md has the figure). Here the SQL is written
once per model and database alias from the models' metadata (``Model._meta.get_fields()``, ``Field.column``,
``connection.ops.quote_name``), and each call only binds values, which go
through each field's ``get_db_prep_value`` / ``get_db_prep_save`` on the way
in and ``from_db_value`` / ``to_python`` on the way out; rows become model
instances through ``Model.from_db``. The queries run on ``connection.cursor()``,
so they are counted, wrapped (``execute_wrapper``) and routed like any other.

Nothing here reaches into Django's SQL compiler or backend internals: those
change between Django releases (``get_related_populators`` and
``DatabaseOperations.return_insert_columns`` did in 6.0 / 6.1, and every token
request then failed). ``tests/test_public_api.py`` keeps it that way.

Longer than our usual 300 lines, on purpose: the reads and the writes share
the per-alias SQL cache and the column conversions, and the whole of the
hand-written SQL is easier to audit in one file than in three.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC
from typing import Any, Generic, TypeVar, cast

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import Field, Model
from django.utils import timezone

from oauth_tokens import process_caches

M = TypeVar("M", bound=Model)

_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Any] = {}


def _cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    value = _cache.get(key)
    if value is None:
        value = build()
        with _lock:
            _cache[key] = value
    return value


def columns(model: type[Model]) -> list[Field[Any, Any]]:
    """The fields stored in ``model``'s own table, in declaration order (parents'
    fields of multi-table inheritance live in their own tables and stay deferred)."""
    return [
        f for f in model._meta.get_fields(include_parents=False)
        if isinstance(f, Field) and f.concrete and not f.many_to_many and f.column
    ]


def field(model: type[Model], name: str) -> Field[Any, Any]:
    """``model``'s field ``name``, one with a column (not a reverse relation)."""
    found = model._meta.get_field(name)
    if not isinstance(found, Field) or not found.column:
        raise TypeError(f"{model.__name__}.{name} has no column")
    return found


def related_model(model: type[Model], name: str) -> type[Model]:
    """The model that ``model``'s foreign key ``name`` points at."""
    return cast(type[Model], field(model, name).related_model)


def _converter(column: Field, connection: Any) -> Callable[[Any], Any]:
    """Database value -> Python value, as the ORM gives it: the field's own
    ``from_db_value`` (JSONField, custom fields), then ``to_python`` (a UUID stored
    as text, a MySQL boolean stored as 0/1), and with ``USE_TZ`` an aware datetime
    (SQLite and MySQL hand back naive UTC datetimes)."""
    from_db = getattr(column, "from_db_value", None)
    aware = settings.USE_TZ and isinstance(column, models.DateTimeField)

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if from_db is not None:
            value = from_db(value, None, connection)
        value = column.to_python(value)
        if aware and timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value

    return convert


class _Loaded:
    """One model's columns in a SELECT: where they are in the row, how to convert them."""

    __slots__ = ("model", "names", "convert", "start", "end", "link", "pk")

    def __init__(self, model: type[Model], connection: Any, start: int, link: str | None) -> None:
        fields = columns(model)
        self.model = model
        self.names = [f.attname for f in fields]
        self.convert = [_converter(f, connection) for f in fields]
        self.start, self.end = start, start + len(fields)
        self.link = link  # the foreign key of the main row this model's row hangs from
        self.pk = self.names.index(model._meta.pk.attname)

    def build(self, row: Sequence[Any], using: str) -> Model | None:
        values = [convert(value) for convert, value in zip(self.convert, row[self.start:self.end], strict=True)]
        if values[self.pk] is None:  # an outer join that found nothing
            return None
        return self.model.from_db(using, self.names, values)


class SelectOne(Generic[M]):
    """``SELECT`` the single row of ``model`` whose ``field`` equals a value, with
    the rows its foreign keys ``related`` point at loaded in the same query (as
    ``select_related``), and, with ``user_is_active``, the ``is_active`` of the
    row's user as a scalar subquery (``row.user_is_active``; cheaper to plan and
    to load than a join and a user instance). None when there is no such row.
    The SQL is written once per database alias."""

    def __init__(self, model: type[M], lookup: str, *, related: Iterable[str] = (),
                 user_is_active: bool = False) -> None:
        self.model, self.lookup, self.related = model, lookup, tuple(related)
        self.user_is_active = user_is_active

    def _build(self, using: str) -> tuple[str, Field[Any, Any], list[_Loaded], bool]:
        connection = connections[using]
        quote = connection.ops.quote_name
        meta = self.model._meta
        main = quote("T")
        loaded = [_Loaded(self.model, connection, 0, None)]
        selected = [f"{main}.{quote(f.column)}" for f in columns(self.model)]
        joins = []
        for number, name in enumerate(self.related, 1):
            foreign_key, target = field(self.model, name), related_model(self.model, name)
            alias = quote(f"R{number}")
            loaded.append(_Loaded(target, connection, len(selected), name))
            selected += [f"{alias}.{quote(f.column)}" for f in columns(target)]
            kind = "LEFT OUTER JOIN" if foreign_key.null else "INNER JOIN"
            joins.append(f"{kind} {quote(target._meta.db_table)} {alias} "
                         f"ON {alias}.{quote(target._meta.pk.column)} = {main}.{quote(foreign_key.column)}")
        active = False
        if self.user_is_active:
            user_model = related_model(self.model, "user")
            if any(f.name == "is_active" for f in columns(user_model)):
                active, user = True, quote("U")
                user_id = f"{main}.{quote(field(self.model, 'user').column)}"
                selected.append(
                    f"(SELECT {user}.{quote(field(user_model, 'is_active').column)} "  # noqa: S608
                    f"FROM {quote(user_model._meta.db_table)} {user} "
                    f"WHERE {user}.{quote(user_model._meta.pk.column)} = {user_id})"
                )
        lookup = field(self.model, self.lookup)
        # Only quoted identifiers from the models' metadata are interpolated; the value is a parameter.
        sql = (f"SELECT {', '.join(selected)} FROM {quote(meta.db_table)} {main} {' '.join(joins)} "  # noqa: S608
               f"WHERE {main}.{quote(lookup.column)} = %s")
        return sql, lookup, loaded, active

    def __call__(self, value: Any, *, using: str) -> M | None:
        sql, lookup, loaded, active = _cached(("select", id(self), using), lambda: self._build(using))
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, [lookup.get_db_prep_value(value, connection)])
            rows = cursor.fetchmany(2)
        if len(rows) != 1:
            return None
        row = rows[0]
        obj = cast(M, loaded[0].build(row, using))
        for part in loaded[1:]:
            setattr(obj, part.link, part.build(row, using))  # the descriptor caches it, as select_related does
        if active:
            setattr(obj, "user_is_active", None if row[-1] is None else bool(row[-1]))  # noqa: B010 (not a field)
        return obj


def _insert_sql(model: type[Model], using: str) -> tuple[str, list[Field], bool]:
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [f for f in columns(model) if not f.primary_key]
    names = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Only quoted identifiers from the model's metadata are interpolated; values are parameters.
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({placeholders})"  # noqa: S608
    # PostgreSQL tells the new key with RETURNING; SQLite and MySQL through the
    # DB-API's cursor.lastrowid (PEP 249), for one row at a time.
    returning = connection.vendor == "postgresql"
    if returning:
        sql = f"{sql} RETURNING {quote(meta.pk.column)}"
    return sql, fields, returning


def insert(obj: M, *, using: str) -> M:
    """INSERT ``obj`` (a new instance with an auto-incremented key) as ``save()``
    would, and set its primary key.

    No ``pre_save``/``post_save`` signals: this is for rows nobody else watches.
    """
    model = type(obj)
    sql, fields, returning = _cached(("insert", model, using), lambda: _insert_sql(model, using))
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    return _saved(obj, pk, using)


def _saved(obj: M, pk: Any, using: str) -> M:
    """``obj`` as ``save()`` leaves a new instance: its key set, no longer adding
    (``_state`` as documented with ``Model.from_db``)."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = using
    return obj


def insert_linked(row: Model, *, link: str, linked: Model | None, using: str) -> None:
    """INSERT ``linked`` (if any), point ``row``'s ``link`` field at it, INSERT ``row``."""
    if linked is not None:
        insert(linked, using=using)
        setattr(row, link, linked)
    insert(row, using=using)


def _update_sql(model: type[Model], using: str, assign: tuple[str, ...],
                unset: tuple[str, ...]) -> tuple[str, list[Field]]:
    quote = connections[using].ops.quote_name
    meta = model._meta
    fields = [field(model, name) for name in assign]
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    conditions = "".join(f" AND {quote(field(model, name).column)} IS NULL" for name in unset)
    # Only quoted identifiers from the model's metadata are interpolated; values are parameters.
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s{conditions}"  # noqa: S608
    return sql, fields


def update_if_unset(model: type[Model], pk: Any, values: dict[str, Any], *, unset: Iterable[str],
                    using: str) -> int:
    """``UPDATE model SET values WHERE pk = pk AND <each of unset> IS NULL``: a
    compare-and-swap; returns the number of rows changed (0 or 1)."""
    assign, unset = tuple(values), tuple(unset)
    sql, fields = _cached(("update", model, using, assign, unset), lambda: _update_sql(model, using, assign, unset))
    connection = connections[using]
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]
    params.append(model._meta.pk.get_db_prep_value(pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _cast(column: Field, connection: Any) -> str:
    """The column's type without a length, for a typed placeholder: in a SELECT
    list an untyped parameter would be text, and a cast with a length would
    truncate where the INSERT must refuse."""
    return re.sub(r"\(.*\)", "", column.db_type(connection) or "text").strip()


def _rotation_sql(token_model: type[Model], access_model: type[Model], using: str, assign: tuple[str, ...],
                  unset: tuple[str, ...], link: str) -> tuple[str, list[Field], list[Field], list[Field]]:
    connection = connections[using]
    quote = connection.ops.quote_name
    update, update_fields = _update_sql(token_model, using, assign, unset)
    token_fields = [f for f in columns(token_model) if not f.primary_key]
    access_fields = [f for f in columns(access_model) if not f.primary_key and f.name != link]
    link_column = field(access_model, link).column
    token_pk = quote(token_model._meta.pk.column)

    def typed(fields: list[Field]) -> str:
        return ", ".join(f"%s::{_cast(f, connection)}" for f in fields)

    def names(fields: list[Field]) -> str:
        return ", ".join(quote(f.column) for f in fields)

    # Only quoted identifiers and type names from the models' metadata are
    # interpolated; values are parameters.
    sql = (
        f"WITH swapped AS ({update} RETURNING {token_pk}), "  # noqa: S608
        f"successor AS (INSERT INTO {quote(token_model._meta.db_table)} ({names(token_fields)}) "
        f"SELECT {typed(token_fields)} FROM swapped RETURNING {token_pk}) "
        f"INSERT INTO {quote(access_model._meta.db_table)} ({names(access_fields)}, {quote(link_column)}) "
        f"SELECT {typed(access_fields)}, successor.{token_pk} FROM successor "
        f"RETURNING {quote(link_column)}, {quote(access_model._meta.pk.column)}"
    )
    return sql, update_fields, token_fields, access_fields


def swap_and_insert(token: Model, values: dict[str, Any], *, unset: Iterable[str], successor: Model,
                    access: Model, link: str, using: str) -> bool:
    """The rotation's writes: ``update_if_unset(token, values)`` and, only if it
    changed the row, INSERT ``successor`` and ``access`` (whose ``link`` field
    then points at ``successor``). True when the swap happened.

    On PostgreSQL this is one statement (data-modifying CTEs): one round trip,
    atomic on its own, where a transaction takes five (BEGIN, UPDATE, two
    INSERTs, COMMIT). Elsewhere it is those statements in a transaction.
    """
    connection = connections[using]
    unset = tuple(unset)
    if connection.vendor != "postgresql":
        with transaction.atomic(using=using):
            if update_if_unset(type(token), token.pk, values, unset=unset, using=using) != 1:
                return False
            insert_linked(access, link=link, linked=successor, using=using)
        return True
    assign = tuple(values)
    sql, update_fields, token_fields, access_fields = _cached(
        ("rotate", type(token), type(access), using, assign, unset, link),
        lambda: _rotation_sql(type(token), type(access), using, assign, unset, link),
    )
    params = [f.get_db_prep_save(values[f.name], connection) for f in update_fields]
    params.append(type(token)._meta.pk.get_db_prep_value(token.pk, connection))
    params += [f.get_db_prep_save(f.pre_save(successor, True), connection) for f in token_fields]
    params += [f.get_db_prep_save(f.pre_save(access, True), connection) for f in access_fields]
    with savepoint_if_in_transaction(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _saved(successor, row[0], using)
    _saved(access, row[1], using)
    setattr(access, link, successor)
    return True


def savepoint_if_in_transaction(using: str) -> AbstractContextManager[Any]:
    """Inside a transaction (``ATOMIC_REQUESTS``, a caller's ``atomic``): a savepoint,
    so a failed statement leaves that transaction usable. In autocommit: nothing,
    a single statement is atomic on its own and needs no BEGIN/COMMIT round trips."""
    if not transaction.get_autocommit(using=using):
        return transaction.atomic(using=using)
    return nullcontext()


@process_caches.resets_on("DATABASES", "AUTH_USER_MODEL", "OAUTH_TOKENS", "USE_TZ")
def reset() -> None:
    with _lock:
        _cache.clear()
