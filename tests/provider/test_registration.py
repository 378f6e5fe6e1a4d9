"""Dynamic client registration (RFC 7591) over HTTP: off by default, the three
policies (open to public clients, an initial access token, admin approval), every
metadata error, the per-address rate limit and a cache outage."""

from datetime import timedelta
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import call_command

from oauth_tokens import crypto
from oauth_tokens.provider.models import Client, InitialAccessToken, TokenEvent
from tests.conftest import REDIRECT, basic
from tests.provider import jwt_clients
from tests.provider.registration import ENABLED, METADATA, assert_error, code_tokens, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def enabled(settings):
    settings.OAUTH_TOKENS = ENABLED
    return settings


def new_initial_token(*args) -> str:
    out = StringIO()
    call_command("createregistrationtoken", "Partner", *args, stdout=out)
    return out.getvalue().split("initial access token: ")[1].split()[0]


# -- off by default -------------------------------------------------------------------

def test_off_by_default_the_endpoints_answer_404_and_discovery_has_no_registration_endpoint(client):
    assert_error(register(client), 404, "invalid_request")
    for method in ("get", "put", "delete"):
        assert_error(getattr(client, method)("/oauth/register/anything"), 404, "invalid_request")
    assert "registration_endpoint" not in client.get("/.well-known/oauth-authorization-server").json()
    assert "registration_endpoint" not in client.get("/.well-known/openid-configuration").json()
    assert not Client.objects.exists()


def test_on_both_discovery_documents_name_the_registration_endpoint(client, enabled):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        assert client.get(path).json()["registration_endpoint"] == "https://auth.example.test/oauth/register"


# -- open registration: public clients --------------------------------------------------

def test_a_public_client_registers_and_completes_the_code_flow(client, enabled, user):
    response = register(client, {**METADATA, "client_uri": "https://app.example.test", "contacts": ["a@example.test"],
                                 "logo_uri": "https://app.example.test/logo.png", "software_id": "app-1",
                                 "software_version": "2.0", "scope": "read write", "unknown_field": "ignored"},
                        REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert body["redirect_uris"] == [REDIRECT] and body["scope"] == "read write"
    assert body["client_uri"] == "https://app.example.test" and body["contacts"] == ["a@example.test"]
    assert body["software_id"] == "app-1" and body["software_version"] == "2.0"
    assert "unknown_field" not in body
    assert body["registration_client_uri"] == f"https://auth.example.test/oauth/register/{body['client_id']}"
    assert body["registration_status"] == "active" and body["client_id_issued_at"] > 0

    row = Client.objects.get(client_id=body["client_id"])
    assert (row.name, row.client_type, row.is_active) == ("Registered app", Client.PUBLIC, True)
    assert row.registered_from == "203.0.113.9" and row.registered_at is not None
    assert row.metadata["logo_uri"] == "https://app.example.test/logo.png"
    assert row.registration_token_digest == crypto.digest(body["registration_access_token"])
    event = TokenEvent.objects.get(kind=TokenEvent.CLIENT_REGISTERED)
    assert (event.client, event.ip_address) == (row, "203.0.113.9")

    tokens = code_tokens(client, body["client_id"], user)
    assert tokens.status_code == 200, tokens.content
    assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + tokens.json()["access_token"]).status_code == 200


def test_without_a_method_an_open_registration_gets_a_public_client(client, enabled):
    body = {k: v for k, v in METADATA.items() if k not in ("token_endpoint_auth_method", "grant_types",
                                                              "response_types", "client_name")}
    registered = register(client, body).json()
    assert registered["token_endpoint_auth_method"] == "none"
    assert registered["grant_types"] == ["authorization_code"] and registered["response_types"] == ["code"]
    assert registered["client_name"] == "Unnamed registered client"
    assert registered["scope"] == "read write openid profile email"  # the allowed scopes: SCOPES by default


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_open_registration_refuses_confidential_clients(client, enabled, method):
    assert_error(register(client, {**METADATA, "token_endpoint_auth_method": method}), 400,
                 "invalid_client_metadata")
    assert not Client.objects.exists()


@pytest.mark.parametrize("method", ["tls_client_auth", "magic"])
def test_methods_not_implemented_are_invalid_client_metadata(client, settings, method):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["none", "client_secret_basic"]}
    response = register(client, {**METADATA, "token_endpoint_auth_method": method})
    assert_error(response, 400, "invalid_client_metadata")
    assert "not supported" in response.json()["error_description"]


@pytest.mark.parametrize("method", ["private_key_jwt", "client_secret_jwt"])
def test_jwt_methods_must_be_allowed_like_any_other(client, settings, method):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["none", "client_secret_basic"]}
    response = register(client, {**METADATA, "token_endpoint_auth_method": method})
    assert_error(response, 400, "invalid_client_metadata")
    assert "not allowed here" in response.json()["error_description"]


JWT_METHODS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["none", "client_secret_basic", "private_key_jwt",
                                                         "client_secret_jwt"],
               "REGISTRATION_GRANT_TYPES": ["authorization_code", "refresh_token", "client_credentials"]}
SERVICE = {"client_name": "Registered service", "grant_types": ["client_credentials"], "response_types": [],
           "scope": "read"}


def test_a_private_key_jwt_client_registers_its_keys_and_authenticates_with_them(client, settings):
    settings.OAUTH_TOKENS = JWT_METHODS
    key = jwt_clients.ec_key()
    response = register(client, {**SERVICE, "token_endpoint_auth_method": "private_key_jwt",
                                 "jwks": jwt_clients.jwks((key, "k1"))})
    assert response.status_code == 201, response.content
    body = response.json()
    assert "client_secret" not in body and body["jwks"]["keys"][0]["kid"] == "k1"
    row = Client.objects.get(client_id=body["client_id"])
    assert row.token_endpoint_auth_method == "private_key_jwt" and not row.secret_digest
    signed = jwt_clients.form(jwt_clients.assertion(key, body["client_id"], alg="ES256"),
                              grant_type="client_credentials", scope="read")
    token = client.post("/oauth/token", urlencode(signed), content_type="application/x-www-form-urlencoded")
    assert token.status_code == 200, token.content
    # Another key (not registered) does not authenticate it.
    forged = jwt_clients.form(jwt_clients.assertion(jwt_clients.ec_key(), body["client_id"], alg="ES256"),
                              grant_type="client_credentials")
    assert client.post("/oauth/token", urlencode(forged),
                       content_type="application/x-www-form-urlencoded").status_code == 401


def test_a_client_secret_jwt_client_gets_a_secret_that_keys_its_assertions(client, settings):
    settings.OAUTH_TOKENS = JWT_METHODS
    body = register(client, {**SERVICE, "token_endpoint_auth_method": "client_secret_jwt"}).json()
    assert body["token_endpoint_auth_method"] == "client_secret_jwt" and body["client_secret"]
    signed = jwt_clients.form(jwt_clients.assertion(body["client_secret"].encode(), body["client_id"], alg="HS256",
                                                    kid=None), grant_type="client_credentials")
    token = client.post("/oauth/token", urlencode(signed), content_type="application/x-www-form-urlencoded")
    assert token.status_code == 200, token.content
    # Its secret alone (HTTP Basic) is not its method: refused.
    basic_try = client.post("/oauth/token", "grant_type=client_credentials",
                            content_type="application/x-www-form-urlencoded",
                            HTTP_AUTHORIZATION=basic(body["client_id"], body["client_secret"]))
    assert basic_try.status_code == 401


@pytest.mark.parametrize("extra, says", [
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks or jwks_uri"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}, "jwks_uri": "https://a.example/j"},
     "jwks or jwks_uri"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
     "public keys only"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example/jwks"}, "https"),
    ({"token_endpoint_auth_method": "client_secret_basic", "jwks_uri": "https://keys.example/jwks"},
     "private_key_jwt"),
])
def test_keys_must_fit_the_method(client, settings, extra, says):
    settings.OAUTH_TOKENS = JWT_METHODS
    response = register(client, {**SERVICE, **extra})
    assert_error(response, 400, "invalid_client_metadata")
    assert says in response.json()["error_description"]
    assert not Client.objects.exists()


def test_a_registered_method_is_the_only_one_that_works(client, settings):
    settings.OAUTH_TOKENS = {**JWT_METHODS, "REGISTRATION_AUTH_METHODS": ["client_secret_basic",
                                                                          "client_secret_post"]}
    body = register(client, {**SERVICE, "token_endpoint_auth_method": "client_secret_post"}).json()
    in_body = client.post("/oauth/token", urlencode({"grant_type": "client_credentials", "client_id": body["client_id"],
                                                     "client_secret": body["client_secret"]}),
                          content_type="application/x-www-form-urlencoded")
    assert in_body.status_code == 200, in_body.content
    by_basic = client.post("/oauth/token", "grant_type=client_credentials",
                           content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=basic(body["client_id"], body["client_secret"]))
    assert by_basic.status_code == 401


def test_scopes_are_limited_to_the_configured_ones(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_SCOPES": ["read"]}
    assert_error(register(client, {**METADATA, "scope": "read write"}), 400, "invalid_client_metadata")
    assert_error(register(client, {**METADATA, "scope": "introspection"}), 400, "invalid_client_metadata")
    assert register(client, {**METADATA, "scope": "read"}).json()["scope"] == "read"
    assert register(client, METADATA).json()["scope"] == "read"


def test_the_introspection_scope_is_never_registrable_by_default(client, enabled):
    assert_error(register(client, {**METADATA, "scope": "read introspection"}), 400, "invalid_client_metadata")


@pytest.mark.parametrize(("grants", "responses"), [
    (["client_credentials"], []),  # not in REGISTRATION_GRANT_TYPES (and a public client)
    (["urn:ietf:params:oauth:grant-type:device_code"], []),  # the device grant is off
    (["implicit"], ["token"]),
    (["authorization_code"], []),  # authorization_code needs code
    (["refresh_token"], ["code"]),  # code needs authorization_code
    (["authorization_code"], ["code", "token"]),
    ("authorization_code", ["code"]),  # not an array
])
def test_grant_types_must_be_allowed_and_agree_with_response_types(client, enabled, grants, responses):
    response = register(client, {**METADATA, "grant_types": grants, "response_types": responses})
    assert_error(response, 400, "invalid_client_metadata")


def test_the_device_grant_is_registrable_when_enabled_and_listed(client, settings):
    device = "urn:ietf:params:oauth:grant-type:device_code"
    settings.OAUTH_TOKENS = {**ENABLED, "DEVICE_AUTHORIZATION_ENABLED": True,
                             "REGISTRATION_GRANT_TYPES": ["authorization_code", device]}
    registered = register(client, {"grant_types": [device], "token_endpoint_auth_method": "none"})
    assert registered.status_code == 201, registered.content
    assert registered.json()["grant_types"] == [device] and registered.json()["response_types"] == []


@pytest.mark.parametrize("uri", [
    "http://app.example.test/cb",  # plain http off loopback
    "https://app.example.test/cb#frag",
    "https://user@app.example.test/cb",
    "com.example.app:/cb",  # private-use scheme: off by default
    "javascript:alert(1)",
    "/relative/cb",
    "https:///no-host",
    "https://app.example.test/c b",
    "https://app.example.test:99999/cb",
    "https://app.example.test/\u0000",
    "https://app.example.test/\ud800",
])
def test_bad_redirect_uris_are_invalid_redirect_uri(client, enabled, uri):
    assert_error(register(client, {**METADATA, "redirect_uris": [uri]}), 400, "invalid_redirect_uri")


@pytest.mark.parametrize("value", [None, [], "https://app.example.test/cb", [42]])
def test_the_code_grant_needs_a_list_of_redirect_uris(client, enabled, value):
    body = {**METADATA, "redirect_uris": value}
    if value is None:
        del body["redirect_uris"]
    assert_error(register(client, body), 400, "invalid_redirect_uri")


@pytest.mark.parametrize("uri", ["http://127.0.0.1:53682/callback", "http://[::1]/cb", "http://localhost:8080/cb",
                                 "https://app.example.test/cb?x=1"])
def test_loopback_http_and_https_redirect_uris_are_accepted(client, enabled, uri):
    response = register(client, {**METADATA, "redirect_uris": [uri]})
    assert response.status_code == 201, response.content
    assert response.json()["redirect_uris"] == [uri]


def test_private_use_schemes_need_the_setting_and_a_reverse_domain_name(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_CUSTOM_SCHEMES": True}
    assert register(client, {**METADATA, "redirect_uris": ["com.example.app:/oauth2redirect"]}).status_code == 201
    assert_error(register(client, {**METADATA, "redirect_uris": ["myapp:/cb"]}), 400, "invalid_redirect_uri")
    assert_error(register(client, {**METADATA, "redirect_uris": ["javascript:alert(1)"]}), 400,
                 "invalid_redirect_uri")


def test_registered_redirect_uris_are_matched_exactly(client, enabled, user):
    registered = register(client).json()
    client.force_login(user)
    page = client.get("/oauth/authorize", {"response_type": "code", "client_id": registered["client_id"],
                                           "redirect_uri": REDIRECT + "/other", "code_challenge": "x" * 43,
                                           "code_challenge_method": "S256"})
    assert page.status_code == 400 and not page.has_header("Location")


@pytest.mark.parametrize("field, value", [
    ("client_name", 42), ("client_name", "x" * 201), ("client_name", ""),
    ("client_uri", "not a url"), ("logo_uri", "ftp://app.example.test/logo"), ("tos_uri", 7),
    ("policy_uri", "javascript:alert(1)"), ("contacts", "a@example.test"), ("contacts", [1]),
    ("software_id", {"a": 1}), ("software_version", ["1"]), ("scope", 5), ("scope", 'read "x"'),
    ("token_endpoint_auth_method", ["none"]), ("response_types", "code"),
    ("client_name", "a\u0000b"), ("client_name", "a\ud800b"), ("contacts", ["a\u0000@example.test"]),
    ("software_id", "x\ny"), ("software_version", "\ud800"),
])
def test_malformed_metadata_is_invalid_client_metadata(client, enabled, field, value):
    assert_error(register(client, {**METADATA, field: value}), 400, "invalid_client_metadata")
    assert not Client.objects.exists()


def test_software_statements_are_refused(client, enabled):
    response = register(client, {**METADATA, "software_statement": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"})
    assert_error(response, 400, "invalid_software_statement")


@pytest.mark.parametrize("raw, content_type", [
    ("not json", "application/json"), ("[1, 2]", "application/json"), ('"x"', "application/json"),
    ("redirect_uris=https://a.example.test", "application/x-www-form-urlencoded"),
    ("[" * 100_00 + "]" * 100_00, "application/json"),
])
def test_a_body_that_is_not_a_json_object_is_invalid_request(client, enabled, raw, content_type):
    response = client.post("/oauth/register", raw, content_type=content_type)
    assert response.status_code in (400, 413)
    assert response["Cache-Control"] == "no-store" and response.json()["error"] == "invalid_request"


def test_a_body_over_the_size_limit_is_413(client, enabled):
    response = register(client, {**METADATA, "client_uri": "https://a.example.test/" + "x" * 20_000})
    assert_error(response, 413, "invalid_request")


def test_registration_is_post_only(client, enabled):
    assert_error(client.get("/oauth/register"), 405, "invalid_request")


# -- initial access tokens --------------------------------------------------------------

@pytest.fixture
def gated(settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED": True,
                             "REGISTRATION_AUTH_METHODS": ["client_secret_basic", "client_secret_post", "none"],
                             "REGISTRATION_GRANT_TYPES": ["authorization_code", "refresh_token",
                                                          "client_credentials"]}
    return settings


@pytest.mark.parametrize("token", [None, "", "wrong-" + "x" * 30])
def test_with_initial_tokens_required_a_missing_or_wrong_one_is_401(client, gated, token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}" if token else "Basic eDp5"} if token is not None else {}
    response = register(client, **headers)
    assert_error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert not Client.objects.exists()


def test_an_initial_token_registers_a_confidential_client_whose_secret_works(client, gated):
    token = new_initial_token()
    row = InitialAccessToken.objects.get()
    assert row.digest == crypto.digest(token) and token not in str(row.__dict__)
    response = register(client, {**METADATA, "token_endpoint_auth_method": "client_secret_basic",
                                 "grant_types": ["client_credentials"], "response_types": []}, token=token)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    stored = Client.objects.get(client_id=body["client_id"])
    assert stored.client_type == Client.CONFIDENTIAL and stored.secret_digest == crypto.digest(body["client_secret"])
    issued = client.post("/oauth/token", "grant_type=client_credentials",
                         content_type="application/x-www-form-urlencoded",
                         HTTP_AUTHORIZATION=basic(body["client_id"], body["client_secret"]))
    assert issued.status_code == 200, issued.content
    assert InitialAccessToken.objects.get().uses == 1
    assert "Partner" in TokenEvent.objects.get(kind=TokenEvent.CLIENT_REGISTERED).detail


def test_an_initial_token_is_used_up_after_its_uses(client, gated):
    token = new_initial_token("--max-uses", "1")
    assert register(client, token=token).status_code == 201
    assert_error(register(client, token=token), 401, "invalid_token")
    assert Client.objects.count() == 1


def test_an_initial_token_expires(client, gated, clock):
    token = new_initial_token("--expires-in", "60")
    clock.advance(61)
    assert_error(register(client, token=token), 401, "invalid_token")


def test_a_deleted_initial_token_stops_working(client, gated):
    token = new_initial_token()
    InitialAccessToken.objects.all().delete()
    assert_error(register(client, token=token), 401, "invalid_token")


def test_metadata_errors_do_not_spend_an_initial_token(client, gated):
    token = new_initial_token("--max-uses", "1")
    assert_error(register(client, {**METADATA, "redirect_uris": ["http://evil.example.test"]}, token=token), 400,
                 "invalid_redirect_uri")
    assert register(client, token=token).status_code == 201


def test_the_command_refuses_nonsense(capsys):
    from django.core.management.base import CommandError

    for args in (["x", "--expires-in", "0"], ["x", "--max-uses", "-1"], [" "]):
        with pytest.raises(CommandError):
            call_command("createregistrationtoken", *args, stdout=StringIO())
    assert not InitialAccessToken.objects.exists()


# -- approval ---------------------------------------------------------------------------

def test_with_approval_required_a_client_waits_inactive_until_approved(client, settings, user, admin_client):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_APPROVAL_REQUIRED": True}
    response = register(client)
    assert response.status_code == 201
    body = response.json()
    assert body["registration_status"] == "pending_approval"
    row = Client.objects.get(client_id=body["client_id"])
    assert (row.is_active, row.pending_approval) == (False, True)
    client.force_login(user)
    refused = client.get("/oauth/authorize", {"response_type": "code", "client_id": body["client_id"],
                                              "redirect_uri": REDIRECT})
    assert refused.status_code == 400 and not refused.has_header("Location")

    changelist = "/admin/oauth_tokens_provider/client/"
    assert body["client_id"] in admin_client.get(changelist + "?registration=pending").content.decode()
    admin_client.post(changelist, {"action": "approve", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert (row.is_active, row.pending_approval) == (True, False)
    assert body["client_id"] not in admin_client.get(changelist + "?registration=pending").content.decode()
    assert code_tokens(client, body["client_id"], user).status_code == 200


# -- rate limit and cache outage --------------------------------------------------------

def test_registrations_are_rate_limited_per_address(client, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_RATE_LIMIT": 2, "REGISTRATION_RATE_WINDOW": 600}
    for _ in range(2):
        assert register(client, REMOTE_ADDR="198.51.100.1").status_code == 201
    limited = register(client, REMOTE_ADDR="198.51.100.1")
    assert_error(limited, 429, "temporarily_unavailable")
    assert limited["Retry-After"] == "600"
    assert_error(register(client, {"bad": 1}, REMOTE_ADDR="198.51.100.1"), 429, "temporarily_unavailable")
    assert register(client, REMOTE_ADDR="198.51.100.2").status_code == 201
    assert Client.objects.count() == 3


def test_with_the_cache_down_registration_still_answers(client, settings, caplog):
    from tests.flakycache import FlakyCache

    FlakyCache.restore()
    settings.CACHES = {"default": {"BACKEND": "tests.flakycache.FlakyCache"}}
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_RATE_LIMIT": 1}
    FlakyCache.mode = "down"
    try:
        for _ in range(3):
            assert register(client).status_code == 201
        assert_error(register(client, {**METADATA, "redirect_uris": ["x"]}), 400, "invalid_redirect_uri")
    finally:
        FlakyCache.restore()
    assert "throttle count" in caplog.text


# -- settings ---------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("REGISTRATION_AUTH_METHODS", ["tls_client_auth"]), ("REGISTRATION_AUTH_METHODS", "none"),
    ("REGISTRATION_AUTH_METHODS", []), ("REGISTRATION_GRANT_TYPES", ["implicit"]),
    ("REGISTRATION_ENABLED", "yes"), ("REGISTRATION_SCOPES", "read"), ("REGISTRATION_RATE_LIMIT", -1),
    ("REGISTRATION_RATE_WINDOW", 0),
])
def test_bad_registration_settings_fail_the_checks(settings, key, value):
    from oauth_tokens.settings import check_setting_values

    settings.OAUTH_TOKENS = {**ENABLED, key: value}
    assert [m.id for m in check_setting_values()] == ["oauth_tokens.E005"]


def test_open_registration_of_confidential_clients_warns(settings):
    from oauth_tokens.provider.checks import check_open_registration

    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_AUTH_METHODS": ["none", "client_secret_basic"]}
    assert [m.id for m in check_open_registration()] == ["oauth_tokens.W050"]
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED": True}
    assert check_open_registration() == []
    settings.OAUTH_TOKENS = ENABLED
    assert check_open_registration() == []


def test_lifetimes_are_unaffected_by_timedelta_windows(settings, client):
    settings.OAUTH_TOKENS = {**ENABLED, "REGISTRATION_RATE_WINDOW": timedelta(minutes=5), "REGISTRATION_RATE_LIMIT": 1}
    register(client)
    assert register(client)["Retry-After"] == "300"


def test_the_consent_page_says_a_registered_clients_name_is_not_verified(client, enabled, user, oauth_client):
    registered = register(client, {**METADATA, "client_name": "Totally Official App"}).json()
    client.force_login(user)
    params = {"response_type": "code", "redirect_uri": REDIRECT, "scope": "read", "code_challenge": "x" * 43,
              "code_challenge_method": "S256"}
    page = client.get("/oauth/authorize", {**params, "client_id": registered["client_id"]}).content.decode()
    assert "Totally Official App" in page and "registered itself" in page
    other = client.get("/oauth/authorize", {**params, "client_id": oauth_client.client_id}).content.decode()
    assert "registered itself" not in other
