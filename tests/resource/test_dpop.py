"""DPoP-protected requests (RFC 9449 section 7) to DRF views, the decorator and the
mixin: the proof for that very request, ``ath``, the token's key; the 401 errors
with their ``WWW-Authenticate: DPoP`` challenge; no database query."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import override_settings

from oauth_tokens.provider.stores import OrmTokenStore
from tests.dpop_proofs import ProofKey
from tests.factories import ClientFactory
from tests.resource.conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.resource.urls")]


@pytest.fixture
def key():
    return ProofKey()


@pytest.fixture
def bound(db, key):
    """A client_credentials access token bound to ``key``."""
    return OrmTokenStore(dpop_jkt=key.jkt).issue_client_token(ClientFactory(), "read write").access_token


def dpop(key: ProofKey, token: str, path: str, method: str = "GET", **proof) -> dict:
    return {"HTTP_AUTHORIZATION": f"DPoP {token}",
            "HTTP_DPOP": key.proof(method, f"http://testserver{path}", access_token=token, **proof)}


def refused(response, error: str) -> str:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == error, response.content
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith(f'DPoP error="{error}"') and 'algs="' in challenge, challenge
    assert response["Cache-Control"] == "no-store"
    return response.json()["error_description"]


@pytest.mark.parametrize("path", ["/t/binding", "/t/plain", "/t/plain-cbv", "/t/async-plain"])
def test_a_bound_token_with_its_proof_is_accepted(client, key, bound, path):
    response = client.get(path, **dpop(key, bound, path))
    assert response.status_code == 200, response.content


def test_request_auth_exposes_the_binding(client, key, bound, issue):
    assert client.get("/t/binding", **dpop(key, bound, "/t/binding")).json() == {"dpop_jkt": key.jkt, "bound": True}
    assert client.get("/t/binding", **bearer(issue())).json() == {"dpop_jkt": None, "bound": False}
    posted = client.post("/t/binding", **dpop(key, bound, "/t/binding", method="POST"))
    assert posted.status_code == 200 and posted.json()["dpop_jkt"] == key.jkt


@pytest.mark.parametrize("path", ["/t/binding", "/t/plain"])
def test_a_bound_token_sent_as_bearer_is_refused(client, bound, path):
    response = client.get(path, **bearer(bound))
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert "DPoP-bound" in response.json()["error_description"]
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token"') and ", DPoP algs=" in challenge


@pytest.mark.parametrize("path", ["/t/binding", "/t/plain", "/t/plain-cbv"])
def test_hostile_proofs_are_refused(client, key, bound, path):
    assert "proof" in refused(client.get(path, HTTP_AUTHORIZATION=f"DPoP {bound}"), "invalid_dpop_proof")
    no_ath = {"HTTP_AUTHORIZATION": f"DPoP {bound}", "HTTP_DPOP": key.proof("GET", f"http://testserver{path}")}
    assert "ath" in refused(client.get(path, **no_ath), "invalid_dpop_proof")
    assert "htu" in refused(client.get(path, **dpop(key, bound, "/t/other")), "invalid_dpop_proof")
    assert "htm" in refused(client.get(path, **dpop(key, bound, path, method="POST")), "invalid_dpop_proof")
    assert "too old" in refused(client.get(path, **dpop(key, bound, path, iat=1)), "invalid_dpop_proof")
    assert "bound to" in refused(client.get(path, **dpop(ProofKey(), bound, path)), "invalid_dpop_proof")
    headers = dpop(key, bound, path)
    assert client.get(path, **headers).status_code == 200
    assert "already used" in refused(client.get(path, **headers), "invalid_dpop_proof")


def test_an_unbound_token_with_the_dpop_scheme_is_refused(client, key, issue):
    token = issue()
    assert "not DPoP-bound" in refused(client.get("/t/binding", **dpop(key, token, "/t/binding")), "invalid_token")


def test_a_bad_dpop_token_is_invalid_token_with_the_dpop_challenge(client, key):
    refused(client.get("/t/binding", **dpop(key, "junk", "/t/binding")), "invalid_token")
    refused(client.get("/t/plain", **dpop(key, "junk", "/t/plain")), "invalid_token")


@pytest.mark.parametrize("path", ["/t/binding", "/t/plain"])
def test_unauthenticated_requests_get_both_challenges(client, path):
    challenge = client.get(path)["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api"') and 'DPoP algs="' in challenge


@pytest.mark.parametrize("path", ["/t/binding", "/t/plain"])
def test_nonces_when_the_resource_requires_them(client, key, bound, path):
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "DPOP_RESOURCE_NONCE_REQUIRED": True}):
        first = client.get(path, **dpop(key, bound, path))
        refused(first, "use_dpop_nonce")
        nonce = first["DPoP-Nonce"]
        assert client.get(path, **dpop(key, bound, path, nonce=nonce)).status_code == 200
        refused(client.get(path, **dpop(key, bound, path, nonce="stale")), "use_dpop_nonce")


def test_verification_costs_no_query(client, key, bound, django_assert_num_queries):
    assert client.get("/t/binding", **dpop(key, bound, "/t/binding")).status_code == 200
    with django_assert_num_queries(0):
        assert client.get("/t/binding", **dpop(key, bound, "/t/binding")).status_code == 200


def test_a_replayed_proof_is_refused_through_a_shared_cache(client, key, bound, flaky_default_cache):
    headers = dpop(key, bound, "/t/binding")
    assert client.get("/t/binding", **headers).status_code == 200
    assert "already used" in refused(client.get("/t/binding", **headers), "invalid_dpop_proof")


def test_a_cache_that_is_down_or_hangs_costs_one_short_wait_never_a_500(client, key, bound, flaky_default_cache,
                                                                        settings, caplog):
    """Redis refusing connections, then paused with no socket timeout: each DPoP
    request still answers (the proof is accepted, a warning logged); a hang costs
    CACHE_TIMEOUT once, then the circuit leaves the cache alone."""
    wait = 0.5
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "CACHE_TIMEOUT": wait, "CACHE_RETRY_AFTER": 30}
    flaky_default_cache.mode = "down"
    assert client.get("/t/binding", **dpop(key, bound, "/t/binding")).status_code == 200
    assert "DPoP replay check skipped" in caplog.text

    from oauth_tokens import sharedcache

    sharedcache.reset()
    flaky_default_cache.mode = "hang"
    started = time.monotonic()
    assert client.get("/t/binding", **dpop(key, bound, "/t/binding")).status_code == 200
    assert time.monotonic() - started < flaky_default_cache.hang_seconds / 2  # cut short, not the hang
    calls = flaky_default_cache.calls
    started = time.monotonic()
    for _ in range(5):
        assert client.get("/t/binding", **dpop(key, bound, "/t/binding")).status_code == 200
    assert time.monotonic() - started < 5 * wait / 2  # no CACHE_TIMEOUT wait per request
    assert flaky_default_cache.calls == calls  # the circuit is open: the cache is not asked
