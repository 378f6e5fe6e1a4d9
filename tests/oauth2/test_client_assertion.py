"""Client assertions (RFC 7523 section 3), checked by the spec layer alone."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from oauth_tokens.oauth2 import client_assertion
from oauth_tokens.oauth2.client_assertion import ASSERTION_TYPE, Policy
from oauth_tokens.oauth2.errors import InvalidClient, InvalidRequest
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import authenticate_client
from tests.oauth2.memory_store import MemClient

NOW = 1_800_000_000.0
ISSUER = "https://as.example.test"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [{**RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True), "kid": "k1", "use": "sig"}]}
POLICY = Policy(audiences=[ISSUER], now=NOW, leeway=30, max_lifetime=300)


class Seen:
    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()

    def first_use(self, client_id: str, jti: str, expires_at: float) -> bool:
        if (client_id, jti) in self.used:
            return False
        self.used.add((client_id, jti))
        return True


def make(key: Any = KEY, *, alg: str = "RS256", kid: str | None = "k1", **claims: Any) -> str:
    payload = {"iss": "c1", "sub": "c1", "aud": ISSUER, "jti": uuid.uuid4().hex, "iat": int(NOW),
               "exp": int(NOW) + 60, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=alg,
                      headers={"kid": kid} if kid else None)


def keys(kid: str | None, alg: str) -> list[Any]:
    return client_assertion.jwks_keys(JWKS, kid, alg)[0]


def check(value: str, *, method: str = "private_key_jwt", replay: Seen | None = None, policy: Policy = POLICY):
    return client_assertion.verify(value, client_id="c1", method=method, keys=keys, policy=policy,
                                   replay=replay or Seen())


def test_a_good_assertion_gives_its_claims():
    assert check(make())["sub"] == "c1"


def test_the_same_jti_twice_is_refused():
    seen, value = Seen(), make()
    check(value, replay=seen)
    with pytest.raises(InvalidClient, match="already used"):
        check(value, replay=seen)


@pytest.mark.parametrize(("claims", "words"), [
    ({"iss": "c2"}, "iss and sub"), ({"sub": "c2"}, "iss and sub"), ({"aud": "https://other"}, "aud"),
    ({"aud": [ISSUER, "https://other"]}, "aud"), ({"aud": None}, "aud claim is required"),
    ({"exp": None}, "exp claim is required"), ({"jti": None}, "jti claim is required"), ({"jti": ""}, "jti"),
    ({"jti": "x" * 256}, "jti"), ({"exp": int(NOW) - 31}, "expired"), ({"exp": int(NOW) + 331}, "longer"),
    ({"iat": int(NOW) - 290, "exp": int(NOW) + 50}, "longer"), ({"iat": int(NOW) + 31}, "future"),
    ({"nbf": int(NOW) + 31}, "nbf"), ({"exp": "soon"}, "exp"),
])
def test_claims_are_checked(claims, words):
    with pytest.raises(InvalidClient, match=words):
        check(make(**claims))


def test_the_leeway_is_allowed():
    check(make(exp=int(NOW) - 29))
    check(make(iat=int(NOW) + 29, exp=int(NOW) + 90))


def test_an_array_of_one_audience_is_accepted():
    check(make(aud=[ISSUER]))


def test_alg_none_and_hmac_are_refused_for_private_key_jwt():
    with pytest.raises(InvalidClient, match="alg"):
        check(jwt.encode({"iss": "c1"}, None, algorithm="none"))
    with pytest.raises(InvalidClient, match="alg"):
        check(make(b"k" * 64, alg="HS256"))


def test_asymmetric_algs_are_refused_for_client_secret_jwt():
    with pytest.raises(InvalidClient, match="alg"):
        check(make(), method="client_secret_jwt")


def test_client_secret_jwt_verifies_with_the_secret():
    secret = b"s" * 64

    def hmac_keys(kid, alg):
        return [secret]

    value = make(secret, alg="HS512", kid=None)
    claims = client_assertion.verify(value, client_id="c1", method="client_secret_jwt", keys=hmac_keys,
                                     policy=POLICY, replay=Seen())
    assert claims["iss"] == "c1"


def test_no_matching_key_and_a_wrong_key():
    with pytest.raises(InvalidClient, match="no registered key"):
        check(make(kid="k9"))
    with pytest.raises(InvalidClient, match="signature"):
        check(make(rsa.generate_private_key(public_exponent=65537, key_size=2048)))


def test_key_bearing_headers_are_refused():
    value = jwt.encode({"iss": "c1"}, KEY, algorithm="RS256", headers={"kid": "k1", "jku": "https://evil"})
    with pytest.raises(InvalidClient, match="header"):
        check(value)


@pytest.mark.parametrize("value", ["", "abc", "a.b.c", "a.b", "x" * 9000, "e30.e30.", "....."])
def test_garbage_is_invalid_client(value):
    with pytest.raises(InvalidClient):
        check(value)


def test_jwks_keys_skip_keys_for_another_alg_use_or_curve():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_jwk = {**ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "e"}
    document = {"keys": [ec_jwk, {**JWKS["keys"][0], "use": "enc"}, {**JWKS["keys"][0], "kid": "r", "alg": "PS256"}]}
    assert len(client_assertion.jwks_keys(document, "e", "ES256")[0]) == 1
    assert client_assertion.jwks_keys(document, "e", "ES384") == ([], True)
    assert client_assertion.jwks_keys(document, "k1", "RS256") == ([], True)  # use=enc
    assert client_assertion.jwks_keys(document, "r", "RS256") == ([], True)  # alg pinned to PS256
    assert client_assertion.jwks_keys(document, "nope", "RS256") == ([], False)
    private = {**JWKS["keys"][0], "d": "AAAA"}
    assert client_assertion.jwks_keys({"keys": [private]}, "k1", "RS256") == ([], True)


@pytest.mark.parametrize("value", [None, [], {}, {"keys": []}, {"keys": [{"kty": "RSA", "d": "x"}]},
                                   {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, {"keys": ["x"]}])
def test_registered_jwks_must_be_public_keys(value):
    assert client_assertion.public_jwks_problem(value)


def test_a_public_jwks_is_fine():
    assert client_assertion.public_jwks_problem(JWKS) is None


# -- parsing and the method rules -------------------------------------------------------------


def build(body: str, authorization: str = "") -> TokenRequest:
    return TokenRequest.build(content_type="application/x-www-form-urlencoded", body=body.encode(),
                              authorization=authorization)


def test_an_assertion_request_names_its_client_by_sub():
    request = build(f"client_assertion_type={ASSERTION_TYPE}&client_assertion={make()}")
    assert request.credentials.client_id == "c1" and request.credentials.method == "client_assertion"


def test_an_assertion_with_a_secret_is_two_methods():
    with pytest.raises(InvalidRequest):
        build(f"client_assertion_type={ASSERTION_TYPE}&client_assertion={make()}&client_secret=x&client_id=c1")
    with pytest.raises(InvalidRequest):
        build(f"client_assertion_type={ASSERTION_TYPE}&client_assertion={make()}", "Basic YzE6eA==")


class Verifier:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def verify(self, client: MemClient, assertion: str) -> None:
        self.calls.append(client.client_id)


class Store:
    def __init__(self, *clients: MemClient) -> None:
        self.clients = {c.client_id: c for c in clients}

    def get_client(self, client_id: str) -> MemClient | None:
        return self.clients.get(client_id)


def test_each_client_authenticates_only_with_its_registered_method():
    jwt_client = MemClient("c1", secret="s", token_endpoint_auth_method="private_key_jwt")
    secret_client = MemClient("c2", secret="s")
    verifier = Verifier()
    store = Store(jwt_client, secret_client)
    assertion_request = build(f"client_assertion_type={ASSERTION_TYPE}&client_assertion={make()}")
    assert authenticate_client(assertion_request, store, verifier) is jwt_client
    assert verifier.calls == ["c1"]
    with pytest.raises(InvalidClient, match="private_key_jwt"):
        authenticate_client(build("client_id=c1&client_secret=s"), store, verifier)
    with pytest.raises(InvalidClient, match="does not authenticate with a client assertion"):
        other = make(sub="c2", iss="c2")
        authenticate_client(build(f"client_assertion_type={ASSERTION_TYPE}&client_assertion={other}"), store, verifier)
    assert authenticate_client(build("client_id=c2&client_secret=s"), store, verifier) is secret_client
    # Without a verifier, assertions are refused.
    with pytest.raises(InvalidClient):
        authenticate_client(assertion_request, store)


def test_time_is_the_callers():
    """``Policy.now`` is the caller's clock: nothing here reads the system time."""
    late = Policy(audiences=[ISSUER], now=NOW + 1000, leeway=0, max_lifetime=300)
    with pytest.raises(InvalidClient, match="expired"):
        check(make(), policy=late)


def _signed_raw(payload: str, header: str = '{"alg": "RS256", "kid": "k1"}') -> str:
    """A JWT whose payload is the given JSON text, signed with the client's key (PyJWT
    would refuse to encode NaN or Infinity; a hostile client is not so polite)."""
    from base64 import urlsafe_b64encode

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> str:
        return urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(header.encode()) + "." + b64(payload.encode())
    signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64(signature)


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "-Infinity", "1e400", str(10**400), '"soon"', "[1]", "null"])
def test_non_finite_or_odd_numbers_are_refused(exp):
    payload = (f'{{"iss": "c1", "sub": "c1", "aud": "{ISSUER}", "jti": "j", "iat": {int(NOW)}, '
               f'"exp": {exp}}}')
    with pytest.raises(InvalidClient):
        check(_signed_raw(payload))


@pytest.mark.parametrize("field", ["iat", "nbf"])
def test_nan_iat_or_nbf_is_refused(field):
    payload = (f'{{"iss": "c1", "sub": "c1", "aud": "{ISSUER}", "jti": "j", "exp": {int(NOW) + 60}, '
               f'"{field}": NaN}}')
    with pytest.raises(InvalidClient, match="finite"):
        check(_signed_raw(payload))


def test_the_raw_signer_makes_assertions_that_pass():
    """The helper above signs the way PyJWT does: a sound payload passes."""
    payload = f'{{"iss": "c1", "sub": "c1", "aud": "{ISSUER}", "jti": "j", "exp": {int(NOW) + 60}}}'
    assert check(_signed_raw(payload))["jti"] == "j"
