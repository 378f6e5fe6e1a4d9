"""JWT access tokens (RFC 9068 sections 2 and 4) and their hostile variants (RFC 8725):
signed by ``oauth2.jwt``, verified by ``oauth2.verifier`` (the one verifier production runs)."""

import base64
import hashlib
import hmac
import json
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from oauth_tokens.oauth2 import jwt
from oauth_tokens.oauth2.errors import InvalidToken
from oauth_tokens.oauth2.verifier import VerifierConfig, decode_access_token

ISSUER = "https://auth.example.test"
AUDIENCE = "https://api.example.test"


@pytest.fixture(scope="module", params=jwt.ALGORITHMS)
def signer(request):
    algorithm = request.param
    private = jwt.generate_private_key(algorithm)
    return private, jwt.VerificationKey("k1", algorithm, private.public_key())


@pytest.fixture(scope="module")
def rsa():
    private = jwt.generate_private_key("RS256")
    return private, jwt.VerificationKey("k1", "RS256", private.public_key())


def claims(**overrides):
    now = int(time.time())
    base = jwt.access_token_claims(
        issuer=ISSUER, audience=AUDIENCE, subject="42", client_id="c1", scope="read write",
        jti="j-1", issued_at=now, lifetime=3600,
    )
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def verify(token, key, *, leeway=30):
    """The verifier production runs (``oauth2.verifier``), without its cache."""
    return decode_access_token(token, key_for=lambda kid: key if kid == key.kid else None,
                               config=VerifierConfig(issuer=ISSUER, audience=AUDIENCE, leeway=leeway), now=time.time())


def raw_sign(payload, private, headers=None) -> str:
    """Sign any JSON payload, even claims PyJWT's encoder would refuse."""
    return pyjwt.api_jws.encode(json.dumps(payload).encode(), private, algorithm="RS256",
                                headers={"kid": "k1", "typ": "at+jwt", **(headers or {})})


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_sign_and_verify_every_algorithm(signer):
    private, key = signer
    token = jwt.sign(claims(), key=private, kid="k1", algorithm=key.algorithm)
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": key.algorithm, "kid": "k1", "typ": "at+jwt"}
    got = verify(token, key)
    assert {k: got[k] for k in ("iss", "sub", "aud", "client_id", "scope", "jti")} == {
        "iss": ISSUER, "sub": "42", "aud": AUDIENCE, "client_id": "c1", "scope": "read write", "jti": "j-1",
    }
    assert got["exp"] - got["iat"] == 3600


def test_claims_have_the_rfc_9068_required_set_and_omit_an_empty_scope():
    c = jwt.access_token_claims(issuer=ISSUER, audience=AUDIENCE, subject="s", client_id="c", scope="",
                                jti="j", issued_at=100, lifetime=60, extra={"sub": "evil", "tenant": "t"})
    assert {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"} <= set(c) and "scope" not in c
    assert c["sub"] == "s" and c["tenant"] == "t" and c["exp"] == 160  # extras never override


def test_application_at_jwt_typ_is_accepted(rsa):
    private, key = rsa
    token = jwt.sign(claims(), key=private, kid="k1", algorithm="RS256", typ="application/at+jwt")
    assert verify(token, key)["sub"] == "42"


def test_jwk_round_trip_has_no_private_parameters(signer):
    private, key = signer
    jwk = jwt.public_jwk(private, kid="k1", algorithm=key.algorithm)
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
    assert jwk["kid"] == "k1" and jwk["alg"] == key.algorithm and jwk["use"] == "sig"
    loaded = jwt.VerificationKey("k1", key.algorithm, jwt.public_key_from_jwk(jwk))
    assert verify(jwt.sign(claims(), key=private, kid="k1", algorithm=key.algorithm), loaded)["sub"] == "42"
    with pytest.raises(ValueError):
        jwt.public_key_from_jwk({**jwk, "d": "AAAA"})


def test_keys_of_a_kind_we_do_not_sign_with_are_refused():
    """An Ed448 JWK or an X25519 private key loads in PyJWT / cryptography, but is
    not one of our signing keys: refused at load time, not at the first signature."""
    from cryptography.hazmat.primitives.asymmetric import ed448, x25519

    ed448_jwk = pyjwt.algorithms.OKPAlgorithm.to_jwk(ed448.Ed448PrivateKey.generate().public_key(), as_dict=True)
    with pytest.raises(ValueError, match="Ed448PublicKey"):
        jwt.public_key_from_jwk(ed448_jwk)
    x25519_pem = x25519.X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ValueError, match="X25519PrivateKey"):
        jwt.load_private_key(x25519_pem)


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError):
        jwt.generate_private_key("HS256")


# -- hostile tokens -------------------------------------------------------------------
def rejected(token, key, match=None, **kwargs):
    with pytest.raises(InvalidToken, match=match) as exc_info:
        verify(token, key, **kwargs)
    assert exc_info.value.status_code == 401
    assert exc_info.value.headers()["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_alg_none_is_rejected(rsa):
    _, key = rsa
    token = f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': 'k1'})}.{b64(claims())}."
    rejected(token, key)


def test_hs256_signed_with_the_public_key_is_rejected(rsa):
    private, key = rsa
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64({"alg": "HS256", "typ": "at+jwt", "kid": "k1"})
    body = b64(claims())
    sig = b64(hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    rejected(f"{header}.{body}.{sig}", key, match="algorithm")


def test_other_asymmetric_alg_for_our_kid_is_rejected(rsa):
    _, key = rsa
    other = jwt.generate_private_key("ES256")
    rejected(jwt.sign(claims(), key=other, kid="k1", algorithm="ES256"), key, match="algorithm")


def test_unknown_kid_or_no_kid_is_rejected(rsa):
    private, key = rsa
    rejected(jwt.sign(claims(), key=private, kid="k2", algorithm="RS256"), key, match="unknown key")
    no_kid = pyjwt.encode(claims(), private, algorithm="RS256", headers={"typ": "at+jwt"})
    rejected(no_kid, key, match="unknown key")
    numeric_kid = f"{b64({'alg': 'RS256', 'typ': 'at+jwt', 'kid': 1})}.{b64(claims())}.c2ln"
    rejected(numeric_kid, key)


@pytest.mark.parametrize(
    "extra",
    [
        {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
        {"jku": "https://evil.test/jwks.json"},
        {"x5u": "https://evil.test/cert.pem"},
        {"x5c": ["MIIB"]},
        {"crit": ["exp"]},
    ],
)
def test_key_carrying_headers_are_rejected(rsa, extra):
    private, key = rsa
    token = pyjwt.encode(claims(), private, algorithm="RS256", headers={"kid": "k1", "typ": "at+jwt", **extra})
    rejected(token, key)


@pytest.mark.parametrize("typ", ["JWT", "jwt", "", "id_token+jwt", None])
def test_wrong_typ_is_rejected(rsa, typ):
    private, key = rsa
    headers = {"kid": "k1"} if typ is None else {"kid": "k1", "typ": typ}
    token = pyjwt.encode(claims(), private, algorithm="RS256", headers=headers)
    rejected(token, key, match="wrong type")


@pytest.mark.parametrize(
    "iss",
    [ISSUER + ".evil.test", ISSUER + "/", ISSUER[:-1], "https://auth.example", "http://auth.example.test",
     "https://evil.test/" + ISSUER, ISSUER.upper(), [ISSUER], 1],
)
def test_issuer_must_match_exactly(rsa, iss):
    private, key = rsa
    rejected(raw_sign(claims(iss=iss), private), key)


@pytest.mark.parametrize("aud", ["https://other.test", [], ["https://other.test"], AUDIENCE + "/"])
def test_foreign_audience_is_rejected(rsa, aud):
    private, key = rsa
    rejected(jwt.sign(claims(aud=aud), key=private, kid="k1", algorithm="RS256"), key)


def test_audience_list_containing_us_is_accepted(rsa):
    private, key = rsa
    token = jwt.sign(claims(aud=["https://other.test", AUDIENCE]), key=private, kid="k1", algorithm="RS256")
    assert verify(token, key)["sub"] == "42"


def test_expired_beyond_the_leeway_is_rejected_and_within_it_accepted(rsa):
    private, key = rsa
    now = int(time.time())
    token = jwt.sign(claims(iat=now - 3700, exp=now - 100), key=private, kid="k1", algorithm="RS256")
    rejected(token, key, match="expired", leeway=30)
    token = jwt.sign(claims(iat=now - 3610, exp=now - 10), key=private, kid="k1", algorithm="RS256")
    assert verify(token, key, leeway=30)["sub"] == "42"


def test_not_yet_valid_or_issued_in_the_future_is_rejected(rsa):
    private, key = rsa
    now = int(time.time())
    rejected(jwt.sign(claims(nbf=now + 300), key=private, kid="k1", algorithm="RS256"), key, match="not yet valid")
    rejected(jwt.sign(claims(iat=now + 300), key=private, kid="k1", algorithm="RS256"), key, match="future")


@pytest.mark.parametrize("missing", ["jti", "client_id", "sub", "exp", "iat", "iss", "aud"])
def test_missing_required_claim_is_rejected(rsa, missing):
    private, key = rsa
    rejected(jwt.sign(claims(**{missing: None}), key=private, kid="k1", algorithm="RS256"), key)


@pytest.mark.parametrize("claim, value", [("sub", 42), ("exp", "tomorrow"), ("jti", ["a"]), ("nbf", "x")])
def test_mistyped_claims_are_rejected(rsa, claim, value):
    private, key = rsa
    rejected(raw_sign(claims(**{claim: value}), private), key)


def test_tampered_payload_or_signature_is_rejected(rsa):
    private, key = rsa
    header, _, sig = jwt.sign(claims(), key=private, kid="k1", algorithm="RS256").split(".")
    rejected(f"{header}.{b64(claims(sub='admin'))}.{sig}", key)
    rejected(f"{header}.{b64(claims())}.{sig[:-4]}AAAA", key)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "....", "%%%.%%%.%%%", "e30.e30.", b64([1]) + ".e30.sig",
     b64(b"\xff\xfe") + ".e30.sig", "x" * 9000 + ".a.b",
     b64({"alg": "RS256", "kid": "k1", "typ": "at+jwt"}) + ".!!!.x"],
)
def test_garbage_is_rejected(rsa, token):
    rejected(token, rsa[1])


def test_payload_that_is_not_an_object_is_rejected(rsa):
    private, key = rsa
    rejected(raw_sign([1, 2], private), key)


@pytest.mark.parametrize("claims, problem", [
    ({}, "it has expired"),  # exp is required
    ({"exp": 1000 - 30}, "it has expired"),  # the leeway spent
    ({"exp": 1000 + 331}, "lives longer than 300 s"),  # beyond the leeway
    ({"exp": 1000 + 200, "iat": 1000 - 200}, "lives longer than 300 s"),  # counted from iat
    ({"exp": 1000 + 200, "iat": 1000 + 31}, "iat is in the future"),
    ({"exp": 1000 + 200, "nbf": 1000 + 31}, "not valid yet"),
    ({"exp": float("inf")}, "exp"),
    ({"exp": True}, "exp"),
])
def test_check_times_refuses(claims, problem):
    with pytest.raises(ValueError, match=problem):
        jwt.check_times(claims, now=1000, leeway=30, max_lifetime=300)


def test_check_times_accepts_within_the_leeway_and_without_a_lifetime_cap():
    jwt.check_times({"exp": 1000 - 29, "iat": 1000 + 29, "nbf": 1000 + 29}, now=1000, leeway=30)
    jwt.check_times({"exp": 10**9}, now=1000, leeway=0)  # no cap: any lifetime
    jwt.check_times({"exp": 1000 + 300, "iat": 1000}, now=1000, leeway=0, max_lifetime=300)
