"""The device authorization grant with a client we did not write: Authlib's
``OAuth2Client`` (httpx) against a live server. Authlib has no device flow
helper; its ``fetch_token`` sends the device code grant and reads our polling
errors as ``OAuthError``s, as it would from any RFC 8628 server."""

import re
import warnings
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.factories import PublicClientFactory, UserFactory
from tests.provider.device import ENABLED, GRANT, later

pytest.importorskip("authlib")
with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

    warnings.simplefilter("ignore")  # Authlib's deprecation notice about its httpx integration
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

pytestmark = pytest.mark.django_db(transaction=True)


def test_authlib_polls_through_the_whole_device_flow(live_server, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "ISSUER": live_server.url}
    tv = PublicClientFactory(grant_types=f"{GRANT} refresh_token", redirect_uris="", scope="read write")
    token_url = live_server.url + "/oauth/token"
    with OAuth2Client(client_id=tv.client_id, token_endpoint_auth_method="none", timeout=30) as oauth:
        started = oauth.request("POST", live_server.url + "/oauth/device_authorization",
                                data={"client_id": tv.client_id, "scope": "read"}, withhold_token=True)
        assert started.status_code == 200
        grant = started.json()
        with pytest.raises(OAuthError) as pending:
            oauth.fetch_token(token_url, grant_type=GRANT, device_code=grant["device_code"])
        assert pending.value.error == "authorization_pending"
        with pytest.raises(OAuthError) as fast:
            oauth.fetch_token(token_url, grant_type=GRANT, device_code=grant["device_code"])
        assert fast.value.error == "slow_down"

        # The user follows verification_uri_complete in a browser, signed in.
        browser = Client()
        browser.force_login(UserFactory(username="carol"))
        link = urlsplit(grant["verification_uri_complete"])
        page = browser.get(f"{link.path}?{link.query}").content.decode()
        typed = re.search(r'name="user_code" value="([^"]*)"', page).group(1)
        assert typed == grant["user_code"]
        assert browser.post(link.path, {"user_code": typed}).status_code == 200
        assert browser.post(link.path, {"user_code": typed, "allow": "1"}).status_code == 200

        with later(grant["interval"] + 5 + 1):  # the interval grew by 5 s at slow_down
            token = oauth.fetch_token(token_url, grant_type=GRANT, device_code=grant["device_code"])
            assert token["token_type"] == "Bearer" and token["scope"] == "read" and token["refresh_token"]
            me = oauth.get(live_server.url + "/api/me")
            assert me.status_code == 200 and me.json()["client_id"] == tv.client_id
            refreshed = oauth.refresh_token(token_url)
            assert refreshed["access_token"] != token["access_token"]
        with later(2 * grant["interval"] + 20), pytest.raises(OAuthError) as spent:
            oauth.fetch_token(token_url, grant_type=GRANT, device_code=grant["device_code"])
        assert spent.value.error == "invalid_grant"
