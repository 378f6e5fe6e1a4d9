"""The supported matrix, one nox session per combination CI proves.

    nox -l                              # the sessions
    nox -s py3.13-dj6.1-postgres        # one of them
    nox -t sqlite                       # by database: sqlite, postgres, mariadb
    nox -s py3.13-dj6.1-postgres -- -x tests/provider   # arguments after -- go to pytest

Each session installs the project with requirements-dev.txt and one Django
series (``Django~=6.1.0`` resolves the newest 6.1.x), sets DATABASE_URL (and
REDIS_URL for the server databases) and runs the whole test suite.

Interpreters: nox runs each session with ``python3.11``, ``python3.12`` or
``python3.13`` found on PATH (python.org installers, distribution packages,
``uv python install``, pyenv with ``PYENV_VERSION=3.11.7:3.12.1:3.13.0``...).
A session whose interpreter is missing fails rather than being skipped.
``make test-matrix`` finds pyenv's interpreters by itself.

Servers: PostgreSQL, MariaDB and Redis on 127.0.0.1 by default; OT_POSTGRES_URL,
OT_MARIADB_URL and OT_REDIS_URL (without a database name or number) point
elsewhere. Each session has its own database name (OT_DB_PREFIX, default
``oauth_tokens``, then ``_py313_dj61``; the test runner creates ``test_<name>``)
and its own Redis database number (1 to 5; 0 is left to ``make test``), so
sessions can run side by side (nox 2026.x: ``nox -j 2 --allow-parallel``; on 2 cores that
also makes the real-time concurrency tests compete for the CPU, so CI runs them
one after the other). An OT_REDIS_URL that ends in a database number is used by
every session as it is.

Without nox, for scripts (.ci/run): ``python noxfile.py sessions`` prints the
session names, ``python noxfile.py databases`` ``<engine> <name>`` for every
server session.
"""

from __future__ import annotations

import os
import re
import sys

if __name__ != "__main__":  # loaded by nox
    import nox

    nox.options.error_on_missing_interpreters = True

#: (Python, Django series, databases). Django 6.x needs Python 3.12 or newer.
MATRIX = [
    ("3.11", "5.2", ("sqlite", "postgres", "mariadb")),
    ("3.12", "6.0", ("sqlite", "postgres")),
    ("3.13", "6.1", ("sqlite", "postgres", "mariadb")),
]
SERVER_DATABASES = ("postgres", "mariadb")


def session_name(python: str, django: str, db: str) -> str:
    return f"py{python}-dj{django}-{db}"


def database_name(python: str, django: str) -> str:
    prefix = os.environ.get("OT_DB_PREFIX", "oauth_tokens")
    return f"{prefix}_py{python.replace('.', '')}_dj{django.replace('.', '')}"


def redis_url(index: int) -> str:
    base = os.environ.get("OT_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    if re.search(r"/\d+$", base):
        return base
    # Database 0 stays free for `make test`; one number per server session after it.
    return f"{base}/{index + 1}"


def database_url(python: str, django: str, db: str) -> str:
    if db == "sqlite":
        return "sqlite://:memory:"
    if db == "postgres":
        base = os.environ.get("OT_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    else:
        base = os.environ.get("OT_MARIADB_URL", "mysql://root@127.0.0.1:3306")
    return f"{base.rstrip('/')}/{database_name(python, django)}"


def server_sessions():
    """(python, django, db) of every session that needs a database server, in a fixed order."""
    return [(py, dj, db) for py, dj, dbs in MATRIX for db in dbs if db in SERVER_DATABASES]


def make_session(python: str, django: str, db: str):
    extras = "postgres,redis,mysql" if db == "mariadb" else "postgres,redis"
    env = {"DATABASE_URL": database_url(python, django, db), "REDIS_URL": ""}  # "": local-memory cache
    if db in SERVER_DATABASES:
        env["REDIS_URL"] = redis_url(server_sessions().index((python, django, db)))

    def tests(session: nox.Session) -> None:
        # requirements-dev.txt installs the project editable with postgres,redis,metrics,geoip; the MariaDB
        # sessions add the mysql extra (mysqlclient builds from source: needs libmariadb-dev).
        session.install("-r", "requirements-dev.txt", "-e", f".[{extras}]", f"Django~={django}.0")
        session.run("python", "-c", "import django, sys; print('Python', sys.version.split()[0], "
                    "'Django', django.get_version())")
        session.run("python", "-m", "pytest", "-q", *session.posargs, env=env)

    tests.__doc__ = f"Python {python}, Django {django}.x, {db}" + (" + Redis" if db in SERVER_DATABASES else "")
    return nox.session(python=python, name=session_name(python, django, db), tags=[db, f"django{django}"])(tests)


if __name__ != "__main__":
    for _python, _django, _dbs in MATRIX:
        for _db in _dbs:
            make_session(_python, _django, _db)
elif sys.argv[1:] == ["sessions"]:
    for _python, _django, _dbs in MATRIX:
        for _db in _dbs:
            print(session_name(_python, _django, _db))
elif sys.argv[1:] == ["databases"]:
    for _python, _django, _db in server_sessions():
        print(_db, database_name(_python, _django))
else:
    sys.exit("usage: python noxfile.py sessions|databases  (or run nox)")
