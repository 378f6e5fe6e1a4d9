"""Client admin for JWT client authentication (RFC 7523): the method, the JWK Set
(public keys only) and the jwks_uri are editable and validated; a switch to
client_secret_jwt issues a secret it can sign with, shown once."""

import json
from urllib.parse import urlencode

import pytest

from oauth_tokens.provider.models import Client
from tests.factories import ClientFactory
from tests.provider.jwt_clients import assertion, form, jwks, rsa_key
from tests.provider.test_admin import ADD_URL, change_url, client_form, shown_secrets

pytestmark = pytest.mark.django_db

KEY = rsa_key()


def jwt_form(**overrides):
    return client_form(grant_types=["client_credentials"], redirect_uris="", **overrides)


def token(http, data):
    return http.post("/oauth/token", urlencode({"grant_type": "client_credentials", "scope": "read", **data}),
                     content_type="application/x-www-form-urlencoded")


def test_a_private_key_jwt_client_is_created_with_its_jwks_and_no_secret(admin_client, client):
    response = admin_client.post(ADD_URL, jwt_form(token_endpoint_auth_method="private_key_jwt",
                                                   jwks=json.dumps(jwks((KEY, "k1")))))
    assert response.status_code == 302  # no secret page: it has no secret
    created = Client.objects.get()
    assert created.secret_digest == "" and created.secret_encrypted == ""
    assert token(client, form(assertion(KEY, created.client_id))).status_code == 200
    page = admin_client.get(change_url(created)).content.decode()
    assert "private key" in page


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks", "needs the client's public keys"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": json.dumps({"keys": [{"kty": "RSA", "n": "x",
                                                                                      "e": "AQAB", "d": "secret"}]})},
     "jwks", "public keys only"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": json.dumps({"keys": []})}, "jwks", "at least one key"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks": json.dumps(jwks((KEY, "k1"))),
      "jwks_uri": "https://keys.example.test/jwks"}, "jwks_uri", "not both"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example.test/jwks"}, "jwks_uri",
     "https"),
    ({"token_endpoint_auth_method": "none"}, "token_endpoint_auth_method", "must authenticate"),
])
def test_invalid_jwt_settings_show_errors(admin_client, overrides, field, message):
    response = admin_client.post(ADD_URL, jwt_form(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert Client.objects.count() == 0


def test_a_public_client_cannot_pick_a_jwt_method(admin_client):
    response = admin_client.post(ADD_URL, client_form(client_type="public", grant_types=["authorization_code"],
                                                      token_endpoint_auth_method="private_key_jwt",
                                                      jwks=json.dumps(jwks((KEY, "k1")))))
    assert "A public client authenticates with none." in response.content.decode()


def test_switching_to_client_secret_jwt_shows_a_new_secret_to_sign_with(admin_client, client):
    existing = ClientFactory(grant_types="client_credentials", scope="read")
    response = admin_client.post(change_url(existing), jwt_form(name=existing.name,
                                                                token_endpoint_auth_method="client_secret_jwt"))
    assert response.status_code == 200
    secret = shown_secrets(response.content.decode())[existing.client_id]
    assert secret != existing.secret
    signed = assertion(secret.encode(), existing.client_id, alg="HS256", kid=None)
    assert token(client, form(signed)).status_code == 200
    # Saved again unchanged: the secret stays, nothing new is shown.
    again = admin_client.post(change_url(existing), jwt_form(name=existing.name,
                                                             token_endpoint_auth_method="client_secret_jwt"))
    assert again.status_code == 302
    assert Client.objects.get(pk=existing.pk).hmac_secret() == secret
