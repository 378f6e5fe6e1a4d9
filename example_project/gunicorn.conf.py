"""gunicorn settings for serving the provider with Prometheus metrics from every
worker (docs/monitoring.md "Metrics (Prometheus)")::

    mkdir -p /run/oauth-tokens-metrics
    PROMETHEUS_MULTIPROC_DIR=/run/oauth-tokens-metrics OAUTH_TOKENS_METRICS=True \\
        gunicorn -c example_project/gunicorn.conf.py --workers 4 example_project.wsgi

``PROMETHEUS_MULTIPROC_DIR`` names an existing directory and is set in the
environment before gunicorn starts: each worker writes its values to files
there and the metrics view sums them (prometheus_client's multiprocess mode).
"""

import os
from pathlib import Path


def on_starting(server):
    """Start from an empty directory: an earlier run's files would be added to this run's counts."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for path in Path(directory).glob("*.db"):
            path.unlink()


def child_exit(server, worker):
    """A worker ended: prometheus_client drops its live gauges; its counters and
    histograms stay in the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
