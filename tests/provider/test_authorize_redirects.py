"""Redirect URI matching at /oauth/authorize (RFC 6749 3.1.2.3 / 4.1.2.1, RFC 9700 2.1,
RFC 8252 7.3; SPEC-CHECKLIST 21 and 23).

The client is registered with ``https://app.example.test/cb`` and ``http://127.0.0.1/cb``.
A near miss must show the error page: status 400, no ``Location``, no code.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from oauth_tokens.provider.models import AuthorizationCode
from tests.provider.test_authorize import auth_params, query_of, redeem

pytestmark = pytest.mark.django_db

NEAR_MISSES = [
    # SPEC-CHECKLIST 21
    "https://app.example.test.evil.com/cb",
    "https://app.example.test@evil.com/cb",
    "https://app.example.test/cb/../x",
    "https://app.example.test/cb/..%2Fx",
    "https://app.example.test/cb;p=1",
    "https://app.example.test/cb?x=1",
    "https://app.example.test/cb#f",
    "https://app.example.test/cb#",
    "https://app.example.test/CB",
    "https://APP.example.test/cb",
    "https://app.example.test%2Fcb",
    "https://app.example.test%2F@evil.com/cb",
    "https://app.example.test/cb%2F",
    "https://app.example.test/c%62",
    "http://app.example.test/cb",
    "https://localhost.evil.test/cb",
    "http://localhost.evil.test/cb",
    "http://127.0.0.1.evil.test/cb",
    # more of the family
    "https://app.example.test/cb/",
    "https://app.example.test:443/cb",
    "https://app.example.test:8443/cb",
    "https://app.example.test/cb ",
    " https://app.example.test/cb",
    "https://app.example.test\\@evil.com/cb",
    "https://evil.com\\@app.example.test/cb",
    "https://app.example.test/cb\r\nSet-Cookie: x=1",
    "//evil.com/cb",
    "evil.com/cb",
    "/cb",
    "javascript:alert(1)//app.example.test/cb",
    "data:text/html,<script>alert(1)</script>",
    "https://app.example.tést/cb",
]

LOOPBACK_MISSES = [
    "http://127.0.0.1:8080/other",
    "http://127.0.0.1:8080/cb/",
    "http://127.0.0.1:8080/cb?x=1",
    "http://127.0.0.1:8080/cb#f",
    "https://127.0.0.1:8080/cb",
    "http://localhost:8080/cb",
    "http://[::1]:8080/cb",
    "http://127.0.0.2:8080/cb",
    "http://127.0.0.1:8080@evil.com/cb",
    "http://evil.com@127.0.0.1:8080/cb",
    "http://127.0.0.1:abc/cb",
    "http://127.0.0.1:99999/cb",
    "http://127.0.0.1:-1/cb",
    "http://127.0.0.1:8080:9090/cb",
]


def assert_refused(response):
    assert response.status_code == 400, (response.status_code, response.get("Location"))
    assert not response.has_header("Location")
    assert "evil" not in response.content.decode()
    assert AuthorizationCode.objects.count() == 0


@pytest.mark.parametrize("redirect_uri", NEAR_MISSES + LOOPBACK_MISSES)
def test_unregistered_redirect_uri_is_an_error_page_on_get(client, user, oauth_client, redirect_uri):
    client.force_login(user)
    assert_refused(client.get("/oauth/authorize", auth_params(oauth_client, redirect_uri=redirect_uri)))


@pytest.mark.parametrize("redirect_uri", NEAR_MISSES + LOOPBACK_MISSES)
def test_unregistered_redirect_uri_is_an_error_page_on_allow(client, user, oauth_client, redirect_uri):
    client.force_login(user)
    params = {**auth_params(oauth_client, redirect_uri=redirect_uri), "allow": "1"}
    assert_refused(client.post("/oauth/authorize", params))


@pytest.mark.parametrize("redirect_uri", NEAR_MISSES[:6])
def test_unregistered_redirect_uri_wins_over_other_errors(client, user, oauth_client, redirect_uri):
    """Even a request that is otherwise wrong must not be bounced to the attacker."""
    client.force_login(user)
    params = auth_params(oauth_client, redirect_uri=redirect_uri, response_type="token", scope="admin")
    assert_refused(client.get("/oauth/authorize", params))
    assert_refused(client.post("/oauth/authorize", {**params, "deny": "1"}))


@pytest.mark.parametrize("port", ["", ":1", ":8080", ":53123", ":65535"])
def test_loopback_redirect_may_use_any_port(client, user, oauth_client, port):
    redirect_uri = f"http://127.0.0.1{port}/cb"
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client, redirect_uri=redirect_uri), "allow": "1"})
    assert response.status_code == 303
    assert response["Location"].startswith(redirect_uri + "?code=")
    code = query_of(response["Location"])["code"][0]
    # The token request must repeat the exact URI, port included.
    assert redeem(client, oauth_client, code, redirect_uri=redirect_uri).status_code == 200


def test_loopback_code_is_bound_to_its_port(client, user, oauth_client):
    client.force_login(user)
    params = {**auth_params(oauth_client, redirect_uri="http://127.0.0.1:5000/cb"), "allow": "1"}
    code = query_of(client.post("/oauth/authorize", params)["Location"])["code"][0]
    response = redeem(client, oauth_client, code, redirect_uri="http://127.0.0.1:5001/cb")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_ipv6_loopback_registered_allows_any_port(client, user):
    from tests.factories import ClientFactory

    oauth_client = ClientFactory(redirect_uris="http://[::1]/cb")
    client.force_login(user)
    response = client.post(
        "/oauth/authorize", {**auth_params(oauth_client, redirect_uri="http://[::1]:4242/cb"), "allow": "1"}
    )
    assert response.status_code == 303
    assert response["Location"].startswith("http://[::1]:4242/cb?code=")


def test_exact_registered_uri_redirects(client, user, oauth_client):
    client.force_login(user)
    response = client.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"})
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example.test", "/cb")
    assert set(parse_qs(location.query)) == {"code", "state", "iss"}


def test_iss_names_the_issuer_on_success_and_error_redirects(client, user, oauth_client):
    """RFC 9207 section 2: ``iss`` in every authorization response, exactly our issuer."""
    client.force_login(user)
    allowed = client.post("/oauth/authorize", {**auth_params(oauth_client), "allow": "1"})
    denied = client.post("/oauth/authorize", {**auth_params(oauth_client), "deny": "1"})
    refused = client.get("/oauth/authorize", auth_params(oauth_client, response_type="token"))
    for response in (allowed, denied, refused):
        assert response.status_code == 303
        assert parse_qs(urlsplit(response["Location"]).query)["iss"] == ["https://auth.example.test"]
