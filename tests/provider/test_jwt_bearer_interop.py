"""The JWT bearer grant (RFC 7523 section 2.1) with clients we did not write,
over real HTTP against a live server, the issuer's keys served by a JWK Set on
127.0.0.1 (``FETCH_ALLOW_LOOPBACK``):

- requests-oauth2client's ``OAuth2Client.jwt_bearer(assertion=...)`` with an
  identity assertion grant (ID-JAG) from a test enterprise IdP, the client
  authenticating with ``private_key_jwt`` (the MCP enterprise-managed
  authorization shape), then ``/api/me`` with the token;
- Authlib's ``AssertionClient``, which signs the assertion itself with
  ``JWTBearerGrant.sign`` (the client is its own issuer here, a service account
  style set-up) and authenticates as a public client with ``client_id``.
"""

from __future__ import annotations

import warnings

import pytest
from cryptography.hazmat.primitives import serialization

from oauth_tokens.provider.models import TokenEvent
from tests.factories import ClientFactory, PublicClientFactory, UserFactory
from tests.provider.jwt_bearer_idp import GRANT_TYPE, IDP, KEY, id_jag
from tests.provider.jwt_clients import JwksServer, jwks, rsa_key

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = rsa_key()


@pytest.fixture
def idp_keys():
    server = JwksServer()
    server.document = jwks((KEY, "idp-1"))
    yield server
    server.close()


def configure(settings, live_server, issuers, **extra):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url, "FETCH_ALLOW_LOOPBACK": True,
                             "JWT_BEARER_ENABLED": True, "JWT_BEARER_ISSUERS": issuers, **extra}


def test_requests_oauth2client_presents_an_identity_assertion_grant(live_server, settings, idp_keys):
    roc = pytest.importorskip("requests_oauth2client")
    from jwt.algorithms import RSAAlgorithm

    configure(settings, live_server, {IDP: {"jwks_uri": idp_keys.url, "id_jag": True}})
    UserFactory(username="alice")
    agent = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((CLIENT_KEY, "c1")),
                          grant_types=GRANT_TYPE, scope="read write")
    private_jwk = {**RSAAlgorithm.to_jwk(CLIENT_KEY, as_dict=True), "kid": "c1", "alg": "RS256"}
    oauth = roc.OAuth2Client(token_endpoint=live_server.url + "/oauth/token",
                             auth=roc.PrivateKeyJwt(agent.client_id, private_jwk), testing=True)

    grant = id_jag("alice", agent.client_id, aud=live_server.url, scope="read",
                   resource="http://127.0.0.1:9999/mcp")
    token = oauth.jwt_bearer(assertion=grant)
    assert token.token_type.lower() == "bearer" and token.scope == "read" and token.refresh_token is None
    import requests

    me = requests.get(live_server.url + "/api/me", headers={"Authorization": f"Bearer {token.access_token}"},
                      timeout=30)
    # The token is for the MCP resource named in the assertion, not for this API: refused here.
    assert me.status_code == 401

    token = oauth.jwt_bearer(assertion=id_jag("alice", agent.client_id, aud=live_server.url, scope="read"))
    me = requests.get(live_server.url + "/api/me", headers={"Authorization": f"Bearer {token.access_token}"},
                      timeout=30)
    assert me.status_code == 200 and me.json()["client_id"] == agent.client_id and me.json()["scope"] == "read"
    assert TokenEvent.objects.filter(kind=TokenEvent.ASSERTION_GRANT, client=agent).count() == 2

    # Replayed, or minted for another client: invalid_grant, as the client library reports it.
    with pytest.raises(roc.InvalidGrant):
        oauth.jwt_bearer(assertion=grant)
    with pytest.raises(roc.InvalidGrant):
        oauth.jwt_bearer(assertion=id_jag("alice", "another-client", aud=live_server.url))
    assert idp_keys.hits == 1


def test_authlib_assertion_client_signs_and_presents_its_own_assertion(live_server, settings):
    pytest.importorskip("authlib")
    with warnings.catch_warnings():
        import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

        warnings.simplefilter("ignore")
        from authlib.integrations.base_client.errors import OAuthError
        from authlib.integrations.httpx_client import AssertionClient

    service = "https://service.example.test"
    configure(settings, live_server, {service: {"jwks": jwks((KEY, "idp-1"))}}, JWT_BEARER_MAX_LIFETIME=3600)
    UserFactory(username="svc-reporting")
    app = PublicClientFactory(grant_types=GRANT_TYPE, scope="read", redirect_uris="")
    pem = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with AssertionClient(token_endpoint=live_server.url + "/oauth/token", issuer=service,
                         subject="svc-reporting", audience=live_server.url, grant_type=GRANT_TYPE,
                         client_id=app.client_id, key=pem, header={"alg": "RS256", "kid": "idp-1"},
                         scope="read", timeout=30) as oauth:
        me = oauth.get(live_server.url + "/api/me")  # fetches the token first
        assert me.status_code == 200 and me.json()["client_id"] == app.client_id
        assert oauth.token["scope"] == "read" and "refresh_token" not in oauth.token

    # Authlib's assertions live an hour: refused under the default 300 s, with a clear error.
    configure(settings, live_server, {service: {"jwks": jwks((KEY, "idp-1"))}}, JWT_BEARER_MAX_LIFETIME=300)
    with AssertionClient(token_endpoint=live_server.url + "/oauth/token", issuer=service,
                         subject="svc-reporting", audience=live_server.url, grant_type=GRANT_TYPE,
                         client_id=app.client_id, key=pem, header={"alg": "RS256", "kid": "idp-1"},
                         timeout=30) as oauth, pytest.raises(OAuthError) as refused:
        oauth.refresh_token()
    assert refused.value.error == "invalid_grant" and "longer than 300" in refused.value.description
