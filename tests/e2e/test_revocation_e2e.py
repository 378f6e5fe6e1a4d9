"""Revocation reaches every worker process within REVOCATION_POLL_INTERVAL, over real HTTP.

Two server processes (A and B) share one SQLite file, each with its own
per-process cache (or, when REDIS_URL is set, a shared Redis cache in a second
run). A token is warmed up in both; it is then revoked through A, through a
refresh-token reuse at A, or by a third process (user deactivation, password
change, client deactivation). The revoking process refuses it on the very next
request; the others within the interval (plus the time of one request). A third
service in remote mode (JWKS + introspection, no provider app) honours the
revocation within its introspection cache TTL.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 1.0
#: Clock resolution between processes of one machine (one monotonic clock). A busy
#: machine does not move the bounds: a request is judged by when it starts; each
#: process counts an interval from before the read it stands for (the revocation
#: poll, the introspection answer, the JWKS fetch) or, for the key table, from a
#: reload made before the change, since none runs while the test makes it; and a
#: slow Redis is given time to answer (CACHE_TIMEOUT in tests/e2e/settings.py).
SLACK = 0.05
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CHANGES = ["deactivate-user", "set-password", "deactivate-client"]
USERS = ["ann", "bob", "dan", *(f"cat-{command}" for command in CHANGES)]


def run(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tests.e2e.server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


class Server:
    def __init__(self, env: dict, log: Path, *args: str) -> None:
        self.log = open(log, "w")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "tests.e2e.server", "serve", *args], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError(f"server did not start; see {log}")
        self.url = json.loads(line)["url"]
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def me(self, token: str) -> httpx.Response:
        return self.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Cluster:
    def __init__(self, tmp_path: Path, redis_url: str = "") -> None:
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "E2E_DB": str(tmp_path / "e2e.sqlite3"),
                    "E2E_POLL_INTERVAL": str(INTERVAL), "E2E_REDIS_URL": redis_url}
        self.env.pop("DATABASE_URL", None)
        self.env.pop("REDIS_URL", None)
        self.tmp = tmp_path
        run(self.env, "migrate")
        self.issued = json.loads(run(self.env, "issue", *USERS))
        self.servers: list[Server] = []
        self.a = self.start("a")
        self.b = self.start("b")

    def start(self, name: str, *args: str, env: dict | None = None) -> Server:
        server = Server(env or self.env, self.tmp / f"{name}.log", *args)
        self.servers.append(server)
        return server

    def issue(self, name: str) -> dict:
        return self.issued[name]

    def change(self, command: str, name: str) -> None:
        run(self.env, command, name)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="module",
                params=["per-process cache", pytest.param("shared redis cache", marks=pytest.mark.redis)])
def cluster(request, tmp_path_factory):
    redis_url = os.environ["REDIS_URL"] if request.param == "shared redis cache" else ""
    c = Cluster(tmp_path_factory.mktemp("e2e"), redis_url)
    yield c
    c.stop()


def basic(info: dict) -> dict:
    raw = base64.b64encode(f"{info['client_id']}:{info['client_secret']}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def refused_within(server: Server, token: str, since: float, bound: float) -> float:
    """Seconds from ``since`` until ``server`` refuses ``token``. A request that *starts*
    more than ``bound`` after ``since`` must be refused (how long the request then
    takes on a busy machine does not matter)."""
    while True:
        started = time.monotonic()
        response = server.me(token)
        if response.status_code == 401:
            assert response.json()["error"] == "invalid_token"
            return started - since
        assert response.status_code == 200, response.text
        assert started - since <= bound, f"a request started {started - since:.2f} s after the revocation passed"


def warm(token: str, *servers: Server) -> None:
    for server in servers:
        for _ in range(3):
            assert server.me(token).status_code == 200


def test_revoke_through_one_process_the_other_refuses_within_the_interval(cluster):
    info = cluster.issue("ann")
    token = info["access_token"]
    warm(token, cluster.a, cluster.b)
    revoked = cluster.a.http.post("/oauth/revoke", content=f"token={token}", headers={**FORM, **basic(info)})
    assert revoked.status_code == 200
    since = time.monotonic()
    assert cluster.a.me(token).status_code == 401  # the revoking process: the very next request
    elapsed = refused_within(cluster.b, token, since, INTERVAL + SLACK)
    print(f"B refused the revoked token {elapsed:.3f} s after the revocation")


def test_refresh_token_reuse_at_one_process_revokes_the_family_everywhere(cluster):
    info = cluster.issue("bob")
    refresh = f"grant_type=refresh_token&refresh_token={info['refresh_token']}"
    second = cluster.a.http.post("/oauth/token", content=refresh, headers={**FORM, **basic(info)})
    assert second.status_code == 200, second.text
    access = second.json()["access_token"]
    warm(access, cluster.a, cluster.b)
    reuse = cluster.a.http.post("/oauth/token", content=refresh, headers={**FORM, **basic(info)})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    since = time.monotonic()
    assert cluster.a.me(access).status_code == 401
    refused_within(cluster.b, access, since, INTERVAL + SLACK)


@pytest.mark.parametrize("command", CHANGES)
def test_a_change_made_by_a_third_process_reaches_both_servers(cluster, command):
    name = f"cat-{command}"
    info = cluster.issue(name)
    token = info["access_token"]
    warm(token, cluster.a, cluster.b)
    cluster.change(command, info["client_id"] if command == "deactivate-client" else name)
    since = time.monotonic()
    for server in (cluster.a, cluster.b):
        refused_within(server, token, since, INTERVAL + SLACK)


def test_a_separate_service_in_remote_mode(cluster):
    if cluster.env["E2E_REDIS_URL"]:
        pytest.skip("remote mode does not depend on the provider's cache")
    info = cluster.issue("dan")  # its client may introspect: scope "introspection"
    env = {**cluster.env, "E2E_JWKS_URL": cluster.a.url + "/.well-known/jwks.json",
           "E2E_INTROSPECTION_URL": cluster.a.url + "/oauth/introspect",
           "E2E_INTROSPECTION_CLIENT_ID": info["client_id"], "E2E_INTROSPECTION_CLIENT_SECRET": info["client_secret"]}
    service = cluster.start("remote", "--settings", "tests.e2e.remote_settings", env=env)
    token = info["access_token"]
    answer = service.me(token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["client_id"] == info["client_id"]
    assert service.me("junk").status_code == 401
    assert cluster.b.http.post("/oauth/revoke", content=f"token={token}", headers=FORM).status_code == 200
    refused_within(service, token, time.monotonic(), INTERVAL + SLACK)
