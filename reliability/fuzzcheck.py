"""What a fuzzed response must satisfy, and the tally of what did not.

Failure classes (each must stay at 0):

- ``5xx``: any status >= 500, except a 503 ``temporarily_unavailable`` OAuth
  error (the documented answer to a transient database error) and the consumer's
  documented 502 / 503 pages (the provider unreachable or misconfigured);
- ``no-store``: a token-bearing answer (a JSON body with ``access_token``,
  ``refresh_token`` or ``id_token``; a redirect carrying ``code=``), an error, or
  any answer of a JSON OAuth endpoint other than a discovery document, without
  ``Cache-Control: no-store``;
- ``not JSON``: an error of a JSON endpoint (token, revocation, introspection,
  userinfo, discovery, the protected API) that is not an OAuth error object
  (``application/json``, an object with a string ``error``); the protected
  API's own 400 / 406 / 415 (DRF's JSON ``detail`` for a body or an Accept
  header the project's view cannot handle) need only be JSON;
- ``stack trace``: a Python traceback or Django's debug page in a body;
- ``no response``: the connection closed without an answer (a request over
  2.5 MB excepted: the server may close once it has answered);
- ``schema`` (schemathesis cases): a status, content type, header or body the
  OpenAPI document does not describe.

Not failures, counted and shown apart: the WSGI server refusing a request
before Django sees it (gunicorn's own 400 pages), gunicorn's 500 page when
Django itself raised before any middleware (e.g. ``WSGIRequest`` for a
Content-Type with ``charset`` and over ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` query
fields: no project or package code can answer it), and on browser endpoints
the CSRF middleware's 403 and a bare 405 (pages without anything to cache).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Mapping

FAILURES = ("5xx", "no-store", "not JSON", "stack trace", "no response", "schema")
TRACE = re.compile(
    rb"Traceback \(most recent call last\)|File \"/[^\"]+\.py\", line \d+|id=\"traceback\"|"
    rb"You're seeing this error because you have <code>DEBUG = True</code>|<th>Exception Value:</th>|"
    rb"django\.core\.exceptions\.\w+|psycopg\.errors|DataError"
)
GUNICORN_PAGE = re.compile(rb"^<html>\s*<head>\s*<title>[^<]*</title>\s*</head>\s*<body>\s*<h1><p>", re.S)


def from_gunicorn(status: int, headers: Mapping[str, str], body: bytes) -> bool:
    """gunicorn's own error page: the request never reached Django (whose answers in
    the example project always carry SecurityMiddleware's X-Content-Type-Options)."""
    if GUNICORN_PAGE.match(body):
        return True
    return (status in (400, 413, 414, 417, 431) and headers.get("X-Content-Type-Options") is None
            and (headers.get("Content-Type") or "").startswith("text/html") and not body)
TOKEN_KEYS = ("access_token", "refresh_token", "id_token")


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


def judge(kind: str, path: str, method: str, status: int, headers: Mapping[str, str], body: bytes,
          *, head: bool = False) -> tuple[list[str], str | None]:
    """(failure classes, info class) of one response. ``headers`` is case-insensitive."""
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    cache_control = (headers.get("Cache-Control") or "").lower()
    failures: list[str] = []
    if from_gunicorn(status, headers, body):
        if status >= 500:
            # Django raised before its exception handling ran (WSGIRequest's constructor, or
            # the DEBUG page failing on the request): no code of the package or the project runs.
            return [], "500 from gunicorn: Django core raised before any middleware or view"
        return [], "refused by gunicorn before Django"
    data = _json(body) if content_type == "application/json" else None
    oauth_error = isinstance(data, dict) and isinstance(data.get("error"), str)
    if status == 401 and isinstance(data, dict) and "error" not in data and "detail" in data:
        # No credentials at all: a bare Bearer challenge, no error code (RFC 6750 section 3.1).
        oauth_error = (headers.get("WWW-Authenticate") or "").startswith("Bearer")
    if status >= 500:
        documented = (status == 503 and oauth_error and isinstance(data, dict)
                      and data["error"] == "temporarily_unavailable") or (
            kind == "browser" and "/oauth/connect/" in path and status in (502, 503) and "no-store" in cache_control)
        if not documented:
            failures.append("5xx")
    token_bearing = (isinstance(data, dict) and any(k in data for k in TOKEN_KEYS)) or (
        "code=" in (headers.get("Location") or ""))
    info = None
    if kind == "browser" and (status == 405 or (status == 403 and b"CSRF" in body)):
        info = f"browser {status} page (CSRF middleware / method not allowed)"
    elif kind == "oauth" or token_bearing or status >= 400 or (kind == "discovery" and method.upper() not in (
            "GET", "HEAD")):
        if "no-store" not in cache_control:
            failures.append("no-store")
    if kind == "resource" and status not in (401, 403) and isinstance(data, dict):
        # The project's own DRF view answering a body or an Accept header it cannot
        # handle (400, 406, 415): DRF's JSON ``detail``, not an authentication error.
        oauth_error = True
    if kind in ("oauth", "discovery", "resource") and status >= 400 and not head and not oauth_error:
        failures.append("not JSON")
    if kind in ("oauth", "discovery", "resource") and status >= 400 and head and content_type != "application/json":
        failures.append("not JSON")
    if TRACE.search(body):
        failures.append("stack trace")
    return failures, info


class Tally:
    """Cases per endpoint, failures per class with a few examples each."""

    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, dict[str, str]] = defaultdict(dict)
        self.info: Counter[str] = Counter()
        self.info_examples: dict[str, str] = {}
        self.per_endpoint_failures: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, endpoint: str, status: int | None, failures: list[str], info: str | None, example: str) -> None:
        self.cases[endpoint] += 1
        if status is not None:
            self.statuses[endpoint][status] += 1
        if info:
            self.info[info] += 1
            self.info_examples.setdefault(info, example)
        for name in dict.fromkeys(failures):
            self.failures[name] += 1
            self.per_endpoint_failures[endpoint][name] += 1
            self.examples[name].setdefault(endpoint, example)

    def merge(self, other: Tally) -> None:
        self.cases.update(other.cases)
        for endpoint, counter in other.statuses.items():
            self.statuses[endpoint].update(counter)
        self.failures.update(other.failures)
        self.info.update(other.info)
        for name, example in other.info_examples.items():
            self.info_examples.setdefault(name, example)
        for endpoint, counter in other.per_endpoint_failures.items():
            self.per_endpoint_failures[endpoint].update(counter)
        for name, examples in other.examples.items():
            for endpoint, example in examples.items():
                self.examples[name].setdefault(endpoint, example)

    @property
    def ok(self) -> bool:
        return not any(self.failures.values())

    def report(self, title: str, scrub: callable) -> str:  # type: ignore[valid-type]
        lines = [f"{title}: {sum(self.cases.values())} cases"]
        width = max((len(e) for e in self.cases), default=10)
        for endpoint, count in self.cases.items():
            statuses = " ".join(f"{s}x{n}" for s, n in sorted(self.statuses[endpoint].items()))
            bad = ", ".join(f"{k} {v}" for k, v in self.per_endpoint_failures[endpoint].items())
            lines.append(f"  {endpoint:<{width}} {count:>5} cases  [{statuses}]"
                         + (f"  FAILURES: {bad}" if bad else ""))
        for name in FAILURES:
            lines.append(f"  {name:<12} {self.failures[name]}")
            for endpoint, example in self.examples.get(name, {}).items():
                lines.append(f"      e.g. [{endpoint}] " + scrub(example))
        for name, count in self.info.items():
            lines.append(f"  (not a failure) {name}: {count}")
            if name.startswith("500"):
                lines.append("      e.g. " + scrub(self.info_examples[name]))
        return "\n".join(lines)
