"""Our provider in a process of its own, serving real HTTP on an ephemeral port,
for multi-process tests and the benchmark.

    python -m tests.consumer.remote_provider --db /tmp/p.sqlite3 --access-lifetime 2

prints one JSON line (url, client credentials, a first token pair for a user,
that user's session cookie for the consent page) and serves until killed.
``GET /__stats__`` reports every token request the provider answered (grant
type, status, OAuth error, time, the thumbprint of its DPoP proof's key) and
its reuse events.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


class Counter:
    """WSGI middleware recording what reaches the token endpoint and the API."""

    def __init__(self, app, lose_refresh_answers: int = 0):
        self.app = app
        #: The answers of the first N refreshes are lost on the way (502 instead, as from
        #: a gateway): the provider has rotated, the consumer never sees the new pair.
        self.lose_refresh_answers = lose_refresh_answers
        self.lock = threading.Lock()
        self.token_requests: list[dict] = []
        self.api: dict[str, int] = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/__stats__":
            body = json.dumps(self.stats()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if not path.startswith("/oauth/token") or environ["REQUEST_METHOD"] != "POST":
            status_holder = []

            def capture(status, headers, exc_info=None):
                status_holder.append(int(status.split()[0]))
                return start_response(status, headers, exc_info)

            result = list(self.app(environ, capture))
            with self.lock:
                key = f"{path} {status_holder[0]}"
                self.api[key] = self.api.get(key, 0) + 1
            return result
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)
        if environ.get("CONTENT_TYPE", "").startswith("application/json"):
            grant = json.loads(raw or b"{}").get("grant_type", "")
        else:
            grant = dict(parse_qsl(raw.decode())).get("grant_type", "")
        started = time.monotonic()
        jkt = proof_jkt(environ.get("HTTP_DPOP", ""))
        answer = []

        def capture(status, headers, exc_info=None):
            answer[:] = [status, headers]
            return lambda data: None

        chunks = list(self.app(environ, capture))
        status = int(answer[0].split()[0])
        error = ""
        if status != 200:
            try:
                error = json.loads(b"".join(chunks)).get("error", "")
            except ValueError:
                error = "?"
        with self.lock:
            lost = grant == "refresh_token" and self.lose_refresh_answers > 0
            self.lose_refresh_answers -= lost
            self.token_requests.append({"grant_type": grant, "status": status, "error": error, "t": started,
                                        "answer_lost": lost, "jkt": jkt})
        if lost:
            start_response("502 Bad Gateway", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        start_response(*answer)
        return chunks

    def stats(self) -> dict:
        from oauth_tokens.provider.models import RefreshToken, TokenEvent

        with self.lock:
            requests = list(self.token_requests)
            api = dict(self.api)
        return {
            "token_requests": requests,
            "api": api,
            "reuse_detected": TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).count(),
            "grace_replayed": TokenEvent.objects.filter(kind=TokenEvent.GRACE_REPLAYED).count(),
            "live_refresh_tokens": RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count(),
        }


def proof_jkt(proof: str) -> str:
    """The thumbprint of the key in a DPoP proof's header ("" without a proof)."""
    if not proof:
        return ""
    import jwt

    from oauth_tokens.oauth2.dpop import thumbprint

    try:
        return thumbprint(jwt.get_unverified_header(proof)["jwk"])
    except (jwt.PyJWTError, KeyError, ValueError):
        return "?"


def first_pair(user, client, secret) -> dict:
    from django.test import Client as Browser

    from oauth_tokens.oauth2.pkce import s256

    browser = Browser()
    browser.force_login(user)
    answer = browser.post("/oauth/authorize", {
        "response_type": "code", "client_id": client.client_id, "redirect_uri": "http://127.0.0.1/cb",
        "scope": "read", "state": "s", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256",
        "allow": "1",
    })
    code = dict(parse_qsl(answer["Location"].split("?", 1)[1]))["code"]
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    tokens = browser.post("/oauth/token", urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1/cb",
        "code_verifier": VERIFIER,
    }), content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=f"Basic {basic}")
    return tokens.json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--access-lifetime", type=int, default=2)
    parser.add_argument("--grace", type=int, default=0)
    parser.add_argument("--lose-refresh-answers", type=int, default=0)
    parser.add_argument("--redirect-uri", default="", help="one more redirect URI for the client")
    parser.add_argument("--dpop-nonce-lifetime", type=int, default=0,
                        help="require DPoP server nonces of this lifetime (token endpoint and API)")
    parser.add_argument("--jwt-leeway", default="", help="JWT_LEEWAY in seconds (default: the test settings')")
    args = parser.parse_args()
    os.environ["REMOTE_PROVIDER_DB"] = args.db
    os.environ["REMOTE_PROVIDER_JWT_LEEWAY"] = args.jwt_leeway
    os.environ["REMOTE_PROVIDER_GRACE"] = str(args.grace)
    if args.dpop_nonce_lifetime:
        os.environ["REMOTE_PROVIDER_NONCE_LIFETIME"] = str(args.dpop_nonce_lifetime)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.consumer.remote_settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from oauth_tokens.provider.models import Client
    from tests.consumer.fakes import QuietHandler, ThreadingServer

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("remote-user", password="pw")
    client = Client(name="consumer under test", redirect_uris=f"http://127.0.0.1/cb {args.redirect_uri}".strip(),
                    scope="read write",
                    grant_types="authorization_code refresh_token client_credentials",
                    access_token_lifetime=args.access_lifetime)
    secret = client.set_secret()
    client.save()
    pair = first_pair(user, client, secret)
    from django.test import Client as Browser

    browser = Browser()
    browser.force_login(user)
    session = browser.cookies["sessionid"].value
    from wsgiref.simple_server import make_server

    app = Counter(get_wsgi_application(), args.lose_refresh_answers)
    server = make_server("127.0.0.1", 0, app, server_class=ThreadingServer, handler_class=QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    print(json.dumps({"url": url, "client_id": client.client_id, "client_secret": secret, "session": session,
                      **pair}), flush=True)
    server.serve_forever()


class RemoteProvider:
    """Start ``main()`` in a subprocess; ``.info`` is its JSON line; ``.stats()`` reads /__stats__."""

    def __init__(self, db_path: str, *, access_lifetime: int = 2, grace: int = 0,
                 lose_refresh_answers: int = 0, redirect_uri: str = "", dpop_nonce_lifetime: int = 0,
                 jwt_leeway: int | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.consumer.remote_provider", "--db", db_path,
             "--access-lifetime", str(access_lifetime), "--grace", str(grace),
             "--lose-refresh-answers", str(lose_refresh_answers), "--redirect-uri", redirect_uri,
             "--dpop-nonce-lifetime", str(dpop_nonce_lifetime),
             "--jwt-leeway", "" if jwt_leeway is None else str(jwt_leeway)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError("the provider process did not start")
        self.info = json.loads(line)
        self.url = self.info["url"]

    def stats(self) -> dict:
        import httpx

        return httpx.get(self.url + "/__stats__", timeout=10).json()

    def provider_config(self, **extra) -> dict:
        return {
            "token_url": self.url + "/oauth/token",
            "authorize_url": self.url + "/oauth/authorize",
            "client_id": self.info["client_id"],
            "client_secret": self.info["client_secret"],
            "scope": "read",
            "body_format": "json",
            "auth_method": "post",
            "api_base_url": self.url,
            "timeout": 5.0,
            **extra,
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


if __name__ == "__main__":
    main()
