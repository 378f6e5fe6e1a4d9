"""DPoP (RFC 9449) end to end against our provider running in another process
(``remote_provider``), over real HTTP:

* the connect flow (authorization code) proved with the grant's new key, under a
  provider that requires server nonces at its token endpoint and its API: the
  ``use_dpop_nonce`` answers are retried once, with the nonce, at both;
* an API call through ``http_client`` (``Authorization: DPoP`` and a proof), the
  access token left to expire (the provider's clock is real: the test waits it
  out), the refresh proved with the same key, and the API called again;
* the bound token refused with another key;
* the single-flight refresh across processes and threads, each refresh proved
  with the key stored for the grant, whichever worker makes it.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from django.conf import settings
from django.test.utils import override_settings

from oauth_tokens.consumer import dpop, http_client
from oauth_tokens.consumer.models import ExternalToken
from tests.consumer import workers
from tests.consumer.browser import consent
from tests.consumer.remote_provider import RemoteProvider
from tests.consumer.test_concurrency import check, run_workers, server_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CALLBACK = "http://127.0.0.1/oauth/connect/remote/callback/"
#: Access tokens of the provider, and its nonces (good in their window of this
#: length and the next: at most twice that).
LIFETIME, NONCE_LIFETIME = 6, 1


def bound_to(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["cnf"]["jkt"]


def wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def call_api(url: str, token: str, key: dpop.ProofKey) -> httpx.Response:
    """GET ``url`` as an independent client would: a proof, and one retry with the nonce asked for."""
    answer = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url,
                                                                                          access_token=token)})
    if answer.status_code == 401 and "DPoP-Nonce" in answer.headers:
        proof = key.proof("GET", url, access_token=token, nonce=answer.headers["DPoP-Nonce"])
        answer = httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    return answer


@pytest.fixture
def nonce_provider(tmp_path):
    remote = RemoteProvider(str(tmp_path / "provider.sqlite3"), access_lifetime=LIFETIME, redirect_uri=CALLBACK,
                            dpop_nonce_lifetime=NONCE_LIFETIME, jwt_leeway=0)
    yield remote
    remote.stop()


def api_answers(remote) -> dict[str, int]:
    """How many times /api/me answered each status."""
    return {key: count for key, count in remote.stats()["api"].items() if key.startswith("/api/me ")}


def token_requests(remote, grant_type):
    return [r for r in remote.stats()["token_requests"] if r["grant_type"] == grant_type]


def test_connect_call_expire_refresh_and_call_again_with_nonces(client, alice, register, nonce_provider):
    remote = nonce_provider
    register(remote=remote.provider_config(dpop=True, redirect_uri=CALLBACK, revoke_url=remote.url + "/oauth/revoke"))
    client.force_login(alice)
    authorize = client.get("/oauth/connect/remote/")["Location"]
    assert authorize.startswith(remote.url + "/oauth/authorize?")
    with httpx.Client(base_url=remote.url, cookies={"sessionid": remote.info["session"]}) as browser:
        back = consent(browser, authorize)
    assert back.startswith(CALLBACK + "?")
    done = client.get("/oauth/connect/remote/callback/?" + urlsplit(back).query)
    issued_by = time.monotonic()
    assert done.status_code == 302, done.content[:300]
    row = ExternalToken.objects.get(provider="remote", user=alice)
    assert row.token_type == "DPoP" and bound_to(row.access_token) == row.dpop_jkt
    # The provider wanted a nonce: the code exchange was sent once more with it, same key.
    exchange = token_requests(remote, "authorization_code")
    assert [(r["status"], r["error"]) for r in exchange] == [(400, "use_dpop_nonce"), (200, "")]
    assert {r["jkt"] for r in exchange} == {row.dpop_jkt}

    # The nonce remembered from the exchange is stale by now; the token is not (refreshed at half-life).
    wait_until(issued_by + 2.2 * NONCE_LIFETIME)
    with http_client("remote", alice) as api:
        me = api.get("/api/me")
    assert me.status_code == 200, me.text
    assert api_answers(remote) == {"/api/me 401": 1, "/api/me 200": 1}  # use_dpop_nonce, then the retry

    # The access token expires at the provider.
    wait_until(issued_by + LIFETIME + 0.5)
    owner = dpop.load_key(row.dpop_key)
    expired = call_api(remote.url + "/api/me", row.access_token, owner)
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
    before = api_answers(remote)
    with http_client("remote", alice) as api:  # refreshed first (proved with the grant's key), then called
        again = api.get("/api/me")
    assert again.status_code == 200 and again.json()["sub"] == me.json()["sub"]
    # A nonce came with the refresh's answer: the API took the call at once, no refusal.
    assert api_answers(remote) == {**before, "/api/me 200": before["/api/me 200"] + 1}
    refreshes = token_requests(remote, "refresh_token")
    assert [(r["status"], r["error"]) for r in refreshes] == [(400, "use_dpop_nonce"), (200, "")]
    assert {r["jkt"] for r in refreshes} == {row.dpop_jkt}
    stored = ExternalToken.objects.get(pk=row.pk)
    assert stored.refresh_count == 1 and stored.access_token != row.access_token
    assert (stored.dpop_jkt, bound_to(stored.access_token)) == (row.dpop_jkt, row.dpop_jkt)

    # The bound token with another key: refused, even with a valid nonce.
    stolen = call_api(remote.url + "/api/me", stored.access_token, dpop.new_key("ES256"))
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_dpop_proof"
    assert call_api(remote.url + "/api/me", stored.access_token, owner).status_code == 200


@pytest.fixture
def dpop_provider(tmp_path):
    remote = RemoteProvider(str(tmp_path / "provider.sqlite3"), access_lifetime=2, grace=0)
    yield remote
    remote.stop()


def check_one_key(provider, jkt):
    refreshes = token_requests(provider, "refresh_token")
    assert refreshes and {r["jkt"] for r in refreshes} == {jkt}


@pytest.mark.server_db
def test_single_flight_refreshes_across_processes_use_the_grants_key_on_a_server_database(dpop_provider):
    db_url = server_database_url()
    providers = {"remote": dpop_provider.provider_config(dpop=True)}
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": providers}):
        user_id = workers.store_expiring("remote", dpop_provider.info)
    jkt = ExternalToken.objects.get(provider="remote", user_id=user_id).dpop_jkt
    reports = run_workers(db_url, providers, user_id)
    row = ExternalToken.objects.get(provider="remote", user_id=user_id)
    check(dpop_provider, reports, row.refresh_count)
    check_one_key(dpop_provider, jkt)
    assert (row.dpop_jkt, row.token_type, bound_to(row.access_token)) == (jkt, "DPoP", jkt)


def test_single_flight_refreshes_across_processes_use_the_grants_key_on_sqlite(dpop_provider, tmp_path):
    import multiprocessing

    db_url = f"sqlite:///{tmp_path / 'consumer.sqlite3'}"
    providers = {"remote": dpop_provider.provider_config(dpop=True)}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        user_id = pool.apply(workers.prepare_sqlite, (db_url, providers, "remote", dpop_provider.info))
        jkt = pool.apply(workers.read_row, (db_url, providers, "remote", user_id))["dpop_jkt"]
    reports = run_workers(db_url, providers, user_id)
    with ctx.Pool(1) as pool:
        row = pool.apply(workers.read_row, (db_url, providers, "remote", user_id))
    check(dpop_provider, reports, row["refresh_count"])
    check_one_key(dpop_provider, jkt)
    assert jkt and (row["dpop_jkt"], row["token_type"]) == (jkt, "DPoP")
