"""A valid token has one spelling. The last character of a base64url segment
whose length is 2 or 3 mod 4 carries unused low bits; setting one gives the
same bytes under another string, which a deny-list or a cache keyed on the
token string would not recognise. Local and remote mode refuse it."""

import pytest

from tests.resource import jwt_factory
from tests.resource.conftest import bearer
from tests.resource.test_remote import provider  # noqa: F401  (the remote-mode fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respelled(token: str) -> str:
    """The same signature bytes, spelled with one unused low bit of the last character set."""
    assert len(token.rsplit(".", 1)[1]) % 4 in (2, 3)
    return token[:-1] + ALPHABET[ALPHABET.index(token[-1]) ^ 1]


def test_a_second_spelling_of_a_valid_token_is_refused(client, signing_key):
    kid, algorithm, private = signing_key
    token = jwt_factory.sign(jwt_factory.claims(), private, kid=kid, alg=algorithm)
    twin = respelled(token)
    assert twin != token
    response = client.get("/api/me", **bearer(twin))
    assert response.status_code == 401 and response.json() == {
        "error": "invalid_token", "error_description": "The access token signature is not canonical base64url"}
    assert client.get("/api/me", **bearer(token)).status_code == 200


def test_remote_mode_refuses_a_second_spelling(client, signing_key, provider):  # noqa: F811
    kid, algorithm, private = signing_key
    token = jwt_factory.sign(jwt_factory.claims(), private, kid=kid, alg=algorithm)
    assert client.get("/api/me", **bearer(respelled(token))).status_code == 401
    assert client.get("/api/me", **bearer(token)).status_code == 200
