"""A logging filter that redacts bearer tokens, refresh tokens, client secrets,
codes and PKCE verifiers from log records (seed 003: "never expose tokens in
logs"). ``install()`` puts it on every configured handler and on the loggers
that see token traffic; the app does this at start-up unless
``OAUTH_TOKENS["CONSUMER_REDACT_LOGS"]`` is False.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

REDACTED = "[redacted]"
_PATTERNS = [
    # Authorization: Bearer <token> / Basic <credentials> (also "Bearer+<token>", form-encoded)
    (re.compile(r"(?i)\b(bearer|basic)(\s+|\+)[A-Za-z0-9\-._~+/]+=*"), r"\1\2" + REDACTED),
    # Authorization: DPoP <token> (RFC 9449 section 7.1): a token, not a word of a sentence about DPoP
    (re.compile(r"(?i)\b(dpop)(\s+|\+)[A-Za-z0-9\-._~+/]{16,}=*"), r"\1\2" + REDACTED),
    # A private key in PEM (a DPoP key is only ever handled in memory; belt and braces)
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"), REDACTED),
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


#: A percent-escape (RFC 3986 section 2.1).
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
#: Decoding rounds tried (a ``next`` inside a ``next`` is encoded twice, and so on).
MAX_DECODINGS = 8
#: What is left encoded after MAX_DECODINGS rounds: a word that still holds an escaped "%".
_STILL_ENCODED = re.compile(r"[^\s\"'&,;=?]*%25[^\s\"'&,;]*")


def _redact_plain(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _decoded(text: str) -> tuple[str, bool]:
    """``text`` percent-decoded until nothing changes (at most MAX_DECODINGS times),
    and whether it was fully decoded."""
    for _ in range(MAX_DECODINGS):
        decoded = unquote(text)
        if decoded == text:
            return text, True
        text = decoded
    return text, unquote(text) == text


def redact(text: str) -> str:
    """``text`` with secrets replaced by ``[redacted]``. Percent-encoded secrets
    (``next=/oauth/connect/x/callback/%3Fcode%3D...``, encoded once or several
    times) are found in the decoded text; when that text had any, the decoded
    text is returned, redacted. Text without secrets is returned unchanged."""
    redacted = _redact_plain(text)
    if not _ESCAPE.search(redacted):
        return redacted
    decoded, complete = _decoded(redacted)
    cleaned = _redact_plain(decoded)
    if not complete:  # encoded more than MAX_DECODINGS times: drop what is still encoded
        cleaned = _STILL_ENCODED.sub(REDACTED, cleaned)
    return cleaned if cleaned != decoded or not complete else redacted


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
