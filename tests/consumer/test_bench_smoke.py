"""The consumer benchmark (``make bench-consumer``) still runs: one tiny run on
SQLite, skipped when Authlib (requirements-bench.txt) is not installed."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (importlib.util.find_spec("authlib") and importlib.util.find_spec("requests")),
    reason="benchmark peers not installed (pip install -r requirements-bench.txt)",
)


def test_consumer_bench_runs_and_meets_its_targets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    out = tmp_path / "consumer.json"
    result = subprocess.run([sys.executable, "-m", "bench.consumer_bench", "--smoke", "--json", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run,) = json.loads(out.read_text())
    assert run["fast_path"]["queries"] == 1
    ours = next(row for row in run["rotation"] if row["style"] == "ours")
    assert ours["invalid_grant"] == 0 and ours["failed"] == 0 and ours["max_per_expiry"] <= 1
    assert {row["style"] for row in run["rotation"]} == {"ours", "ours-per-request", "authlib"}
    assert run["fast_path"]["client_us"] > 0 and run["per_request_share"] > 0
