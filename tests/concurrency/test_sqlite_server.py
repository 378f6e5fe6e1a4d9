"""The same races against a real server process on a file SQLite database (WAL,
IMMEDIATE transactions): concurrent writers queue on the lock, none gets a 500."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.concurrency.conftest import fire_together

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SETUP = """
from django.contrib.auth.models import User
from oauth_tokens.provider.models import Client, AuthorizationCode
user = User.objects.create_user("bob", "bob@example.test", "pw")
client = Client(name="race", grant_types="authorization_code refresh_token",
                redirect_uris="https://app.example.test/cb", scope="read")
secret = client.set_secret()
client.save()
codes = [AuthorizationCode.issue(client=client, user=user, redirect_uri="https://app.example.test/cb",
                                 scope="read")[1] for _ in range(2)]
print(client.client_id, secret, *codes)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("sqlite") / "db.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "DJANGO_SETTINGS_MODULE": "example_project.settings"}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    out = subprocess.run([*manage, "shell", "-c", SETUP], env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    creds = out.stdout.strip().splitlines()[-1].split()
    port = free_port()
    proc = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}/oauth/token"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("server did not start: " + (proc.stderr.read() if proc.stderr else ""))
            time.sleep(0.1)
    yield url, creds
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err


def test_concurrent_code_redemptions_on_sqlite(server):
    url, (client_id, secret, code, _) = server
    responses = fire_together(
        url, {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example.test/cb"},
        auth=(client_id, secret),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1 and set(statuses) == {200, 400}, statuses


def test_concurrent_refreshes_on_sqlite(server):
    url, (client_id, secret, _, code) = server
    first = httpx.post(
        url, data={"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example.test/cb"},
        auth=(client_id, secret),
    )
    assert first.status_code == 200, first.text
    responses = fire_together(
        url, {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}, auth=(client_id, secret)
    )
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
    ok = [r.json() for r in responses if r.status_code == 200]
    assert ok and len({b["refresh_token"] for b in ok}) == 1
