"""Resource indicators (RFC 8707) with a client we did not write: Authlib's
``OAuth2Session`` (requests) sends ``resource=`` on the authorization request, the
code exchange and the refresh, over real HTTP against a live server, the way an
MCP client names the MCP server (``RESOURCE``) it wants a token for. The
resource server then accepts the token for itself and refuses a token minted
for another resource."""

import re
import warnings
from urllib.parse import urlsplit

import jwt
import pytest
from django.test import Client

from tests.factories import ClientFactory, PublicClientFactory, UserFactory

pytest.importorskip("authlib")
with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

    warnings.simplefilter("ignore")
    from authlib.common.security import generate_token
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = "http://127.0.0.1/cb"
OTHER = "https://other.example.test/api"


@pytest.fixture
def site(live_server, settings):
    """The example project as authorization server and, at /api, an MCP-style resource."""
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url, "RESOURCE": live_server.url + "/api"}
    return live_server.url


def approve(url: str) -> str:
    """The browser step: a signed-in user opens the authorization URL and allows;
    the redirect (with the code) the client would receive."""
    browser = Client()
    browser.force_login(UserFactory())
    link = urlsplit(url)
    page = browser.get(f"{link.path}?{link.query}")
    assert page.status_code == 200, page.content
    html = page.content.decode()
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html)
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    answer = browser.post(link.path, {**data, "allow": "1"})
    assert answer.status_code == 303
    return answer["Location"]


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_authlib_code_flow_with_resource_and_a_narrowing_refresh(site):
    resource = site + "/api"
    app = PublicClientFactory(redirect_uris=REDIRECT, scope="read write", resources="")
    verifier = generate_token(48)
    with OAuth2Session(app.client_id, redirect_uri=REDIRECT, scope="read", code_challenge_method="S256",
                       token_endpoint_auth_method="none") as oauth:
        url, state = oauth.create_authorization_url(site + "/oauth/authorize", code_verifier=verifier,
                                                    resource=resource)
        assert "resource=" in url
        location = approve(url)
        token = oauth.fetch_token(site + "/oauth/token", authorization_response=location, code_verifier=verifier,
                                  resource=resource)
        assert claims(token["access_token"])["aud"] == resource
        me = oauth.get(site + "/api/me")
        assert me.status_code == 200, me.text
        assert me.json()["client_id"] == app.client_id

        refreshed = oauth.refresh_token(site + "/oauth/token", resource=resource)
        assert claims(refreshed["access_token"])["aud"] == resource
        with pytest.raises(OAuthError) as widened:
            oauth.refresh_token(site + "/oauth/token", resource=OTHER)
        assert widened.value.error == "invalid_target"
        assert oauth.get(site + "/api/me").status_code == 200


def test_authlib_client_credentials_token_for_another_resource_is_refused_here(site):
    service = ClientFactory(grant_types="client_credentials", scope="read")
    with OAuth2Session(service.client_id, service.secret, scope="read") as oauth:
        ours = oauth.fetch_token(site + "/oauth/token", grant_type="client_credentials", resource=site + "/api")
        assert claims(ours["access_token"])["aud"] == site + "/api"
        assert oauth.get(site + "/api/me").status_code == 200

        theirs = oauth.fetch_token(site + "/oauth/token", grant_type="client_credentials", resource=OTHER)
        assert claims(theirs["access_token"])["aud"] == OTHER
        refused = oauth.get(site + "/api/me")
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert "resource_metadata=" in refused.headers["WWW-Authenticate"]

        # The provider itself still knows the token: introspection says it is active, for OTHER.
        answer = oauth.post(site + "/oauth/introspect", data={"token": theirs["access_token"]},
                            auth=(service.client_id, service.secret), withhold_token=True)
        assert answer.json()["active"] is True and answer.json()["aud"] == OTHER

        with pytest.raises(OAuthError) as bad:
            oauth.fetch_token(site + "/oauth/token", grant_type="client_credentials", resource=OTHER + "#frag")
        assert bad.value.error == "invalid_target"
