"""The example project's WSGI application, with the answering worker's process id
in an ``X-Worker-Pid`` header: the load part uses it to ask every gunicorn worker
about each revoked token. Only the reliability suite serves this module; the
example project itself never sends the header.
"""

import os

from example_project.wsgi import application as _django


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)

    return _django(environ, start)


def _trace_memory(path: str, every: float) -> None:
    """RELIABILITY_TRACEMALLOC=<path prefix>: a diagnostic, off by default. Traces
    allocations in each worker and writes a snapshot every ``every`` seconds to
    ``<prefix>.<pid>.<n>`` (compare two with ``tracemalloc.Snapshot.load``)."""
    import threading
    import time
    import tracemalloc

    tracemalloc.start(12)

    def dump() -> None:
        n = 0
        while True:
            time.sleep(every)
            n += 1
            tracemalloc.take_snapshot().dump(f"{path}.{os.getpid()}.{n}")

    threading.Thread(target=dump, daemon=True).start()


if os.environ.get("RELIABILITY_TRACEMALLOC"):
    _trace_memory(os.environ["RELIABILITY_TRACEMALLOC"], float(os.environ.get("RELIABILITY_TRACEMALLOC_EVERY", "60")))
