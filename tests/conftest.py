import base64
import os
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache
from django.db import connections

from oauth_tokens import sharedcache
from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider import keys, local_verifier, refresh_rate
from tests.factories import ClientFactory, PublicClientFactory, UserFactory

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
REDIRECT = "https://app.example.test/cb"


# -- tests that need a server, or SQLite (markers declared in pyproject.toml) -----------
#: marker -> (can the test run here?, why it is skipped otherwise: the variable to set)
NEEDS = {
    "server_db": (lambda: connections["default"].vendor != "sqlite",
                  "needs PostgreSQL or MariaDB: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/oauth_tokens"
                  " (or mysql://...)"),
    "postgres": (lambda: connections["default"].vendor == "postgresql",
                 "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/oauth_tokens"),
    "redis": (lambda: bool(os.environ.get("REDIS_URL")),
              "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"),
    "pgbouncer": (lambda: os.environ.get("PGBOUNCER", "") not in ("", "0")
                  and connections["default"].vendor == "postgresql",
                  "needs PgBouncer: set PGBOUNCER=1, with DATABASE_URL on PostgreSQL"),
    "sqlite": (lambda: connections["default"].vendor == "sqlite",
               "SQLite only: unset DATABASE_URL"),
}


def pytest_collection_modifyitems(config, items):
    """The one place a test is skipped for the database or cache it runs on: its marker says which."""
    missing = {name: reason for name, (present, reason) in NEEDS.items() if not present()}
    for item in items:
        for name, reason in missing.items():
            if item.get_closest_marker(name) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
                break


@pytest.fixture(autouse=True)
def _fresh_process_state():
    cache.clear()
    keys.reset_cache()
    local_verifier.reset()  # verified-token cache and revocation list start empty
    sharedcache.reset()  # no cache circuit left open by an earlier test
    refresh_rate.reset()  # no client's refresh counts or baseline left by an earlier test
    yield
    keys.reset_cache()


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def oauth_client(db):
    return ClientFactory()


@pytest.fixture
def public_client(db):
    return PublicClientFactory()


class Flow:
    """Drives the endpoints the way a client would."""

    def __init__(self, django_client, oauth_client, user):
        self.http = django_client
        self.client = oauth_client
        self.user = user

    def authorize(self, *, scope="read", verifier=VERIFIER, client=None, **extra):
        client = client or self.client
        self.http.force_login(self.user)
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st4te",
            **({"code_challenge": s256(verifier), "code_challenge_method": "S256"} if verifier else {}),
            **extra,
        }
        response = self.http.post("/oauth/authorize", {**params, "allow": "1"})
        assert response.status_code == 303, response.content
        query = parse_qs(urlsplit(response["Location"]).query)
        return query["code"][0]

    def token(self, data, *, json=False, auth=None, path="/oauth/token", **headers):
        client = self.client
        if auth is None and "client_secret" not in data and client.is_confidential:
            headers["HTTP_AUTHORIZATION"] = basic(client.client_id, client.secret)
        elif auth:
            headers["HTTP_AUTHORIZATION"] = auth
        if json:
            return self.http.post(path, data, content_type="application/json", **headers)
        return self.http.generic(
            "POST", path, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded", **headers
        )

    def code_tokens(self, *, scope="read"):
        code = self.authorize(scope=scope)
        response = self.token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}
        )
        assert response.status_code == 200, response.content
        return response.json()

    def refresh(self, refresh_token, **extra):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})


@pytest.fixture
def flow(client, oauth_client, user):
    return Flow(client, oauth_client, user)


# -- PgBouncer (PGBOUNCER=1) ------------------------------------------------------
# With PGBOUNCER=1 and DATABASE_URL on PostgreSQL, the session starts PgBouncer in
# transaction mode (reliability/pgbouncer.py) once the test database exists, and
# every connection made after that (the tests', the live server threads') goes
# through it, with the settings docs/operations.md gives for transaction pooling. The
# test database is created and dropped straight on PostgreSQL (PgBouncer keeps
# server connections open that would block the DROP).
@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    if os.environ.get("PGBOUNCER", "") in ("", "0") or connections["default"].vendor != "postgresql":
        yield None
        return
    from reliability.pgbouncer import PgBouncer

    settings_dict = connections["default"].settings_dict  # shared by every thread's connection
    upstream = f"postgres://{settings_dict['USER'] or 'postgres'}@{settings_dict['HOST'] or '127.0.0.1'}:" \
               f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    saved = {key: settings_dict.get(key) for key in ("HOST", "PORT", "DISABLE_SERVER_SIDE_CURSORS")}
    bouncer = PgBouncer(upstream, pool_size=30).start()
    with django_db_blocker.unblock():
        connections.close_all()
    settings_dict.update(HOST="127.0.0.1", PORT=str(bouncer.port), DISABLE_SERVER_SIDE_CURSORS=True)
    settings_dict.setdefault("OPTIONS", {})["prepare_threshold"] = None
    try:
        yield bouncer
    finally:
        with django_db_blocker.unblock():
            connections.close_all()
        bouncer.stop()
        settings_dict.update(saved)


@pytest.fixture
def pgbouncer(django_db_setup):
    """The PgBouncer the session runs (PGBOUNCER=1), or None."""
    return django_db_setup


@pytest.fixture
def flaky_default_cache(settings):
    """The default cache (the throttles', the DPoP replay record's...) as a shared
    server that a test takes down or pauses (tests/flakycache.py)."""
    from tests.flakycache import FlakyCache

    FlakyCache.restore()
    settings.CACHES = {"default": {"BACKEND": "tests.flakycache.FlakyCache"}}
    yield FlakyCache
    FlakyCache.restore()
