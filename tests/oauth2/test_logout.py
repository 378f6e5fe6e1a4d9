"""The logout request of OpenID Connect RP-Initiated Logout 1.0, without Django
(``oauth2.logout``): the hint's signature, issuer, client, and the redirect URI."""

from dataclasses import dataclass, field

import pytest

from oauth_tokens.oauth2 import jwt as oauth_jwt
from oauth_tokens.oauth2 import logout
from oauth_tokens.oauth2.errors import InvalidRequest
from oauth_tokens.oauth2.jwt import VerificationKey

ISSUER = "https://auth.example.test"
KEY = oauth_jwt.generate_private_key("ES256")
OTHER_KEY = oauth_jwt.generate_private_key("ES256")
KEYS = {"k1": VerificationKey("k1", "ES256", KEY.public_key())}


@dataclass
class FakeClient:
    client_id: str
    is_active: bool = True
    post_logout_redirect_uri_list: list[str] = field(default_factory=lambda: ["https://rp.example.test/bye"])


CLIENTS = {"rp": FakeClient("rp"), "off": FakeClient("off", is_active=False), "other": FakeClient("other")}


def hint(*, key=KEY, kid="k1", typ="JWT", **claims):
    body = {"iss": ISSUER, "sub": "42", "aud": "rp", "iat": 1, "exp": 2, **claims}  # long expired: still a hint
    return oauth_jwt.sign(body, key=key, kid=kid, algorithm="ES256", typ=typ)


def validate(**params):
    return logout.validate(params, key_for=KEYS.get, issuer=ISSUER, find_client=CLIENTS.get)


def test_a_hint_names_the_user_and_the_client_and_state_goes_back():
    request = validate(id_token_hint=hint(), post_logout_redirect_uri="https://rp.example.test/bye", state="a b")
    assert (request.client_id, request.hint_subject) == ("rp", "42")
    assert request.redirect_location() == "https://rp.example.test/bye?state=a+b"


def test_no_state_no_query_and_no_redirect_without_a_uri():
    assert validate(client_id="rp", post_logout_redirect_uri="https://rp.example.test/bye").redirect_location() \
        == "https://rp.example.test/bye"
    assert validate(state="x").redirect_location() is None


@pytest.mark.parametrize("token, message", [
    (hint(key=OTHER_KEY), "signature is invalid"),
    (hint(kid="gone"), "unknown key"),
    (hint(typ="at+jwt"), "wrong type"),
    (hint(iss="https://elsewhere.example.test"), "another server"),
    (hint(sub=""), "no subject"),
    (hint(aud=["rp", "other"]), "names no client"),
    ("a.b", "malformed"),
])
def test_bad_hints(token, message):
    with pytest.raises(InvalidRequest, match=message):
        validate(id_token_hint=token)


def test_a_list_audience_with_azp_names_that_client():
    assert validate(id_token_hint=hint(aud=["rp", "other"], azp="other")).client_id == "other"


@pytest.mark.parametrize("params, message", [
    ({"id_token_hint": "HINT", "client_id": "other"}, "does not match"),
    ({"client_id": "nobody"}, "Unknown or inactive"),
    ({"client_id": "off"}, "Unknown or inactive"),
    ({"post_logout_redirect_uri": "https://rp.example.test/bye"}, "needs an id_token_hint or a client_id"),
    ({"client_id": "rp", "post_logout_redirect_uri": "https://rp.example.test/bye/"}, "not registered"),
    ({"client_id": "other", "post_logout_redirect_uri": "https://evil.example.test/"}, "not registered"),
])
def test_refusals(params, message):
    params = {k: hint() if v == "HINT" else v for k, v in params.items()}
    with pytest.raises(InvalidRequest, match=message):
        validate(**params)
