"""DPoP at the token endpoint (RFC 9449 section 5): binding, refresh, nonces, the
per-client requirement, ``dpop_jkt`` and the hostile proofs, over Django's test client."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from oauth_tokens import crypto
from oauth_tokens.provider.models import RefreshToken
from tests.conftest import REDIRECT, VERIFIER, Flow, basic
from tests.dpop_proofs import ProofKey
from tests.factories import PublicClientFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "http://testserver/oauth/token"


def claims_of(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def error_of(response, error: str, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] == error, response.content
    return response.json()["error_description"]


def client_token(flow: Flow, key: ProofKey | None = None, **headers):
    if key is not None:
        headers.setdefault("HTTP_DPOP", key.proof("POST", TOKEN_URL))
    return flow.token({"grant_type": "client_credentials", "scope": "read"}, **headers)


def test_client_credentials_with_a_proof_gives_a_bound_dpop_token(flow, client):
    key = ProofKey()
    response = client_token(flow, key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.jkt}
    introspected = client.post("/oauth/introspect", urlencode({"token": body["access_token"]}),
                               content_type="application/x-www-form-urlencoded",
                               HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.client.secret)).json()
    assert introspected["active"] and introspected["token_type"] == "DPoP"
    assert introspected["cnf"] == {"jkt": key.jkt}


def test_without_a_proof_tokens_stay_bearer(flow):
    body = client_token(flow).json()
    assert body["token_type"] == "Bearer" and "cnf" not in claims_of(body["access_token"])


def test_the_advertised_token_endpoint_url_is_accepted_as_htu(flow):
    key = ProofKey()
    response = client_token(flow, key, HTTP_DPOP=key.proof("POST", "https://auth.example.test/oauth/token"))
    assert response.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("make", [
    lambda key: key.proof("POST", "http://testserver/oauth/revoke"),
    lambda key: key.proof("GET", TOKEN_URL),
    lambda key: key.proof("POST", TOKEN_URL, iat=0),
    lambda key: key.proof("POST", TOKEN_URL, header={"typ": "JWT"}),
    lambda key: key.proof("POST", TOKEN_URL) + "," + key.proof("POST", TOKEN_URL),
    lambda key: "not a jwt",
], ids=["other-url", "other-method", "stale-iat", "wrong-typ", "two-proofs", "garbage"])
def test_bad_proofs_are_invalid_dpop_proof(flow, make):
    key = ProofKey()
    error_of(client_token(flow, key, HTTP_DPOP=make(key)), "invalid_dpop_proof")


def test_a_replayed_proof_is_refused(flow):
    key = ProofKey()
    proof = key.proof("POST", TOKEN_URL)
    assert client_token(flow, key, HTTP_DPOP=proof).status_code == 200
    assert "already used" in error_of(client_token(flow, key, HTTP_DPOP=proof), "invalid_dpop_proof")


def test_a_client_that_requires_dpop_must_send_a_proof(flow):
    flow.client.dpop_bound_access_tokens = True
    flow.client.save()
    error_of(client_token(flow), "invalid_dpop_proof")
    assert client_token(flow, ProofKey()).json()["token_type"] == "DPoP"


@override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "DPOP_NONCE_REQUIRED": True})
def test_nonces_when_required(flow):
    key = ProofKey()
    first = client_token(flow, key)
    error_of(first, "use_dpop_nonce")
    nonce = first["DPoP-Nonce"]
    retried = client_token(flow, key, HTTP_DPOP=key.proof("POST", TOKEN_URL, nonce=nonce))
    assert retried.status_code == 200 and retried.json()["token_type"] == "DPoP"
    assert retried["DPoP-Nonce"]  # the nonce to use next
    error_of(client_token(flow, key, HTTP_DPOP=key.proof("POST", TOKEN_URL, nonce="made-up")), "use_dpop_nonce")


@pytest.fixture
def public_flow(client, user):
    return Flow(client, PublicClientFactory(), user)


def code_tokens(flow: Flow, key: ProofKey | None, **authorize):
    code = flow.authorize(**authorize)
    headers = {"HTTP_DPOP": key.proof("POST", TOKEN_URL)} if key else {}
    return flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                       "code_verifier": VERIFIER, "client_id": flow.client.client_id}, **headers)


def refresh(flow: Flow, value: str, key: ProofKey | None):
    headers = {"HTTP_DPOP": key.proof("POST", TOKEN_URL)} if key else {}
    return flow.token({"grant_type": "refresh_token", "refresh_token": value, "client_id": flow.client.client_id},
                      **headers)


def test_a_public_clients_refresh_token_is_bound_to_its_key(public_flow):
    key = ProofKey()
    body = code_tokens(public_flow, key).json()
    assert body["token_type"] == "DPoP"
    assert RefreshToken.objects.get(digest=crypto.digest(body["refresh_token"])).dpop_jkt == key.jkt
    # Without a proof, or with another key: refused, and the family lives on.
    error_of(refresh(public_flow, body["refresh_token"], None), "invalid_dpop_proof")
    assert "another DPoP key" in error_of(refresh(public_flow, body["refresh_token"], ProofKey()), "invalid_grant")
    renewed = refresh(public_flow, body["refresh_token"], key)
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["token_type"] == "DPoP"
    assert claims_of(renewed.json()["access_token"])["cnf"]["jkt"] == key.jkt
    # The successor keeps the binding.
    assert RefreshToken.objects.get(digest=crypto.digest(renewed.json()["refresh_token"])).dpop_jkt == key.jkt


def test_a_confidential_clients_refresh_token_is_not_bound(flow):
    code = flow.authorize()
    first_key, second_key = ProofKey(), ProofKey()
    body = flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                       "code_verifier": VERIFIER}, HTTP_DPOP=first_key.proof("POST", TOKEN_URL)).json()
    assert RefreshToken.objects.get(digest=crypto.digest(body["refresh_token"])).dpop_jkt == ""
    renewed = flow.token({"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                         HTTP_DPOP=second_key.proof("POST", TOKEN_URL)).json()
    assert claims_of(renewed["access_token"])["cnf"]["jkt"] == second_key.jkt  # bound to the key shown now


def test_dpop_jkt_on_the_authorization_request_binds_the_code(public_flow):
    key = ProofKey()
    response = code_tokens(public_flow, ProofKey(), dpop_jkt=key.jkt)
    assert "dpop_jkt" in error_of(response, "invalid_grant")
    error_of(code_tokens(public_flow, None, dpop_jkt=key.jkt), "invalid_grant")
    assert code_tokens(public_flow, key, dpop_jkt=key.jkt).json()["token_type"] == "DPoP"


def test_a_malformed_dpop_jkt_is_an_invalid_request(public_flow):
    public_flow.http.force_login(public_flow.user)
    response = public_flow.http.get("/oauth/authorize", {
        "response_type": "code", "client_id": public_flow.client.client_id, "redirect_uri": REDIRECT,
        "scope": "read", "code_challenge": "x" * 43, "code_challenge_method": "S256", "dpop_jkt": "short"})
    assert response.status_code in (302, 303)
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]


def test_discovery_lists_the_dpop_algorithms(client):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        algs = client.get(path).json()["dpop_signing_alg_values_supported"]
        assert "ES256" in algs and "RS256" in algs and "none" not in algs and "HS256" not in algs



def test_userinfo_and_validation_take_dpop_and_refuse_a_bound_token_as_bearer(public_flow):
    key = ProofKey()
    token = code_tokens(public_flow, key, scope="openid read").json()["access_token"]
    http = public_flow.http
    for path in ("/oauth/userinfo", "/oauth/token"):
        as_bearer = http.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token", path
        assert "DPoP algs=" in as_bearer["WWW-Authenticate"]
        no_proof = http.get(path, HTTP_AUTHORIZATION=f"DPoP {token}")
        assert no_proof.status_code == 401 and no_proof.json()["error"] == "invalid_dpop_proof", path
        good = http.get(path, HTTP_AUTHORIZATION=f"DPoP {token}",
                        HTTP_DPOP=key.proof("GET", f"http://testserver{path}", access_token=token))
        assert good.status_code == 200, (path, good.content)
    assert good.json()["token_type"] == "DPoP"


def _b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


HOSTILE = [
    _b64({"typ": "dpop+jwt", "alg": "RS256", "jwk": {"kty": "RSA", "n": 123, "e": "AQAB"}}) + "." + _b64({}) + ".c2ln",
    _b64({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed448", "x": "AAAA"}}) + ".e30.c2ln",
    _b64({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}) + ".e30.AA",
    _b64({"typ": "dpop+jwt", "alg": "ES256", "jwk": ["not", "an", "object"]}) + ".e30.AA",
    _b64({"typ": "dpop+jwt", "alg": ["ES256"]}) + ".e30.AA",
    _b64(b"\xff\xfe") + "." + _b64(b"\xff") + ".AA",
    _b64([1, 2, 3]) + ".e30.AA",
    "..",
    "é.é.é",
]


@pytest.mark.parametrize("proof", HOSTILE)
def test_hostile_proof_headers_are_clear_errors_never_500(flow, client, proof):
    error_of(client_token(flow, HTTP_DPOP=proof), "invalid_dpop_proof")
    token = client_token(flow, ProofKey()).json()["access_token"]
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"


def test_a_registered_client_may_ask_for_dpop_bound_access_tokens(client, settings):
    from tests.provider.registration import ENABLED, METADATA, register

    settings.OAUTH_TOKENS = ENABLED
    registered = register(client, {**METADATA, "dpop_bound_access_tokens": True})
    assert registered.status_code == 201 and registered.json()["dpop_bound_access_tokens"] is True
    from oauth_tokens.provider.models import Client

    assert Client.objects.get(client_id=registered.json()["client_id"]).dpop_bound_access_tokens
    assert "dpop_bound_access_tokens" not in register(client).json()
    refused = register(client, {**METADATA, "dpop_bound_access_tokens": "yes"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client_metadata"


def test_a_dpop_proof_with_a_pushed_request_binds_the_code(public_flow):
    from oauth_tokens.oauth2.pkce import s256
    from oauth_tokens.provider.models import AuthorizationCode

    key, http = ProofKey(), public_flow.http
    params = {"client_id": public_flow.client.client_id, "response_type": "code", "redirect_uri": REDIRECT,
              "scope": "read", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    form = "application/x-www-form-urlencoded"
    mismatch = http.post("/oauth/par", urlencode({**params, "dpop_jkt": ProofKey().jkt}), content_type=form,
                         HTTP_DPOP=key.proof("POST", "http://testserver/oauth/par"))
    error_of(mismatch, "invalid_dpop_proof")
    pushed = http.post("/oauth/par", urlencode(params), content_type=form,
                       HTTP_DPOP=key.proof("POST", "http://testserver/oauth/par"))
    assert pushed.status_code == 201, pushed.content
    http.force_login(public_flow.user)
    decision = http.post("/oauth/authorize", {"client_id": public_flow.client.client_id,
                                              "request_uri": pushed.json()["request_uri"], "allow": "1"})
    code = parse_qs(urlsplit(decision["Location"]).query)["code"][0]
    assert AuthorizationCode.objects.get().dpop_jkt == key.jkt
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER,
            "client_id": public_flow.client.client_id}
    error_of(public_flow.token(data, HTTP_DPOP=ProofKey().proof("POST", TOKEN_URL)), "invalid_grant")
    assert public_flow.token(data, HTTP_DPOP=key.proof("POST", TOKEN_URL)).json()["token_type"] == "DPoP"
