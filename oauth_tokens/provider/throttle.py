"""Brute-force protection for client authentication (RFC 6749 section 2.3.1,
OAuth 2.1 makes it a MUST): failures are counted in Django's cache per client
id and per address; past the limit the endpoint answers 429 with Retry-After."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from oauth_tokens.oauth2.errors import TooManyRequests
from oauth_tokens.settings import token_settings


def _keys(client_id: str | None, ip: str) -> list[str]:
    keys = []
    if client_id:
        keys.append("oauth_tokens:authfail:c:" + hashlib.sha256(client_id.encode("utf-8", "replace")).hexdigest())
    if ip:
        keys.append("oauth_tokens:authfail:ip:" + ip)
    return keys


def check(client_id: str | None, ip: str) -> None:
    """Raise ``TooManyRequests`` while this client id or address is locked out."""
    limit = int(token_settings.CLIENT_AUTH_FAILURE_LIMIT)
    if limit <= 0:
        return
    counts = cache.get_many(_keys(client_id, ip))
    if any(int(v) >= limit for v in counts.values()):
        raise TooManyRequests(retry_after=int(token_settings.CLIENT_AUTH_FAILURE_WINDOW))


def record_failure(client_id: str | None, ip: str) -> None:
    window = int(token_settings.CLIENT_AUTH_FAILURE_WINDOW)
    for key in _keys(client_id, ip):
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)
