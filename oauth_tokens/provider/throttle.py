"""Brute-force protection for client authentication (RFC 6749 section 2.3.1,
OAuth 2.1 makes it a MUST): failures are counted in Django's cache per client
id and per address; past the limit the endpoint answers 429 with Retry-After.

A client id is public (it travels in authorization URLs), so anyone could lock
a confidential client out by sending bad secrets in its name. An address that
authenticated as that client successfully in the last week is therefore not
held back by the client-id lockout (its own address counter still applies).
Secrets are 256-bit random, so the lockout is about load and noise, not about
making a guess feasible.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache

from oauth_tokens.oauth2.errors import TooManyRequests
from oauth_tokens.settings import token_settings

#: How long an address that authenticated as a client stays exempt from that
#: client id's lockout, counted from its last successful authentication.
TRUSTED_ADDRESS_TTL = 7 * 24 * 3600
#: The exemption mark is rewritten at most this often (not on every request); it
#: is written to live TRUSTED_ADDRESS_TTL + TRUSTED_ADDRESS_RENEWAL, so it always
#: covers the full TTL after the last success.
TRUSTED_ADDRESS_RENEWAL = 24 * 3600


def _now() -> float:
    """The clock of the exemption marks; tests patch it."""
    return time.time()


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def _client_key(client_id: str) -> str:
    return "oauth_tokens:authfail:c:" + _hash(client_id)


def _ip_key(ip: str) -> str:
    return "oauth_tokens:authfail:ip:" + ip


def _trusted_key(client_id: str, ip: str) -> str:
    return "oauth_tokens:authok:" + _hash(client_id, ip)


def check(client_id: str | None, ip: str) -> float | None:
    """Raise ``TooManyRequests`` while this address, or this client id for an
    address not known to belong to the client, is locked out. Returns when this
    address last became trusted for this client id (for ``record_success``)."""
    limit = int(token_settings.CLIENT_AUTH_FAILURE_LIMIT)
    if limit <= 0:
        return None
    keys = ([_ip_key(ip)] if ip else []) + ([_client_key(client_id)] if client_id else [])
    if client_id and ip:
        keys.append(_trusted_key(client_id, ip))
    values = cache.get_many(keys)
    trusted_since = values.get(_trusted_key(client_id, ip)) if client_id and ip else None
    locked = ip and int(values.get(_ip_key(ip), 0)) >= limit
    if client_id and int(values.get(_client_key(client_id), 0)) >= limit:
        locked = locked or trusted_since is None
    if locked:
        raise TooManyRequests(retry_after=int(token_settings.CLIENT_AUTH_FAILURE_WINDOW))
    return trusted_since if isinstance(trusted_since, (int, float)) else None


def record_failure(client_id: str | None, ip: str) -> None:
    window = int(token_settings.CLIENT_AUTH_FAILURE_WINDOW)
    keys = ([_client_key(client_id)] if client_id else []) + ([_ip_key(ip)] if ip else [])
    for key in keys:
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)


def record_success(client_id: str, ip: str, trusted_since: float | None = None) -> None:
    """``ip`` authenticated as ``client_id``: exempt it from that client id's lockout.

    The mark is rewritten only when missing or older than a day, not on every
    request: with a shared cache that is one write (a Redis round trip) saved per
    token request. It lives a day longer than the TTL, so the exemption still
    lasts a full week after the last success.
    """
    if not ip or int(token_settings.CLIENT_AUTH_FAILURE_LIMIT) <= 0:
        return
    now = _now()
    if trusted_since is not None and now - trusted_since < TRUSTED_ADDRESS_RENEWAL:
        return
    cache.set(_trusted_key(client_id, ip), now, timeout=TRUSTED_ADDRESS_TTL + TRUSTED_ADDRESS_RENEWAL)
