"""Driving requests in-process and timing them.

``Driver`` calls Django's ``WSGIHandler`` directly with a ready environ (what a
WSGI server does, minus the socket), or Django's test ``Client``. Every
response's status is checked, so a fast 401 can never pass for a fast 200.
Queries are counted over the timed run itself with ``connection.execute_wrapper``
(cheap, and it catches periodic polls), and the SQL of a short sample is
captured with ``CaptureQueriesContext`` to show what a request runs.
"""

from __future__ import annotations

import io
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

BASE_ENVIRON = {
    "SERVER_NAME": "testserver",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "QUERY_STRING": "",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
}


class BenchError(RuntimeError):
    """A benchmarked request did not give the expected answer."""


class Driver:
    def __init__(self, mode: str = "wsgi") -> None:
        self.mode = mode
        self.handler = WSGIHandler() if mode == "wsgi" else None
        self.client = Client() if mode == "client" else None

    def call(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
             content_type: str = "") -> tuple[int, bytes]:
        if self.client is not None:
            response = self.client.generic(method, path, body, content_type=content_type, **headers)
            return response.status_code, response.content
        environ = dict(BASE_ENVIRON)
        environ.update(headers)
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"] = path
        environ["CONTENT_TYPE"] = content_type
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []
        result = self.handler(environ, lambda s, h, exc_info=None: status.append(s))
        try:
            content = b"".join(result)
        finally:
            result.close()
        return int(status[0][:3]), content

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
                content_type: str = "", expect: int = 200) -> bytes:
        status, content = self.call(method, path, headers, body, content_type)
        if status != expect:
            raise BenchError(f"{method} {path} answered {status}, expected {expect}: {content[:300]!r}")
        return content


class QueryCounter:
    """Counts every query on the default connection while active (execute_wrapper)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class Measurement:
    """Rounds of one contender. ``rate`` is the best round (Python's ``timeit``
    convention: slower rounds are other processes interfering); the median
    round and the process CPU time per request are kept alongside."""

    name: str
    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # process CPU seconds per request, per round
    requests: int = 0
    queries: int = 0
    sample_sql: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return max(self.rates) if self.rates else 0.0

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def cpu_micros(self) -> float:
        return statistics.median(self.cpu) * 1e6 if self.cpu else 0.0

    @property
    def micros(self) -> float:
        return 1e6 / self.rate if self.rate else float("inf")

    @property
    def queries_per_request(self) -> float:
        return self.queries / self.requests if self.requests else 0.0

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "rate": self.rate,
            "median_rate": self.median_rate,
            "micros": self.micros,
            "cpu_micros": self.cpu_micros,
            "queries_per_request": self.queries_per_request,
            "queries": self.queries,
            "requests": self.requests,
            "rounds": self.rates,
            "cpu_rounds": self.cpu,
            "sample_sql": self.sample_sql,
        }


def timed_round(measurement: Measurement, call: Callable[[], object], *, seconds: float, min_requests: int,
                max_requests: int | None = None) -> None:
    """Run ``call`` repeatedly for about ``seconds`` (at least ``min_requests``); record one rate."""
    counter = QueryCounter()
    n = 0
    with connection.execute_wrapper(counter):
        cpu_start = time.process_time()
        start = time.perf_counter()
        while True:
            call()
            n += 1
            if max_requests is not None and n >= max_requests:
                break
            if n >= min_requests and time.perf_counter() - start >= seconds:
                break
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    measurement.rates.append(n / elapsed)
    measurement.cpu.append(cpu / n)
    measurement.requests += n
    measurement.queries += counter.count


def sample_queries(measurement: Measurement, calls: Iterator[Callable[[], object]], limit: int = 6) -> None:
    """Capture the SQL of a few requests (the first lines of each distinct statement)."""
    with CaptureQueriesContext(connection) as ctx:
        for call in calls:
            call()
    seen: list[str] = []
    for query in ctx.captured_queries:
        head = re.sub(r"'[^']*'", "'…'", " ".join(query["sql"].split()))[:90]  # literals masked
        if head not in seen:
            seen.append(head)
    measurement.sample_sql = seen[:limit]
