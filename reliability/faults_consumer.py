"""Fault d: the consumer (``oauth_tokens.consumer``) against a provider that fails.

The consumer runs in this process (Django on the live server's database) and
holds a user's token pair from the live server. Its provider entry points at a
``TcpProxy`` in front of the live server (unreachable: refused; slow: every
chunk delayed beyond the consumer's timeout) or at a small HTTP server that
answers 500s or garbage (HTML, truncated JSON, wrong types). For each,
``refresh_access_token`` and ``get_access_token`` (with the stored access
token expired) must raise the documented exception (``ProviderUnavailable``
for network errors, timeouts and 5xx; ``ProviderError`` for an answer that is
not a token), within the configured timeouts, and leave the stored refresh
token as it was. Once the provider is healthy the stored refresh token still
rotates and the new access token works at the provider.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reliability.faultkit import Stack, Tally
from reliability.tcpproxy import TcpProxy

TIMEOUT, RETRIES, BACKOFF = 1.0, 1, 0.1
#: Longest a failing call may take: every attempt times out, plus the backoff and slack.
CALL_BOUND = (RETRIES + 1) * TIMEOUT + BACKOFF * 2 ** RETRIES + 1.0


class Garbage(BaseHTTPRequestHandler):
    """Answers every POST with ``server.answer`` = (status, content type, body bytes)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, content_type, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


#: name -> (status, content type, body, the exception expected; None: accepted, refresh token kept)
GARBAGE = {
    "500 HTML": (500, "text/html", b"<html><body>Internal Server Error</body></html>", "ProviderUnavailable"),
    "502 empty": (502, "text/plain", b"", "ProviderUnavailable"),
    "200 HTML": (200, "text/html", b"<!doctype html><title>Login</title><form></form>", "ProviderError"),
    "200 truncated JSON": (200, "application/json", b'{"access_token": "abc", "token_ty', "ProviderError"),
    "200 JSON list": (200, "application/json", _json(["access_token", "abc"]), "ProviderError"),
    "200 access_token a number": (200, "application/json", _json({"access_token": 123, "token_type": "Bearer"}),
                                  "ProviderError"),
    "200 token_type mac": (200, "application/json", _json({"access_token": "abc", "token_type": "mac"}),
                           "ProviderError"),
    "400 HTML": (400, "text/html", b"<h1>Bad Request</h1>", "ProviderError"),
    "400 error a number": (400, "application/json", _json({"error": 42}), "ProviderError"),
    "200 refresh_token a number, expires_in a word": (
        200, "application/json",
        _json({"access_token": "garbage-access", "token_type": "Bearer", "refresh_token": 42, "expires_in": "soon"}),
        None),
}


def run(stack: Stack) -> Tally:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings
    from django.utils import timezone

    from oauth_tokens.consumer import (
        ConsumerError,
        get_access_token,
        refresh_access_token,
        store_tokens,
    )
    from oauth_tokens.consumer.models import ExternalToken

    tally = Tally("d. consumer vs failing provider")
    user = get_user_model().objects.get(username=stack.fx.username)
    host, port = stack.url.rsplit("/", 1)[1].split(":")
    proxy = TcpProxy(host, int(port)).start()
    garbage = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    garbage.answer = (500, "text/plain", b"")  # type: ignore[attr-defined]
    threading.Thread(target=garbage.serve_forever, daemon=True).start()
    web = stack.fx.web

    def provider(token_url: str):
        entry = {"token_url": token_url, "client_id": web.client_id, "client_secret": web.client_secret,
                 "scope": "read", "timeout": TIMEOUT, "retries": RETRIES, "backoff": BACKOFF}
        return override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "PROVIDERS": {"faulty": entry}})

    via_proxy = f"http://{proxy.address}/oauth/token"
    via_garbage = f"http://127.0.0.1:{garbage.server_address[1]}/oauth/token"
    client = stack.client()
    try:
        def fresh_grant() -> None:
            """A new token pair for the user (each case starts from its own grant)."""
            with provider(via_proxy):
                store_tokens("faulty", user, client.code_flow(scope="read"))

        def row() -> ExternalToken:
            return ExternalToken.objects.get(provider="faulty", user_id=user.pk)

        def attempt(case: str, token_url: str, expected: str | None, *, mode: str = "pass",
                    drain: float = 0.0) -> None:
            proxy.set_mode("pass")
            fresh_grant()
            proxy.set_mode(mode, delay=drain)
            for call in ("refresh_access_token", "get_access_token"):
                before = row()
                if call == "get_access_token":  # due: the stored access token has expired
                    ExternalToken.objects.filter(pk=before.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
                started = time.monotonic()
                raised = "returned"
                with provider(token_url):
                    try:
                        (refresh_access_token if call == "refresh_access_token" else get_access_token)("faulty", user)
                    except ConsumerError as exc:
                        raised = type(exc).__name__
                elapsed = time.monotonic() - started
                after = row()
                label = f"{case}, {call}"
                tally.outcome(raised, elapsed)
                if raised != (expected or "returned"):
                    tally.violations.append(f"{label}: {raised}, expected {expected or 'a token'}")
                if elapsed > CALL_BOUND:
                    tally.violations.append(f"{label}: took {elapsed:.1f} s (bound {CALL_BOUND:.1f} s)")
                if after.refresh_token != before.refresh_token:
                    tally.lost.append(f"{label}: the stored refresh token was replaced")
                if after.status != ExternalToken.ACTIVE:
                    tally.lost.append(f"{label}: the row is now {after.status}")
            time.sleep(drain * 2)  # requests the proxy still holds reach the provider first
            healthy_again(case)

        def healthy_again(case: str) -> bool:
            """The stored refresh token still rotates at the healthy provider, the new token works."""
            proxy.set_mode("pass")
            before = row().refresh_token
            with provider(via_proxy):
                try:
                    refresh_access_token("faulty", user)
                except ConsumerError as exc:
                    tally.lost.append(f"after {case}: the stored refresh token no longer works ({exc})")
                    return False
            current = row()
            if current.refresh_token == before:
                tally.lost.append(f"after {case}: the provider did not rotate the refresh token")
            if client.api(current.access_token).status_code != 200:
                tally.lost.append(f"after {case}: the new access token is refused at the provider")
            return True

        attempt("provider unreachable", via_proxy, "ProviderUnavailable", mode="refuse")
        attempt(f"provider slow ({TIMEOUT * 2.5:.1f} s a chunk, timeout {TIMEOUT:.0f} s)", via_proxy,
                "ProviderUnavailable", mode="slow", drain=TIMEOUT * 2.5)
        attempt("provider accepts and hangs", via_proxy, "ProviderUnavailable", mode="pause")
        for case, (status, content_type, body, expected) in GARBAGE.items():
            garbage.answer = (status, content_type, body)  # type: ignore[attr-defined]
            attempt(case, via_garbage, expected)
        tally.notes.append(f"consumer timeout {TIMEOUT:.0f} s, {RETRIES} retry; "
                           f"{len(GARBAGE) + 3} provider faults, each on refresh and on a due get_access_token")
    finally:
        client.close()
        proxy.stop()
        garbage.shutdown()
        garbage.server_close()
    return tally
