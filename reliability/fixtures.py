"""Clients, a user and an HTTP client for the reliability parts.

``setup_django(env)`` configures Django in this process with the example
project's settings and the live server's database, so that the parts can create
clients and check invariants in the database the server writes to.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

_configured = False


def setup_django(env: Mapping[str, str]) -> None:
    """Django in this process, on the same settings and database as the server."""
    global _configured
    for key in ("DATABASE_URL", "REDIS_URL", "OAUTH_TOKENS_ENCRYPTION_KEYS", "OAUTH_TOKENS_DIGEST_KEY",
                "OAUTH_TOKENS_ISSUER"):
        if key in env:
            os.environ[key] = env[key]
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    os.environ.setdefault("DEBUG", "False")
    if not _configured:
        import django

        django.setup()
        _configured = True


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None
    redirect_uri: str = ""


@dataclass(frozen=True)
class Fixtures:
    service: Credentials  # confidential, client_credentials
    web: Credentials  # confidential, authorization_code + refresh_token
    public: Credentials  # public (no secret), authorization_code + refresh_token, PKCE
    username: str
    password: str


def create_fixtures(base_url: str, *, prefix: str = "rel") -> Fixtures:
    """A user and three clients (needs ``setup_django`` first)."""
    from django.contrib.auth import get_user_model

    from oauth_tokens.provider.models import Client

    User = get_user_model()
    username, password = f"{prefix}-user", secrets.token_urlsafe(12)
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.save()
    redirect = f"{base_url}/demo/callback"
    service = Client(name=f"{prefix} service", grant_types="client_credentials", scope="read write")
    service_secret = service.set_secret()
    service.save()
    web = Client(name=f"{prefix} web", grant_types="authorization_code refresh_token", redirect_uris=redirect,
                 scope="read write openid profile email")
    web_secret = web.set_secret()
    web.save()
    public = Client(name=f"{prefix} public", grant_types="authorization_code refresh_token", redirect_uris=redirect,
                    scope="read write", client_type=Client.PUBLIC)
    public.save()
    return Fixtures(
        service=Credentials(service.client_id, service_secret),
        web=Credentials(web.client_id, web_secret, redirect),
        public=Credentials(public.client_id, None, redirect),
        username=username, password=password,
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class OAuthClient:
    """The flows a client runs, over HTTP (httpx), one instance per thread."""

    def __init__(self, base_url: str, fixtures: Fixtures, *, timeout: float = 30.0,
                 session: httpx.Cookies | None = None) -> None:
        """``session``: the cookies of a client that logged in elsewhere (another host of
        the same site): this one then asks for consent without logging in."""
        self.base = base_url
        self.fx = fixtures
        self.http = httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False, cookies=session)
        self._logged_in = session is not None

    def close(self) -> None:
        self.http.close()

    def token(self, creds: Credentials, **data: str) -> httpx.Response:
        if creds.client_secret is None:
            return self.http.post("/oauth/token", data={**data, "client_id": creds.client_id})
        return self.http.post("/oauth/token", data=data, auth=(creds.client_id, creds.client_secret))

    def client_credentials(self, scope: str = "read") -> httpx.Response:
        return self.token(self.fx.service, grant_type="client_credentials", scope=scope)

    def login(self) -> None:
        page = self.http.get("/accounts/login/")
        csrf = _CSRF.search(page.text)
        assert csrf, "no CSRF token on the login page"
        r = self.http.post("/accounts/login/", data={
            "username": self.fx.username, "password": self.fx.password, "csrfmiddlewaretoken": csrf.group(1),
        }, headers={"Referer": self.base + "/accounts/login/"})
        assert r.status_code == 302, f"login failed: {r.status_code}"
        self._logged_in = True

    def authorization_code(self, creds: Credentials, scope: str = "read") -> tuple[str, str]:
        """Log in (once), ask for consent, allow: (code, code_verifier)."""
        if not self._logged_in:
            self.login()
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(8)
        params = {"response_type": "code", "client_id": creds.client_id, "redirect_uri": creds.redirect_uri,
                  "scope": scope, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
        page = self.http.get("/oauth/authorize", params=params)
        assert page.status_code == 200, f"consent page: {page.status_code}"
        form = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(page.text)}
        csrf = _CSRF.search(page.text)
        assert csrf
        form.update({"csrfmiddlewaretoken": csrf.group(1), "allow": "1"})
        r = self.http.post("/oauth/authorize", data=form, headers={"Referer": str(page.url)})
        assert r.status_code in (302, 303), f"consent: {r.status_code}"
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["state"] == [state]
        return query["code"][0], verifier

    def code_flow(self, creds: Credentials | None = None, scope: str = "read") -> dict[str, Any]:
        """The whole authorization-code flow; the token response (raises on failure)."""
        creds = creds or self.fx.web
        code, verifier = self.authorization_code(creds, scope)
        r = self.token(creds, grant_type="authorization_code", code=code, redirect_uri=creds.redirect_uri,
                       code_verifier=verifier)
        r.raise_for_status()
        return r.json()

    def refresh(self, refresh_token: str, creds: Credentials | None = None) -> httpx.Response:
        return self.token(creds or self.fx.web, grant_type="refresh_token", refresh_token=refresh_token)

    def revoke(self, token: str, creds: Credentials | None = None, hint: str = "") -> httpx.Response:
        creds = creds or self.fx.web
        data = {"token": token, **({"token_type_hint": hint} if hint else {})}
        if creds.client_secret is None:
            return self.http.post("/oauth/revoke", data={**data, "client_id": creds.client_id})
        return self.http.post("/oauth/revoke", data=data, auth=(creds.client_id, creds.client_secret))

    def api(self, access_token: str) -> httpx.Response:
        return self.http.get("/api/me", headers={"Authorization": f"Bearer {access_token}"})
