"""The connect flow's edges: state, errors from the provider, a provider that is
down, redirects. Every failure is a page, never a 500, and nothing secret
lands in the session or a URL we build."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings

from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.oauth2.pkce import s256

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(fake, register):
    server = fake()
    register(ext=server.config())
    return server


def start(client, user, query=""):
    client.force_login(user)
    response = client.get("/oauth/connect/ext/" + query)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)


def test_connect_requires_login(client, server):
    response = client.get("/oauth/connect/ext/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/oauth/connect/ext/", "/oauth/connect/ext/callback/"])
def test_a_url_too_long_for_the_login_redirect_gets_the_error_page(client, server, path):
    """Logged out, a URL over 16 KB cannot be the login page's next (Django refuses the
    redirect): the connect error page with no-store, not Django's bare 400."""
    response = client.get(path, {"state": "s" * 17_000})
    assert response.status_code == 400 and b"too large" in response.content
    assert "no-store" in response["Cache-Control"]


def test_authorization_request_and_session_hold_no_secret(client, alice, server):
    params = start(client, alice)
    assert params["response_type"] == ["code"] and params["client_id"] == ["cid"]
    assert params["code_challenge_method"] == ["S256"] and params["scope"] == ["read"]
    assert params["redirect_uri"] == ["http://testserver/oauth/connect/ext/callback/"]
    assert "client_secret" not in params
    stored = client.session["oauth_tokens_consumer.connect.ext"]
    assert params["state"][0] not in str(stored)  # a digest of the state, an encrypted verifier
    assert "verifier" in stored and len(stored["verifier"]) > 100


def test_successful_callback_stores_tokens_and_redirects(client, alice, server):
    params = start(client, alice, "?next=/dashboard/")
    code = server.add_code(params["code_challenge"][0])
    response = client.get("/oauth/connect/ext/callback/", {"code": code, "state": params["state"][0]})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    row = ExternalToken.objects.get(provider="ext", user=alice)
    assert row.access_token in server.live_access and row.refresh_token in server.live_refresh
    [exchange] = server.token_requests
    assert exchange["params"]["grant_type"] == "authorization_code"
    assert s256(exchange["params"]["code_verifier"]) == params["code_challenge"][0]
    assert exchange["params"]["redirect_uri"] == params["redirect_uri"][0]
    # The state is single use.
    again = client.get("/oauth/connect/ext/callback/", {"code": code, "state": params["state"][0]})
    assert again.status_code == 400 and b"start again" in again.content


@pytest.mark.parametrize("method", ["post", "put", "delete", "head"])
def test_callback_answers_only_get_and_another_method_leaves_the_flow_pending(client, alice, server, method):
    params = start(client, alice)
    code = server.add_code(params["code_challenge"][0])
    query = f"?code={code}&state={params['state'][0]}"
    refused = getattr(client, method)("/oauth/connect/ext/callback/" + query)
    assert refused.status_code == 405 and not server.token_requests
    response = client.get("/oauth/connect/ext/callback/" + query)
    assert response.status_code == 302 and ExternalToken.objects.filter(provider="ext", user=alice).exists()


def test_reconnect_after_reauthorization_resets_the_row(client, alice, server):
    ExternalToken.objects.create(provider="ext", user=alice, status="needs_reauth", last_error="invalid_grant")
    params = start(client, alice)
    code = server.add_code(params["code_challenge"][0])
    client.get("/oauth/connect/ext/callback/", {"code": code, "state": params["state"][0]})
    row = ExternalToken.objects.get(provider="ext", user=alice)
    assert row.status == "active" and row.last_error == "" and row.access_token


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_must_be_local(client, alice, server, next_url):
    params = start(client, alice, f"?next={next_url}")
    code = server.add_code(params["code_challenge"][0])
    response = client.get("/oauth/connect/ext/callback/", {"code": code, "state": params["state"][0]})
    assert response["Location"] == "/"


def test_wrong_state_is_refused(client, alice, server):
    params = start(client, alice)
    code = server.add_code(params["code_challenge"][0])
    response = client.get("/oauth/connect/ext/callback/", {"code": code, "state": "forged"})
    assert response.status_code == 400 and b"expired or was already used" in response.content
    assert "no-store" in response["Cache-Control"]
    assert server.token_requests == [] and not ExternalToken.objects.exists()


def test_callback_without_a_pending_flow(client, alice, server):
    client.force_login(alice)
    response = client.get("/oauth/connect/ext/callback/", {"code": "x", "state": "y"})
    assert response.status_code == 400


def test_user_denied(client, alice, server):
    params = start(client, alice)
    response = client.get("/oauth/connect/ext/callback/",
                          {"error": "access_denied", "error_description": "<script>x</script>",
                           "state": params["state"][0]})
    assert response.status_code == 400 and b"You declined" in response.content and b"<script>" not in response.content


def test_provider_error_code_is_sanitised(client, alice, server):
    params = start(client, alice)
    response = client.get("/oauth/connect/ext/callback/",
                          {"error": "<b>server_error</b>", "state": params["state"][0]})
    assert response.status_code == 400 and b"bserver_errorb" in response.content and b"<b>" not in response.content


def test_refused_code(client, alice, server):
    params = start(client, alice)
    response = client.get("/oauth/connect/ext/callback/", {"code": "made-up", "state": params["state"][0]})
    assert response.status_code == 400 and b"was refused" in response.content
    assert not ExternalToken.objects.exists()


def test_provider_down_during_exchange(client, alice, server):
    params = start(client, alice)
    server.script = [(503, {})] * 3
    response = client.get("/oauth/connect/ext/callback/", {"code": "c", "state": params["state"][0]})
    assert response.status_code == 502 and b"could not be reached" in response.content


def test_misconfigured_client_during_exchange(client, alice, fake, register):
    server = fake()
    register(ext=server.config(client_secret="wrong-secret"))
    params = start(client, alice)
    code = server.add_code(params["code_challenge"][0])
    response = client.get("/oauth/connect/ext/callback/", {"code": code, "state": params["state"][0]})
    assert response.status_code == 502 and b"invalid_client" in response.content
    assert b"wrong-secret" not in response.content


def test_unknown_provider_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/oauth/connect/nope/").status_code == 404
    assert client.get("/oauth/connect/nope/callback/").status_code == 404


def test_client_credentials_only_provider_cannot_be_connected(client, alice, fake, register):
    register(machine=fake().config(authorize_url=""))
    client.force_login(alice)
    response = client.get("/oauth/connect/machine/")
    assert response.status_code == 400 and b"no authorization endpoint" in response.content


def test_disconnect_revokes_and_redirects(client, alice, server, connected):
    row = connected("ext", server)
    client.force_login(alice)
    assert client.get("/oauth/connect/ext/disconnect/").status_code == 405
    response = client.post("/oauth/connect/ext/disconnect/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert [hint for hint, _ in server.revoked] == ["refresh_token", "access_token"]
    assert ExternalToken.objects.get(pk=row.pk).status == "revoked"


# -- browser_view: what the CSRF check reads first, and too many fields (issue 11 fuzzing) ----


@pytest.mark.parametrize("path", ["/oauth/connect/ext/", "/oauth/connect/ext/disconnect/"])
def test_a_huge_post_to_the_consumer_views_gets_their_error_page(client, alice, server, path):
    client.force_login(alice)
    r = client.post(path, "x=" + "y" * 2_700_000, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and "no-store" in r["Cache-Control"]
    assert b"Bad Request (400)" not in r.content


def test_a_callback_with_too_many_fields_gets_the_consumer_error_page(client, alice, server):
    client.force_login(alice)
    extra = "&".join(f"x{i}=1" for i in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5))
    r = client.get("/oauth/connect/ext/callback/?" + extra)
    assert r.status_code == 400 and "no-store" in r["Cache-Control"]
    assert b"Bad Request (400)" not in r.content


def test_the_consumer_disconnect_still_needs_the_csrf_token(client, alice, server):
    from django.test import Client

    http = Client(enforce_csrf_checks=True)
    http.force_login(alice)
    assert http.post("/oauth/connect/ext/disconnect/").status_code == 403
