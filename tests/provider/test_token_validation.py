"""GET /oauth/token: access token validation (seed 001, RFC 6750 section 3.1).

Bearer valid -> 200 with the remaining lifetime; missing or malformed header ->
400 invalid_request; expired, revoked or garbage -> 401 invalid_token."""


import jwt
import pytest

from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.provider import revocation
from oauth_tokens.provider.models import AccessToken

pytestmark = pytest.mark.django_db


def validate(flow, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    return flow.http.get("/oauth/token", **extra)


def client_token(flow):
    r = flow.token({"grant_type": "client_credentials", "scope": "read"})
    assert r.status_code == 200, r.content
    return r.json()["access_token"]


def invalid_token(response):
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert response["Cache-Control"] == "no-store"


def test_valid_token_returns_its_remaining_lifetime(flow, clock):
    token = client_token(flow)
    clock.advance(600)
    r = validate(flow, "Bearer " + token)
    assert r.status_code == 200, r.content
    assert r.json()["access_token"] == token and r.json()["token_type"] == "Bearer"
    assert r.json()["expires_in"] in (2999, 3000)
    assert r["Cache-Control"] == "no-store" and r["Pragma"] == "no-cache"


def test_user_token_from_the_code_flow_validates(flow):
    tokens = flow.code_tokens()
    r = validate(flow, "bearer " + tokens["access_token"])  # the scheme is case-insensitive
    assert r.status_code == 200 and 3590 <= r.json()["expires_in"] <= 3600


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic Y2xpZW50OnNlY3JldA==", "Token abc",
                                    "Bearer a b", "BearerX abc"])
def test_missing_or_malformed_header_is_invalid_request(flow, header):
    r = validate(flow, header)
    assert r.status_code == 400, r.content
    assert r.json() == {"error": "invalid_request",
                        "error_description": "missing/invalid parameters authorization header"}
    assert r["Cache-Control"] == "no-store"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 10000, "\u00e9.\u00e9.\u00e9"])
def test_garbage_is_invalid_token(flow, token):
    invalid_token(validate(flow, "Bearer " + token))


def test_expired_token_is_invalid_token(flow, clock):
    clock.advance(-2 * 3600)
    token = client_token(flow)
    clock.advance(2 * 3600)
    invalid_token(validate(flow, "Bearer " + token))


def test_token_just_past_its_exp_is_invalid_token(flow, clock):
    # The issuer answers about its own tokens: no clock-skew leeway here.
    token = client_token(flow)
    clock.advance(3600 + 5)
    invalid_token(validate(flow, "Bearer " + token))


def test_revoked_token_is_invalid_token(flow):
    token = client_token(flow)
    assert validate(flow, "Bearer " + token).status_code == 200
    revocation.revoke_rows(AccessToken.objects.all())
    invalid_token(validate(flow, "Bearer " + token))


def test_id_token_is_not_an_access_token(flow):
    tokens = flow.code_tokens(scope="openid")
    invalid_token(validate(flow, "Bearer " + tokens["id_token"]))


def test_token_signed_by_another_key_is_invalid_token(flow):
    token = client_token(flow)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = oauth_jwt.sign(claims, key=oauth_jwt.generate_private_key("RS256"), kid=header["kid"], algorithm="RS256")
    invalid_token(validate(flow, "Bearer " + forged))


def test_typed_path_does_not_validate(flow):
    r = flow.http.get("/oauth/token/user", HTTP_AUTHORIZATION="Bearer " + client_token(flow))
    assert r.status_code == 405 and r.json()["error"] == "invalid_request"
