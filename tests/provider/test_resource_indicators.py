"""Resource indicators (RFC 8707) over HTTP: the authorization request and its
consent form, each grant at the token endpoint, the device grant, refreshes that
narrow (never widen), ``invalid_target``, the ``aud`` of the access tokens, and
the provider's own endpoints (introspection, validation) that accept a token
whatever resource it is for."""

import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider.models import AuthorizationCode, DeviceCode, RefreshToken
from tests.conftest import REDIRECT, VERIFIER, basic
from tests.factories import ClientFactory, PublicClientFactory
from tests.provider.device import ENABLED, GRANT, enter, poll, start
from tests.provider.test_precompiled_sql import statements_of
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

pytestmark = pytest.mark.django_db

A, B, C = "https://a.example.test/api", "https://b.example.test/mcp", "https://c.example.test/"
ISSUER = TEST_OAUTH["ISSUER"]


def aud(response) -> object:
    assert response.status_code == 200, response.content
    return jwt.decode(response.json()["access_token"], options={"verify_signature": False})["aud"]


def invalid_target(response, *, mentions: str = ""):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_target", body
    assert response["Cache-Control"] == "no-store"
    assert mentions in body["error_description"]


def exchange(flow, code, **extra):
    return flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                       "code_verifier": VERIFIER, **extra})


def authorize_params(client, **extra):
    return {"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT, "scope": "read",
            "state": "st4te", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **extra}


# -- the authorization request ----------------------------------------------------------------
def test_consent_page_shows_the_resources_and_posts_each_back(client, user, oauth_client):
    client.force_login(user)
    page = client.get("/oauth/authorize", authorize_params(oauth_client, resource=[A, B]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"<code>{A}</code>" in html and f"<code>{B}</code>" in html
    posted = re.findall(r'<input type="hidden" name="resource" value="([^"]*)">', html)
    assert posted == [A, B]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    answer = client.post("/oauth/authorize", {**hidden, "resource": posted, "allow": "1"})
    assert answer.status_code == 303
    assert AuthorizationCode.objects.get().resources.split() == [A, B]


def test_authorization_code_token_is_for_the_authorized_resources(flow):
    code = flow.authorize(resource=[A, B])
    response = exchange(flow, code)
    assert aud(response) == [A, B]
    row = RefreshToken.objects.get()
    assert row.resources.split() == [A, B]


def test_token_request_narrows_to_one_resource(flow):
    code = flow.authorize(resource=[A, B])
    assert aud(exchange(flow, code, resource=B)) == B
    assert RefreshToken.objects.get().resources.split() == [A, B]  # the grant keeps both


def test_token_request_for_a_resource_not_authorized_is_invalid_target_and_spends_nothing(flow):
    code = flow.authorize(resource=[A])
    invalid_target(exchange(flow, code, resource=B), mentions=B)
    assert AuthorizationCode.objects.get().used_at is None
    assert aud(exchange(flow, code, resource=A)) == A


def test_without_resource_aud_stays_the_default_audience(flow, settings):
    assert aud(exchange(flow, flow.authorize())) == ISSUER
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCE": "https://api.example.test"}
    assert aud(flow.token({"grant_type": "client_credentials"})) == "https://api.example.test"


@pytest.mark.parametrize(("value", "why"), [
    ("https://a.example.test/api#section", "fragment"),
    ("/api/me", "absolute URI"),
    ("http://a.example.test/api", "not allowed"),
])
def test_bad_resource_at_authorize_redirects_invalid_target_with_iss_and_state(client, user, oauth_client,
                                                                                value, why):
    client.force_login(user)
    for method in (client.get, client.post):
        data = authorize_params(oauth_client, resource=value)
        answer = method("/oauth/authorize", data if method is client.get else {**data, "allow": "1"})
        assert answer.status_code == 303 if method is client.post else answer.status_code in (302, 303)
        location = urlsplit(answer["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        query = parse_qs(location.query)
        assert query["error"] == ["invalid_target"] and query["state"] == ["st4te"] and query["iss"] == [ISSUER]
        assert why in query["error_description"][0]
    assert AuthorizationCode.objects.count() == 0


def test_bad_resource_with_an_unregistered_redirect_uri_is_shown_not_redirected(client, user, oauth_client):
    client.force_login(user)
    page = client.get("/oauth/authorize", authorize_params(oauth_client, redirect_uri="https://evil.test/cb",
                                                           resource="/relative"))
    assert page.status_code == 400 and "Location" not in page


def test_client_limited_to_its_resources(flow, client, user):
    limited = ClientFactory(resources=f"{A}\n{B}")
    client.force_login(user)
    answer = client.get("/oauth/authorize", authorize_params(limited, resource=C))
    assert parse_qs(urlsplit(answer["Location"]).query)["error"] == ["invalid_target"]
    code = flow.authorize(client=limited, resource=A)
    response = flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                           "code_verifier": VERIFIER}, auth=basic(limited.client_id, limited.secret))
    assert aud(response) == A


def test_server_list_of_resources(flow, settings):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCES": [A]}
    assert aud(flow.token({"grant_type": "client_credentials", "resource": A})) == A
    invalid_target(flow.token({"grant_type": "client_credentials", "resource": B}), mentions="not allowed")
    # The default audience (here the issuer) is always one this server issues for.
    assert aud(flow.token({"grant_type": "client_credentials", "resource": ISSUER})) == ISSUER


# -- refresh: narrower, never wider ---------------------------------------------------------
def test_refresh_narrows_and_the_family_keeps_the_granted_resources(flow):
    tokens = exchange(flow, flow.authorize(resource=[A, B]), resource=A).json()
    narrowed = flow.refresh(tokens["refresh_token"], resource=B)
    assert aud(narrowed) == B
    successor = RefreshToken.objects.get(used_at__isnull=True)
    assert successor.resources.split() == [A, B]
    whole = flow.refresh(narrowed.json()["refresh_token"])
    assert aud(whole) == [A, B]


def test_refresh_asking_for_more_is_invalid_target_and_rotates_nothing(flow):
    tokens = exchange(flow, flow.authorize(resource=[A])).json()
    invalid_target(flow.refresh(tokens["refresh_token"], resource=B), mentions=B)
    invalid_target(flow.refresh(tokens["refresh_token"], resource=[A, B]), mentions=B)
    assert RefreshToken.objects.get().used_at is None
    assert aud(flow.refresh(tokens["refresh_token"], resource=A)) == A


def test_refresh_of_a_grant_without_resources_refuses_one(flow):
    tokens = flow.code_tokens()
    invalid_target(flow.refresh(tokens["refresh_token"], resource=A))
    assert aud(flow.refresh(tokens["refresh_token"])) == ISSUER


def test_refresh_with_a_resource_keeps_its_query_count(flow):
    tokens = exchange(flow, flow.authorize(resource=[A, B])).json()
    with CaptureQueriesContext(connection) as queries:
        response = flow.refresh(tokens["refresh_token"], resource=A)
    assert aud(response) == A
    statements_run = statements_of(queries)
    assert [s for s in statements_run if s == "SELECT"] == ["SELECT"]
    if connection.vendor == "postgresql":
        assert statements_run == ["SELECT", "WITH"]
    else:
        assert [s for s in statements_run if s in ("UPDATE", "INSERT")] == ["UPDATE", "INSERT", "INSERT"]


# -- client_credentials ---------------------------------------------------------------------
def test_client_credentials_for_one_or_several_resources(flow):
    assert aud(flow.token({"grant_type": "client_credentials", "resource": A})) == A
    assert aud(flow.token({"grant_type": "client_credentials", "resource": [A, B]})) == [A, B]
    assert aud(flow.token({"grant_type": "client_credentials", "resource": [A, B]}, json=True)) == [A, B]


@pytest.mark.parametrize(("value", "why"), [
    ("https://a.example.test/api#x", "fragment"),
    ("api/me", "absolute URI"),
    ("urn:example:thing", "not allowed"),
])
def test_client_credentials_with_a_bad_resource_is_invalid_target(flow, value, why):
    invalid_target(flow.token({"grant_type": "client_credentials", "resource": value}), mentions=why)
    invalid_target(flow.token({"grant_type": "client_credentials", "resource": value}, json=True), mentions=why)


def test_client_credentials_outside_the_clients_resources(flow):
    flow.client.resources = A
    flow.client.save()
    invalid_target(flow.token({"grant_type": "client_credentials", "resource": B}), mentions="not allowed")
    assert aud(flow.token({"grant_type": "client_credentials", "resource": A})) == A


# -- the device grant -----------------------------------------------------------------------
def test_device_grant_carries_the_resources_from_the_device_request(client, user, settings):
    settings.OAUTH_TOKENS = ENABLED
    tv = PublicClientFactory(grant_types=f"{GRANT} refresh_token", redirect_uris="")
    started = start(client, tv, scope="read", resource=A)
    assert started.status_code == 200, started.content
    assert DeviceCode.objects.get().resources == A
    client.force_login(user)
    page = enter(client, started.json()["user_code"])
    assert f"<code>{A}</code>" in page.content.decode()
    assert enter(client, started.json()["user_code"], allow="1").status_code == 200
    response = poll(client, tv, started.json()["device_code"])
    assert aud(response) == A
    assert RefreshToken.objects.get().resources == A


def test_device_request_with_a_bad_resource_is_invalid_target(client, settings):
    settings.OAUTH_TOKENS = ENABLED
    tv = PublicClientFactory(grant_types=GRANT, redirect_uris="")
    invalid_target(start(client, tv, resource="https://a.example.test/#frag"), mentions="fragment")
    invalid_target(start(client, tv, resource="relative"), mentions="absolute URI")
    assert DeviceCode.objects.count() == 0


def test_device_poll_for_a_resource_not_requested_is_invalid_target(client, settings):
    settings.OAUTH_TOKENS = ENABLED
    tv = PublicClientFactory(grant_types=GRANT, redirect_uris="")
    device_code = start(client, tv, resource=A).json()["device_code"]
    from tests.provider.device import form_post
    invalid_target(form_post(client, "/oauth/token", {"grant_type": GRANT, "device_code": device_code,
                                                      "resource": B}, client=tv))


# -- the provider's own endpoints accept tokens for any of its resources ----------------------
def test_introspection_and_validation_accept_a_token_for_a_resource(flow):
    token = flow.token({"grant_type": "client_credentials", "resource": [A, B]}).json()["access_token"]
    introspected = flow.token({"token": token}, path="/oauth/introspect")
    assert introspected.status_code == 200
    assert introspected.json()["active"] is True and introspected.json()["aud"] == [A, B]
    one = flow.token({"grant_type": "client_credentials", "resource": A}).json()["access_token"]
    assert flow.token({"token": one}, path="/oauth/introspect").json()["aud"] == A
    validated = flow.http.get("/oauth/token", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert validated.status_code == 200, validated.content


def test_userinfo_accepts_a_token_for_a_resource(flow):
    tokens = exchange(flow, flow.authorize(scope="openid", resource=A)).json()
    info = flow.http.get("/oauth/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert info.status_code == 200, info.content


def test_provider_refuses_a_resource_outside_its_list_even_when_signed_by_it(flow, settings):
    token = flow.token({"grant_type": "client_credentials", "resource": B}).json()["access_token"]
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCES": [A]}  # B no longer one of ours
    assert flow.token({"token": token}, path="/oauth/introspect").json() == {"active": False}


# -- the resource server: a token for A is refused by B and accepted by A ---------------------
def test_a_token_for_resource_a_is_accepted_by_a_and_refused_by_b(flow, settings, django_assert_num_queries):
    token = flow.token({"grant_type": "client_credentials", "resource": A, "scope": "read"}).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCE": B}
    refused = flow.http.get("/api/me", **bearer)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCE": A}
    assert flow.http.get("/api/me", **bearer).status_code == 200
    with django_assert_num_queries(0):  # still no query per request
        assert flow.http.get("/api/me", **bearer).status_code == 200
    settings.OAUTH_TOKENS = TEST_OAUTH  # no RESOURCE: the default audience (the issuer) only
    assert flow.http.get("/api/me", **bearer).status_code == 401


# -- settings and the admin -------------------------------------------------------------------
def test_resources_setting_is_validated(settings):
    from django.core import checks

    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCES": ["https://a.example.test/#x"]}
    errors = [e for e in checks.run_checks() if e.id == "oauth_tokens.E005"]
    assert any("RESOURCES" in e.msg and "fragment" in e.msg for e in errors)
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "RESOURCES": "https://a.example.test"}
    assert any("RESOURCES" in e.msg for e in checks.run_checks() if e.id == "oauth_tokens.E005")


def test_admin_validates_and_normalises_a_clients_resources(admin_client):
    edited = ClientFactory()
    url = f"/admin/oauth_tokens_provider/client/{edited.pk}/change/"
    form = {"name": edited.name, "client_type": edited.client_type, "grant_types": edited.grant_type_list,
            "redirect_uris": edited.redirect_uris, "scope": edited.scope, "is_active": "on"}
    page = admin_client.post(url, {**form, "resources": "https://a.example.test/#frag"})
    assert page.status_code == 200 and "fragment" in page.content.decode()
    page = admin_client.post(url, {**form, "resources": "http://plain.example.test/"})
    assert page.status_code == 200 and "not a resource this server issues tokens for" in page.content.decode()
    saved = admin_client.post(url, {**form, "resources": f"  {A}   {B}\r\n{A}"})
    assert saved.status_code == 302, saved.content
    edited.refresh_from_db()
    assert edited.resource_list == [A, B]


# -- hostile values: a clear OAuth error, never a 500 -------------------------------------------
@pytest.mark.parametrize(("data", "json", "error"), [
    ({"resource": "https://a.example.test/\x00"}, False, "invalid_request"),
    ({"resource": "https://a.example.test/\u00e9t\u00e9"}, False, "invalid_target"),
    ({"resource": "https://a.example.test/" + "x" * 5000}, False, "invalid_target"),
    ({"resource": [f"https://r{i}.example.test/" for i in range(11)]}, False, "invalid_target"),
    ({"resource": [["https://a.example.test/"]]}, True, "invalid_request"),
    ({"resource": {"uri": "https://a.example.test/"}}, True, "invalid_request"),
    ({"resource": ["https://a.example.test/", None]}, True, "invalid_request"),
])
def test_hostile_resource_values_at_the_token_endpoint(flow, data, json, error):
    response = flow.token({"grant_type": "client_credentials", **data}, json=json)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == error and response["Cache-Control"] == "no-store"


def test_hostile_resource_at_authorize_is_the_error_page(client, user, oauth_client):
    client.force_login(user)
    page = client.get("/oauth/authorize", authorize_params(oauth_client, resource="https://a.test/\x00"))
    assert page.status_code == 400 and "Location" not in page
    assert "no-store" in page["Cache-Control"]
