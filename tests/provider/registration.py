"""Helpers of the dynamic client registration tests (RFC 7591 / 7592)."""

import json
from urllib.parse import parse_qs, urlencode, urlsplit

from oauth_tokens.oauth2.pkce import s256
from tests.conftest import REDIRECT, VERIFIER
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

ENABLED = {**TEST_OAUTH, "REGISTRATION_ENABLED": True}
METADATA = {"redirect_uris": [REDIRECT], "client_name": "Registered app", "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}


def register(http, body=None, *, token=None, **headers):
    """POST ``body`` (``METADATA`` by default) to the registration endpoint as JSON."""
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = "Bearer " + token
    body = METADATA if body is None else body
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return http.post("/oauth/register", raw, content_type="application/json", **headers)


def configuration(http, method, registered, *, token=None, body=None, **headers):
    """``method`` on the client's configuration endpoint with its (or the given) token."""
    token = registered["registration_access_token"] if token is None else token
    if token:
        headers["HTTP_AUTHORIZATION"] = "Bearer " + token
    path = urlsplit(registered["registration_client_uri"]).path
    data = json.dumps(body) if body is not None else ""
    return getattr(http, method)(path, data, content_type="application/json", **headers)


def assert_error(response, status, error):
    assert response.status_code == status, response.content
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] == error, response.json()


def code_tokens(http, client_id, user, *, secret_auth=None, scope="read"):
    """Authorization code + PKCE with a registered client: the token response."""
    http.force_login(user)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": scope,
              "state": "s", "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", "allow": "1"}
    decided = http.post("/oauth/authorize", params)
    assert decided.status_code == 303, decided.content
    code = parse_qs(urlsplit(decided["Location"]).query)["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER}
    headers = {}
    if secret_auth:
        headers["HTTP_AUTHORIZATION"] = secret_auth
    else:
        data["client_id"] = client_id
    return http.post("/oauth/token", urlencode(data), content_type="application/x-www-form-urlencoded", **headers)
