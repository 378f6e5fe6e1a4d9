"""Hostile input at /oauth/authorize: never a 500, never a redirect to an unverified URI."""

from urllib.parse import quote

import pytest

from oauth_tokens.provider.models import AuthorizationCode
from tests.provider.test_authorize import auth_params, query_of

pytestmark = pytest.mark.django_db

PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
          "code_challenge_method", "nonce", "resource"]

JUNK = [
    "\x00",
    "a\x00b",
    "%00",
    "\u2603 snow",
    "\U0001f600",
    "\ud800",  # lone surrogate
    "'; DROP TABLE oauth_tokens_provider_client; --",
    "<script>alert(1)</script>",
    "\r\nLocation: https://evil.test/",
    "x" * 5000,
]


def raw_query(params: dict[str, str]) -> str:
    return "&".join(f"{quote(k)}={quote(v, safe='', errors='surrogatepass')}" for k, v in params.items())


@pytest.mark.parametrize("name", PARAMS)
@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_junk_in_any_parameter_is_never_a_500(client, user, oauth_client, name, junk):
    client.force_login(user)
    params = auth_params(oauth_client)
    params[name] = junk
    query = raw_query(params)
    for response in (
        client.get("/oauth/authorize?" + query),
        client.post("/oauth/authorize", query + "&allow=1", content_type="application/x-www-form-urlencoded"),
    ):
        assert response.status_code in (200, 303, 400), (response.status_code, response.content[:300])
        if response.status_code == 303:
            assert response["Location"].startswith("https://app.example.test/cb?")
            assert "\n" not in response["Location"] and "\r" not in response["Location"]


@pytest.mark.parametrize("raw", ["%ff%fe", "%c3%28", "%ed%a0%80", "%f4%90%80%80"])
def test_invalid_utf8_is_never_a_500(client, user, oauth_client, raw):
    client.force_login(user)
    base = raw_query(auth_params(oauth_client))
    for extra in (f"&state={raw}", f"&client_id={raw}", f"&redirect_uri={raw}"):
        response = client.get("/oauth/authorize?" + base.replace("state=", "x=") + extra)
        assert response.status_code < 500


def test_nul_byte_in_state_is_refused_without_redirect(client, user, oauth_client):
    client.force_login(user)
    response = client.get("/oauth/authorize?" + raw_query({**auth_params(oauth_client), "state": "a\x00b"}))
    assert response.status_code == 400 and not response.has_header("Location")


def test_huge_state_is_refused_without_echoing_it(client, user, oauth_client):
    client.force_login(user)
    state = "s" * 100_000
    for response in (
        client.get("/oauth/authorize", auth_params(oauth_client, state=state)),
        client.post("/oauth/authorize", {**auth_params(oauth_client, state=state), "allow": "1"}),
    ):
        assert response.status_code == 400
        assert not response.has_header("Location")
        assert state not in response.content.decode()
    assert AuthorizationCode.objects.count() == 0


def test_state_of_a_few_kilobytes_still_works(client, user, oauth_client):
    client.force_login(user)
    state = "s" * 2000
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, state=state), "allow": "1"})
    assert response.status_code == 303 and query_of(response["Location"])["state"] == [state]


def test_many_parameters_are_never_a_500(client, user, oauth_client):
    client.force_login(user)
    query = raw_query(auth_params(oauth_client)) + "".join(f"&p{i}=1" for i in range(2000))
    assert client.get("/oauth/authorize?" + query).status_code == 400


def test_unicode_client_id_is_an_error_page(client, user, oauth_client):
    client.force_login(user)
    response = client.get("/oauth/authorize", auth_params(oauth_client, client_id="клиент\u2603"))
    assert response.status_code == 400 and not response.has_header("Location")


def test_other_methods_are_refused(client, user, oauth_client):
    client.force_login(user)
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)("/oauth/authorize").status_code == 405


def test_unicode_scope_redirects_invalid_scope(client, user, oauth_client):
    client.force_login(user)
    response = client.get("/oauth/authorize", auth_params(oauth_client, scope="read ünïcode"))
    assert response.status_code == 303
    assert query_of(response["Location"])["error"] == ["invalid_scope"]


def test_overlong_nonce_is_refused_before_it_reaches_the_database(client, user, oauth_client):
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, nonce="n" * 300), "allow": "1"})
    assert response.status_code == 400 and not response.has_header("Location")
    assert AuthorizationCode.objects.count() == 0
    ok = client.post("/oauth/authorize", {**auth_params(oauth_client, nonce="n" * 255), "allow": "1"})
    assert ok.status_code == 303
    assert AuthorizationCode.objects.get().nonce == "n" * 255
