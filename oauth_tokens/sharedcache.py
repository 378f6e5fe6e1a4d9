"""Calls on a shared cache (Redis, Memcached...) that can neither fail a request
nor stall it.

The package uses Django's cache only where it need not decide alone whether a
request succeeds: the revocation version (an accelerator for the poll: the
database is the truth, see ``provider.revocation_broadcast``), the throttles'
counters (``provider.throttle``: failed client authentications, registrations
and device flows per address), the anomaly counters (``provider.refresh_rate``,
``provider.failed_refreshes``), fetched documents and keys
(``provider.safe_fetch``), and the DPoP proofs seen at resources
(``dpop_http.CacheReplay``). So a cache that is down, refuses connections or
hangs must cost at most a short delay, never a 500:

- every call is bounded by ``CACHE_TIMEOUT`` seconds, whatever socket timeouts
  the project's ``CACHES`` entry sets (none by default with Django's
  ``RedisCache``, where a paused server blocks a call forever). The call runs in
  one of a few worker threads of the process and the request stops waiting for
  it at the deadline;
- a failed or timed-out call opens a circuit for ``CACHE_RETRY_AFTER`` seconds:
  in that time this process does not touch that cache at all (each caller gets
  its fallback at once) and then tries again.

Caches kept inside the process (local memory, dummy) cannot hang and are called
directly. Calls return ``FAILED`` instead of raising.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from oauth_tokens import process_caches
from oauth_tokens.settings import token_settings

logger = logging.getLogger(__name__)


class _Failed:
    def __repr__(self) -> str:
        return "FAILED"

    def __bool__(self) -> bool:
        return False


#: What a call returns when the cache failed, timed out, or its circuit is open.
FAILED: Any = _Failed()

_open_until: dict[str, float] = {}  # alias -> time.monotonic() until which it is not called


def is_local(alias: str) -> bool:
    """True for a cache each process keeps for itself (it cannot hang, nor be shared)."""
    return isinstance(caches[alias], LocMemCache | DummyCache)


def available(alias: str) -> bool:
    """False while the circuit of ``alias`` is open (it failed a moment ago)."""
    return time.monotonic() >= _open_until.get(alias, 0.0)


def call(alias: str, operation: Callable[[BaseCache], Any], what: str) -> Any:
    """``operation(caches[alias])`` (one or a few calls on the cache), or ``FAILED``
    (logged, naming ``what``) when it raised, did not finish within
    ``CACHE_TIMEOUT``, or the cache failed a moment ago."""
    if not available(alias):
        return FAILED
    if is_local(alias):
        try:
            return operation(caches[alias])
        except Exception:
            _failed(alias, what, "raised")
            return FAILED
    # This thread's instance (and so its connection pool, reused across requests),
    # lent to the helper thread while this one waits.
    cache = caches[alias]
    timeout = float(token_settings.CACHE_TIMEOUT)
    deadline = time.monotonic() + timeout
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def run() -> None:
        try:
            # A call that starts after the caller stopped waiting does nothing (no stale set).
            outcome.append((True, operation(cache) if time.monotonic() <= deadline else FAILED))
        except Exception as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    _workers().submit(run)
    if not done.wait(timeout):
        _failed(alias, what, f"did not answer within {timeout:g} s")
        return FAILED
    ok, value = outcome[0]
    if not ok:
        _failed(alias, what, "raised", value)
        return FAILED
    return value


class _Workers:
    """The threads that run shared-cache calls: started on demand (one more while
    calls wait and none is idle, up to ``MOST``) and kept, since starting a thread
    per call costs about ten times the call on a fast cache (DPoP's replay check
    calls it on every request). Daemon threads: one stuck on a hung connection
    never delays the process's exit; the circuit stops sending it work."""

    MOST = 8

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.started = self.idle = self.waiting = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self.lock:
            self.waiting += 1
            if self.waiting > self.idle and self.started < self.MOST:
                self.started += 1
                threading.Thread(target=self.work, name="oauth_tokens-cache", daemon=True).start()
        self.jobs.put(job)

    def work(self) -> None:
        while True:
            with self.lock:
                self.idle += 1
            job = self.jobs.get()
            with self.lock:
                self.idle -= 1
                self.waiting -= 1
            job()


_pool: _Workers | None = None
_pool_lock = threading.Lock()


def _workers() -> _Workers:
    """This process's workers; new ones in a child process (threads do not survive
    a fork, as under gunicorn's ``preload_app``)."""
    global _pool
    pool = _pool
    if pool is None or pool.pid != os.getpid():
        with _pool_lock:
            if _pool is None or _pool.pid != os.getpid():
                _pool = _Workers()
            pool = _pool
    return pool


def _failed(alias: str, what: str, how: str, exc: BaseException | None = None) -> None:
    retry = float(token_settings.CACHE_RETRY_AFTER)
    _open_until[alias] = time.monotonic() + retry
    # The exception may name the cache's address, never a value: keys are digests,
    # addresses and fixed names, and no secret is ever passed to the cache.
    logger.warning("Cache %r %s (%s); not using it for %g s", alias, how, what, retry,
                   exc_info=exc if exc is not None else how == "raised")


@process_caches.resets_on("CACHES")
def reset() -> None:
    """Close every circuit (tests, settings changed)."""
    _open_until.clear()

