"""Encryption at rest: ciphertext in every column, a full SQL dump without a
single token, key rotation with ``reencrypt_tokens``, and the refusal to store
tokens in production without ENCRYPTION_KEYS."""

import io
import os
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from oauth_tokens import crypto
from oauth_tokens.consumer import get_access_token
from oauth_tokens.consumer.exceptions import TokenDecryptionError
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.service import store_tokens
from tests.consumer.browser import connect
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
OLD_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="  # tests/settings.py


def raw(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM oauth_tokens_consumer_externaltoken WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def sql_dump() -> str:
    """The whole test database as its own backup tool writes it."""
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    if connection.vendor == "postgresql":
        command = ["pg_dump", "--data-only", "-h", host, "-p", str(s["PORT"] or 5432), "-U", s["USER"], s["NAME"]]
        env = {"PGPASSWORD": s.get("PASSWORD") or ""}
    else:  # MariaDB / MySQL
        command = ["mysqldump", "--no-create-info", "--single-transaction", "--skip-extended-insert",
                   "-h", host, "-P", str(s["PORT"] or 3306), "-u", s["USER"], s["NAME"]]
        env = {"MYSQL_PWD": s.get("PASSWORD") or ""}
    return subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ, **env}).stdout


def test_columns_hold_ciphertext(fake, register, connected):
    server = fake()
    register(p=server.config())
    row = connected("p", server)
    access, refresh = raw(row.pk)
    assert access != row.access_token and crypto.decrypt(access) == row.access_token
    assert refresh != row.refresh_token and crypto.decrypt(refresh) == row.refresh_token
    assert row.access_token not in repr(row) and row.access_token not in str(row)


def test_sql_dump_contains_no_token_code_verifier_or_secret(client, alice, remote, live_server, clock):
    secrets_seen = [remote.secret]
    row = connect(client, alice, live_server, seen=secrets_seen)
    secrets_seen += [row.access_token, row.refresh_token]
    for _ in range(2):
        clock.advance(3600)
        get_access_token("self", alice)
        row.refresh_from_db()
        secrets_seen += [row.access_token, row.refresh_token]
    # A connect flow left pending: its verifier sits (encrypted) in the session.
    client.get("/oauth/connect/self/")
    secrets_seen.append(crypto.decrypt(client.session["oauth_tokens_consumer.connect.self"]["verifier"]))
    assert len(set(secrets_seen)) == 9

    dump = sql_dump()
    assert "oauth_tokens_consumer_externaltoken" in dump and raw(row.pk)[0] in dump
    leaked = [s for s in secrets_seen if s in dump]
    assert leaked == []


def test_reencrypt_tokens_moves_rows_to_the_new_key(fake, register, connected, settings, alice):
    server = fake()
    register(p=server.config())
    row = connected("p", server)
    new_key = Fernet.generate_key().decode()
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": [new_key, OLD_KEY]}
    assert get_access_token("p", alice) == row.access_token  # old ciphertext still opens
    out = io.StringIO()
    call_command("reencrypt_tokens", stdout=out)
    assert "Re-encrypted 1 token row(s)" in out.getvalue()
    access, refresh = raw(row.pk)
    assert Fernet(new_key.encode()).decrypt(access.encode()).decode() == row.access_token
    assert Fernet(new_key.encode()).decrypt(refresh.encode()).decode() == row.refresh_token
    # The old key can go now.
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": [new_key]}
    assert get_access_token("p", alice) == row.access_token


def test_a_removed_key_is_a_clear_error(fake, register, connected, settings, alice):
    server = fake()
    register(p=server.config())
    connected("p", server)
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": [Fernet.generate_key().decode()]}
    with pytest.raises(TokenDecryptionError, match="reencrypt_tokens"):
        get_access_token("p", alice)


def test_no_encryption_keys_in_production_refuses_to_store(fake, register, settings, alice):
    server = fake()
    register(p=server.config())
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ENCRYPTION_KEYS": []}
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="refusing to store tokens"):
        store_tokens("p", alice, server.mint())
    assert not ExternalToken.objects.exists()


def key_spellings(pem: str) -> list[str]:
    """Every form a leaked private key would take in text: its PEM, each base64 line
    of it, and the private scalar (as in a JWK's ``d``, in base64 and in hex)."""
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    lines = [line for line in pem.strip().splitlines() if "PRIVATE KEY" not in line]
    scalar = load_pem_private_key(pem.encode(), password=None).private_numbers().private_value.to_bytes(32, "big")
    return [pem, "".join(lines), *[line for line in lines if len(line) >= 20],
            base64.urlsafe_b64encode(scalar).rstrip(b"=").decode(), base64.b64encode(scalar).decode(), scalar.hex()]


def test_a_dpop_keys_private_half_is_never_in_the_database_the_logs_or_the_admin(
        client, alice, remote, live_server, clock, register, settings, caplog):
    import logging

    from oauth_tokens.consumer import http_client

    register(self={**settings.OAUTH_TOKENS["PROVIDERS"]["self"], "dpop": True})
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.db.backends", "httpx", "httpcore", "oauth_tokens"):
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True  # every SQL statement and its parameters is logged
    try:
        row = connect(client, alice, live_server)
        with http_client("self", alice) as api:
            assert api.get("/api/me").status_code == 200
        clock.advance(3600)
        get_access_token("self", alice)  # a refresh: the key is read, and written back by nobody
        client.get("/oauth/connect/self/")  # a connect flow left pending: its new key sits in the session
    finally:
        connection.force_debug_cursor = False
    assert row.token_type == "DPoP" and ExternalToken.objects.get(pk=row.pk).refresh_count == 1
    pending = crypto.decrypt(client.session["oauth_tokens_consumer.connect.self"]["dpop_key"])
    assert pending != row.dpop_key
    secrets_seen = key_spellings(row.dpop_key) + key_spellings(pending)
    dump = sql_dump()  # before the admin's login below replaces alice's session
    sessions = "\n".join(repr(s.get_decoded()) for s in Session.objects.all())
    assert client.session["oauth_tokens_consumer.connect.self"]["dpop_key"] in sessions  # it is searched

    with connection.cursor() as cursor:
        cursor.execute("SELECT dpop_key FROM oauth_tokens_consumer_externaltoken WHERE id = %s", [row.pk])
        (stored,) = cursor.fetchone()
    assert crypto.decrypt(stored) == row.dpop_key  # ciphertext at rest, like the tokens
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    base = "/admin/oauth_tokens_consumer/externaltoken/"
    pages = [client.get(base).content.decode(), client.get(f"{base}{row.pk}/change/").content.decode()]
    assert row.dpop_jkt in pages[1]  # the public thumbprint is shown
    log_text = caplog.text + "\n".join(
        f"{r.getMessage()} {r.__dict__.get('sql', '')} {r.__dict__.get('params', '')}" for r in caplog.records
    )
    assert stored in log_text  # the SQL was logged with its parameters: the search below can find things
    places = {"database": dump, "sessions": sessions, "logs": log_text, "admin": "\n".join(pages)}
    leaked = [(place, s[:12]) for place, text in places.items() for s in secrets_seen if s in text]
    assert leaked == []
