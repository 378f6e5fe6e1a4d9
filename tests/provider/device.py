"""Helpers of the device authorization grant's HTTP tests (RFC 8628)."""

import re
from datetime import timedelta
from unittest import mock
from urllib.parse import urlencode

from django.utils import timezone

from tests.conftest import basic
from tests.settings import OAUTH_TOKENS as TEST_OAUTH

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ENABLED = {**TEST_OAUTH, "DEVICE_AUTHORIZATION_ENABLED": True}
FORM = "application/x-www-form-urlencoded"


def later(seconds):
    """Move the clock ``seconds`` ahead of now."""
    return mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=seconds))


def form_post(http, path, data, *, client=None):
    """POST a form; ``client`` authenticates with HTTP Basic (confidential) or its client_id (public)."""
    headers = {}
    if client is not None and client.secret:
        headers["HTTP_AUTHORIZATION"] = basic(client.client_id, client.secret)
    elif client is not None:
        data = {"client_id": client.client_id, **data}
    return http.post(path, urlencode(data), content_type=FORM, **headers)


def start(http, client, **data):
    return form_post(http, "/oauth/device_authorization", data, client=client)


def poll(http, client, device_code):
    return form_post(http, "/oauth/token", {"grant_type": GRANT, "device_code": device_code}, client=client)


def enter(http, user_code, **decision):
    """Type ``user_code`` on the page (then allow or deny with ``allow=1`` / ``deny=1``)."""
    return http.post("/oauth/device", {"user_code": user_code, **decision})


def csrf_of(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
