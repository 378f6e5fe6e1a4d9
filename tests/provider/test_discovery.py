"""RFC 8414 metadata, OIDC discovery, JWKS, and verification across a key rotation."""

from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from oauth_tokens.provider import keys, models

pytestmark = pytest.mark.django_db

PRIVATE_PARAMETERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def test_metadata_issuer_equals_the_tokens_iss(flow):
    metadata = flow.http.get("/.well-known/oauth-authorization-server")
    assert metadata.status_code == 200 and metadata["Content-Type"] == "application/json"
    token = flow.code_tokens()["access_token"]
    assert metadata.json()["issuer"] == jwt.decode(token, options={"verify_signature": False})["iss"]


def test_metadata_lists_what_the_server_does(client):
    body = client.get("/.well-known/oauth-authorization-server").json()
    issuer = "https://auth.example.test"
    assert body["issuer"] == issuer
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_response_iss_parameter_supported"] is True  # RFC 9207 section 3
    assert body["response_types_supported"] == ["code"]
    assert set(body["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    jwt_methods = {"private_key_jwt", "client_secret_jwt"}
    assert set(body["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "none",
                                                                  *jwt_methods}
    assert set(body["introspection_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                          *jwt_methods}
    # RFC 8414 section 2: the algorithms of client assertions; never "none".
    for endpoint in ("token", "revocation", "introspection"):
        algs = body[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert {"RS256", "ES256", "PS256", "EdDSA", "HS256"} <= set(algs) and "none" not in algs
    assert body["token_endpoint"] == f"{issuer}/oauth/token"
    assert body["authorization_endpoint"] == f"{issuer}/oauth/authorize"
    assert body["revocation_endpoint"] == f"{issuer}/oauth/revoke"
    assert body["introspection_endpoint"] == f"{issuer}/oauth/introspect"
    assert body["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert "read" in body["scopes_supported"] and "openid" in body["scopes_supported"]


def test_every_advertised_endpoint_is_served_here(client):
    body = client.get("/.well-known/oauth-authorization-server").json()
    for name in ("token_endpoint", "revocation_endpoint", "introspection_endpoint", "userinfo_endpoint", "jwks_uri"):
        response = client.get(urlsplit(body[name]).path)
        assert response.status_code != 404, name


def test_openid_configuration(client):
    body = client.get("/.well-known/openid-configuration").json()
    assert body["issuer"] == "https://auth.example.test"
    assert body["subject_types_supported"] == ["public"]
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]
    assert body["userinfo_endpoint"] == "https://auth.example.test/oauth/userinfo"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["authorization_response_iss_parameter_supported"] is True


def test_discovery_documents_refuse_writes(client):
    response = client.post("/.well-known/jwks.json")
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
                                  "/.well-known/jwks.json"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_writes_to_discovery_get_the_oauth_405_not_the_csrf_page(path, method):
    """With CsrfViewMiddleware enforcing (as for a browser), a write is still the OAuth
    405 JSON with no-store, not Django's HTML 403 "CSRF verification failed"."""
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 405 and response.json()["error"] == "invalid_request"
    assert "no-store" in response["Cache-Control"]


def test_jwks_has_public_keys_only(client):
    kid, _, _ = keys.current_key()
    body = client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in body["keys"]] == [kid]
    for jwk in body["keys"]:
        assert not PRIVATE_PARAMETERS & set(jwk)
        assert jwk["alg"] == "RS256" and jwk["use"] == "sig" and jwk["kty"] == "RSA"


def test_rotation_keeps_old_tokens_valid_until_they_expire_then_drops_the_key(flow):
    old_token = flow.code_tokens()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    call_command("rotatekeys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    new_token = flow.code_tokens()["access_token"]
    new_kid = jwt.get_unverified_header(new_token)["kid"]
    assert new_kid != old_kid
    published = {k["kid"] for k in flow.http.get("/.well-known/jwks.json").json()["keys"]}
    assert published == {old_kid, new_kid}
    for token in (old_token, new_token):
        assert flow.http.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    later = timezone.now() + keys.longest_access_lifetime() + keys.RETIRED_KEY_MARGIN + timedelta(seconds=60)
    with mock.patch.object(models, "now", return_value=later):
        keys.reset_cache()
        published = {k["kid"] for k in flow.http.get("/.well-known/jwks.json").json()["keys"]}
        assert published == {new_kid}
        response = flow.http.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {old_token}")
        assert response.status_code == 401


def test_id_token_algorithms_are_those_id_tokens_are_signed_with(flow, settings):
    """A changed SIGNING_ALGORITHM applies at the next rotation: until then the
    discovery document keeps naming the algorithm ID tokens are really signed with."""
    keys.current_key()  # an RS256 key exists
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "SIGNING_ALGORITHM": "ES256"}

    def advertised_and_used():
        body = flow.http.get("/.well-known/openid-configuration").json()
        id_token = flow.code_tokens(scope="openid read")["id_token"]
        return body["id_token_signing_alg_values_supported"], jwt.get_unverified_header(id_token)["alg"]

    assert advertised_and_used() == (["RS256"], "RS256")
    call_command("rotatekeys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert advertised_and_used() == (["ES256"], "ES256")


def test_an_issuer_with_a_path_is_discoverable_where_clients_look(client, settings):
    """RFC 8414 section 3.1 inserts the well-known path before the issuer's path;
    OpenID Connect Discovery appends it to the issuer."""
    issuer = "https://auth.example.test/tenant"
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "ISSUER": issuer}
    for url in ("/.well-known/oauth-authorization-server/tenant", "/tenant/.well-known/openid-configuration"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.json()["issuer"] == issuer
    for url in ("/.well-known/oauth-authorization-server/other", "/other/.well-known/openid-configuration"):
        response = client.get(url)
        assert response.status_code == 404 and response.json()["error"] == "invalid_request"
