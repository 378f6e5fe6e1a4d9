"""Pushed authorization requests and RP-initiated logout with clients we did not
write, against a live server, the browser steps driven by httpx the way a
browser would (log in on the login page, submit the forms it is shown).

- PAR: requests-oauth2client (``pushed_authorization_request``), from our
  discovery document: push, the browser's consent, its callback check (state and
  RFC 9207 ``iss``), the code exchange and a call to the API.
- Logout: Authlib's OpenID client builds the end-session URL from our
  discovery document (``create_logout_url``); requests-oauth2client has no
  logout helper.
"""

import re
import warnings
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import REDIRECT
from tests.factories import ClientFactory, UserFactory
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

requests_oauth2client = pytest.importorskip("requests_oauth2client")
pytest.importorskip("authlib")
with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

    warnings.simplefilter("ignore")
    from authlib.integrations.django_client import OAuth

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in_browser(base: str, username: str) -> httpx.Client:
    UserFactory(username=username, password="pw")
    browser = httpx.Client(base_url=base, follow_redirects=True, timeout=30)
    page = browser.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = browser.post("/accounts/login/", data={"username": username, "password": "pw",
                                                  "csrfmiddlewaretoken": token, "next": "/"})
    assert done.status_code == 200 and "sessionid" in browser.cookies
    return browser


def form_of(page: httpx.Response) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))


def test_requests_oauth2client_pushes_then_the_user_authorizes(live_server, settings):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "ISSUER": live_server.url}
    app = ClientFactory(name="Photo app", require_pushed_authorization_requests=True)
    oauth = requests_oauth2client.OAuth2Client.from_discovery_endpoint(
        issuer=live_server.url, testing=True, auth=(app.client_id, app.secret), redirect_uri=REDIRECT,
    )
    assert oauth.pushed_authorization_request_endpoint == live_server.url + "/oauth/par"
    az_request = oauth.authorization_request(scope="openid read")
    pushed = oauth.pushed_authorization_request(az_request)
    assert pushed.request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert 55 <= (pushed.expires_at - datetime.now(tz=UTC)).total_seconds() <= 60  # from our expires_in

    browser = logged_in_browser(live_server.url, "carol")
    consent = browser.get(pushed.uri)
    assert consent.status_code == 200 and "Photo app" in consent.text
    decision = browser.post("/oauth/authorize", data={**form_of(consent), "allow": "1"}, follow_redirects=False)
    assert decision.status_code == 303
    az_response = az_request.validate_callback(decision.headers["Location"])  # state and iss checked
    token = oauth.authorization_code(az_response, validate=False)
    assert token.access_token and token.id_token is not None
    me = httpx.get(live_server.url + "/api/me", headers={"Authorization": f"Bearer {token.access_token}"})
    assert me.status_code == 200 and me.json()["client_id"] == app.client_id

    # Spent: a second decision with the same request_uri is refused, without a redirect.
    again = browser.post("/oauth/authorize", data={**form_of(consent), "allow": "1"}, follow_redirects=False)
    assert again.status_code == 400 and "location" not in again.headers
    # This client must push: the plain request of the same library is refused.
    plain = browser.get(oauth.authorization_request(scope="read").uri, follow_redirects=False)
    assert plain.status_code == 400 and "location" not in plain.headers


def test_a_request_the_server_refuses_raises_in_requests_oauth2client(live_server, settings):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "ISSUER": live_server.url}
    app = ClientFactory()
    oauth = requests_oauth2client.OAuth2Client.from_discovery_endpoint(
        issuer=live_server.url, testing=True, auth=(app.client_id, "wrong"), redirect_uri=REDIRECT,
    )
    with pytest.raises(requests_oauth2client.InvalidClient):
        oauth.pushed_authorization_request(oauth.authorization_request(scope="read"))


def test_authlib_builds_the_logout_url_and_the_browser_follows_it(live_server, settings):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "ISSUER": live_server.url, "RP_INITIATED_LOGOUT_ENABLED": True,
                             "RP_INITIATED_LOGOUT_ALWAYS_PROMPT": True}
    after = live_server.url + "/"
    app = ClientFactory(post_logout_redirect_uris=after)
    oauth = OAuth()
    rp = oauth.register("ours", client_id=app.client_id, client_secret=app.secret,
                        server_metadata_url=live_server.url + "/.well-known/openid-configuration")
    browser = logged_in_browser(live_server.url, "dave")
    logout = rp.create_logout_url(post_logout_redirect_uri=after, client_id=app.client_id)
    assert logout["url"].startswith(live_server.url + "/oauth/logout?")

    confirm = browser.get(logout["url"])
    assert confirm.status_code == 200 and "Log out?" in confirm.text
    done = browser.post("/oauth/logout", data={**form_of(confirm), "logout": "1"})
    # Followed like a browser: back on the relying party's registered page, with its state.
    assert done.status_code == 200 and str(done.url) == f"{after}?state={logout['state']}"
    assert done.history[0].status_code == 303
    # Logged out: the next authorization request goes to the login page.
    again = browser.get("/oauth/logout", follow_redirects=False)
    assert again.status_code == 200 and "You are logged out" in again.text


def test_a_forged_post_logout_redirect_is_never_followed(live_server, settings):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "ISSUER": live_server.url, "RP_INITIATED_LOGOUT_ENABLED": True}
    app = ClientFactory(post_logout_redirect_uris=live_server.url + "/")
    browser = logged_in_browser(live_server.url, "erin")
    response = browser.get("/oauth/logout", params={"client_id": app.client_id,
                                                   "post_logout_redirect_uri": "https://evil.example.test/"})
    assert response.status_code == 400 and not response.history
    assert "no-store" in response.headers["cache-control"]
