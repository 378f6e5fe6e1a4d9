"""Metrics under gunicorn with several workers, scraped over HTTP: the counts are
exact, summed across the workers (prometheus_client's multiprocess mode, set up
as docs/monitoring.md and example_project/gunicorn.conf.py say), whichever worker
answers the scrape, and a worker that ends keeps its counts in the sums."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pytest.importorskip("gunicorn", reason="gunicorn is not installed (requirements-dev.txt)")
pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from reliability.server import LiveServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def issue(env: dict[str, str]) -> dict:
    """A user, a client and a token pair, made in a process of its own with the metrics off
    (what it does is not the server's to count)."""
    env = {key: value for key, value in env.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env["OAUTH_TOKENS_METRICS"] = "False"
    done = subprocess.run([sys.executable, "-m", "tests.e2e.server", "--settings", "example_project.settings",
                           "issue", "ann"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["ann"]


def post(url: str, data: dict[str, str], auth: tuple[str, str]) -> httpx.Response:
    """One request on a connection of its own, so that any worker may take it."""
    return httpx.post(url + "/oauth/token", data=data, auth=auth, timeout=30)


def scrape(url: str) -> tuple[str, dict[tuple[str, frozenset], float]]:
    response = httpx.get(url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.headers["X-Worker-Pid"], samples


@pytest.fixture
def server(tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "OAUTH_TOKENS_METRICS": "True",
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    live = LiveServer(env=env, workers=WORKERS, app="reliability.pid_wsgi:application",
                      extra_args=["--config", str(ROOT / "example_project" / "gunicorn.conf.py")],
                      log_path=tmp_path / "gunicorn.log")
    with live:
        yield live


def test_counts_are_exact_and_summed_across_workers(server):
    ann = issue(server.env)
    client, secret = ann["client_id"], ann["client_secret"]

    # client_credentials, concurrently, until at least two workers have answered.
    answered: list[str] = []
    with ThreadPoolExecutor(WORKERS * 2) as pool:
        while len(set(answered)) < 2 and len(answered) < 300:
            batch = pool.map(lambda _: post(server.url, {"grant_type": "client_credentials"}, (client, secret)),
                             range(WORKERS * 2))
            for response in batch:
                assert response.status_code == 200, response.text
                answered.append(response.headers["X-Worker-Pid"])
    issued = len(answered)
    assert len(set(answered)) >= 2

    refresh = ann["refresh_token"]
    for _ in range(3):
        response = post(server.url, {"grant_type": "refresh_token", "refresh_token": refresh}, (client, secret))
        assert response.status_code == 200, response.text
        refresh = response.json()["refresh_token"]
    for credentials in [(client, "wrong"), (client, "wrong"), ("no-such-client", "wrong")]:
        assert post(server.url, {"grant_type": "client_credentials"}, credentials).status_code == 401

    def label(**labels: str) -> frozenset:
        return frozenset(labels.items())

    expected = {
        ("oauth_tokens_issued_total", label(grant_type="client_credentials", client=client)): issued,
        ("oauth_tokens_issued_total", label(grant_type="refresh_token", client=client)): 3,
        ("oauth_tokens_refresh_rotations_total", label(client=client)): 3,
        ("oauth_tokens_client_auth_failures_total", label(client=client)): 2,
        ("oauth_tokens_client_auth_failures_total", label(client="unknown")): 1,
        ("oauth_tokens_token_requests_total", label(grant_type="client_credentials", status="200")): issued,
        ("oauth_tokens_token_requests_total", label(grant_type="client_credentials", status="401")): 3,
        ("oauth_tokens_token_requests_total", label(grant_type="refresh_token", status="200")): 3,
        ("oauth_tokens_token_request_duration_seconds_count", label(grant_type="client_credentials")): issued + 3,
        ("oauth_tokens_token_request_duration_seconds_bucket", label(grant_type="refresh_token", le="+Inf")): 3,
    }

    def counted(samples: dict) -> dict:
        return {key: samples.get(key, 0.0) for key in expected}

    # Every worker that answers a scrape reports the same sums.
    scrapers: set[str] = set()
    for _ in range(30):
        pid, samples = scrape(server.url)
        scrapers.add(pid)
        assert counted(samples) == expected
        assert ("oauth_tokens_issued_total", label(grant_type="authorization_code", client=client)) not in samples
        if len(scrapers) >= 2:
            break
    assert len(scrapers) >= 2

    # A worker that ends (gunicorn replaces it; child_exit marks it dead) keeps its counts in the sums.
    os.kill(int(answered[0]), signal.SIGTERM)
    assert counted(scrape(server.url)[1]) == expected
