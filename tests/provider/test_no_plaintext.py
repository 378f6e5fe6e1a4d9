"""No plaintext at rest, none in logs (DESIGN.md section 3, SPEC-CHECKLIST 47).

Runs every provider flow once (clients from the command, the admin and code;
code + PKCE, replay, rotations, a grace retry, reuse detection, refused
refreshes and a failed_refresh anomaly, client_credentials, validation,
revocation, introspection, userinfo, the JWT bearer grant, admin revocation and secret
regeneration, the device grant with its user codes, dynamic registration with an
initial access token and its RFC 7592 read / update / delete, token exchange
with our own and external subject tokens, DPoP proofs at the token endpoint and
an API, cleartokens, rotatekeys),
collects every
secret, code, verifier and token that crossed the wire, then looks for each of
them in a dump of the whole database (every table, decoded sessions included),
in the cache, and in every log record written meanwhile, SQL statements with
their parameters included.
"""

import json
import logging
import re
from datetime import timedelta
from io import StringIO
from unittest import mock
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from oauth_tokens import crypto
from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider.models import RefreshToken, TokenEvent
from tests.conftest import REDIRECT, basic
from tests.dpop_proofs import ProofKey
from tests.factories import ClientFactory, UserFactory
from tests.provider import jwt_bearer_idp
from tests.provider.jwt_clients import ASSERTION_TYPE, assertion

pytestmark = pytest.mark.django_db
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class Wire:
    """A client that remembers every credential it sent or received."""

    def __init__(self, http):
        self.http = http
        self.seen: dict[str, str] = {}  # value -> what it is

    def remember(self, kind: str, *values):
        for value in values:
            if value:
                assert len(value) >= 20, kind  # short strings could match by chance
                self.seen[value] = kind

    def remember_user_code(self, kind: str, shown: str):
        """A user code is short (RFC 8628 section 6.1): looked for as shown and as stored."""
        assert re.fullmatch(r"[B-Z]{4}-[B-Z]{4}", shown), shown
        self.seen[shown] = kind
        self.seen[shown.replace("-", "")] = kind

    def token(self, data, *, client_id=None, secret=None, json_body=False):
        headers = {"HTTP_AUTHORIZATION": basic(client_id, secret)} if secret else {}
        if json_body:
            response = self.http.post("/oauth/token", json.dumps(data), content_type="application/json", **headers)
        else:
            response = self.http.post(
                "/oauth/token", urlencode(data), content_type="application/x-www-form-urlencoded", **headers
            )
        body = response.json()
        self.remember("access token", body.get("access_token"))
        self.remember("refresh token", body.get("refresh_token"))
        self.remember("id token", body.get("id_token"))
        return response

    def authorize(self, user, client_id, *, scope="read"):
        verifier = crypto.new_token(48)
        self.remember("code verifier", verifier)
        self.http.force_login(user)
        params = {
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope,
            "state": "state-value", "nonce": "nonce-value",
            "code_challenge": s256(verifier), "code_challenge_method": "S256",
        }
        assert self.http.get("/oauth/authorize", params).status_code == 200
        response = self.http.post("/oauth/authorize", {**params, "allow": "1"})
        assert response.status_code == 303
        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
        self.remember("authorization code", code)
        return code, verifier


def later(seconds):
    return mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=seconds))


def run_every_flow(wire: Wire, admin_client) -> None:
    alice = UserFactory(username="alice")

    # Clients: from the command, from the admin, from code.
    out = StringIO()
    call_command("createclient", "Cmd web", "--grant-types", "authorization_code,refresh_token,client_credentials",
                 "--redirect-uri", REDIRECT, "--scope", "read write openid profile email", "--json", stdout=out)
    web = json.loads(out.getvalue())
    wire.remember("client secret (command)", web["client_secret"])
    out = StringIO()
    call_command("createclient", "Cmd spa", "--public", "--grant-types", "authorization_code,refresh_token",
                 "--redirect-uri", REDIRECT, "--json", stdout=out)
    spa = json.loads(out.getvalue())
    page = admin_client.post("/admin/oauth_tokens_provider/client/add/", {
        "name": "Admin service", "client_type": "confidential", "grant_types": ["client_credentials"],
        "redirect_uris": "", "scope": "read", "is_active": "on", "_save": "Save",
    })
    service_id, service_secret = re.findall(r"<td><code>([^<]+)</code></td><td><code>([^<]+)</code>",
                                            page.content.decode())[0]
    wire.remember("client secret (admin)", service_secret)
    factory_client = ClientFactory()
    wire.remember("client secret (factory)", factory_client.secret)
    web_auth = {"client_id": web["client_id"], "secret": web["client_secret"]}

    # Authorization code + PKCE, confidential (Basic) and public (body), form and JSON.
    code, verifier = wire.authorize(alice, web["client_id"], scope="read openid profile email")
    first = wire.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                        "code_verifier": verifier}, **web_auth).json()
    assert "id_token" in first
    # The same code again (valid client and verifier): refused, its tokens revoked.
    replay = wire.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                         "code_verifier": verifier}, **web_auth)
    assert replay.status_code == 400
    code, verifier = wire.authorize(alice, web["client_id"])
    tokens = wire.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                         "code_verifier": verifier, "client_id": web["client_id"],
                         "client_secret": web["client_secret"]}, json_body=True).json()
    code, verifier = wire.authorize(alice, spa["client_id"])
    spa_tokens = wire.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                             "code_verifier": verifier, "client_id": spa["client_id"]}).json()
    assert spa_tokens["refresh_token"]
    unused_code, _ = wire.authorize(alice, web["client_id"])

    # Refresh rotations, a grace retry, then reuse outside the window.
    second = wire.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, **web_auth).json()
    retry = wire.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, **web_auth).json()
    assert retry["refresh_token"] == second["refresh_token"]
    third = wire.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, **web_auth).json()
    assert third["refresh_token"] not in (tokens["refresh_token"], second["refresh_token"])
    spa_second = wire.token({"grant_type": "refresh_token", "refresh_token": spa_tokens["refresh_token"],
                             "client_id": spa["client_id"]}).json()
    with later(60):
        reuse = wire.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, **web_auth)
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert RefreshToken.objects.filter(revoked_at__isnull=False).exists()

    # client_credentials, both client auth methods; the validation endpoint.
    cc = wire.token({"grant_type": "client_credentials", "scope": "read"},
                    client_id=service_id, secret=service_secret).json()
    wire.token({"grant_type": "client_credentials"}, **web_auth)
    wire.token({"grant_type": "client_credentials", "client_id": factory_client.client_id,
                "client_secret": factory_client.secret}, json_body=True)
    assert wire.http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + cc["access_token"]).status_code == 200
    assert wire.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + spa_second["access_token"]).status_code == 200

    # Failures carry credentials too: a wrong secret, an unknown refresh token and code.
    wrong_secret, bogus_refresh, bogus_code = crypto.new_token(), crypto.new_token(), crypto.new_token()
    wire.remember("wrong secret", wrong_secret)
    wire.remember("unknown refresh token", bogus_refresh)
    wire.remember("unknown code", bogus_code)
    assert wire.token({"grant_type": "client_credentials"}, client_id=web["client_id"],
                      secret=wrong_secret).status_code == 401
    assert wire.token({"grant_type": "client_credentials", "client_id": web["client_id"],
                       "client_secret": wrong_secret}).status_code == 401
    assert wire.token({"grant_type": "refresh_token", "refresh_token": bogus_refresh}, **web_auth).status_code == 400
    assert wire.token({"grant_type": "authorization_code", "code": bogus_code, "redirect_uri": REDIRECT,
                       "code_verifier": verifier}, **web_auth).status_code == 400
    assert wire.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + bogus_refresh).status_code == 401

    # Anomaly detection: another client presents web's live refresh token until the failures
    # against its family are a burst (refresh_failed rows, an anomaly row, counters in the cache).
    for _ in range(11):
        assert wire.token({"grant_type": "refresh_token", "refresh_token": third["refresh_token"]},
                          client_id=factory_client.client_id, secret=factory_client.secret).status_code == 400
    assert TokenEvent.objects.filter(kind=TokenEvent.ANOMALY, detail__startswith="failed_refresh").exists()

    # RFC 7009 revocation, RFC 7662 introspection, userinfo.
    form = "application/x-www-form-urlencoded"
    web_basic = basic(web["client_id"], web["client_secret"])
    for path, data in (
        ("/oauth/introspect", {"token": third["access_token"]}),
        ("/oauth/introspect", {"token": bogus_refresh, "token_type_hint": "refresh_token"}),
        ("/oauth/revoke", {"token": spa_second["refresh_token"], "token_type_hint": "access_token"}),
        ("/oauth/revoke", {"token": bogus_refresh}),
    ):
        response = wire.http.post(path, urlencode(data), content_type=form, HTTP_AUTHORIZATION=web_basic)
        assert response.status_code == 200, (path, response.content)
    spa_revoke = wire.http.post("/oauth/revoke", urlencode({"token": spa_second["refresh_token"],
                                                             "client_id": spa["client_id"]}), content_type=form)
    assert spa_revoke.status_code == 200
    userinfo = wire.http.get("/oauth/userinfo", HTTP_AUTHORIZATION="Bearer " + first["access_token"])
    assert userinfo.status_code in (200, 401)  # 401 once the code replay revoked it

    # Revocation and secret rotation in the admin.
    live = RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).values_list("pk", flat=True)
    admin_client.post("/admin/oauth_tokens_provider/refreshtoken/",
                      {"action": "revoke_selected", "_selected_action": list(live)[:1]})
    admin_client.post("/admin/oauth_tokens_provider/refreshtoken/",
                      {"action": "revoke_families", "_selected_action": list(live)})
    page = admin_client.post("/admin/oauth_tokens_provider/client/",
                             {"action": "regenerate_secret", "_selected_action": [factory_client.pk]})
    regenerated = re.findall(r"<td><code>[^<]+</code></td><td><code>([^<]+)</code>", page.content.decode())
    assert len(regenerated) == 1
    wire.remember("regenerated secret", regenerated[0])
    assert wire.http.get("/api/me", HTTP_AUTHORIZATION="Bearer " + third["access_token"]).status_code == 401
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "DEVICE_AUTHORIZATION_ENABLED": True}):
        device_flow(wire, alice)
    pushed_flow(wire, alice, web_auth)
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "REGISTRATION_ENABLED": True,
                                         "REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED": True,
                                         "REGISTRATION_AUTH_METHODS": ["client_secret_basic", "none"]}):
        registration_flow(wire)
    client_secret_jwt_flow(wire, admin_client)
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "JWT_BEARER_ENABLED": True,
                                         "JWT_BEARER_ISSUERS": jwt_bearer_idp.issuers(),
                                         "JWT_BEARER_REFRESH_TOKENS": True}):
        jwt_bearer_flow(wire, alice)
    token_exchange_flow(wire, alice, third["access_token"])
    dpop_flow(wire)
    call_command("cleartokens", stdout=StringIO())
    call_command("rotatekeys", stdout=StringIO())
    assert unused_code


def device_flow(wire: Wire, user) -> None:
    """RFC 8628: a device code and its user code, a wrong user code, the tokens."""
    out = StringIO()
    call_command("createclient", "Cmd tv", "--public", "--grant-types", f"{DEVICE_GRANT},refresh_token",
                 "--json", stdout=out)
    tv = json.loads(out.getvalue())
    form = "application/x-www-form-urlencoded"
    started = wire.http.post("/oauth/device_authorization", urlencode({"client_id": tv["client_id"]}),
                             content_type=form).json()
    wire.remember("device code", started["device_code"])
    wire.remember_user_code("user code", started["user_code"])
    wrong = "BCDF-GHJK" if started["user_code"] != "BCDF-GHJK" else "ZZZZ-ZZZZ"
    wire.remember_user_code("wrong user code", wrong)
    wire.http.force_login(user)
    assert wire.http.post("/oauth/device", {"user_code": wrong}).status_code == 400
    assert wire.http.post("/oauth/device", {"user_code": started["user_code"], "allow": "1"}).status_code == 200
    poll = {"grant_type": DEVICE_GRANT, "device_code": started["device_code"], "client_id": tv["client_id"]}
    assert wire.token(poll).status_code == 200


def pushed_flow(wire: Wire, user, auth) -> None:
    """RFC 9126: a pushed request's request_uri, used at the authorization endpoint."""
    verifier = crypto.new_token(48)
    wire.remember("code verifier", verifier)
    params = {"response_type": "code", "redirect_uri": REDIRECT, "scope": "read", "state": "state-value",
              "code_challenge": s256(verifier), "code_challenge_method": "S256"}
    pushed = wire.http.post("/oauth/par", urlencode(params), content_type="application/x-www-form-urlencoded",
                            HTTP_AUTHORIZATION=basic(auth["client_id"], auth["secret"])).json()
    request_uri = pushed["request_uri"]
    wire.remember("request uri", request_uri, request_uri.rsplit(":", 1)[1])
    wire.http.force_login(user)
    reference = {"client_id": auth["client_id"], "request_uri": request_uri}
    assert wire.http.get("/oauth/authorize", reference).status_code == 200
    response = wire.http.post("/oauth/authorize", {**reference, "allow": "1"})
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    wire.remember("authorization code", code)
    assert wire.http.post("/oauth/authorize", {**reference, "allow": "1"}).status_code == 400  # spent


def registration_flow(wire: Wire) -> None:
    """RFC 7591 / 7592: an initial access token (and a wrong one), a confidential client's
    secret and registration access tokens (each rotation's), read, update, delete."""
    out = StringIO()
    call_command("createregistrationtoken", "Partner", "--json", stdout=out)
    initial = json.loads(out.getvalue())["initial_access_token"]
    wrong = crypto.new_token()
    wire.remember("initial access token", initial)
    wire.remember("wrong initial access token", wrong)
    metadata = {"redirect_uris": [REDIRECT], "client_name": "Registered app"}

    def send(method, path, token, body=None):
        return getattr(wire.http, method)(path, json.dumps(body) if body is not None else None,
                                          content_type="application/json", HTTP_AUTHORIZATION="Bearer " + token)

    assert send("post", "/oauth/register", wrong, metadata).status_code == 401
    registered = send("post", "/oauth/register", initial, metadata).json()
    wire.remember("client secret (registration)", registered["client_secret"])
    wire.remember("registration access token", registered["registration_access_token"])
    path = urlsplit(registered["registration_client_uri"]).path
    assert send("get", path, registered["registration_access_token"]).status_code == 200
    updated = send("put", path, registered["registration_access_token"],
                   {**metadata, "client_id": registered["client_id"], "client_secret": registered["client_secret"]})
    assert updated.status_code == 200
    wire.remember("rotated registration access token", updated.json()["registration_access_token"])
    wire.token({"grant_type": "refresh_token", "refresh_token": crypto.new_token()},
               client_id=registered["client_id"], secret=registered["client_secret"])
    assert send("delete", path, updated.json()["registration_access_token"]).status_code == 204


def client_secret_jwt_flow(wire: Wire, admin_client) -> None:
    """RFC 7523: a client_secret_jwt client made in the admin (its secret is kept
    encrypted, never in clear), an assertion signed with it, and its replay."""
    page = admin_client.post("/admin/oauth_tokens_provider/client/add/", {
        "name": "Admin JWT service", "client_type": "confidential", "grant_types": ["client_credentials"],
        "redirect_uris": "", "scope": "read", "is_active": "on", "token_endpoint_auth_method": "client_secret_jwt",
        "_save": "Save",
    })
    client_id, secret = re.findall(r"<td><code>([^<]+)</code></td><td><code>([^<]+)</code>", page.content.decode())[0]
    wire.remember("client secret (client_secret_jwt)", secret)
    signed = assertion(secret.encode(), client_id, alg="HS256", kid=None)
    wire.remember("client assertion", signed)
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed}
    assert wire.token(data).status_code == 200
    assert wire.token(data).status_code == 401


def jwt_bearer_flow(wire: Wire, user) -> None:
    """RFC 7523 section 2.1: an identity assertion grant for the user, its replay."""
    agent = ClientFactory(grant_types=f"{jwt_bearer_idp.GRANT_TYPE} refresh_token", scope="read")
    wire.remember("client secret (factory, jwt bearer)", agent.secret)
    signed = jwt_bearer_idp.id_jag(user.username, agent.client_id)
    wire.remember("grant assertion", signed)
    data = {"grant_type": jwt_bearer_idp.GRANT_TYPE, "assertion": signed}
    assert wire.token(data, client_id=agent.client_id, secret=agent.secret).status_code == 200
    assert wire.token(data, client_id=agent.client_id, secret=agent.secret).status_code == 400


def token_exchange_flow(wire: Wire, user, subject: str) -> None:
    """RFC 8693: a delegation with our own tokens, an external subject JWT, and a refused
    exchange (the subject and actor tokens travel in the body; none of them is kept)."""
    from tests.provider.exchange import ACCESS, GRANT, JWT_TYPE, ExternalIssuer, with_issuer

    idp = ExternalIssuer()
    service = ClientFactory(grant_types=f"client_credentials {GRANT}", scope="read write")
    wire.remember("client secret (factory)", service.secret)
    with override_settings(OAUTH_TOKENS=with_issuer(idp)):
        user.email = "alice@example.test"
        user.save()
        actor = wire.token({"grant_type": "client_credentials"}, client_id=service.client_id,
                           secret=service.secret).json()["access_token"]
        external = idp.token()
        wire.remember("external subject token", external)
        for presented, kind in ((subject, ACCESS), (external, JWT_TYPE)):
            wire.token({"grant_type": GRANT, "subject_token": presented, "subject_token_type": kind,
                        "actor_token": actor, "actor_token_type": ACCESS, "scope": "read"},
                       client_id=service.client_id, secret=service.secret)
        refused = wire.token({"grant_type": GRANT, "subject_token": external, "subject_token_type": JWT_TYPE,
                              "scope": "admin"}, client_id=service.client_id, secret=service.secret)
        assert refused.status_code == 400
    assert TokenEvent.objects.filter(kind=TokenEvent.TOKEN_EXCHANGED).count() >= 1


def dpop_flow(wire: Wire) -> None:
    """RFC 9449: a DPoP-bound token from a proof, an API call with another proof, and
    a replayed proof: neither the proofs nor the bound token are kept (the proofs'
    jti are recorded as digests, the key as its public thumbprint)."""
    service = ClientFactory(grant_types="client_credentials", scope="read")
    key = ProofKey()
    proof = key.proof("POST", "http://testserver/oauth/token")
    wire.remember("DPoP proof", proof)
    response = wire.http.post("/oauth/token", urlencode({"grant_type": "client_credentials", "scope": "read"}),
                              content_type="application/x-www-form-urlencoded", HTTP_DPOP=proof,
                              HTTP_AUTHORIZATION=basic(service.client_id, service.secret))
    token = response.json()["access_token"]
    wire.remember("access token", token)
    api_proof = key.proof("GET", "http://testserver/api/me", access_token=token)
    wire.remember("DPoP proof", api_proof)
    assert wire.http.get("/api/me", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=api_proof).status_code == 200
    assert wire.http.get("/api/me", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=api_proof).status_code == 401


def database_dump() -> str:
    """Every row of every table, as text, plus the decoded sessions."""
    parts = []
    if connection.vendor == "sqlite":
        parts += list(connection.connection.iterdump())
    else:
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
                parts += [repr(row) for row in cursor.fetchall()]
                parts.append(table)
    parts += [repr(session.get_decoded()) for session in Session.objects.all()]
    return "\n".join(parts)


def cache_dump() -> str:
    cache = caches["default"]
    store = getattr(cache, "_cache", None)
    if not isinstance(store, dict):
        return ""
    return "\n".join(f"{key!r} {value!r}" for key, value in store.items())


def test_no_issued_value_is_stored_or_logged(client, admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.db.backends", "django.request", "oauth_tokens"):
        caplog.set_level(logging.DEBUG, logger=name)
    wire = Wire(client)
    connection.force_debug_cursor = True  # every SQL statement and its parameters is logged
    try:
        run_every_flow(wire, admin_client)
    finally:
        connection.force_debug_cursor = False

    kinds = set(wire.seen.values())
    assert kinds >= {
        "client secret (command)", "client secret (admin)", "client secret (factory)", "regenerated secret",
        "code verifier", "authorization code", "access token", "refresh token", "id token", "wrong secret",
        "unknown refresh token", "unknown code", "device code", "user code", "wrong user code",
        "request uri",
        "initial access token", "wrong initial access token", "client secret (registration)",
        "registration access token", "rotated registration access token",
        "client secret (client_secret_jwt)", "client assertion", "grant assertion", "external subject token",
        "DPoP proof",
    }
    assert len(wire.seen) >= 30

    sql_records = [r for r in caplog.records if r.name == "django.db.backends"]
    assert len(sql_records) > 100, "SQL logging did not run"
    log_text = caplog.text + "\n".join(
        f"{r.getMessage()} {r.__dict__.get('sql', '')} {r.__dict__.get('params', '')}" for r in caplog.records
    )
    dump = database_dump()
    assert "oauth_tokens_provider_refreshtoken" in dump and len(dump) > 10_000
    places = {"database": dump, "logs": log_text, "cache": cache_dump()}
    leaks = [
        f"{kind} in the {place}"
        for value, kind in wire.seen.items()
        for place, text in places.items()
        if value in text
    ]
    assert not leaks, leaks


def test_dump_would_catch_a_plaintext_value(client):
    """The search above can fail: a value stored in clear is found."""
    oauth_client = ClientFactory(name="plaintext-canary-" + "x" * 30)
    assert oauth_client.name in database_dump()
