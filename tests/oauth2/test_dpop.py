"""DPoP proofs (RFC 9449 section 4.3), checked by the spec layer alone: each hostile
proof is refused with ``invalid_dpop_proof`` (or ``use_dpop_nonce``) and says why."""

from __future__ import annotations

import base64
import hmac
import json

import jwt
import pytest

from oauth_tokens.oauth2 import dpop
from oauth_tokens.oauth2.dpop import InvalidDPoPProof, Nonces, ProofPolicy, UseDPoPNonce
from tests.dpop_proofs import ProofKey

NOW = 1_800_000_000.0
URL = "https://as.example.test/oauth/token"
KEY = ProofKey()
POLICY = ProofPolicy(method="POST", uris=[URL], now=NOW, max_age=60, leeway=5)


class Seen:
    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()

    def first_use(self, jkt: str, jti: str, expires_at: float) -> bool:
        if (jkt, jti) in self.used:
            return False
        self.used.add((jkt, jti))
        return True


def check(proof: str, policy: ProofPolicy = POLICY, replay: Seen | None = None) -> dpop.Proof:
    return dpop.verify_proof(proof, policy, replay or Seen())


def refused(proof: str, policy: ProofPolicy = POLICY, replay: Seen | None = None) -> str:
    with pytest.raises(InvalidDPoPProof) as caught:
        check(proof, policy, replay)
    assert caught.value.error == "invalid_dpop_proof" and caught.value.status_code == 400
    return caught.value.description


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_good_proof_gives_the_thumbprint_of_its_key():
    proof = check(KEY.proof("POST", URL, iat=NOW))
    assert proof.jkt == KEY.jkt and len(proof.jkt) == 43


def test_rfc7638_thumbprint_example():
    # RFC 7638 section 3.1.
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
           "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
                "ebWKRXjBZCiF"
                "V4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZ"
                "gnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBn"
                "iIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    assert dpop.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_an_rsa_key_works_too():
    rsa_key = ProofKey(rsa_key=True)
    assert check(rsa_key.proof("POST", URL, iat=NOW)).jkt == rsa_key.jkt


def test_replayed_proof_is_refused():
    seen, proof = Seen(), KEY.proof("POST", URL, iat=NOW)
    check(proof, replay=seen)
    assert "already used" in refused(proof, replay=seen)


def test_proof_for_another_url_or_method_is_refused():
    assert "htu" in refused(KEY.proof("POST", "https://as.example.test/oauth/other", iat=NOW))
    assert "htu" in refused(KEY.proof("POST", "https://evil.example.test/oauth/token", iat=NOW))
    assert "htm" in refused(KEY.proof("GET", URL, iat=NOW))
    assert "htm" in refused(KEY.proof("post", URL, iat=NOW))


def test_htu_is_compared_after_normalization_without_query_or_fragment():
    for same in ("HTTPS://AS.example.test:443/oauth/token", "https://as.example.test/oauth/./token",
                 "https://as.example.test/oauth/token?x=1#f", "https://as.example.test/oauth/%74oken"):
        check(KEY.proof("POST", same, iat=NOW))


def test_symmetric_and_none_algorithms_are_refused():
    hs = jwt.encode({"jti": "a", "htm": "POST", "htu": URL, "iat": int(NOW)}, "secret" * 8, algorithm="HS256",
                    headers={"typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}})
    assert "alg" in refused(hs)
    none = (b64({"typ": "dpop+jwt", "alg": "none", "jwk": KEY.jwk}) + "."
            + b64({"jti": "b", "htm": "POST", "htu": URL, "iat": int(NOW)}) + ".")
    assert "alg" in refused(none)


def test_a_private_or_mismatched_jwk_is_refused():
    private = {**KEY.jwk, "d": "AAAA"}
    assert "public" in refused(KEY.proof("POST", URL, iat=NOW, header={"jwk": private}))
    other = ProofKey(rsa_key=True)
    assert "not a key for ES256" in refused(KEY.proof("POST", URL, iat=NOW, header={"jwk": other.jwk}))


def test_a_signature_by_another_key_is_refused():
    other = ProofKey()
    assert "signature" in refused(KEY.proof("POST", URL, iat=NOW, header={"jwk": other.jwk}))


def test_wrong_typ_missing_jwk_and_crit_are_refused():
    assert "typ" in refused(KEY.proof("POST", URL, iat=NOW, header={"typ": "JWT"}))
    assert "jwk" in refused(KEY.proof("POST", URL, iat=NOW, header={"jwk": None}))
    assert refused(KEY.proof("POST", URL, iat=NOW, header={"crit": ["x"]}))  # PyJWT or we refuse it


def test_stale_and_future_iat_are_refused():
    assert "too old" in refused(KEY.proof("POST", URL, iat=NOW - 66))
    check(KEY.proof("POST", URL, iat=NOW - 64))
    assert "future" in refused(KEY.proof("POST", URL, iat=NOW + 6))
    assert "iat" in refused(KEY.proof("POST", URL, iat=NOW, claims={"iat": "now"}))


def test_missing_jti_and_garbage_are_refused():
    assert "jti" in refused(KEY.proof("POST", URL, iat=NOW, claims={"jti": None}))
    assert "malformed" in refused("a.b.c")
    assert "exactly one" in refused(KEY.proof("POST", URL, iat=NOW) + ", " + KEY.proof("POST", URL, iat=NOW))
    assert "too long" in refused("x" * 9000)


def test_resource_requests_need_the_hash_of_their_access_token():
    policy = ProofPolicy(method="GET", uris=["https://api.example.test/me"], now=NOW, access_token="tok")
    assert check(KEY.proof("GET", "https://api.example.test/me", iat=NOW, access_token="tok"), policy).jkt
    assert "is required" in refused(KEY.proof("GET", "https://api.example.test/me", iat=NOW), policy)
    assert "ath does not match" in refused(
        KEY.proof("GET", "https://api.example.test/me", iat=NOW, access_token="another"), policy)


def test_nonces_are_required_when_the_server_says_so():
    nonces = Nonces(b"k" * 32, lifetime=300)
    policy = ProofPolicy(method="POST", uris=[URL], now=NOW, nonces=nonces)
    seen = Seen()
    with pytest.raises(UseDPoPNonce) as caught:
        check(KEY.proof("POST", URL, iat=NOW), policy, seen)
    error = caught.value
    assert error.error == "use_dpop_nonce" and error.headers()["DPoP-Nonce"] == nonces.current(NOW)
    assert seen.used == set()  # a proof refused for its nonce is not spent
    assert check(KEY.proof("POST", URL, iat=NOW, nonce=error.nonce), policy).jkt == KEY.jkt
    with pytest.raises(UseDPoPNonce):
        check(KEY.proof("POST", URL, iat=NOW, nonce="made-up"), policy)


def test_a_nonce_is_good_in_its_window_and_the_next_only():
    nonces = Nonces(b"k" * 32, lifetime=300)
    nonce = nonces.current(NOW)
    assert nonces.accepts(nonce, NOW + 299) and nonces.accepts(nonce, NOW + 300)
    assert not nonces.accepts(nonce, NOW + 700)
    assert not Nonces(b"other" * 8).accepts(nonce, NOW)
    assert not nonces.accepts(None, NOW) and not nonces.accepts(7, NOW)


def test_resource_errors_carry_the_dpop_challenge():
    error = InvalidDPoPProof("bad").at_resource()
    assert error.status_code == 401
    assert error.headers()["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof", error_description="bad"')
    assert 'algs="RS256' in error.headers()["WWW-Authenticate"]
    assert "none" not in dpop.ALGORITHMS and not any(a.startswith("HS") for a in dpop.ALGORITHMS)


def test_access_token_hash_and_confirmation():
    assert hmac.compare_digest(dpop.access_token_hash("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0")
    assert dpop.confirmed_jkt({"cnf": {"jkt": "x"}}) == "x"
    assert dpop.confirmed_jkt({"cnf": "x"}) is None and dpop.confirmed_jkt({}) is None
