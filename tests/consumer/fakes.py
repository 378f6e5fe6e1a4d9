"""Small fake providers over real HTTP (WSGI on an ephemeral port) for protocol-shape
tests: one that takes only JSON bodies, one that takes only form bodies, scripted
failures. Concurrency is proven against the real provider, never against these."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qsl, unquote_plus
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from oauth_tokens.oauth2.pkce import s256


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class FakeProvider:
    def __init__(self, *, accepts="both", auth="any", client_id="cid", client_secret="csecret",
                 lifetime=3600, rotate=True, form_responses=False, grace=None):
        self.accepts = accepts
        self.auth = auth
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime = lifetime
        self.rotate = rotate
        self.form_responses = form_responses
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []  # forced answers for the next token requests
        # While set, token requests are carried out (a refresh token rotates) and their
        # answer is lost on the way: ``losing`` is the status answered instead (a
        # gateway's 502), ``stall`` the seconds before answering (a read timeout).
        self.losing: int | None = None
        self.stall = 0.0
        # Reuse detection with a grace allowance, as rotating providers do (None: off,
        # a spent token is just invalid_grant): a rotated refresh token presented again
        # gets its successor pair ``grace`` times, then it is reuse, which revokes the
        # whole grant (every successor). ``rotated``: spent token -> [successor pair,
        # replays left]; ``replays`` and ``reuse_detected`` count what happened.
        self.grace = grace
        self.rotated: dict[str, list] = {}
        self.replays = 0
        self.reuse_detected = 0
        self.live_refresh: set[str] = set()
        self.live_access: set[str] = set()
        self.revoked: list[tuple[str, str]] = []
        self.codes: dict[str, str] = {}  # code -> challenge
        self.api_status: int | None = None  # force the API's answer
        self.metadata: dict = {}  # overrides in the metadata document (a spoofed one)
        # DPoP (RFC 9449), checked loosely (the proofs are inspected by the tests): a request
        # with a DPoP header gets ``dpop_token_type`` tokens; while ``dpop_nonce`` is set, a
        # proof without that nonce is refused with use_dpop_nonce (400 at /token, 401 at
        # /api) and the nonce; ``nonce_after`` replaces it after each such refusal (a
        # server whose nonces never satisfy); ``success_nonce`` rides on every 200.
        self.dpop_token_type = "DPoP"
        self.dpop_nonce: str | None = None
        self.nonce_after: str | None = None
        self.success_nonce: str | None = None
        self.lock = threading.Lock()
        self.server = None
        self.url = ""

    # -- tokens -------------------------------------------------------------
    def mint(self, *, refresh=True, token_type="Bearer") -> dict:
        access = "at-" + secrets.token_urlsafe(16)
        self.live_access.add(access)
        body = {"access_token": access, "token_type": token_type, "expires_in": self.lifetime, "scope": "read"}
        if self.lifetime is None:  # a provider that sends no expires_in at all
            del body["expires_in"]
        if refresh:
            rt = "rt-" + secrets.token_urlsafe(16)
            self.live_refresh.add(rt)
            body["refresh_token"] = rt
        return body

    def add_code(self, challenge: str) -> str:
        code = "code-" + secrets.token_urlsafe(8)
        self.codes[code] = challenge
        return code

    @property
    def token_requests(self):
        return [r for r in self.requests if r["path"] == "/token"]

    # -- WSGI ---------------------------------------------------------------
    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0]
        path = environ["PATH_INFO"]
        params: dict = {}
        if content_type == "application/json":
            params = json.loads(raw or b"{}")
        elif content_type == "application/x-www-form-urlencoded":
            params = dict(parse_qsl(raw.decode()))
        record = {"path": path, "method": environ["REQUEST_METHOD"], "content_type": content_type,
                  "params": params, "authorization": environ.get("HTTP_AUTHORIZATION", ""),
                  "dpop": environ.get("HTTP_DPOP", "")}
        with self.lock:
            self.requests.append(record)
            status, body, *extra = self.dpop_refusal(path, record) or self.route(path, record)
            if path == "/token" and self.losing:
                status, body = self.losing, {}
            stall = self.stall if path == "/token" else 0.0
            if status == 200 and self.success_nonce:
                extra = [{"DPoP-Nonce": self.success_nonce}]
        if stall:
            time.sleep(stall)
        headers = [("Cache-Control", "no-store"), *(extra[0].items() if extra else ())]
        if self.form_responses and path == "/token" and status == 200:
            payload = "&".join(f"{k}={v}" for k, v in body.items()).encode()
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        else:
            payload = json.dumps(body).encode()
            headers.append(("Content-Type", "application/json"))
        start_response(f"{status} X", headers)
        return [payload]

    def dpop_refusal(self, path, record):
        """use_dpop_nonce for a DPoP request whose proof lacks the current nonce."""
        if not record["dpop"] or not self.dpop_nonce or path not in ("/token", "/api", "/revoke"):
            return None
        import jwt

        if jwt.decode(record["dpop"], options={"verify_signature": False}).get("nonce") == self.dpop_nonce:
            return None
        nonce = self.dpop_nonce
        if self.nonce_after:
            self.dpop_nonce = self.nonce_after + secrets.token_hex(4)
        if path == "/api":
            return 401, {"error": "use_dpop_nonce"}, {
                "WWW-Authenticate": 'DPoP error="use_dpop_nonce", error_description="Resend with the nonce"',
                "DPoP-Nonce": nonce}
        return 400, {"error": "use_dpop_nonce", "error_description": "Resend with the nonce"}, {"DPoP-Nonce": nonce}

    def route(self, path, record):
        if path == "/token":
            return self.token(record)
        if path == "/revoke":
            if not self.client_ok(record):
                return 401, {"error": "invalid_client"}
            self.revoked.append((record["params"].get("token_type_hint", ""), record["params"].get("token", "")))
            self.live_refresh.discard(record["params"].get("token"))
            self.live_access.discard(record["params"].get("token"))
            return 200, {}
        if path == "/api":
            if self.api_status:
                return self.api_status, {"error": "forced"}
            scheme, _, token = record["authorization"].partition(" ")
            if scheme in ("Bearer", "DPoP") and token in self.live_access:
                return 200, {"ok": True, "method": record["method"], "body": record["params"]}
            return 401, {"error": "invalid_token"}
        if path in ("/.well-known/oauth-authorization-server", "/metadata.json"):
            document = {
                "issuer": self.url,
                "token_endpoint": self.url + "/token",
                "authorization_endpoint": self.url + "/authorize",
                "revocation_endpoint": self.url + "/revoke",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                **self.metadata,
            }
            return 200, {k: v for k, v in document.items() if v is not None}
        return 404, {"error": "not_found"}

    def client_ok(self, record) -> bool:
        header = record["authorization"]
        params = record["params"]
        if header.startswith("Basic "):
            if self.auth == "post":
                return False
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return (unquote_plus(cid), unquote_plus(secret)) == (self.client_id, self.client_secret)
        if self.auth == "basic":
            return False
        return (params.get("client_id"), params.get("client_secret")) == (self.client_id, self.client_secret)

    def token(self, record):
        status, body, *extra = self.token_answer(record)
        if status == 200 and record["dpop"] and body.get("token_type") == "Bearer":
            body = {**body, "token_type": self.dpop_token_type}
        return status, body, *extra

    def token_answer(self, record):
        accepted = {"json": ["application/json"], "form": ["application/x-www-form-urlencoded"]}.get(
            self.accepts, ["application/json", "application/x-www-form-urlencoded"])
        if record["content_type"] not in accepted:
            return 400, {"error": "invalid_request", "error_description": f"{record['content_type']} not accepted"}
        if self.script:
            return self.script.pop(0)
        if not self.client_ok(record):
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        params = record["params"]
        grant = params.get("grant_type")
        if grant == "refresh_token":
            rt = params.get("refresh_token")
            if rt not in self.live_refresh:
                if self.grace is not None and rt in self.rotated:
                    return self.replay(rt)
                return 400, {"error": "invalid_grant", "error_description": "The refresh token is invalid"}
            if self.rotate:
                self.live_refresh.discard(rt)
                body = self.mint()
                if self.grace is not None:
                    self.rotated[rt] = [body, self.grace]
                return 200, body
            body = self.mint(refresh=False)
            return 200, body
        if grant == "client_credentials":
            return 200, self.mint(refresh=False)
        if grant == "authorization_code":
            challenge = self.codes.pop(params.get("code"), None)
            if challenge is None or s256(params.get("code_verifier", "")) != challenge:
                return 400, {"error": "invalid_grant", "error_description": "bad code or verifier"}
            return 200, self.mint()
        return 400, {"error": "unsupported_grant_type"}

    def replay(self, rt):
        """A spent refresh token presented again: its successor pair once more while
        the grace allowance lasts, else reuse: the whole grant is revoked."""
        successor, left = self.rotated[rt]
        if left > 0:
            self.rotated[rt][1] -= 1
            self.replays += 1
            return 200, successor
        self.reuse_detected += 1
        while rt in self.rotated:  # every token issued since in this grant, and no more replays
            successor = self.rotated[rt][0]
            self.rotated[rt][1] = 0
            self.live_refresh.discard(successor["refresh_token"])
            self.live_access.discard(successor["access_token"])
            rt = successor["refresh_token"]
        return 400, {"error": "invalid_grant", "error_description": "refresh token reuse: the grant is revoked"}

    # -- server -------------------------------------------------------------
    def start(self) -> FakeProvider:
        self.server = make_server("127.0.0.1", 0, self, server_class=ThreadingServer, handler_class=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # shutdown() waits for serve_forever's next poll: the default 0.5 s poll cost every test using a
        # fake half a second of teardown.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def config(self, **extra) -> dict:
        base = {
            "token_url": self.url + "/token",
            "authorize_url": self.url + "/authorize",
            "revoke_url": self.url + "/revoke",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": "read",
            "api_base_url": self.url,
        }
        if self.auth == "post":
            base["auth_method"] = "post"
        if self.accepts == "json":
            base["body_format"] = "json"
        return {**base, **extra}


class KeepAliveServer:
    """An HTTP/1.1 server that keeps connections open (wsgiref closes each one),
    answering 200 to everything and recording which connection each request came on."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (the http.server API)
                with owner.lock:
                    owner.requests.append({"connection": self.client_address, "path": self.path,
                                           "authorization": self.headers.get("Authorization", "")})
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def connections(self) -> set:
        return {r["connection"] for r in self.requests}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
