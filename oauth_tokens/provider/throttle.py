"""Failed client authentications and unauthenticated revocations, counted in
Django's default cache (RFC 6749 section 2.3.1, OAuth 2.1: protect the token
endpoint against brute force).

A correct secret always authenticates: the counters are consulted only *after*
a secret turned out wrong, so nothing here can keep a working client out, and
nothing that a restart or a cache eviction loses decides whether it gets in.
Client ids are public and secrets are 256-bit random values, so the counters
are about cost and noise, not about making a guess feasible:

- per (client id, address) and per address: past ``CLIENT_AUTH_FAILURE_LIMIT``
  (resp. ``CLIENT_AUTH_ADDRESS_FAILURE_LIMIT``) failures inside
  ``CLIENT_AUTH_FAILURE_WINDOW`` seconds, a *wrong* secret from that address is
  answered 429 instead of 401, without an audit row per attempt;
- per client id (any address): reaching ``CLIENT_AUTH_FAILURE_LIMIT`` failures
  inside the window raises an alert (``client_auth.alert``), at most once per
  window. It never refuses anything.

Wrong user codes on the device verification page (RFC 8628 section 5.1) are
the other way round: a user code is short enough to guess, so once a user or
an address is past its budget every code typed is refused, right or wrong
(``user_code_blocked``), until the window passes; only wrong ones are counted
(``user_code_failure``). With the cache down the page keeps a per-session count
of its own (``device_page``). Device authorization requests themselves are
counted per address (``device_authorization_allowed``): each makes a row.

The cache is best effort (``sharedcache``): when it fails or does not answer
within ``CACHE_TIMEOUT``, the error is logged and the request is not throttled
(it fails open: a 401 or a 200, never a 500 and never a long wait). That is
safe because the secrets are not guessable; what is lost while the cache is
down is the 429 and the alert.

Dynamic registrations (RFC 7591) are counted per address the same way
(``registration_allowed``): past the budget, 429 until the window passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS
from django.core.cache.backends.base import BaseCache

from oauth_tokens import sharedcache
from oauth_tokens.settings import token_settings


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "replace")).hexdigest()


def _client_key(client_id: str) -> str:
    return "oauth_tokens:authfail:c:" + _hash(client_id)


def _pair_key(client_id: str, ip: str) -> str:
    return "oauth_tokens:authfail:ci:" + _hash(client_id, ip)


def _ip_key(ip: str) -> str:
    return "oauth_tokens:authfail:ip:" + ip


def _revocation_key(ip: str) -> str:
    return "oauth_tokens:revoke:ip:" + ip


#: The counters live in Django's default cache.
ALIAS = DEFAULT_CACHE_ALIAS


def _count(key: str, window: int) -> int | None:
    """Add one to the fixed-window counter ``key``; its new value, or None when
    the cache failed. The window starts at the first count (``add``) and is not
    extended by later ones (``incr`` keeps the expiry)."""

    def count(cache: BaseCache) -> int:
        try:
            return int(cache.incr(key))
        except ValueError:  # no counter yet (or it just expired)
            if cache.add(key, 1, timeout=window):
                return 1
            return int(cache.incr(key))  # another request created it meanwhile

    value = sharedcache.call(ALIAS, count, "throttle count")
    return None if value is sharedcache.FAILED else int(value)


@dataclass(frozen=True)
class Failure:
    """What one failed client authentication amounts to."""

    #: This address is past its budget: answer 429, do not audit the attempt.
    throttled: bool
    #: The client id's failures inside the window just reached the limit: alert
    #: with this count (once per counter window; None otherwise).
    alert_count: int | None


def failure(client_id: str | None, ip: str) -> Failure:
    """Count a failed client authentication from ``ip``. ``client_id`` only when it
    names a confidential client (a public client has no secret to guess, and
    counting unknown ids would let anyone fill the cache with them).

    Counted first, judged on the new values: ``incr`` is atomic in every cache
    backend, so under a burst of concurrent failures exactly ``limit`` of them
    get a 401 and exactly one reaches the alert."""
    limit = int(token_settings.CLIENT_AUTH_FAILURE_LIMIT)
    if limit <= 0:
        return Failure(False, None)
    address_limit = int(token_settings.CLIENT_AUTH_ADDRESS_FAILURE_LIMIT)
    window = int(token_settings.CLIENT_AUTH_FAILURE_WINDOW)
    throttled = False
    if ip and address_limit > 0:
        count = _count(_ip_key(ip), window)
        throttled = count is not None and count > address_limit
    if ip and client_id:
        count = _count(_pair_key(client_id, ip), window)
        throttled = throttled or (count is not None and count > limit)
    alert_count = None
    if client_id:
        count = _count(_client_key(client_id), window)
        alert_count = count if count == limit else None
    return Failure(throttled, alert_count)


def _user_code_budgets(user_key: str, ip: str) -> list[tuple[str, int]]:
    budgets = [("oauth_tokens:usercode:u:" + _hash(user_key), int(token_settings.DEVICE_USER_CODE_FAILURE_LIMIT))]
    if ip:
        budgets.append(("oauth_tokens:usercode:ip:" + ip, int(token_settings.DEVICE_USER_CODE_ADDRESS_FAILURE_LIMIT)))
    return [(key, limit) for key, limit in budgets if limit > 0]


def user_code_blocked(user_key: str, ip: str) -> bool:
    """True when the user (``user_key``) or ``ip`` typed as many wrong user codes
    as its limit inside the window; False too when the cache cannot say."""
    budgets = _user_code_budgets(user_key, ip)
    if not budgets:
        return False
    counts = sharedcache.call(ALIAS, lambda cache: cache.get_many([key for key, _ in budgets]), "user code check")
    if counts is sharedcache.FAILED:
        return False
    return any(int(counts.get(key) or 0) >= limit for key, limit in budgets)


def user_code_failure(user_key: str, ip: str) -> None:
    """Count one wrong user code for the user and the address."""
    window = int(token_settings.DEVICE_USER_CODE_FAILURE_WINDOW)
    for key, _limit in _user_code_budgets(user_key, ip):
        _count(key, window)


def device_authorization_allowed(ip: str) -> bool:
    """Count a device authorization request from ``ip``; False once it has sent
    ``DEVICE_AUTHORIZATION_ADDRESS_LIMIT`` of them inside the window. Each one
    makes a pending device code row, so their rate is bounded per address (True
    when the cache cannot say: the rows expire and ``cleartokens`` deletes them)."""
    limit = int(token_settings.DEVICE_AUTHORIZATION_ADDRESS_LIMIT)
    if limit <= 0 or not ip:
        return True
    count = _count("oauth_tokens:device:ip:" + ip, int(token_settings.DEVICE_AUTHORIZATION_WINDOW))
    return count is None or count <= limit


def revocation_allowed(ip: str) -> bool:
    """Count a revocation request that no confidential client authenticated; False
    once ``ip`` has sent ``UNAUTHENTICATED_REVOCATION_LIMIT`` of them inside the
    window. Every such revocation makes every process load the revoked ids again
    (incrementally), so their rate is bounded per address."""
    limit = int(token_settings.UNAUTHENTICATED_REVOCATION_LIMIT)
    if limit <= 0 or not ip:
        return True
    count = _count(_revocation_key(ip), int(token_settings.UNAUTHENTICATED_REVOCATION_WINDOW))
    return count is None or count <= limit


def registration_allowed(ip: str) -> bool:
    """Count a dynamic registration request (RFC 7591) from ``ip``; False once it has
    sent ``REGISTRATION_RATE_LIMIT`` of them inside ``REGISTRATION_RATE_WINDOW``.
    True too when the cache cannot count (registration then goes unthrottled: logged,
    never a 500)."""
    limit = int(token_settings.REGISTRATION_RATE_LIMIT)
    if limit <= 0 or not ip:
        return True
    count = _count("oauth_tokens:register:ip:" + ip, int(token_settings.REGISTRATION_RATE_WINDOW))
    return count is None or count <= limit
