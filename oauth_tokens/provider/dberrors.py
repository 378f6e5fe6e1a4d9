"""What a database error means for the client: its SQLSTATE, and whether a retry
can cure it (the OAuth endpoints' 503) or not (Django's 500)."""

from __future__ import annotations

from django.db import DatabaseError


def sqlstate(exc: DatabaseError) -> str | None:
    """The SQLSTATE of the driver's error behind Django's ``exc`` (psycopg 3 or
    psycopg2), or None."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


#: PostgreSQL SQLSTATEs a retry can cure: serialization failure, deadlock, lock
#: not available (lock_timeout), statement cancelled (statement_timeout), server
#: shutting down or starting, too many connections; and class 08, connection.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300"})
#: MySQL / MariaDB: lock wait timeout, deadlock, server gone or out of reach.
TRANSIENT_MYSQL_ERRORS = frozenset({1205, 1213, 2002, 2003, 2006, 2013})


def transient(exc: DatabaseError) -> bool:
    """Whether the database failed for a moment (the client may retry) rather
    than for good (a missing table, a bad setting)."""
    cause = exc.__cause__ or exc
    state = sqlstate(exc)
    if state:
        return state in TRANSIENT_SQLSTATES or state.startswith("08")
    module = type(cause).__module__
    if module.startswith("psycopg"):
        return True  # no SQLSTATE: the client library's own error, the connection's
    if module.startswith("MySQLdb"):
        return bool(cause.args) and cause.args[0] in TRANSIENT_MYSQL_ERRORS
    return "database is locked" in str(cause) or "database table is locked" in str(cause)  # SQLite
