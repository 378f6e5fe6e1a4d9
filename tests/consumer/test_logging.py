"""The redaction filter is installed at start-up and removes tokens and secrets
from log records, whoever logs them."""

import logging

import pytest

from oauth_tokens.consumer import redaction

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
REFRESH = "q7Wm2Rk9X_4tLzP0aVb8"


@pytest.mark.parametrize("message", [
    f"Authorization: Bearer {REFRESH}",
    f"POST /token refresh_token={REFRESH}&grant_type=refresh_token",
    f'{{"access_token": "{REFRESH}", "token_type": "Bearer"}}',
    f"{{'client_secret': '{REFRESH}'}}",
    f"callback ?state=s&code={REFRESH}",
    f"code_verifier={REFRESH}",
    f"Authorization: Basic {REFRESH}==",
    f"a jwt {TOKEN} in text",
])
def test_redact(message):
    redacted = redaction.redact(message)
    assert REFRESH not in redacted and TOKEN not in redacted and "[redacted]" in redacted


def test_harmless_text_is_kept():
    text = "GET /api/me 200 status_code=200 grant_type=refresh_token user=3"
    assert redaction.redact(text) == text


def test_installed_on_token_loggers(caplog):
    assert any(isinstance(f, redaction.RedactTokensFilter) for f in logging.getLogger("httpx").filters)
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("HTTP Request: %s", f"Bearer {REFRESH}")
        logging.getLogger("oauth_tokens.consumer").warning("refresh failed for %s", {"refresh_token": REFRESH})
    assert REFRESH not in caplog.text and caplog.text.count("[redacted]") == 2


def test_installed_on_handlers_so_any_logger_is_covered():
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redaction.install()
        assert any(isinstance(f, redaction.RedactTokensFilter) for f in handler.filters)
        redaction.install()  # idempotent
        assert sum(isinstance(f, redaction.RedactTokensFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


def test_tracebacks_are_redacted():
    try:
        raise ValueError(f"bad token {REFRESH!r}: access_token={REFRESH}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    redaction.RedactTokensFilter().filter(record)
    assert f"access_token={REFRESH}" not in record.exc_text and "[redacted]" in record.exc_text


CODE = "Zq81XkP0vT3mW7aB"


@pytest.mark.parametrize("line", [
    # The connect view's ``next`` carrying a callback URL, percent-encoded once...
    f"GET /oauth/connect/x/?next=/oauth/connect/x/callback/%3Fcode%3D{CODE}%26state%3Dabc HTTP/1.1",
    # ...twice (a ``next`` inside a ``next``)...
    f"GET /login/?next=/oauth/connect/x/%3Fnext%3D/oauth/connect/x/callback/%253Fcode%253D{CODE} HTTP/1.1",
    # ...three times, and with lower-case escapes.
    f"GET /a/?next=%25253fcode%25253d{CODE} HTTP/1.1",
    f"GET /a/?next=%3Frefresh_token%3D{CODE}%26x%3D1 HTTP/1.1",
    f"GET /a/?h=Bearer%20{CODE} HTTP/1.1",
])
def test_percent_encoded_values_are_redacted(caplog, line):
    """What runserver and access logs write: the request line, query string as sent."""
    with caplog.at_level(logging.INFO):
        logging.getLogger("django.server").info('"%s" %s %s', line, 302, 0)
        logging.getLogger("oauth_tokens.consumer").warning("redirecting to %s", line)
    assert CODE not in caplog.text
    assert caplog.text.count("[redacted]") == 2


def test_percent_escapes_without_secrets_are_left_alone():
    text = "GET /search/?q=caf%C3%A9%20au%20lait&next=/a%3Fb%3D1 HTTP/1.1 progress=100%25"
    assert redaction.redact(text) == text


def test_a_value_encoded_more_often_than_decoded_is_dropped():
    from urllib.parse import quote

    value = f"?code={CODE}"
    for _ in range(redaction.MAX_DECODINGS + 3):
        value = quote(value, safe="")
    redacted = redaction.redact(f"GET /a/?next={value} HTTP/1.1")
    assert CODE not in redacted and "[redacted]" in redacted and redacted.startswith("GET /a/?next=")


@pytest.mark.slow
def test_redacting_a_long_hostile_line_is_quick():
    """Well under a tenth of a second; a scan that goes quadratic on the 20,000
    escapes takes seconds. The bound leaves room for a busy machine."""
    import time

    line = "GET /a/?next=" + "%25" * 20_000 + "32 HTTP/1.1"
    start = time.perf_counter()
    redaction.redact(line)
    assert time.perf_counter() - start < 2.0
