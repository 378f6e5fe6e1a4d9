"""The side-by-side benchmark (bench/, ``make bench``) still runs: one tiny
iteration on a SQLite file, skipped when the peers are not installed."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("oauth2_provider", "rest_framework_simplejwt")

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in PEERS),
    reason="benchmark peers not installed (pip install -r requirements-bench.txt)",
)


def test_bench_runs_a_tiny_iteration(tmp_path):
    from bench.__main__ import main  # noqa: F401  (the entry point imports without Django set up)

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--profile", "--sqlite-dir", str(tmp_path), "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "== Targets ==" in result.stdout
    # --profile: cProfile summaries, then the token endpoint's phases timed without a profiler.
    assert "-- profile: ours refresh rotation" in result.stdout
    rotation = result.stdout.split("-- phases: ours refresh rotation")[1]
    assert "sign (RS256)" in rotation and "write: swap + INSERTs" in rotation
    (run,) = json.loads(out.read_text())
    measured = {row["name"]: row for row in run["resource"] + run["endpoints"]}
    assert {"unauthenticated", "ours (warm)", "ours (cold)", "django-oauth-toolkit", "simplejwt",
            "ours client_credentials", "DOT client_credentials", "ours refresh rotation",
            "DOT refresh rotation", "tuned DOT client_credentials", "tuned DOT refresh rotation",
            "ours rotation, monitoring on", "ours rotation, monitoring off",
            "ours DPoP (warm token, new proof)"} <= set(measured)
    # DPoP's cost next to Bearer's (RFC 9449: a new proof verified per request).
    assert "ours DPoP rate, warm token + a new proof per request" in result.stdout
    # What anomaly detection costs the rotation: on against off, as a target.
    assert "refresh rotation, anomaly detection on >= 0.9 x off" in result.stdout
    assert "anomalies: carry the family's usage, judge" in rotation
    # The headline comparison: ours against DOT with hash_client_secret=False, for both grants.
    assert "client_credentials >= 2 x tuned DOT" in result.stdout
    assert "refresh rotation >= 2 x tuned DOT" in result.stdout
    assert all(row["rate"] > 0 for row in measured.values())


@pytest.mark.skipif(shutil.which("wrk") is None or importlib.util.find_spec("gunicorn") is None,
                    reason="the HTTP benchmark needs wrk (system package) and gunicorn")
def test_http_bench_runs_every_scenario_without_an_error_answer(tmp_path):
    """One short round of every scenario over HTTP on SQLite: the rotation script keeps
    presenting live refresh tokens (a spent one would be a 400, counted as an error)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    out = tmp_path / "http.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.http", "--no-postgres", "--rounds", "1", "--seconds", "1",
         "--connections", "4", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (run,) = json.loads(out.read_text())
    assert set(run["scenarios"]) == {
        "ours client_credentials", "tuned DOT client_credentials", "ours refresh rotation",
        "tuned DOT refresh rotation", "GET unauthenticated", "GET ours", "GET tuned DOT"}
    for name, rounds in run["scenarios"].items():
        assert all(r["requests"] > 0 and r["errors"] == 0 for r in rounds), (name, rounds)
    assert "== Targets (HTTP) ==" in result.stdout
