"""A leaked signing key, removed with ``rotatekeys --remove``, over real HTTP.

Two provider processes (A and B) on one SQLite file and a separate service in
remote mode (JWKS only). A thief's token is warmed up in all three (verified and
cached), a second one is never seen before; a third process runs
``rotatekeys --remove KID``. Each provider process refuses both tokens for any
request that starts more than SIGNING_KEY_RELOAD_INTERVAL after the removal, the
remote service after its JWKS_CACHE_TTL; tokens issued afterwards verify
everywhere.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.test_revocation_e2e import FORM, SLACK, Cluster, Server, basic, run

pytestmark = pytest.mark.slow

RELOAD = 2.0
JWKS_TTL = 3.0


def refused_within(server: Server, token: str, since: float, bound: float) -> float:
    while True:
        started = time.monotonic()
        response = server.me(token)
        if response.status_code == 401:
            assert response.json()["error_description"] == "The access token was signed by an unknown key"
            return started - since
        assert response.status_code == 200, response.text
        assert started - since <= bound, f"a request started {started - since:.2f} s after the removal passed"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("E2E_KEY_RELOAD_INTERVAL", str(RELOAD))
    c = Cluster(tmp_path_factory.mktemp("e2e-keys"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_a_removed_key_is_refused_everywhere_within_its_bounds(cluster):
    info = cluster.issue("ann")
    env = {**cluster.env, "E2E_JWKS_URL": cluster.a.url + "/.well-known/jwks.json",
           "E2E_JWKS_CACHE_TTL": str(JWKS_TTL)}
    remote = cluster.start("remote-keys", "--settings", "tests.e2e.remote_settings", env=env)
    forged = json.loads(run(cluster.env, "forge", "2"))
    seen, unseen = forged["tokens"]
    for server in (cluster.a, cluster.b, remote):
        for _ in range(3):
            assert server.me(seen).status_code == 200
    run(cluster.env, "manage", "rotatekeys", f"--remove={forged['kid']}")
    since = time.monotonic()
    elapsed = {}
    for name, server, bound in (("A", cluster.a, RELOAD), ("B", cluster.b, RELOAD), ("remote", remote, JWKS_TTL)):
        elapsed[name] = refused_within(server, seen, since, bound + SLACK)
        assert server.me(unseen).status_code == 401
    print("seen token refused after " + ", ".join(f"{n} {t:.2f} s" for n, t in elapsed.items()))
    # Legitimate clients carry on: a new token (signed with the new key) works everywhere.
    fresh = cluster.a.http.post("/oauth/token", content="grant_type=client_credentials&scope=read",
                                headers={**FORM, **basic(info)})
    assert fresh.status_code == 200, fresh.text
    for server in (cluster.a, cluster.b, remote):
        assert server.me(fresh.json()["access_token"]).status_code == 200
