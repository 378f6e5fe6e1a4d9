"""DPoP (RFC 9449) in the consumer, against a fake provider that records every
proof: the key pair a grant gets and keeps, the proofs on the token, refresh,
revocation and API requests, the server nonces (one retry, remembered per
origin), the token types a DPoP request may be answered with, and the settings."""

from __future__ import annotations

import logging
import time

import jwt
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from oauth_tokens.consumer import dpop, get_access_token, http_client, revoke
from oauth_tokens.consumer.exceptions import ProviderError
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.providers import get_provider
from oauth_tokens.consumer.redaction import redact
from oauth_tokens.consumer.service import store_tokens
from oauth_tokens.oauth2 import dpop as spec

pytestmark = pytest.mark.django_db(transaction=True)  # the consumer commits its writes itself


class Replay:
    def __init__(self):
        self.seen = set()

    def first_use(self, jkt, jti, expires_at):
        if (jkt, jti) in self.seen:
            return False
        self.seen.add((jkt, jti))
        return True


def checked(proof, method, url, *, access_token=None, replay=None):
    """The claims of ``proof`` once checked as a server does (signature, typ, alg, jwk,
    htm, htu, iat, ath); its key's thumbprint is ``claims["jkt"]``."""
    policy = spec.ProofPolicy(method=method, uris=[url], now=time.time(), access_token=access_token)
    verified = spec.verify_proof(proof, policy, replay or Replay())
    return {**verified.claims, "jkt": verified.jkt}


@pytest.fixture
def dpop_server(fake, register):
    """A fake provider registered as "p" with DPoP on."""
    server = fake()
    register(p=server.config(dpop=True))
    return server


def connect_with_dpop(server, user):
    """A grant as the connect callback stores it: proved with a new key, which it keeps."""
    key = dpop.new_key("ES256")
    body = server.mint()
    body["token_type"] = "DPoP"
    return store_tokens("p", user, body, dpop_key=key), key


def test_client_credentials_token_and_api_calls_carry_proofs_of_one_key(dpop_server):
    with http_client("p") as api:
        first = api.get("/api", params={"page": "2"})
        second = api.post("/api", json={"x": 1})
    assert first.status_code == second.status_code == 200
    token_request, get, post = dpop_server.requests
    row = ExternalToken.objects.get(provider="p", user=None)
    assert row.token_type == "DPoP" and row.dpop_key.startswith("-----BEGIN PRIVATE KEY-----")

    header = jwt.get_unverified_header(token_request["dpop"])
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}  # the public key only
    at_token = checked(token_request["dpop"], "POST", dpop_server.url + "/token")
    assert "ath" not in at_token and "nonce" not in at_token
    # Each API request: DPoP scheme, a proof for its method and URL (no query), ath = the token's hash.
    assert get["authorization"] == f"DPoP {row.access_token}"
    at_get = checked(get["dpop"], "GET", dpop_server.url + "/api", access_token=row.access_token)
    assert at_get["htu"] == dpop_server.url + "/api"
    at_post = checked(post["dpop"], "POST", dpop_server.url + "/api", access_token=row.access_token)
    assert at_token["jkt"] == at_get["jkt"] == at_post["jkt"] == row.dpop_jkt
    assert len({at_token["jti"], at_get["jti"], at_post["jti"]}) == 3


def test_the_client_credentials_key_is_kept_when_the_token_is_renewed(dpop_server, clock):
    get_access_token("p")
    row = ExternalToken.objects.get(provider="p", user=None)
    clock.advance(3600)
    get_access_token("p")
    renewed = ExternalToken.objects.get(pk=row.pk)
    assert renewed.access_token != row.access_token and renewed.dpop_key == row.dpop_key
    proofs = [checked(r["dpop"], "POST", dpop_server.url + "/token") for r in dpop_server.token_requests]
    assert [p["jkt"] for p in proofs] == [row.dpop_jkt] * 2


def test_a_refresh_is_proved_with_the_key_the_grant_was_obtained_with(dpop_server, alice, clock):
    row, key = connect_with_dpop(dpop_server, alice)
    assert (row.dpop_jkt, row.token_type) == (key.jkt, "DPoP")
    clock.advance(3600)
    token = get_access_token("p", alice)
    (refresh,) = dpop_server.token_requests
    assert refresh["params"]["grant_type"] == "refresh_token"
    assert checked(refresh["dpop"], "POST", dpop_server.url + "/token")["jkt"] == key.jkt
    stored = ExternalToken.objects.get(pk=row.pk)
    assert stored.access_token == token and stored.refresh_count == 1
    assert (stored.dpop_key, stored.dpop_jkt, stored.token_type) == (key.pem, key.jkt, "DPoP")


def test_revocation_is_proved_with_the_grants_key_then_the_key_is_forgotten(dpop_server, alice):
    row, key = connect_with_dpop(dpop_server, alice)
    revoke("p", alice)
    revocations = [r for r in dpop_server.requests if r["path"] == "/revoke"]
    assert [r["params"]["token_type_hint"] for r in revocations] == ["refresh_token", "access_token"]
    assert {checked(r["dpop"], "POST", dpop_server.url + "/revoke")["jkt"] for r in revocations} == {key.jkt}
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.status, stored.dpop_key, stored.dpop_jkt) == ("revoked", "", "")


def test_a_token_endpoint_nonce_is_used_in_one_retry_and_remembered(dpop_server, alice, clock):
    dpop_server.dpop_nonce = "nonce-1"
    row, key = connect_with_dpop(dpop_server, alice)
    clock.advance(3600)
    get_access_token("p", alice)
    first, retry = dpop_server.token_requests
    assert "nonce" not in checked(first["dpop"], "POST", dpop_server.url + "/token")
    assert checked(retry["dpop"], "POST", dpop_server.url + "/token")["nonce"] == "nonce-1"
    assert ExternalToken.objects.get(pk=row.pk).refresh_count == 1
    # The next request to that origin sends the nonce at once: no refusal.
    clock.advance(3600)
    get_access_token("p", alice)
    assert len(dpop_server.token_requests) == 3
    assert checked(dpop_server.token_requests[2]["dpop"], "POST", dpop_server.url + "/token")["nonce"] == "nonce-1"


def test_a_second_nonce_refusal_is_the_providers_error(dpop_server, alice, clock):
    dpop_server.dpop_nonce, dpop_server.nonce_after = "nonce-1", "nonce-"
    row, _ = connect_with_dpop(dpop_server, alice)
    clock.advance(3600)
    with pytest.raises(ProviderError) as caught:
        get_access_token("p", alice)
    assert caught.value.error == "use_dpop_nonce" and len(dpop_server.token_requests) == 2
    assert ExternalToken.objects.get(pk=row.pk).refresh_token == row.refresh_token  # nothing spent


def test_a_resource_nonce_is_used_in_one_retry_without_a_refresh(dpop_server, alice):
    row, key = connect_with_dpop(dpop_server, alice)
    dpop_server.dpop_nonce = "api-nonce"
    with http_client("p", alice) as api:
        answer = api.put("/api", json={"v": 1})
        again = api.get("/api")
    assert answer.status_code == again.status_code == 200 and answer.json()["body"] == {"v": 1}
    refused, retried, remembered = [r for r in dpop_server.requests if r["path"] == "/api"]
    assert "nonce" not in checked(refused["dpop"], "PUT", dpop_server.url + "/api", access_token=row.access_token)
    for request, method in ((retried, "PUT"), (remembered, "GET")):
        claims = checked(request["dpop"], method, dpop_server.url + "/api", access_token=row.access_token)
        assert claims["nonce"] == "api-nonce" and claims["jkt"] == key.jkt
    assert dpop_server.token_requests == []  # a nonce refusal is not a dead token


def test_a_second_resource_nonce_refusal_is_returned_as_is(dpop_server, alice):
    connect_with_dpop(dpop_server, alice)
    dpop_server.dpop_nonce, dpop_server.nonce_after = "api-nonce", "moved-"
    with http_client("p", alice) as api:
        answer = api.get("/api")
    assert answer.status_code == 401 and answer.json() == {"error": "use_dpop_nonce"}
    assert len([r for r in dpop_server.requests if r["path"] == "/api"]) == 2
    assert dpop_server.token_requests == []


def test_a_nonce_on_a_successful_answer_goes_into_the_next_proof(dpop_server, alice):
    row, _ = connect_with_dpop(dpop_server, alice)
    dpop_server.success_nonce = "fresh-nonce"
    with http_client("p", alice) as api:
        api.get("/api")
        api.get("/api")
    first, second = [r for r in dpop_server.requests if r["path"] == "/api"]
    assert "nonce" not in checked(first["dpop"], "GET", dpop_server.url + "/api", access_token=row.access_token)
    assert checked(second["dpop"], "GET", dpop_server.url + "/api", access_token=row.access_token)["nonce"] == \
        "fresh-nonce"


def test_a_bearer_answer_to_a_dpop_request_is_used_as_bearer_and_the_key_kept(dpop_server, alice, clock):
    """RFC 9449 section 5: the provider may decline to bind the token (token_type Bearer).
    The token is then sent as Bearer, without proofs; the grant keeps its key, and its
    refreshes are still proved (a public client's refresh token may be bound)."""
    dpop_server.dpop_token_type = "Bearer"
    row, key = connect_with_dpop(dpop_server, alice)
    clock.advance(3600)
    token = get_access_token("p", alice)
    stored = ExternalToken.objects.get(pk=row.pk)
    assert (stored.token_type, stored.dpop_jkt) == ("Bearer", key.jkt)
    with http_client("p", alice) as api:
        assert api.get("/api").status_code == 200
    api_call = dpop_server.requests[-1]
    assert api_call["authorization"] == f"Bearer {token}" and api_call["dpop"] == ""
    clock.advance(3600)
    get_access_token("p", alice)
    assert checked(dpop_server.token_requests[-1]["dpop"], "POST", dpop_server.url + "/token")["jkt"] == key.jkt


@pytest.mark.parametrize("token_type", ["MAC", "N_A"])
def test_another_token_type_for_a_dpop_request_is_refused(dpop_server, token_type):
    dpop_server.dpop_token_type = token_type
    with pytest.raises(ProviderError) as caught:
        get_access_token("p")
    assert caught.value.error == "unsupported_token_type"
    assert not ExternalToken.objects.exclude(access_token="").exists()


def test_a_dpop_token_without_a_dpop_request_is_refused(fake, register):
    server = fake()
    register(p=server.config())  # DPoP off: no proof sent, so a DPoP token cannot be used
    server.script.append((200, {"access_token": "at-x" * 8, "token_type": "DPoP", "expires_in": 60}))
    with pytest.raises(ProviderError) as caught:
        get_access_token("p")
    assert caught.value.error == "unsupported_token_type" and server.requests[0]["dpop"] == ""


def test_store_tokens_refuses_a_dpop_token_without_its_key(dpop_server, alice):
    body = {**dpop_server.mint(), "token_type": "DPoP"}
    with pytest.raises(ValueError, match="dpop_key"):
        store_tokens("p", alice, body)
    assert not ExternalToken.objects.exists()


def test_a_grant_stored_before_dpop_gets_its_key_at_the_next_refresh(fake, register, connected, alice, clock,
                                                                    settings):
    server = fake()
    register(p=server.config())
    row = connected("p", server)
    assert (row.dpop_key, row.token_type) == ("", "Bearer")
    register(p=server.config(dpop=True, dpop_algorithm="EdDSA"))
    clock.advance(3600)
    get_access_token("p", alice)
    stored = ExternalToken.objects.get(pk=row.pk)
    proof = server.token_requests[-1]["dpop"]
    assert jwt.get_unverified_header(proof)["alg"] == "EdDSA"
    assert stored.dpop_jkt == checked(proof, "POST", server.url + "/token")["jkt"] and stored.token_type == "DPoP"
    assert dpop.load_key(stored.dpop_key).jkt == stored.dpop_jkt
    # DPoP turned off again: no proof, and the grant's key is dropped with the next answer.
    register(p=server.config())
    clock.advance(3600)
    get_access_token("p", alice)
    stored = ExternalToken.objects.get(pk=row.pk)
    assert server.token_requests[-1]["dpop"] == "" and (stored.dpop_key, stored.token_type) == ("", "Bearer")


def test_each_retried_attempt_carries_a_new_proof(dpop_server, pauses):
    dpop_server.script.append((503, {"error": "temporarily_unavailable"}))
    get_access_token("p")
    first, second = dpop_server.token_requests
    replay = Replay()
    jtis = {checked(r["dpop"], "POST", dpop_server.url + "/token", replay=replay)["jti"] for r in (first, second)}
    assert len(jtis) == 2 and len(pauses) == 1


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA", "ES256"])
def test_each_algorithm_signs_proofs_a_server_accepts(dpop_server, register, algorithm):
    register(p=dpop_server.config(dpop=True, dpop_algorithm=algorithm))
    get_access_token("p")
    proof = dpop_server.token_requests[0]["dpop"]
    assert jwt.get_unverified_header(proof)["alg"] == algorithm
    assert checked(proof, "POST", dpop_server.url + "/token")["jkt"] == ExternalToken.objects.get().dpop_jkt


@pytest.mark.parametrize(("entry", "message"), [
    ({"dpop": "yes"}, "['dpop'] must be True or False"),
    ({"dpop": True, "dpop_algorithm": "HS256"}, "['dpop_algorithm'] must be one of ES256, RS256, EdDSA"),
    ({"dpop": True, "dpop_algorithm": "none"}, "['dpop_algorithm'] must be one of"),
])
def test_bad_dpop_settings_are_system_check_errors(register, entry, message):
    register(bad={"token_url": "https://example.com/token", "client_id": "c", "client_secret": "s", **entry})
    errors = [e for e in checks.run_checks() if e.id == "oauth_tokens_consumer.E003"]
    assert any(message in e.msg for e in errors), [e.msg for e in errors]
    with pytest.raises(ImproperlyConfigured, match="dpop"):
        get_provider("bad")


def test_metadata_that_does_not_list_our_algorithm_is_refused(fake, register):
    server = fake()
    server.metadata = {"dpop_signing_alg_values_supported": ["RS256", "PS256"]}
    register(p={"metadata_url": server.url + "/.well-known/oauth-authorization-server", "client_id": "cid",
                "client_secret": "csecret", "dpop": True})
    with pytest.raises(ProviderError) as caught:
        get_provider("p")
    assert caught.value.error == "invalid_metadata" and "ES256" in caught.value.description
    register(p={"metadata_url": server.url + "/.well-known/oauth-authorization-server", "client_id": "cid",
                "client_secret": "csecret", "dpop": True, "dpop_algorithm": "RS256"})
    from oauth_tokens.consumer import providers

    providers.reset()
    assert get_provider("p").token_url == server.url + "/token"


def test_dpop_authorization_headers_and_keys_are_redacted_from_logs(dpop_server, alice, caplog):
    row, key = connect_with_dpop(dpop_server, alice)
    record = logging.makeLogRecord({"msg": f"Authorization: DPoP {row.access_token} key {key.pem}"})
    text = redact(record.getMessage())
    assert row.access_token not in text and "PRIVATE KEY" not in text
    assert redact("DPoP proofs are made for each request") == "DPoP proofs are made for each request"
    assert repr(key) == f"<ProofKey ES256 jkt={key.jkt}>" and key.pem not in repr(row.credentials())


def test_ahttp_client_retries_a_nonce_then_refreshes_a_dead_token_with_the_same_key(dpop_server, alice):
    import asyncio

    from oauth_tokens.consumer import ahttp_client

    row, key = connect_with_dpop(dpop_server, alice)
    dpop_server.dpop_nonce = "api-nonce"
    dpop_server.live_access.discard(row.access_token)  # the provider killed the token early

    async def scenario():
        async with ahttp_client("p", alice) as api:
            return await api.get("/api")

    assert asyncio.run(scenario()).status_code == 200
    refused, dead, replayed = [r for r in dpop_server.requests if r["path"] == "/api"]
    (refresh,) = dpop_server.token_requests
    token = ExternalToken.objects.get(pk=row.pk).access_token
    at_refresh = checked(refresh["dpop"], "POST", dpop_server.url + "/token")
    assert (at_refresh["jkt"], at_refresh["nonce"]) == (key.jkt, "api-nonce")  # the origin's nonce, sent at once
    assert "nonce" not in checked(refused["dpop"], "GET", dpop_server.url + "/api", access_token=row.access_token)
    assert checked(dead["dpop"], "GET", dpop_server.url + "/api", access_token=row.access_token)["nonce"] == \
        "api-nonce"
    assert replayed["authorization"] == f"DPoP {token}" and token != row.access_token
    assert checked(replayed["dpop"], "GET", dpop_server.url + "/api", access_token=token)["jkt"] == key.jkt


def test_the_consumer_imports_only_the_spec_layer_and_shared_modules():
    """The consumer may run in a project without the provider or the resource server:
    its DPoP uses ``oauth2.dpop`` (thumbprints, ``ath``), never their code."""
    import ast
    from pathlib import Path

    import oauth_tokens.consumer as package

    forbidden = ("oauth_tokens.provider", "oauth_tokens.resource", "oauth_tokens.dpop_http")
    found = []
    for path in Path(package.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [(path.name, n) for n in names if n.startswith(forbidden)]
    assert found == []
    assert "from oauth_tokens.oauth2 import dpop" in Path(dpop.__file__).read_text()
