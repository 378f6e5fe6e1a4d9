"""JWT client authentication with a client we did not write, over real HTTP:
Authlib's ``PrivateKeyJWT`` and ``ClientSecretJWT`` (RFC 7523) against a live
server, at the token, introspection and revocation endpoints.

Authlib signs assertions that live an hour (``exp = iat + 3600``) and sets
``aud`` to the URL it calls; the first needs ``CLIENT_ASSERTION_MAX_LIFETIME``
raised to 3600 (docs/provider/client-authentication.md "Client authentication with JWTs"), the second is the
endpoint audience the server accepts by default."""

from __future__ import annotations

import warnings

import pytest
from cryptography.hazmat.primitives import serialization

from tests.factories import ClientFactory
from tests.provider.jwt_clients import JwksServer, jwks, rsa_key

pytest.importorskip("authlib")
with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401  (it sets its warnings to "always" when imported)

    warnings.simplefilter("ignore")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT

pytestmark = pytest.mark.django_db(transaction=True)

KEY = rsa_key()
PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()).decode()


def configure(settings, live_server, **extra):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url,
                             "CLIENT_ASSERTION_MAX_LIFETIME": 3600, **extra}


def authlib_client(client_id: str, secret: str, method) -> OAuth2Client:
    oauth = OAuth2Client(client_id=client_id, client_secret=secret, token_endpoint_auth_method=method.name,
                         revocation_endpoint_auth_method=method.name, timeout=30)
    oauth.register_client_auth_method(method)
    return oauth


def test_authlib_private_key_jwt_gets_introspects_and_revokes(live_server, settings):
    configure(settings, live_server)
    registered = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                               grant_types="client_credentials", scope="read introspection")
    with authlib_client(registered.client_id, PEM, PrivateKeyJWT()) as oauth:
        token = oauth.fetch_token(live_server.url + "/oauth/token", grant_type="client_credentials", scope="read")
        assert token["token_type"] == "Bearer" and token["scope"] == "read"
        me = oauth.get(live_server.url + "/api/me")
        assert me.status_code == 200 and me.json()["client_id"] == registered.client_id

        # Each call signs a new assertion (a new jti) with aud = the URL it calls.
        seen = oauth.introspect_token(live_server.url + "/oauth/introspect", token=token["access_token"])
        assert seen.status_code == 200 and seen.json()["active"] is True
        assert oauth.revoke_token(live_server.url + "/oauth/revoke", token=token["access_token"]).status_code == 200
        seen = oauth.introspect_token(live_server.url + "/oauth/introspect", token=token["access_token"])
        assert seen.json() == {"active": False}


def test_authlib_private_key_jwt_with_keys_at_a_jwks_uri(live_server, settings):
    configure(settings, live_server, FETCH_ALLOW_LOOPBACK=True)
    server = JwksServer()
    try:
        server.document = jwks((KEY, "k1"))
        registered = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks_uri=server.url,
                                   grant_types="client_credentials", scope="read")
        method = PrivateKeyJWT(headers={"kid": "k1"})
        with authlib_client(registered.client_id, PEM, method) as oauth:
            assert oauth.fetch_token(live_server.url + "/oauth/token", grant_type="client_credentials")["access_token"]
        # The client rotates its key: the new kid makes the server fetch the set again.
        new_key = rsa_key()
        server.document = jwks((new_key, "k2"))
        new_pem = new_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
        with authlib_client(registered.client_id, new_pem, PrivateKeyJWT(headers={"kid": "k2"})) as oauth:
            assert oauth.fetch_token(live_server.url + "/oauth/token", grant_type="client_credentials")["access_token"]
        assert server.hits == 2
    finally:
        server.close()


def test_authlib_client_secret_jwt(live_server, settings):
    configure(settings, live_server)
    registered = ClientFactory(token_endpoint_auth_method="client_secret_jwt", grant_types="client_credentials",
                               scope="read")
    with authlib_client(registered.client_id, registered.secret, ClientSecretJWT()) as oauth:
        token = oauth.fetch_token(live_server.url + "/oauth/token", grant_type="client_credentials")
        assert token["access_token"]
    with authlib_client(registered.client_id, "a-wrong-secret-" * 4, ClientSecretJWT()) as oauth, \
            pytest.raises(OAuthError) as refused:
        oauth.fetch_token(live_server.url + "/oauth/token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


def test_authlib_hour_long_assertions_are_refused_under_the_default_lifetime(live_server, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url}
    registered = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                               grant_types="client_credentials", scope="read")
    with authlib_client(registered.client_id, PEM, PrivateKeyJWT()) as oauth, pytest.raises(OAuthError) as refused:
        oauth.fetch_token(live_server.url + "/oauth/token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client" and "longer than 300" in refused.value.description


# -- requests-oauth2client: another independent client (assertions of 60 s, the default here) --


def test_requests_oauth2client_private_key_jwt_and_client_secret_jwt(live_server, settings):
    roc = pytest.importorskip("requests_oauth2client")
    from jwt.algorithms import RSAAlgorithm

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": live_server.url}
    registered = ClientFactory(token_endpoint_auth_method="private_key_jwt", jwks=jwks((KEY, "k1")),
                               grant_types="client_credentials", scope="read introspection")
    private_jwk = {**RSAAlgorithm.to_jwk(KEY, as_dict=True), "kid": "k1", "alg": "RS256"}
    client = roc.OAuth2Client(
        token_endpoint=live_server.url + "/oauth/token",
        revocation_endpoint=live_server.url + "/oauth/revoke",
        introspection_endpoint=live_server.url + "/oauth/introspect",
        auth=roc.PrivateKeyJwt(registered.client_id, private_jwk),
        testing=True,  # the live server is http on localhost: its https check off
    )
    token = client.client_credentials(scope="read")
    assert token.access_token and token.scope == "read"
    assert client.introspect_token(token.access_token)["active"] is True
    assert client.revoke_access_token(token.access_token) is True
    assert client.introspect_token(token.access_token) == {"active": False}

    hs = ClientFactory(token_endpoint_auth_method="client_secret_jwt", grant_types="client_credentials",
                       scope="read")
    client = roc.OAuth2Client(token_endpoint=live_server.url + "/oauth/token",
                              auth=roc.ClientSecretJwt(hs.client_id, hs.secret), testing=True)
    assert client.client_credentials(scope="read").access_token
    wrong = roc.OAuth2Client(token_endpoint=live_server.url + "/oauth/token",
                             auth=roc.ClientSecretJwt(hs.client_id, "wrong-" * 11), testing=True)
    with pytest.raises(roc.InvalidClient):
        wrong.client_credentials(scope="read")
