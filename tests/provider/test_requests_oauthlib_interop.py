"""The code flow with a client we did not write: requests-oauthlib's ``OAuth2Session``
(PKCE S256, a public client) against a live server: authorization URL, the
user's consent in a browser, the code exchange, a call to the protected API,
and a refresh that rotates. Skipped without requests-oauthlib."""

import os
import re
from html import unescape

import pytest
import requests

from tests.factories import PublicClientFactory

pytest.importorskip("requests_oauthlib")
from requests_oauthlib import OAuth2Session  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = "http://127.0.0.1:33418/callback"


@pytest.fixture
def site(live_server, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url}
    return live_server.url


def consent(browser: requests.Session, url: str) -> str:
    """The user, signed in, opens ``url`` and clicks Allow; the redirect it is sent to."""
    page = browser.get(url)
    assert page.status_code == 200, page.text
    form = {name: unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
    decided = browser.post(url.split("?")[0], data={**form, "allow": "1"}, headers={"Referer": url},
                           allow_redirects=False)
    assert decided.status_code == 303, decided.text
    return decided.headers["Location"]


def test_requests_oauthlib_runs_the_code_flow_with_pkce_and_refreshes(site, client, user, monkeypatch):
    monkeypatch.setitem(os.environ, "OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server is http
    app = PublicClientFactory(redirect_uris=REDIRECT, scope="read write")
    oauth = OAuth2Session(app.client_id, redirect_uri=REDIRECT, scope=["read"], pkce="S256")
    url, state = oauth.authorization_url(site + "/oauth/authorize")
    assert "code_challenge_method=S256" in url

    client.force_login(user)
    browser = requests.Session()
    browser.cookies.set("sessionid", client.cookies["sessionid"].value)
    callback = consent(browser, url)
    assert f"state={state}" in callback and "iss=" in callback

    token = oauth.fetch_token(site + "/oauth/token", authorization_response=callback, include_client_id=True)
    assert token["token_type"] == "Bearer" and token["scope"] == ["read"] and token["refresh_token"]
    me = oauth.get(site + "/api/me")
    assert me.status_code == 200 and me.json()["client_id"] == app.client_id

    refreshed = oauth.refresh_token(site + "/oauth/token", client_id=app.client_id)
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert oauth.get(site + "/api/me").status_code == 200
    # The first refresh token was spent by the rotation: replaying it is refused.
    replay = requests.post(site + "/oauth/token", data={"grant_type": "refresh_token", "client_id": app.client_id,
                                                        "refresh_token": token["refresh_token"]})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
