"""HTTP smoke test of the installed package, run by .ci/package-check against
``runserver``: every step is a request a client or a browser would make, and
each prints what it proved. Exits non-zero at the first surprise."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import secrets
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

BASE = os.environ["SMOKE_BASE"]
WORKER = json.loads(os.environ["SMOKE_WORKER"])
APP = json.loads(os.environ["SMOKE_APP"])
REDIRECT_URI = os.environ["SMOKE_REDIRECT_URI"]
USERNAME = os.environ["SMOKE_USERNAME"]
PASSWORD = os.environ["SMOKE_PASSWORD"]
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        sys.exit(f"FAIL {what}: {response.request.method} {response.request.url} answered "
                 f"{response.status_code}, expected {status}\n{response.text[:2000]}")
    print(f"ok   {what} ({response.status_code})")
    return response


def check(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        sys.exit(f"FAIL {what}: {detail}")
    print(f"ok   {what}")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def main() -> None:
    with httpx.Client(base_url=BASE, follow_redirects=False, timeout=15) as http:
        meta = expect(http.get("/.well-known/oauth-authorization-server"), 200, "discovery document").json()
        check(meta["issuer"] == BASE, "discovery issuer is the configured ISSUER", meta["issuer"])

        # client_credentials, then the token at work and revoked.
        worker = (WORKER["client_id"], WORKER["client_secret"])
        issued = expect(http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "read"},
                                  auth=worker), 200, "POST /oauth/token client_credentials").json()
        access = issued["access_token"]
        check(issued["token_type"] == "Bearer" and "refresh_token" not in issued and issued["expires_in"] == 1800,
              "client_credentials answer: a Bearer token for 30 minutes (a timedelta setting), no refresh token",
              issued)
        me = expect(http.get("/api/me", headers=bearer(access)), 200, "DRF view with BearerTokenAuthentication").json()
        check(me["client_id"] == WORKER["client_id"] and me["scope"] == "read", "DRF view sees the token", me)
        expect(http.get("/api/plain", headers=bearer(access)), 200, "plain view with @bearer_required")
        expect(http.get("/api/async", headers=bearer(access)), 200, "async view with @bearer_required")
        valid = expect(http.get("/oauth/token", headers=bearer(access)), 200, "GET validation endpoint").json()
        check(0 < valid["expires_in"] <= 1800, "validation reports the remaining lifetime", valid)
        bare = expect(http.get("/api/me"), 401, "DRF view without a token")
        challenge = bare.headers.get("WWW-Authenticate") or ""
        # Both schemes the view accepts (RFC 6750 section 3, RFC 9449 section 7.1).
        check(challenge.startswith('Bearer realm="api", DPoP algs="') and "ES256" in challenge,
              "401 carries the Bearer and DPoP challenges", challenge)
        expect(http.post("/oauth/revoke", data={"token": access}), 200, "POST /oauth/revoke")
        revoked = expect(http.get("/api/me", headers=bearer(access)), 401, "DRF view after revocation")
        check(revoked.json().get("error") == "invalid_token", "revoked token is invalid_token", revoked.text)
        expect(http.get("/api/plain", headers=bearer(access)), 401, "plain view after revocation")
        expect(http.get("/api/async", headers=bearer(access)), 401, "async view after revocation")
        expect(http.get("/oauth/token", headers=bearer(access)), 401, "validation endpoint after revocation")

        # authorization_code + PKCE as a browser does it: log in, consent, code.
        login = expect(http.get("/admin/login/", params={"next": "/admin/"}), 200, "login page")
        fields = hidden_fields(login.text)
        expect(http.post("/admin/login/", data={**fields, "username": USERNAME, "password": PASSWORD}),
               302, "log in")
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": APP["client_id"], "redirect_uri": REDIRECT_URI,
                  "scope": "read openid", "state": "smoke-state", "code_challenge": challenge,
                  "code_challenge_method": "S256"}
        consent = expect(http.get("/oauth/authorize?" + urlencode(params)), 200, "consent page")
        answer = expect(http.post("/oauth/authorize", data={**hidden_fields(consent.text), "allow": "1"}),
                        303, "consent given")
        location = answer.headers["Location"]
        query = parse_qs(urlsplit(location).query)
        check(location.startswith(REDIRECT_URI) and query.get("state") == ["smoke-state"] and "code" in query,
              "redirect back with code and state", location)
        app = (APP["client_id"], APP["client_secret"])
        pair = expect(http.post("/oauth/token", auth=app, data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}), 200, "POST /oauth/token authorization_code").json()
        check({"access_token", "refresh_token", "id_token"} <= set(pair), "access, refresh and ID token", pair)
        expect(http.get("/api/me", headers=bearer(pair["access_token"])), 200, "user's token on the DRF view")

        # Rotation: a new pair; replaying the spent refresh token is reuse and kills the family.
        rotated = expect(http.post("/oauth/token", auth=app, data={
            "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}), 200,
            "POST /oauth/token refresh_token").json()
        check(rotated["refresh_token"] != pair["refresh_token"], "refresh token rotated")
        expect(http.get("/api/me", headers=bearer(rotated["access_token"])), 200, "rotated access token works")
        reuse = expect(http.post("/oauth/token", auth=app, data={
            "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}), 400,
            "spent refresh token replayed")
        check(reuse.json().get("error") == "invalid_grant", "replay is invalid_grant", reuse.text)
        expect(http.get("/api/me", headers=bearer(rotated["access_token"])), 401,
               "reuse revoked the family's access token")
    print("package smoke test: every step passed")


if __name__ == "__main__":
    main()
