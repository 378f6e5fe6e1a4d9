"""Fuzzing: schemathesis over the OpenAPI document, then hypothesis-generated raw HTTP.

Against the example project on gunicorn (2 workers, PostgreSQL, Redis), with a
user, clients, tokens, an unredeemed code and a logged-in session available so
that the cases reach past authentication:

1. schemathesis generates requests from ``/openapi.json`` (positive and
   negative data) for every operation, with valid credentials for the
   operation's security scheme, and checks the answers against the document;
2. raw HTTP over a socket (``reliability.rawhttp``): duplicate parameters,
   wrong content types, non-UTF-8, NUL bytes (also in the session cookie and the
   Authorization header), malformed Basic, JSON of the wrong types, bodies over
   2.5 MB, 20 KB headers, 16 KB URLs, 1,100 fields, hostile redirect URIs and
   PKCE values, odd methods; on every endpoint, with and without the session.

Then once more with ``DEBUG=True`` (a share of the raw cases), where Django
would put a traceback in the body. ``reliability.fuzzcheck`` says what counts as
a failure; every class must be 0. Cases: ``--short`` about 3,000, else 3x that,
times ``RELIABILITY_SCALE``; ``--fuzz-seed`` replays a run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import secrets as random_secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from reliability import fixtures, rawhttp
from reliability.fuzzcases import ENDPOINTS, RawCase, describe, raw_cases, render
from reliability.fuzzcheck import Tally, judge
from reliability.server import LiveServer, free_port, recreate_postgres_database

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ot_fuzz_run"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
#: gunicorn's own limits off, so that Django sees the 16 KB URLs and 20 KB
#: headers (as behind a proxy that allows them, or with runserver).
GUNICORN_LIMITS = ("--limit-request-line", "0", "--limit-request-field_size", "65536")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fuzz")
    group.add_argument("--fuzz-seed", type=int, default=None, help="hypothesis seed (default: random, printed)")
    group.add_argument("--fuzz-skip-schemathesis", action="store_true", help="raw HTTP cases only")
    group.add_argument("--fuzz-skip-debug", action="store_true", help="no second run with DEBUG=True")


def scale() -> float:
    return float(os.environ.get("RELIABILITY_SCALE", "1") or 1)


# --- credentials ----------------------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def credentials(base_url: str, fx: fixtures.Fixtures) -> dict[str, str]:
    """Every value a marker stands for: client ids and secrets, tokens, a code, a session."""
    client = fixtures.OAuthClient(base_url, fx)
    try:
        at_service = client.client_credentials("read").json()["access_token"]
        user_tokens = client.code_flow(fx.web, scope="openid read profile email")
        code, verifier = client.authorization_code(fx.web, scope="read")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        session = client.http.cookies.get("sessionid") or ""
        csrf = client.http.cookies.get("csrftoken") or ""
    finally:
        client.close()
    web_secret = fx.web.client_secret or ""
    return {
        "service_id": fx.service.client_id, "service_secret": fx.service.client_secret or "",
        "web_id": fx.web.client_id, "web_secret": web_secret, "public_id": fx.public.client_id,
        "redirect": fx.web.redirect_uri,
        "basic_service": _basic(fx.service.client_id, fx.service.client_secret or ""),
        "basic_web": _basic(fx.web.client_id, web_secret),
        "basic_web_nul": "Basic " + base64.b64encode(f"{fx.web.client_id}\x00:{web_secret}".encode()).decode(),
        "basic_web_wrong": _basic(fx.web.client_id, web_secret + "x"),
        "at_service": at_service, "at_user": user_tokens["access_token"], "rt_web": user_tokens["refresh_token"],
        "bearer_service": "Bearer " + at_service, "bearer_user": "Bearer " + user_tokens["access_token"],
        "code": code, "verifier": verifier, "challenge": challenge, "session": session, "csrf": csrf,
    }


def scrubber(values: Mapping[str, str]) -> Callable[[str], str]:
    """Replace every credential in a text by its marker (longest first)."""
    pairs = sorted(((v, k) for k, v in values.items() if len(v) >= 8), key=lambda p: -len(p[0]))

    def scrub(text: str) -> str:
        for value, name in pairs:
            text = text.replace(value, f"⟦{name}⟧")
        return text

    return scrub


# --- raw HTTP ---------------------------------------------------------------------


def generate(endpoint_index: int, logged_in: bool, count: int, seed: int) -> list[RawCase]:
    """``count`` cases for one endpoint, drawn by hypothesis (generation only, no shrinking)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    found: list[RawCase] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(raw_cases(ENDPOINTS[endpoint_index], logged_in))
    def collect(case: RawCase) -> None:
        found.append(case)

    collect()
    return found


def run_raw(server: LiveServer, values: Mapping[str, str], per_endpoint: int, seed: int, workers: int = 3) -> Tally:
    host, port = "127.0.0.1", server.port
    host_header = f"{host}:{port}"
    tally = Tally()
    lock = threading.Lock()

    def one(case: RawCase) -> None:
        request = render(case, host_header, values)
        try:
            response = rawhttp.exchange(host, port, request, timeout=60, head=case.head)
        except (rawhttp.NoResponse, OSError) as exc:
            # A request over 2.5 MB may be cut short once the answer is out; anything else must be answered.
            failures = [] if case.huge_body else ["no response"]
            with lock:
                tally.record(case.endpoint.label, None, failures, "huge body: connection closed early"
                             if case.huge_body else None, f"{describe(case)} -> {type(exc).__name__}: {exc}")
            return
        headers = _Headers(response.headers)
        failures, info = judge(case.endpoint.kind, case.path, case.method, response.status, headers, response.body,
                               head=case.head)
        example = (f"{describe(case)} -> {response.status} {headers.get('Content-Type')!r} "
                   f"Cache-Control {headers.get('Cache-Control')!r} {response.body[:80]!r}")
        with lock:
            tally.record(case.endpoint.label, response.status, failures, info, example)

    for index in range(len(ENDPOINTS)):
        for logged_in in (False, True):
            cases = generate(index, logged_in, per_endpoint // 2, seed + index * 2 + logged_in)
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, cases))
    return tally


class _Headers(dict):
    """Case-insensitive header lookup over a list of pairs (repeated ones joined)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in pairs:
            key = name.lower()
            self[key] = f"{self[key]}, {value}" if key in self else value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


# --- schemathesis -----------------------------------------------------------------


def run_schemathesis(server: LiveServer, values: Mapping[str, str], per_operation: int, seed: int) -> Tally:
    """Every operation of /openapi.json, positive and negative data, credentials of its scheme."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
    document = requests.get(server.url + "/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    tally = Tally()
    session = requests.Session()
    kinds = {ep.path.split("{")[0]: ep.kind for ep in ENDPOINTS}

    def kind_of(path: str) -> str:
        if path.startswith("/.well-known") or path.endswith("openid-configuration"):
            return "discovery"
        if path.startswith("/oauth/authorize") or path.startswith("/oauth/connect"):
            return "browser"
        if path == "/api/me":
            return "resource"
        return kinds.get(path, "oauth")

    def auth_for(path: str, method: str) -> tuple[dict[str, str], dict[str, str]]:
        security = document["paths"][path][method.lower()].get("security", [])
        names = {name for requirement in security for name in requirement}
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        if "client_secret_basic" in names:
            headers["Authorization"] = values["basic_service"] if "token" in path else values["basic_web"]
        if "bearer" in names:
            headers["Authorization"] = values["bearer_user"]
        if "session" in names:
            cookies = {"sessionid": values["session"], "csrftoken": values["csrf"]}
            headers["X-CSRFToken"] = values["csrf"]
        return headers, cookies

    def fuzz_operation(operation: Any) -> None:
        label = f"{operation.method.upper()} {operation.path}"
        kind = kind_of(operation.path)
        headers, cookies = auth_for(operation.path, operation.method)

        def exercise(case: Any) -> None:
            try:
                response = case.call(base_url=server.url, session=session, headers=headers, cookies=cookies,
                                     timeout=60, allow_redirects=False)
            except Exception as exc:  # a request requests cannot even send: not the server's doing
                tally.record(label, None, [], f"schemathesis case not sendable ({type(exc).__name__})", "")
                return
            response_headers = _Headers([(k, ", ".join(v)) for k, v in response.headers.items()])
            failures, info = judge(kind, operation.path, case.method, response.status_code, response_headers,
                                   response.content, head=case.method.upper() == "HEAD")
            try:
                case.validate_response(response, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
                failures.append("schema")
                detail = " ".join(str(exc).split())[:300]
            else:
                detail = ""
            body = case.body if isinstance(case.body, (dict, list, str)) else None
            example = (f"{case.method} {case.formatted_path} query={case.query!r} body={body!r:.120}"
                       f" -> {response.status_code} {response_headers.get('Content-Type')!r} {detail}")
            tally.record(label, response.status_code, failures, info, example)

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = hypothesis_seed(seed)(settings(
                max_examples=per_operation // 2, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))(given(operation.as_strategy(generation_mode=mode))(exercise)))
            try:
                run()
            except Unsatisfiable:  # negative data for an operation without inputs to negate
                pass

    for result in schema.get_all_operations():
        fuzz_operation(result.ok())
    session.close()
    return tally


# --- the part ---------------------------------------------------------------------


def _server_env(database_url: str, redis_url: str, keys: Mapping[str, str]) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, **keys}


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def run(args: argparse.Namespace) -> bool:
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not database_url.startswith("postgres"):
        print(f"fuzz: needs PostgreSQL (DATABASE_URL={database_url!r})")
        return False
    factor = scale() * (1 if args.short else 3)
    raw_per_endpoint = max(20, int(140 * factor))
    schema_per_operation = max(10, int(40 * factor))
    seed = args.fuzz_seed if args.fuzz_seed is not None else random.SystemRandom().randrange(2**31)
    print(f"fuzz: seed {seed} (--fuzz-seed {seed} replays), {raw_per_endpoint} raw cases per endpoint, "
          f"{schema_per_operation} schemathesis cases per operation", flush=True)
    recreate_postgres_database(database_url)
    _flush_redis(redis_url)
    # Both servers (DEBUG off, then on) share a port, keys and the database, so
    # the issuer, the clients and the tokens stay valid for both.
    keys = {"OAUTH_TOKENS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "OAUTH_TOKENS_DIGEST_KEY": random_secrets.token_urlsafe(32)}
    env = _server_env(database_url, redis_url, keys)
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"reliability-fuzz-{port}.log"  # gunicorn's log and Django's errors
    results: list[tuple[str, Tally]] = []
    scrub: Callable[[str], str] = str
    started = time.monotonic()
    with LiveServer(env=env, workers=2, port=port, extra_args=GUNICORN_LIMITS, log_path=log_path) as server:
        fixtures.setup_django(server.env)
        fx = fixtures.create_fixtures(server.url, prefix="fuzz")
        values = credentials(server.url, fx)
        scrub = scrubber(values)
        if not args.fuzz_skip_schemathesis:
            tally = run_schemathesis(server, values, schema_per_operation, seed)
            results.append(("schemathesis (DEBUG=False)", tally))
            print(tally.report("schemathesis (DEBUG=False)", scrub), flush=True)
        tally = run_raw(server, values, raw_per_endpoint, seed)
        results.append(("raw HTTP (DEBUG=False)", tally))
        print(tally.report("raw HTTP (DEBUG=False)", scrub), flush=True)
    if not args.fuzz_skip_debug:
        with LiveServer(env=env, workers=2, port=port, debug=True, migrate=False, extra_args=GUNICORN_LIMITS,
                        log_path=log_path) as server:
            tally = run_raw(server, values, max(10, raw_per_endpoint // 3), seed + 1)
            results.append(("raw HTTP (DEBUG=True)", tally))
            print(tally.report("raw HTTP (DEBUG=True)", scrub), flush=True)
    total = sum(sum(t.cases.values()) for _, t in results)
    failed = {name: sum(t.failures.values()) for name, t in results}
    print(f"fuzz: {total} cases in {time.monotonic() - started:.0f} s; failures: "
          + ", ".join(f"{name} {count}" for name, count in failed.items()) + f"; server log {log_path}")
    return all(t.ok for _, t in results)
