"""A client's refresh rate against its own baseline (the client side of the
``frequent_refresh`` anomaly).

Counts live in Django's default cache: one counter per client per clock hour
(UTC), kept 8 days. A process does not touch the cache at each rotation: it
adds its rotations up in memory and adds them to the cache counters at most
once every ``FLUSH_EVERY`` seconds (by the provider's clock), in one bounded
call (``sharedcache``), and judges the clients it counted then. So the
counters lag by at most that much per process, and the token endpoint pays an
in-memory addition per rotation.

The baseline is the client's hourly counts over the 7 days before the current
hour (``oauth2.anomaly.client_rate`` takes the median of the active hours), read
at most once per client per hour per process (one ``get_many``). Hours before
the client was first counted in this cache are unknown, not zero: after a
cache flush a baseline needs a day of history again (``MIN_BASELINE_HOURS``).
One anomaly per client per hour, across processes (an ``add`` on the cache).
With the cache down nothing is counted or raised; nothing fails.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime

from django.core.cache import DEFAULT_CACHE_ALIAS
from django.core.cache.backends.base import BaseCache

from oauth_tokens import process_caches, sharedcache
from oauth_tokens.oauth2 import anomaly
from oauth_tokens.provider import anomalies
from oauth_tokens.provider.models import Client

ALIAS = DEFAULT_CACHE_ALIAS
#: Seconds between two additions of a process's counts to the cache.
FLUSH_EVERY = 10
HISTORY_HOURS = 7 * 24
KEEP_SECONDS = (HISTORY_HOURS + 24) * 3600

_lock = threading.Lock()
_pending: defaultdict[tuple[int, int], int] = defaultdict(int)  # (client pk, hour) -> rotations not yet added
_clients: dict[int, Client] = {}
_flushed_at: list[float] = []  # when this process last added its counts (provider clock), if ever
#: client pk -> (hour, the previous hour's count, the counts of the known hours before it)
_baselines: dict[int, tuple[int, int, list[int]]] = {}


def _key(client_pk: int, hour: int) -> str:
    return f"oauth_tokens:anomaly:rate:{client_pk}:{hour}"


def _since_key(client_pk: int) -> str:
    return f"oauth_tokens:anomaly:rate:{client_pk}:since"


def _alert_key(client_pk: int, hour: int) -> str:
    return f"oauth_tokens:anomaly:rate:{client_pk}:alert:{hour}"


def watching() -> bool:
    config = anomalies.config()
    return config.rate_factor > 0 and config.actions[anomaly.FREQUENT_REFRESH] != anomaly.OFF


def count(client: Client, now: datetime) -> None:
    """One rotation of ``client`` at ``now``; every ``FLUSH_EVERY`` seconds the
    process's counts go to the cache and the clients they concern are judged."""
    if not watching():
        return
    at = now.timestamp()
    with _lock:
        _pending[(client.pk, int(at // 3600))] += 1
        _clients[client.pk] = client
        last = _flushed_at[0] if _flushed_at else None
        if last is not None and 0 <= at - last < FLUSH_EVERY:
            return
        pending, clients = dict(_pending), dict(_clients)
        _pending.clear()
        _clients.clear()
        _flushed_at[:] = [at]
    _flush(pending, clients, at)


def _flush(pending: dict[tuple[int, int], int], clients: dict[int, Client], at: float) -> None:
    hour = int(at // 3600)

    def add(cache: BaseCache) -> dict[int, int]:
        current: dict[int, int] = {}
        for (pk, bucket), n in pending.items():
            key = _key(pk, bucket)
            try:
                total = int(cache.incr(key, n))
            except ValueError:  # no counter yet (or it just expired)
                total = n if cache.add(key, n, timeout=KEEP_SECONDS) else int(cache.incr(key, n))
            cache.add(_since_key(pk), bucket, timeout=None)
            if bucket == hour:
                current[pk] = total
        return current

    totals = sharedcache.call(ALIAS, add, "refresh rate counters")
    if totals is sharedcache.FAILED:
        return
    for pk, total in totals.items():
        _judge(clients[pk], total, at)


def _baseline(client_pk: int, hour: int) -> tuple[int, list[int]] | None:
    """(the previous hour's count, the counts of the known hours before this one), once per hour."""
    known = _baselines.get(client_pk)
    if known is not None and known[0] == hour:
        return known[1], known[2]
    hours = range(hour - HISTORY_HOURS, hour)
    values = sharedcache.call(ALIAS, lambda cache: cache.get_many([_since_key(client_pk)] +
                                                                  [_key(client_pk, h) for h in hours]),
                              "refresh rate baseline")
    if values is sharedcache.FAILED:
        return None
    since = int(values.get(_since_key(client_pk), hour))
    history = [int(values.get(_key(client_pk, h), 0)) for h in hours if h >= since]
    previous = int(values.get(_key(client_pk, hour - 1), 0))
    _baselines[client_pk] = (hour, previous, history)
    return previous, history


def _judge(client: Client, current: int, at: float) -> None:
    hour = int(at // 3600)
    baseline = _baseline(client.pk, hour)
    if baseline is None:
        return
    previous, history = baseline
    config = anomalies.config()
    finding = anomaly.client_rate(current, previous, (at % 3600) / 3600, history,
                                  factor=config.rate_factor, floor=config.rate_floor)
    if finding is None:
        return
    first = sharedcache.call(ALIAS, lambda cache: cache.add(_alert_key(client.pk, hour), 1, timeout=7200),
                             "refresh rate alert")
    if first is True:
        anomalies.record(finding, client=client)


@process_caches.resets_on("OAUTH_TOKENS", "CACHES")
def reset() -> None:
    """Forget this process's pending counts and baselines (tests, settings changed)."""
    with _lock:
        _pending.clear()
        _clients.clear()
        _flushed_at.clear()
        _baselines.clear()
