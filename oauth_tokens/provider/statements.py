"""The token endpoint's hot statements, with their SQL written once.

The ORM builds and compiles every query on every call. For the statements of
a token request (find the client, find the refresh token, the rotation's
compare-and-swap, the INSERTs of the new rows) that was about half of the
request's time: 100-250 us of Python each on top of 10-20 us of SQLite work
(measured with ``python -m bench --profile``). Here the SQL is written once
per model and database alias, by Django's own compiler (selects) or from the
model's metadata (inserts, updates), and each call only binds values, which
still go through each field's ``get_db_prep_save``. Callers get and give
ordinary model instances; the queries run through Django's cursor wrapper,
so they are counted, wrapped (``execute_wrapper``) and routed like any other.

On PostgreSQL (psycopg 3) the statements are also prepared on a connection
that runs them more than once (``_run``), so the server stops parsing,
analysing and planning them on every request: a loop of refresh rotations on
one connection went from 2.65 to 2.16 ms per request.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from django.core.signals import setting_changed
from django.db import DatabaseError, connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

from oauth_tokens.provider import dberrors

M = TypeVar("M", bound=Model)
logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[tuple, Any] = {}

#: Stands in for the looked-up value while the ORM compiles a select.
_SENTINEL = "\x00oauth_tokens.statement.param\x00"


def _cached(key: tuple, build: Callable[[], Any]) -> Any:
    value = _cache.get(key)
    if value is None:
        value = build()
        with _lock:
            _cache[key] = value
    return value


# Prepared statements (PostgreSQL with psycopg 3). Django binds parameters
# client-side and keeps psycopg's statement preparing off (``prepare_threshold
# = None``, for connection poolers), so the server parses, analyses and plans
# every query it is sent. A statement here that runs a second time on a
# connection runs instead on a server-binding cursor of that connection with
# preparing on for it alone: psycopg prepares it then and from then on sends
# only its name and the values.
#: Aliases where this process does not prepare, and why.
_off: dict[str, str] = {}
#: DB-API connection -> the statements it ran once, and whether it talks to
#: PostgreSQL directly (None: not asked yet).
_sessions: weakref.WeakKeyDictionary[Any, _Session] = weakref.WeakKeyDictionary()
#: SQLSTATEs of a prepared statement gone wrong: missing (26000: a pool's
#: DISCARD ALL), stale (0A000: a migration changed a result column), name taken
#: (42P05) or of another shape (08P01): sessions shared or reset under us.
_PREPARED_FAILURES = {"26000", "0A000", "42P05", "08P01"}


class _Session:
    __slots__ = ("seen", "direct")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.direct: bool | None = None


def _prepares(using: str) -> bool:
    """Whether ``using`` may get prepared statements: PostgreSQL through psycopg 3,
    not marked as behind a transaction-mode pooler, psycopg's own preparing not
    configured (then it prepares every query already), and the setting on."""
    def decide() -> bool:
        from oauth_tokens.settings import token_settings

        connection = connections[using]
        return bool(
            connection.vendor == "postgresql"
            and connection.Database.__name__ == "psycopg"
            and token_settings.PREPARED_STATEMENTS
            and not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
            and (connection.settings_dict.get("OPTIONS") or {}).get("prepare_threshold") is None
        )
    return using not in _off and _cached(("prepares", using), decide)


def _stop_preparing(using: str, why: str, level: int = logging.WARNING) -> None:
    if using not in _off:
        _off[using] = why
        logger.log(level, "Database %r: %s; this process stops preparing the token endpoint's statements there. "
                          "OAUTH_TOKENS['PREPARED_STATEMENTS'] = False turns preparing off.", using, why)


def _direct(connection, raw) -> bool:
    """Whether this connection talks to PostgreSQL itself. A pooler (PgBouncer,
    RDS Proxy, Supavisor, pgcat...) hands its clients a process id of its own
    making, not that of the server process that runs their queries; and in
    transaction mode it may hand each transaction another server session, where
    a statement prepared in one is unknown or, worse, another statement."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0] == raw.info.backend_pid


@contextmanager
def _binding_cursor(connection) -> Iterator[Any]:
    """``connection.cursor()`` (every hook of the backend run, the query counted,
    wrapped and routed like any other) on a cursor that binds server-side, the
    kind psycopg can run prepared statements on."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    raw = connection.connection
    factory = raw.cursor_factory
    raw.cursor_factory = ServerBindingCursor
    try:
        cursor = connection.cursor()
    finally:
        raw.cursor_factory = factory
    with cursor:
        yield cursor


@contextmanager
def _run(connection, sql: str, params: list) -> Iterator[Any]:
    """A cursor that ran ``sql`` with ``params``, to read its results from.

    Prepared (see above) only in autocommit, where a failed statement leaves
    nothing behind: a prepared statement that fails as missing, stale or not
    ours is run again at once unprepared, and preparing stops for the alias in
    this process (logged). Inside a transaction (``ATOMIC_REQUESTS``, a
    caller's ``atomic``, the code exchange) that error would abort it; while
    queries are logged (``DEBUG``, ``CaptureQueriesContext``) the log would lack
    the values; behind a pooler the session is not ours: plain queries there."""
    if _prepares(connection.alias) and connection.get_autocommit() and not connection.queries_logged:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
        raw = connection.connection
        session = _sessions.get(raw)
        if session is None:
            with _lock:
                session = _sessions.setdefault(raw, _Session())
        if sql in session.seen:
            if session.direct is None:
                session.direct = _direct(connection, raw)
                if not session.direct:
                    _stop_preparing(connection.alias, "it is reached through a connection pooler", logging.INFO)
            if session.direct:
                with _binding_cursor(connection) as cursor:
                    _execute_prepared(connection, raw, cursor, sql, params)
                    yield cursor
                return
        session.seen.add(sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        yield cursor


def _execute_prepared(connection, raw, cursor, sql: str, params: list) -> None:
    raw.prepare_threshold = 0  # prepared now, on its second run on this connection
    try:
        cursor.execute(sql, params)
    except DatabaseError as exc:
        state = dberrors.sqlstate(exc)
        if state not in _PREPARED_FAILURES:
            raise
        _stop_preparing(connection.alias, f"a prepared statement failed ({state}: {exc})")
        raw.prepare_threshold = None
        cursor.execute(sql, params)
    finally:
        raw.prepare_threshold = None  # Django's setting, which _prepares() requires


class SelectOne:
    """The single row of ``build(value)`` (a queryset filtered on one column;
    ``select_related`` and ``annotate`` allowed), or None; the SQL is compiled once
    per alias. ``value`` is bound as given: a string for the char columns used here."""

    def __init__(self, build: Callable[[Any], QuerySet]) -> None:
        self.build = build

    def _compile(self, using: str) -> tuple:
        queryset = self.build(_SENTINEL).order_by()
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        positions = [i for i, p in enumerate(params) if p == _SENTINEL]
        if len(positions) != 1:
            raise ValueError("SelectOne needs a queryset filtered on exactly one parameter")
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        init_list = [column[0].target.attname for column in select[fields[0]:fields[-1] + 1]]
        # The compiler belongs to this thread's connection: keep only what it worked out.
        converters = list(compiler.get_converters([s[0] for s in select[:compiler.col_count]]).items())
        annotations = tuple(compiler.annotation_col_map.items())
        return (sql, list(params), positions[0], klass_info, select, converters, init_list,
                (fields[0], fields[-1] + 1), annotations)

    def __call__(self, value: Any, *, using: str) -> Model | None:
        sql, params, position, klass_info, select, converters, init_list, (start, end), annotations = _cached(
            ("select", id(self), using), lambda: self._compile(using)
        )
        params = list(params)
        params[position] = value
        connection = connections[using]
        with _run(connection, sql, params) as cursor:
            rows = cursor.fetchmany(2)
        if len(rows) != 1:
            return None
        row = list(rows[0])
        for index, (functions, expression) in converters:  # as SQLCompiler.apply_converters
            converted = row[index]
            for convert in functions:
                converted = convert(converted, expression, connection)
            row[index] = converted
        obj = klass_info["model"].from_db(using, init_list, row[start:end])
        for populator in get_related_populators(klass_info, select, using):
            populator.populate(row, obj)
        for name, column in annotations:
            setattr(obj, name, row[column])
        return obj


def _insert_sql(model: type[Model], using: str) -> tuple[str, list, bool]:
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Only quoted identifiers from the model's metadata are interpolated; values are parameters.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    returning = bool(connection.features.can_return_columns_from_insert)
    if returning:
        suffix, suffix_params = connection.ops.return_insert_columns([meta.pk])
        if suffix_params:  # a backend that returns through out-parameters: ask for the id after
            returning = False
        else:
            sql = f"{sql} {suffix}"
    return sql, fields, returning


def insert(obj: M, *, using: str) -> M:
    """INSERT ``obj`` (a new instance) as ``save()`` would, and set its primary key.

    No ``pre_save``/``post_save`` signals: this is for rows nobody else watches.
    """
    model = type(obj)
    sql, fields, returning = _cached(("insert", model, using), lambda: _insert_sql(model, using))
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with _run(connection, sql, params) as cursor:
        if returning:
            pk = cursor.fetchone()[0]
        else:
            pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    return _saved(obj, pk, using)


def _saved(obj: M, pk: Any, using: str) -> M:
    """``obj`` as ``save()`` leaves a new instance: its key set, no longer adding."""
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


def _update_sql(model: type[Model], using: str, assign: tuple[str, ...], unset: tuple[str, ...]) -> tuple:
    quote = connections[using].ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in assign]
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    conditions = "".join(f" AND {quote(meta.get_field(name).column)} IS NULL" for name in unset)
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
    with _run(connection, sql, params) as cursor:
        return cursor.rowcount


def _rotation_sql(token_model: type[Model], access_model: type[Model], using: str, assign: tuple[str, ...],
                  unset: tuple[str, ...], link: str) -> tuple:
    connection = connections[using]
    quote = connection.ops.quote_name
    update, update_fields = _update_sql(token_model, using, assign, unset)
    token_fields = [f for f in token_model._meta.concrete_fields if not f.primary_key]
    access_fields = [f for f in access_model._meta.concrete_fields if not f.primary_key and f.name != link]
    link_column = access_model._meta.get_field(link).column

    def cast(field) -> str:
        # No length on a varchar cast: an explicit cast truncates where an INSERT refuses.
        if (field.db_type(connection) or "").startswith("varchar"):
            return connection.ops.cast_char_field_without_max_length
        return field.cast_db_type(connection)

    def typed(fields: list) -> str:
        # Typed placeholders: in a SELECT list an untyped parameter would be text.
        return ", ".join(f"%s::{cast(f)}" for f in fields)

    def names(fields: list) -> str:
        return ", ".join(quote(f.column) for f in fields)

    # Only quoted identifiers and type names from the models' metadata are
    # interpolated; values are parameters.
    sql = (
        f"WITH swapped AS ({update} RETURNING {quote(token_model._meta.pk.column)}), "  # noqa: S608
        f"successor AS (INSERT INTO {quote(token_model._meta.db_table)} ({names(token_fields)}) "
        f"SELECT {typed(token_fields)} FROM swapped RETURNING {quote(token_model._meta.pk.column)}) "
        f"INSERT INTO {quote(access_model._meta.db_table)} ({names(access_fields)}, {quote(link_column)}) "
        f"SELECT {typed(access_fields)}, successor.{quote(token_model._meta.pk.column)} FROM successor "
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
    with savepoint_if_in_transaction(using), _run(connection, sql, params) as cursor:
        row = cursor.fetchone()
    if row is None:
        return False
    _saved(successor, row[0], using)
    _saved(access, row[1], using)
    setattr(access, link, successor)
    return True


def savepoint_if_in_transaction(using: str):
    """Inside a transaction (``ATOMIC_REQUESTS``, a caller's ``atomic``): a savepoint,
    so a failed statement leaves that transaction usable. In autocommit: nothing,
    a single statement is atomic on its own and needs no BEGIN/COMMIT round trips."""
    if connections[using].in_atomic_block:
        return transaction.atomic(using=using)
    return nullcontext()


def reset(**kwargs: Any) -> None:
    with _lock:
        _cache.clear()
        _off.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DATABASES", "AUTH_USER_MODEL", "OAUTH_TOKENS"):
        reset()


setting_changed.connect(_on_setting_changed)
