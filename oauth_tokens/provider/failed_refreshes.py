"""Refused refreshes: the ``refresh_failed`` audit events and the ``failed_refresh``
anomaly (a stolen token replayed, a client guessing, a deployment presenting
dead tokens in a loop).

Every ``invalid_grant`` answer to a refresh request (an unknown, expired,
revoked or reused refresh token, one issued to another client, a family past
its lifetime) is counted, in Django's default cache, per address (an IPv6
address by its /64), per client, and per family when the token is known, each
in a fixed window of ``ANOMALY_FAILED_REFRESH_WINDOW`` seconds. The failure
that takes a count past its limit (``ANOMALY_FAILED_REFRESH_LIMIT`` per address
and per family, ``ANOMALY_FAILED_REFRESH_CLIENT_LIMIT`` per client) is the
anomaly, once per window and count.

The audit row (client, family and user when the token is known, address, the
reason; never the token or its digest) is written while neither the address
nor the client is past its limit. Past it, only the counters move: a flood
from one address writes at most ``limit`` rows and one anomaly per window, a
flood in one client's name at most ``client limit`` rows, and one from ever
new addresses at most one anomaly row per ``limit`` requests. When the cache
is down nothing is counted, so every failure is audited (as failed client
authentications are) and no burst is raised.
"""

from __future__ import annotations

from django.core.cache import DEFAULT_CACHE_ALIAS
from django.core.cache.backends.base import BaseCache

from oauth_tokens import sharedcache
from oauth_tokens.oauth2 import anomaly
from oauth_tokens.provider import anomalies
from oauth_tokens.provider.models import Client, RefreshToken, TokenEvent
from oauth_tokens.settings import token_settings

ALIAS = DEFAULT_CACHE_ALIAS

#: The refresh grant's reasons (``InvalidGrant.reason``), as the audit row says them.
REASONS = {
    "unknown": "no such refresh token, or its user is inactive",
    "wrong_client": "the refresh token was issued to another client",
    "revoked": "the refresh token was revoked",
    "expired": "the refresh token has expired",
    "family_ended": "the grant reached its maximum lifetime",
    "reused": "a rotated refresh token was presented again",
    "dpop_key": "the refresh token is bound to another DPoP key",
}


def _count(keys: list[str], window: int) -> list[int] | None:
    """Add one to each fixed-window counter; their new values, or None when the cache failed."""

    def count(cache: BaseCache) -> list[int]:
        values = []
        for key in keys:
            try:
                values.append(int(cache.incr(key)))
            except ValueError:  # no counter yet (or it just expired)
                values.append(1 if cache.add(key, 1, timeout=window) else int(cache.incr(key)))
        return values

    values = sharedcache.call(ALIAS, count, "failed refresh counters")
    return None if values is sharedcache.FAILED else values


def record(client: Client, token: RefreshToken | None, reason: str, ip: str) -> None:
    """``client``'s refresh was refused for ``reason``; ``token`` is the row its
    refresh token named, if any (its family and user go on the record)."""
    if not anomalies.detecting():
        return
    window = int(token_settings.ANOMALY_FAILED_REFRESH_WINDOW)
    address = anomaly.address_bucket(ip)
    keys = [f"oauth_tokens:anomaly:fail:c:{client.pk}"]
    if address:
        keys.append(f"oauth_tokens:anomaly:fail:a:{address}")
    if token is not None:
        keys.append(f"oauth_tokens:anomaly:fail:f:{token.family.hex}")
    values = _count(keys, window)
    counts = dict(zip(keys, values, strict=True)) if values is not None else {}
    audit, finding = anomaly.failed_refreshes(
        anomaly.FailureCounts(
            client=counts.get(keys[0]),
            address=counts.get(f"oauth_tokens:anomaly:fail:a:{address}") if address else None,
            family=counts.get(keys[-1]) if token is not None else None,
        ),
        limit=int(token_settings.ANOMALY_FAILED_REFRESH_LIMIT),
        client_limit=int(token_settings.ANOMALY_FAILED_REFRESH_CLIENT_LIMIT),
        window=window, reason=reason,
    )
    if audit:
        TokenEvent.objects.create(
            kind=TokenEvent.REFRESH_FAILED, client=client, client_identifier=client.client_id,
            user_id=token.user_id if token is not None else None,
            family=token.family if token is not None else None,
            ip_address=ip or None, detail=f"{reason}: {REASONS.get(reason, 'refused')}",
        )
    if finding is not None:
        anomalies.record(finding, client=client, token=token, ip=ip)
