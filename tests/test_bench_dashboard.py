"""The dashboard benchmark (bench/dashboard.py, ``make bench-dashboard``) still runs:
a few hundred rows on a SQLite file, both windows, every query timed."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_dashboard_benchmark_runs_on_a_small_table():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.dashboard", "--rows", "300", "--rounds", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "sqlite: seeded 300 access tokens" in result.stdout
    for window in ("24h", "7d"):
        report = result.stdout.split(f"?window={window}: ")[1]
        assert "accesstoken GROUP BY" in report and "refreshtoken GROUP BY" in report
