"""A logging filter that redacts bearer tokens, refresh tokens, client secrets,
codes and PKCE verifiers from log records (seed 003: "never expose tokens in
logs"). ``install()`` puts it on every configured handler and on the loggers
that see token traffic; the app does this at start-up unless
``OAUTH_TOKENS["CONSUMER_REDACT_LOGS"]`` is False.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_PATTERNS = [
    # Authorization: Bearer <token> / Basic <credentials>
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1\2" + REDACTED),
    # key=value, "key": "value", 'key': 'value' for sensitive keys
    (
        re.compile(
            r"""(?ix)\b(access_token|refresh_token|id_token|client_secret|code_verifier|code|token|password)
            (["']?\s*[:=]\s*["']?)
            [^\s"'&,;}\]]+"""
        ),
        r"\1\2" + REDACTED,
    ),
    # JWTs anywhere (three base64url segments starting with a JSON header)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
]
LOGGERS = ("oauth_tokens", "oauth_tokens.consumer", "httpx", "httpcore", "django.request", "django.server",
           "django.security")
#: Existing loggers under these names get the filter too (a logger's filters do not see its children's records).
PREFIXES = ("oauth_tokens.", "httpx.", "httpcore.", "django.security.")


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokensFilter(logging.Filter):
    """Rewrites the record's message (and formatted traceback) with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_filter = RedactTokensFilter()


def _add(target: logging.Filterer) -> None:
    if not any(isinstance(f, RedactTokensFilter) for f in target.filters):
        target.addFilter(_filter)


def install() -> None:
    """Add the filter to every handler configured now and to the token-related loggers."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in LOGGERS)]
    loggers += [obj for obj in logging.Logger.manager.loggerDict.values() if isinstance(obj, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            _add(handler)
    names = set(LOGGERS) | {name for name in logging.Logger.manager.loggerDict if name.startswith(PREFIXES)}
    for name in names:
        _add(logging.getLogger(name))
