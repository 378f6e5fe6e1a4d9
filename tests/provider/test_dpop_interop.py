"""DPoP (RFC 9449) with a client we did not write, over real HTTP:
requests-oauth2client's ``DPoPKey`` / ``DPoPToken`` against a live server, at the
token endpoint (client_credentials; authorization_code with ``dpop_jkt``, then
refresh) and at a DPoP-protected DRF view (``/api/me``), with the server nonces
of both the authorization server and the resource server, which the client
picks up from ``use_dpop_nonce`` answers and retries with."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import REDIRECT
from tests.factories import ClientFactory, PublicClientFactory
from tests.provider.test_interop_par_logout import form_of, logged_in_browser
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

requests_oauth2client = pytest.importorskip("requests_oauth2client")

pytestmark = pytest.mark.django_db(transaction=True)


def configure(settings, live_server, **extra):
    settings.OAUTH_TOKENS = {**TEST_OAUTH, "ISSUER": live_server.url, **extra}


def test_client_credentials_and_an_api_call_with_proofs(live_server, settings):
    configure(settings, live_server)
    app = ClientFactory(grant_types="client_credentials", scope="read")
    oauth = requests_oauth2client.OAuth2Client.from_discovery_endpoint(
        issuer=live_server.url, testing=True, auth=(app.client_id, app.secret), dpop_bound_access_tokens=True)
    token = oauth.client_credentials(scope="read")
    assert isinstance(token, requests_oauth2client.DPoPToken) and token.token_type == "DPoP"
    api = live_server.url + "/api/me"
    me = requests.get(api, auth=token, timeout=30)  # Authorization: DPoP ..., and a proof per request
    assert me.status_code == 200 and me.json()["client_id"] == app.client_id
    assert requests.get(api, auth=token, timeout=30).status_code == 200  # a new proof each time
    # The same token as a Bearer token: refused (RFC 9449 section 7.2).
    stolen = requests.get(api, headers={"Authorization": f"Bearer {token.access_token}"}, timeout=30)
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_token"
    assert "DPoP algs=" in stolen.headers["WWW-Authenticate"]


def test_authorization_code_with_dpop_jkt_then_refresh_with_the_same_key(live_server, settings):
    configure(settings, live_server)
    app = PublicClientFactory(name="Phone app", scope="read")
    oauth = requests_oauth2client.OAuth2Client.from_discovery_endpoint(
        issuer=live_server.url, testing=True, client_id=app.client_id, redirect_uri=REDIRECT)
    az_request = oauth.authorization_request(scope="read", dpop=True)
    assert az_request.dpop_jkt and f"dpop_jkt={az_request.dpop_jkt}" in str(az_request.uri)
    browser = logged_in_browser(live_server.url, "dora")
    consent = browser.get(str(az_request.uri))
    assert consent.status_code == 200, consent.text
    decision = browser.post("/oauth/authorize", data={**form_of(consent), "allow": "1"}, follow_redirects=False)
    az_response = az_request.validate_callback(decision.headers["Location"])
    token = oauth.authorization_code(az_response, validate=False)
    assert isinstance(token, requests_oauth2client.DPoPToken) and token.refresh_token
    api = live_server.url + "/api/me"
    assert requests.get(api, auth=token, timeout=30).json()["client_id"] == app.client_id

    renewed = oauth.refresh_token(token)  # proved with the token's key
    assert isinstance(renewed, requests_oauth2client.DPoPToken)
    assert renewed.dpop_key.dpop_jkt == token.dpop_key.dpop_jkt
    assert requests.get(api, auth=renewed, timeout=30).status_code == 200

    # The public client's refresh token is bound: another key cannot use it.
    thief = requests_oauth2client.DPoPToken(access_token=renewed.access_token, refresh_token=renewed.refresh_token,
                                            _dpop_key=requests_oauth2client.DPoPKey.generate())
    with pytest.raises(requests_oauth2client.InvalidGrant):
        oauth.refresh_token(thief)
    with pytest.raises(requests_oauth2client.EndpointError):
        oauth.refresh_token(renewed.refresh_token)  # no proof at all
    assert oauth.refresh_token(renewed).access_token  # the family survived both attempts


def test_server_nonces_at_the_token_endpoint_and_the_api(live_server, settings):
    configure(settings, live_server, DPOP_NONCE_REQUIRED=True, DPOP_RESOURCE_NONCE_REQUIRED=True)
    app = ClientFactory(grant_types="client_credentials", scope="read")
    oauth = requests_oauth2client.OAuth2Client.from_discovery_endpoint(
        issuer=live_server.url, testing=True, auth=(app.client_id, app.secret), dpop_bound_access_tokens=True)
    token = oauth.client_credentials(scope="read")  # use_dpop_nonce, then the retry with the nonce
    assert token.token_type == "DPoP" and token.dpop_key.as_nonce
    me = requests.get(live_server.url + "/api/me", auth=token, timeout=30)  # 401 use_dpop_nonce, then retried
    assert me.status_code == 200, me.text
    assert token.dpop_key.rs_nonce
