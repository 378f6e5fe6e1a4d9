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
