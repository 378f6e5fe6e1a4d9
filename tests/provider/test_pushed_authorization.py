"""Pushed authorization requests over HTTP (RFC 9126): POST /oauth/par, then
/oauth/authorize with the request_uri, then the token endpoint."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from django.core.management import call_command

from oauth_tokens.oauth2.pkce import s256
from oauth_tokens.provider.models import AuthorizationCode, PushedAuthorizationRequest
from tests.conftest import REDIRECT, VERIFIER, basic
from tests.factories import ClientFactory, PublicClientFactory, UserFactory
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

FORM = "application/x-www-form-urlencoded"
PREFIX = "urn:ietf:params:oauth:request_uri:"

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def app(db):
    return ClientFactory(name="Photo app")


@pytest.fixture
def alice(client):
    user = UserFactory(username="alice")
    client.force_login(user)
    return user


def authorization_params(**extra):
    return {"response_type": "code", "redirect_uri": REDIRECT, "scope": "read", "state": "st4te",
            "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", **extra}


def push(http, client, params=None, *, auth=True, **headers):
    data = authorization_params() if params is None else params
    if auth and client.is_confidential:
        headers["HTTP_AUTHORIZATION"] = basic(client.client_id, client.secret)
    elif auth:
        data = {"client_id": client.client_id, **data}
    return http.post("/oauth/par", urlencode(data, doseq=True), content_type=FORM, **headers)


def pushed_uri(http, client, **extra):
    response = push(http, client, authorization_params(**extra))
    assert response.status_code == 201, response.content
    return response.json()["request_uri"]


def decide(http, client, request_uri, button="allow", **extra):
    return http.post("/oauth/authorize", {"client_id": client.client_id, "request_uri": request_uri, button: "1",
                                          **extra})


def code_of(response):
    assert response.status_code == 303, response.content
    return parse_qs(urlsplit(response["Location"]).query)


def test_push_answers_201_with_a_request_uri_and_its_lifetime(client, app):
    response = push(client, app)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"request_uri", "expires_in"} and body["expires_in"] == 60
    assert body["request_uri"].startswith(PREFIX) and len(body["request_uri"]) > len(PREFIX) + 40
    row = PushedAuthorizationRequest.objects.get()
    assert body["request_uri"].removeprefix(PREFIX) not in row.digest
    assert "client_secret" not in row.params and row.params["redirect_uri"] == [REDIRECT]


def test_push_then_authorize_then_token(client, app, alice):
    request_uri = pushed_uri(client, app, scope="read openid", nonce="n-1")
    page = client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri})
    text = page.content.decode()
    assert page.status_code == 200 and "Photo app" in text and "<code>openid</code>" in text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text))
    assert set(hidden) - {"csrfmiddlewaretoken"} == {"client_id", "request_uri"}
    query = code_of(client.post("/oauth/authorize", {**hidden, "allow": "1"}))
    assert query["state"] == ["st4te"] and query["iss"] == ["https://auth.example.test"]
    tokens = client.post("/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER}), content_type=FORM, HTTP_AUTHORIZATION=basic(app.client_id, app.secret))
    assert tokens.status_code == 200, tokens.content
    assert set(tokens.json()["scope"].split()) == {"openid", "read"} and tokens.json()["id_token"]
    assert AuthorizationCode.objects.get().nonce == "n-1"


def test_a_public_client_pushes_with_its_client_id(client, alice):
    spa = PublicClientFactory()
    response = push(client, spa)
    assert response.status_code == 201
    assert "code" in code_of(decide(client, spa, response.json()["request_uri"]))


def test_only_the_pushed_parameters_count_at_the_authorization_endpoint(client, app, alice):
    request_uri = pushed_uri(client, app, state="pushed")
    response = decide(client, app, request_uri, state="swapped", scope="read write",
                      redirect_uri="http://127.0.0.1/cb")
    query = code_of(response)
    assert response["Location"].startswith(REDIRECT + "?") and query["state"] == ["pushed"]
    assert AuthorizationCode.objects.get().scope == "read"


def test_the_request_uri_serves_the_page_again_but_one_decision_only(client, app, alice):
    request_uri = pushed_uri(client, app)
    for _ in range(2):  # a reload of the consent page
        page = client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri})
        assert page.status_code == 200
    assert "code" in code_of(decide(client, app, request_uri))
    again = decide(client, app, request_uri)
    assert again.status_code == 400 and "invalid_request_uri" in again.content.decode()
    page = client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri})
    assert page.status_code == 400 and "Location" not in page
    assert AuthorizationCode.objects.count() == 1


def test_a_deny_spends_it_too(client, app, alice):
    request_uri = pushed_uri(client, app)
    assert code_of(decide(client, app, request_uri, button="deny"))["error"] == ["access_denied"]
    assert decide(client, app, request_uri).status_code == 400


def test_an_expired_request_uri_is_refused_and_cleared(client, app, alice, clock):
    request_uri = pushed_uri(client, app)
    clock.advance(61)
    page = client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri})
    assert page.status_code == 400 and "invalid_request_uri" in page.content.decode()
    assert "no-store" in page["Cache-Control"] and "Location" not in page
    call_command("cleartokens", stdout=open("/dev/null", "w"))
    assert not PushedAuthorizationRequest.objects.exists()


def test_once_shown_the_user_has_the_consent_time_to_decide(client, app, alice, clock):
    request_uri = pushed_uri(client, app)
    clock.advance(50)
    assert client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri}).status_code == 200
    clock.advance(300)
    assert "code" in code_of(decide(client, app, request_uri))


def test_another_clients_or_an_unknown_request_uri_is_refused(client, app, alice):
    request_uri = pushed_uri(client, app)
    other = ClientFactory()
    for client_id, uri in [(other.client_id, request_uri), (app.client_id, PREFIX + "x" * 43),
                           (app.client_id, "https://evil.example.test/req"), ("", request_uri)]:
        page = client.get("/oauth/authorize", {"client_id": client_id, "request_uri": uri})
        assert page.status_code == 400 and "Location" not in page, (client_id, uri)
    assert "code" in code_of(decide(client, app, request_uri))


@pytest.mark.parametrize("params, error", [
    ({"redirect_uri": "https://evil.example.test/cb"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "admin"}, "invalid_scope"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"request_uri": PREFIX + "abc"}, "invalid_request"),
])
def test_a_bad_request_is_a_json_error_not_a_redirect(client, app, params, error):
    data = {k: v for k, v in authorization_params(**params).items() if v is not None}
    response = push(client, app, data)
    assert response.status_code == 400 and response["Cache-Control"] == "no-store"
    assert response.json()["error"] == error and "Location" not in response
    assert not PushedAuthorizationRequest.objects.exists()


@pytest.mark.parametrize("body", ["extra=a%00b", "x%00=1", "state=%ff%fe", "scope=read&scope=write"])
def test_odd_bytes_or_repeats_are_a_json_error_or_stored_harmlessly(client, app, body):
    params = urlencode({k: v for k, v in authorization_params().items() if not (k == "scope" and "scope=" in body)
                        and not (k == "state" and "state=" in body)})
    response = client.post("/oauth/par", f"{params}&{body}", content_type=FORM,
                           HTTP_AUTHORIZATION=basic(app.client_id, app.secret))
    if "%00" in body or "scope=" in body:
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    else:
        assert response.status_code == 201  # undecodable bytes read as U+FFFD, as Django reads any form


def test_client_authentication_failures(client, app):
    wrong = push(client, app, auth=False, HTTP_AUTHORIZATION=basic(app.client_id, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong["WWW-Authenticate"].startswith("Basic")
    none = push(client, app, {**authorization_params(), "client_id": app.client_id}, auth=False)
    assert none.status_code == 401 and none.json()["error"] == "invalid_client"
    mismatch = push(client, app, {**authorization_params(), "client_id": ClientFactory().client_id})
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_request"
    assert not PushedAuthorizationRequest.objects.exists()


def test_a_client_without_the_code_grant_may_not_push(client):
    machine = ClientFactory(grant_types="client_credentials")
    response = push(client, machine)
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"


def test_json_and_get_are_refused(client, app):
    response = client.post("/oauth/par", authorization_params(), content_type="application/json",
                           HTTP_AUTHORIZATION=basic(app.client_id, app.secret))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert client.get("/oauth/par").status_code == 405


def test_a_client_that_must_push_cannot_use_a_plain_request(client, alice):
    app = ClientFactory(require_pushed_authorization_requests=True)
    plain = client.get("/oauth/authorize", {"client_id": app.client_id, **authorization_params()})
    assert plain.status_code == 400 and "Location" not in plain and "push" in plain.content.decode()
    posted = client.post("/oauth/authorize", {"client_id": app.client_id, **authorization_params(), "allow": "1"})
    assert posted.status_code == 400 and not AuthorizationCode.objects.exists()
    assert "code" in code_of(decide(client, app, pushed_uri(client, app)))
    other = ClientFactory()
    assert client.get("/oauth/authorize", {"client_id": other.client_id, **authorization_params()}).status_code == 200


def test_require_par_for_everyone(client, app, alice, settings):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS": True}
    assert client.get("/oauth/authorize", {"client_id": app.client_id, **authorization_params()}).status_code == 400
    assert "code" in code_of(decide(client, app, pushed_uri(client, app)))
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["require_pushed_authorization_requests"] is True


def test_discovery_and_the_switch(client, app, alice, settings):
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["pushed_authorization_request_endpoint"] == "https://auth.example.test/oauth/par"
    assert metadata["require_pushed_authorization_requests"] is False
    request_uri = pushed_uri(client, app)
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "PUSHED_AUTHORIZATION_REQUESTS_ENABLED": False}
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        metadata = client.get(path).json()
        assert "pushed_authorization_request_endpoint" not in metadata
        assert "require_pushed_authorization_requests" not in metadata
    off = push(client, app)
    assert off.status_code == 404 and off["Cache-Control"] == "no-store"
    assert client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri}).status_code == 400


def test_the_check_refuses_requiring_par_while_it_is_off(settings):
    from oauth_tokens.provider.checks import check_settings

    settings.OAUTH_TOKENS = {**TEST_OAUTH, "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS": True,
                             "PUSHED_AUTHORIZATION_REQUESTS_ENABLED": False}
    assert "oauth_tokens.E006" in [m.id for m in check_settings()]


def test_every_pushed_parameter_is_kept_with_all_its_values(client, app, alice):
    """Generic storage: a parameter the endpoint does not read today (or a repeatable
    one, as RFC 8707 ``resource`` is) reaches the authorization endpoint unchanged."""
    body = urlencode(authorization_params()) + "&ext=a&ext=b"
    response = client.post("/oauth/par", body, content_type=FORM, HTTP_AUTHORIZATION=basic(app.client_id, app.secret))
    assert response.status_code == 201
    row = PushedAuthorizationRequest.objects.get()
    assert row.params["ext"] == ["a", "b"] and row.params["client_id"] == [app.client_id]
    assert "code" in code_of(decide(client, app, response.json()["request_uri"]))


def test_a_user_who_must_log_in_first_still_has_the_consent_time(client, app, clock):
    request_uri = pushed_uri(client, app)
    client.logout()
    reference = {"client_id": app.client_id, "request_uri": request_uri}
    to_login = client.get("/oauth/authorize", reference)
    assert to_login.status_code == 302 and to_login["Location"].startswith("/accounts/login/")
    clock.advance(120)  # typing a password takes longer than the push's 60 s
    client.force_login(UserFactory(username="late"))
    assert client.get("/oauth/authorize", reference).status_code == 200
    assert "code" in code_of(decide(client, app, request_uri))


def test_pushed_resources_reach_the_code_and_the_token(client, app, alice):
    """RFC 8707 through RFC 9126: the pushed request's resources (repeated) are the code's,
    and a wrong one is refused at the push, as JSON."""
    api, mcp = "https://api.example.test/", "https://mcp.example.test/mcp"
    refused = push(client, app, authorization_params(resource=["not a uri"]))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    request_uri = pushed_uri(client, app, resource=[api, mcp])
    page = client.get("/oauth/authorize", {"client_id": app.client_id, "request_uri": request_uri})
    assert api in page.content.decode() and mcp in page.content.decode()
    code = code_of(decide(client, app, request_uri))["code"][0]
    assert AuthorizationCode.objects.get().resources.split() == [api, mcp]
    tokens = client.post("/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER,
        "resource": mcp}), content_type=FORM, HTTP_AUTHORIZATION=basic(app.client_id, app.secret))
    assert tokens.status_code == 200, tokens.content
    claims = jwt.decode(tokens.json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == mcp
