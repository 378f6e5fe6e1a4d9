"""What the anomaly tests share: a code exchange and refreshes from a chosen
address, and the events they leave (the signals: the ``sent`` fixture in conftest.py)."""

from __future__ import annotations

from oauth_tokens.provider.models import TokenEvent
from tests.conftest import REDIRECT, VERIFIER


def with_settings(settings, **values):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, **values}


def exchange(flow, ip="127.0.0.1"):
    """A new family: the code exchange from ``ip``; its token response."""
    code = flow.authorize()
    response = flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                           "code_verifier": VERIFIER}, REMOTE_ADDR=ip)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(flow, refresh_token, ip="127.0.0.1", client=None):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if client is not None:
        from tests.conftest import basic

        return flow.token(data, auth=basic(client.client_id, client.secret), REMOTE_ADDR=ip)
    return flow.token(data, REMOTE_ADDR=ip)


def anomalies(kind=None):
    events = TokenEvent.objects.filter(kind=TokenEvent.ANOMALY).order_by("id")
    return [e for e in events if kind is None or e.detail.split(":", 1)[0] == kind]


def validates(flow, access_token) -> bool:
    """The GET validation endpoint still accepts ``access_token``."""
    return flow.http.get("/oauth/token", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == 200


def refused(response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"
