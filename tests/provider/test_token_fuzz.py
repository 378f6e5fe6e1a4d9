"""Never a 500 at the token endpoint: a few hundred seeded random hostile requests
(bodies, content types, Authorization headers, methods, paths) each get an OAuth
JSON error with ``Cache-Control: no-store``, and none of them gets a token."""

import base64
import json
import random

import pytest

from oauth_tokens.provider.models import AccessToken

pytestmark = pytest.mark.django_db

ATOMS = ["grant_type", "client_id", "client_secret", "code", "refresh_token", "scope", "redirect_uri",
         "code_verifier", "resource", "authorization_code", "refresh_token", "client_credentials", "password", "",
         "=", "&", "%", "%00", "%ff", "%e9", "+", " ", "\u00e9", "\ud83d\ude00", '"', "\\", "{", "}", "[", "]", ":",
         ",", "null", "true", "1e999", "-0", "\x00", "\n", "\r\n", "..", "/", "a" * 300]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "application/json; charset=latin-1",
                 "text/plain", "", "multipart/form-data", "application/x-www-form-urlencoded; charset=utf-16",
                 "application/json;;;", "*/*"]
PATHS = ["/oauth/token", "/oauth/token/user", "/oauth/token/client", "/oauth/token/%00",
         "/oauth/token/..", "/oauth/token?client_secret=x", "/oauth/token?x=%ff"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 12)))


def random_body(rng: random.Random, client) -> tuple[bytes, str]:
    """A body and the content type it would naturally be sent with."""
    kind = rng.randrange(5)
    if kind == 0:
        return random_text(rng).encode("utf-8", "surrogatepass"), CONTENT_TYPES[0]
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))), CONTENT_TYPES[0]
    params = {rng.choice(ATOMS): random_text(rng) for _ in range(rng.randint(0, 6))}
    if rng.random() < 0.7:
        params.update(grant_type=rng.choice(["client_credentials", "refresh_token", "authorization_code", "x"]),
                      client_id=client.client_id)
    if kind == 2:
        return json.dumps(params).encode(), CONTENT_TYPES[1]
    if kind == 3:
        return json.dumps(rng.choice([[params], "x", 1, None, {"a": params}])).encode(), CONTENT_TYPES[1]
    return "&".join(f"{k}={v}" for k, v in params.items()).encode("utf-8", "surrogatepass"), CONTENT_TYPES[0]


def random_authorization(rng: random.Random, client) -> str | None:
    choice = rng.randrange(6)
    if choice == 0:
        return None
    if choice == 1:
        return "Basic " + base64.b64encode(random_text(rng).encode("utf-8", "surrogatepass")).decode()
    if choice == 2:
        return "Basic " + random_text(rng).encode("ascii", "replace").decode()
    if choice == 3:
        raw = f"{client.client_id}:{random_text(rng)}".encode("utf-8", "surrogatepass")
        return "Basic " + base64.b64encode(raw).decode()
    if choice == 4:
        return "Bearer " + random_text(rng).encode("ascii", "replace").decode()
    return rng.choice(["Basic", "Basic ", "basic ===", "Digest x", "Basic " + "A" * 9000])


@pytest.mark.parametrize("seed", range(8))
def test_random_hostile_requests_never_500(client, oauth_client, seed):
    rng = random.Random(seed)
    for _ in range(40):
        method = rng.choice(["POST"] * 6 + ["GET", "PUT", "DELETE", "PATCH"])
        headers = {}
        authorization = random_authorization(rng, oauth_client)
        if authorization is not None:
            headers["HTTP_AUTHORIZATION"] = authorization
        if rng.random() < 0.2:
            headers["REMOTE_ADDR"] = rng.choice(["", "::1", "unix:", "999.1.1.1", "fe80::1%eth0"])
        body, content_type = random_body(rng, oauth_client)
        if rng.random() < 0.3:
            content_type = rng.choice(CONTENT_TYPES)
        response = client.generic(method, rng.choice(PATHS), body, content_type=content_type, **headers)
        assert response.status_code < 500, response.content
        if response.status_code == 404:
            continue  # a path the URLconf does not know; Django's page, no token
        assert response["Cache-Control"] == "no-store", (method, response.status_code)
        if response.status_code != 200:
            body = response.json()
            assert set(body) == {"error", "error_description"}, body
            assert all(0x20 <= ord(c) < 0x7F and c not in '"\\' for c in body["error_description"])
    assert AccessToken.objects.count() == 0


VALUES = ["", "x", "read", "read write", "read admin", "openid", "https://app.example.test/cb", "\u00e9",
          "a" * 43, "a" * 129, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "%00", "null", "0", "-1", " ",
          "https://api.example.test/#f", "urn:x", "//api.example.test", "https://api.example.test"]


@pytest.mark.parametrize("seed", range(4))
def test_authenticated_requests_with_random_values_never_500(flow, seed):
    """Past client authentication: every grant's validation with random values."""
    rng = random.Random(1000 + seed)
    tokens = flow.code_tokens(scope="read write")
    for _ in range(30):
        params = {"grant_type": rng.choice(["authorization_code", "refresh_token", "client_credentials"])}
        for name in rng.sample(["code", "refresh_token", "scope", "redirect_uri", "code_verifier", "client_id",
                                "resource"], rng.randint(0, 4)):
            params[name] = rng.choice([*VALUES, tokens["refresh_token"]])
        response = flow.token(params, json=rng.random() < 0.5, path=rng.choice(PATHS[:3]))
        assert response.status_code < 500, response.content
        assert response["Cache-Control"] == "no-store"
        if response.status_code == 200:
            assert response.json()["token_type"] == "Bearer"
        else:
            assert response.json()["error"] in {"invalid_request", "invalid_client", "invalid_grant",
                                                "unauthorized_client", "invalid_scope", "invalid_target"}
