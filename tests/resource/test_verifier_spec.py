"""The spec-layer verifier without Django: strict JWS checks, the LRU of verified
tokens, and the polled revocation list."""

import hashlib
import hmac
import json
import threading
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from oauth_tokens.oauth2.errors import InvalidToken, TemporarilyUnavailable
from oauth_tokens.oauth2.jwt import VerificationKey
from oauth_tokens.oauth2.revocation_list import Loaded, RevocationList
from oauth_tokens.oauth2.verifier import CachingVerifier, VerifierConfig, decode_access_token
from tests.resource.jwt_factory import ISSUER, b64, claims, raw, sign, unsigned

RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())
ED = ed25519.Ed25519PrivateKey.generate()
KEYS = {
    "rsa": VerificationKey("rsa", "RS256", RSA.public_key()),
    "ec": VerificationKey("ec", "ES256", EC.public_key()),
    "ed": VerificationKey("ed", "EdDSA", ED.public_key()),
}
CONFIG = VerifierConfig(issuer=ISSUER, audience=ISSUER, leeway=30)


def decode(token, now=None):
    return decode_access_token(token, key_for=KEYS.get, config=CONFIG, now=now or time.time())


def refused(token, message="", now=None):
    with pytest.raises(InvalidToken) as info:
        decode(token, now=now)
    assert message in info.value.description
    return info.value


@pytest.mark.parametrize("kid,key,alg", [("rsa", RSA, "RS256"), ("ec", EC, "ES256"), ("ed", ED, "EdDSA")])
def test_valid_tokens_of_each_algorithm(kid, key, alg):
    payload = claims()
    assert decode(sign(payload, key, kid=kid, alg=alg)) == payload


def test_application_at_jwt_typ_and_audience_list_are_accepted():
    payload = claims(aud=["https://other.test", ISSUER])
    assert decode(sign(payload, RSA, kid="rsa", typ="application/at+jwt"))["aud"] == payload["aud"]


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(alg):
    refused(unsigned(claims(), kid="rsa", alg=alg), "algorithm")


def test_hmac_signed_with_the_public_key_is_refused():
    public_pem = RSA.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": "rsa", "typ": "at+jwt"}).encode())
    payload = b64(json.dumps(claims()).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    refused(f"{header}.{payload}.{b64(mac)}", "algorithm")


def test_algorithm_comes_from_our_key_not_the_header():
    # A valid ES256 signature presented under the RSA key's kid.
    refused(sign(claims(), EC, kid="rsa", alg="ES256"), "algorithm")


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u", "x5c", "crit"])
def test_key_carrying_headers_are_refused(header):
    value = {"jwk": {"kty": "RSA"}, "jku": "https://evil.test/jwks", "x5u": "https://evil.test/x",
             "x5c": ["AAAA"], "crit": ["exp"]}[header]
    refused(sign(claims(), RSA, kid="rsa", **{header: value}), "forbidden header")


def test_unknown_kid_wrong_key_and_tampering_are_refused():
    refused(sign(claims(), RSA, kid="nope"), "unknown key")
    refused(sign(claims(), OTHER_RSA, kid="rsa"), "signature")
    token = sign(claims(scope="read"), RSA, kid="rsa")
    header, _, signature = token.split(".")
    forged = b64(json.dumps(claims(scope="admin")).encode())
    refused(f"{header}.{forged}.{signature}", "signature")


@pytest.mark.parametrize("typ", ["JWT", "", "at+jwt2", "id_token"])
def test_wrong_typ_is_refused(typ):
    refused(sign(claims(), RSA, kid="rsa", typ=typ), "wrong type")


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"iss": ISSUER + ".evil.test"}, "another server"),
        ({"iss": ISSUER + "/"}, "another server"),
        ({"iss": "https://auth.example"}, "another server"),
        ({"aud": "https://api.other.test"}, "another audience"),
        ({"aud": [ISSUER + "x"]}, "another audience"),
        ({"exp": -31}, "The access token has expired"),
        ({"nbf": 120}, "not yet valid"),
        ({"iat": 120}, "in the future"),
        ({"jti": None}, "'jti'"),
        ({"client_id": None}, "'client_id'"),
        ({"sub": None}, "'sub'"),
        ({"exp": None}, "'exp'"),
        ({"iat": None}, "'iat'"),
        ({"sub": 42}, "'sub'"),
        ({"exp": "tomorrow"}, "'exp'"),
        ({"exp": True}, "'exp'"),
        ({"scope": ["read"]}, "'scope'"),
    ],
)
def test_claim_checks(overrides, message):
    now = int(time.time())
    relative = {k: now + v for k, v in overrides.items() if k in ("exp", "nbf", "iat") and isinstance(v, int)
                and not isinstance(v, bool)}
    refused(sign(claims(**{**overrides, **relative}), RSA, kid="rsa"), message)


def test_leeway_is_small_and_applied():
    now = time.time()
    token = sign(claims(exp=int(now) - 10), RSA, kid="rsa")
    assert decode(token, now=now)  # 10 s late is inside the 30 s leeway
    refused(token, "expired", now=now + 25)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "a" * 100_000,
        "ey.ey.ey" + "A" * 9000,
        "\x00\x01.\xff.\xfe",
        "héllo.wörld.x",
        "YQ.YQ.YQ==",
        "a+b.c/d.e",
        raw({"alg": "RS256", "kid": "rsa", "typ": "at+jwt"}, claims())[:-1] + "!",
        b64(b"[1,2]") + "." + b64(b"{}") + ".AAAA",
        b64(b"not json") + "." + b64(b"{}") + ".AAAA",
        b64(b'{"alg": "RS256", "kid": "rsa", "typ": "at+jwt"}') + "." + b64(b"[]") + ".AAAA",
        b64(b'{"alg": "RS256", "kid": "rsa", "typ": "at+jwt"}') + "." + b64(b"{}") + ".A",
        b64(b'{"alg": "RS256", "kid": 7, "typ": "at+jwt"}') + "." + b64(b"{}") + ".AAAA",
        b64(b"[" * 100_00) + ".e.e",
    ],
)
@pytest.mark.slow
def test_malformed_tokens_are_invalid_token_never_a_crash(token):
    """Refused in well under a second: under a millisecond normally (the margin is for
    a busy machine); a backtracking or quadratic parse of 100 kB takes far longer."""
    started = time.perf_counter()
    error = refused(token)
    assert error.status_code == 401 and error.error == "invalid_token"
    assert time.perf_counter() - started < 0.5


# -- the LRU of verified tokens ---------------------------------------------------


class Clock:
    def __init__(self, t=None):
        self.t = t or time.time()

    def __call__(self):
        return self.t


def make_verifier(clock, revoked=(), size=10, keys=None):
    return CachingVerifier(
        key_for=(keys or KEYS).get,
        config=lambda: CONFIG,
        is_revoked=lambda c: c["jti"] in revoked,
        clock=clock,
        max_entries=size,
    )


def test_a_token_is_verified_once_then_served_from_the_cache():
    calls = []
    keys = {"rsa": KEYS["rsa"]}
    v = make_verifier(Clock(), keys={"rsa": KEYS["rsa"]})
    v.key_for = lambda kid: calls.append(kid) or keys.get(kid)
    token = sign(claims(), RSA, kid="rsa")
    first = v.verify(token)
    assert v.verify(token) is first
    assert calls == ["rsa", "rsa"]  # a hit only asks whether its key is still ours
    assert (v.hits, v.misses) == (1, 1)
    with pytest.raises(TypeError):
        first["scope"] = "admin"  # the cached claims are read-only


def test_a_cached_token_expires_at_its_exp_plus_leeway():
    clock = Clock()
    v = make_verifier(clock)
    token = sign(claims(exp=int(clock.t) + 60), RSA, kid="rsa")
    v.verify(token)
    clock.t += 60 + 29
    v.verify(token)
    clock.t += 2
    with pytest.raises(InvalidToken, match="The access token has expired"):
        v.verify(token)
    assert len(v) == 0


def test_revocation_is_checked_on_every_hit():
    revoked = set()
    v = make_verifier(Clock(), revoked=revoked)
    payload = claims()
    token = sign(payload, RSA, kid="rsa")
    v.verify(token)
    revoked.add(payload["jti"])
    with pytest.raises(InvalidToken, match="revoked"):
        v.verify(token)


def test_invalid_tokens_are_not_cached_and_the_cache_is_bounded():
    v = make_verifier(Clock(), size=3)
    bad = sign(claims(), OTHER_RSA, kid="rsa")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            v.verify(bad)
    assert len(v) == 0 and v.misses == 2
    tokens = [sign(claims(), RSA, kid="rsa") for _ in range(5)]
    for token in tokens:
        v.verify(token)
    v.verify(tokens[2])  # most recently used survives
    v.verify(sign(claims(), RSA, kid="rsa"))
    assert len(v) == 3
    assert tokens[2] in v._entries and tokens[0] not in v._entries and tokens[3] not in v._entries


def test_cache_is_safe_under_threads():
    v = make_verifier(Clock(), size=8)
    tokens = [sign(claims(), RSA, kid="rsa") for _ in range(20)]
    errors = []

    def worker():
        try:
            for _ in range(50):
                for token in tokens:
                    v.verify(token)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(v) <= 8


# -- the revocation list ------------------------------------------------------------


class Source:
    def __init__(self):
        self.version = 0
        self.revoked = set()
        self.version_reads = 0
        self.loads = 0

    def read_version(self):
        self.version_reads += 1
        return self.version

    def load(self, cursor):
        self.loads += 1
        return Loaded(cursor=self.version, ids=frozenset(self.revoked))

    def revoke(self, jti):
        self.revoked.add(jti)
        self.version += 1


def test_revocation_list_polls_at_most_once_per_interval():
    source, clock = Source(), Clock(100.0)
    rl = RevocationList(version=source.read_version, load=source.load, interval=1.0, clock=clock)
    assert not rl.is_revoked("a")
    for _ in range(1000):
        rl.is_revoked("a")
    assert (source.version_reads, source.loads) == (1, 1)
    source.revoke("a")
    clock.t += 0.89
    assert not rl.is_revoked("a")  # not yet polled: within the bound
    clock.t += 0.01  # the interval's last tenth: the next poll starts
    assert rl.is_revoked("a")
    assert (source.version_reads, source.loads) == (2, 2)
    clock.t += 5
    rl.is_revoked("a")
    assert (source.version_reads, source.loads) == (3, 2)  # version unchanged: no reload


def test_invalidate_reloads_on_the_next_check():
    source, clock = Source(), Clock(100.0)
    rl = RevocationList(version=source.read_version, load=source.load, interval=60.0, clock=clock)
    rl.is_revoked("a")
    source.revoked.add("a")  # same version: only an invalidate shows it
    rl.invalidate()
    assert rl.is_revoked("a")


def test_revocation_list_fails_closed_and_retries():
    clock = Clock(100.0)
    state = {"fail": True}

    def version():
        if state["fail"]:
            raise ConnectionError("database down")
        return 1

    rl = RevocationList(version=version, load=lambda cursor: Loaded(cursor=1, ids=frozenset({"x"})), interval=1.0,
                        clock=clock)
    with pytest.raises(TemporarilyUnavailable):
        rl.is_revoked("x")
    state["fail"] = False
    assert rl.is_revoked("x")


def test_pyjwt_agrees_with_our_decoder():
    payload = claims()
    token = sign(payload, RSA, kid="rsa")
    assert pyjwt.decode(token, RSA.public_key(), algorithms=["RS256"], audience=ISSUER) == decode(token)


def test_a_cached_token_whose_key_left_the_key_set_is_refused():
    """A leaked key deleted: its tokens go, the ones already cached too."""
    keys = dict(KEYS)
    v = make_verifier(Clock(), keys=keys)
    token = sign(claims(), RSA, kid="rsa")
    v.verify(token)
    del keys["rsa"]
    with pytest.raises(InvalidToken, match="unknown key"):
        v.verify(token)
    assert len(v) == 0


def test_a_cached_token_whose_kid_now_names_another_key_is_verified_again():
    keys = dict(KEYS)
    v = make_verifier(Clock(), keys=keys)
    token = sign(claims(), RSA, kid="rsa")
    v.verify(token)
    keys["rsa"] = VerificationKey("rsa", "RS256", RSA.public_key())  # equal key, new object: still good
    v.verify(token)
    keys["rsa"] = VerificationKey("rsa", "RS256", OTHER_RSA.public_key())
    with pytest.raises(InvalidToken, match="signature is invalid"):
        v.verify(token)


def _respelled(token):
    """The same signature bytes, another base64url spelling (an unused low bit of the last character set)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]


@pytest.mark.parametrize("kid,key,alg", [("rsa", RSA, "RS256"), ("ec", EC, "ES256"), ("ed", ED, "EdDSA")])
def test_a_non_canonical_spelling_of_the_signature_is_refused(kid, key, alg):
    token = sign(claims(), key, kid=kid, alg=alg)
    twin = _respelled(token)
    assert twin != token
    signature = twin.rsplit(".", 1)[1]
    assert b64(pyjwt.utils.base64url_decode(signature)) != signature  # same bytes, other spelling
    refused(twin, "not canonical base64url")
    assert decode(token)


def test_the_lifetime_bound_allows_the_leeway_and_no_more():
    bounded = VerifierConfig(issuer=ISSUER, audience=ISSUER, leeway=30, lifetime_allowed=lambda s: s <= 3600)
    now = int(time.time())

    def check(lifetime):
        token = sign(claims(iat=now, exp=now + lifetime), RSA, kid="rsa")
        return decode_access_token(token, key_for=KEYS.get, config=bounded, now=now)

    assert check(3630)
    with pytest.raises(InvalidToken, match="lives longer than this issuer grants"):
        check(3631)
    assert decode(sign(claims(iat=now, exp=now + 10 * 365 * 86400), RSA, kid="rsa"))  # no bound configured
