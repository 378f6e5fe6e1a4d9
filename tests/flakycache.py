"""A shared cache whose faults a test switches on: the stand-in for a Redis that
goes down, hangs, or comes back holding what it held before.

``CACHES = {"x": {"BACKEND": "tests.flakycache.FlakyCache"}}``. Every instance
(every thread, every "process" of a test) shares one store, like a server; its
expiry clock is ``FlakyCache.now`` (seconds, advanced by the test), so a test can
let a TTL run out without sleeping. ``mode``: "up", "down" (every call raises, as
redis-py does on a refused connection) or "hang" (every call blocks for
``hang_seconds`` or until the mode changes, as on a paused server without socket
timeouts).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache


class FlakyCache(BaseCache):
    store: dict[str, tuple[Any, float]] = {}
    now = 0.0
    mode = "up"
    hang_seconds = 10.0  # far beyond any CACHE_TIMEOUT a test sets, so a wait cut short is told from the hang
    calls = 0
    lock = threading.Lock()

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    @classmethod
    def restore(cls) -> None:
        cls.store.clear()
        cls.now, cls.mode, cls.calls = 0.0, "up", 0

    def _enter(self) -> None:
        type(self).calls += 1
        if self.mode == "down":
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        if self.mode == "hang":
            until = time.monotonic() + self.hang_seconds
            while type(self).mode == "hang" and time.monotonic() < until:  # ends with restore()
                time.sleep(0.01)
            raise TimeoutError("Timeout reading from 127.0.0.1:6379")

    def _live(self, key: str) -> tuple[Any, float] | None:
        item = self.store.get(key)
        if item is not None and item[1] <= self.now:
            del self.store[key]
            return None
        return item

    def _expiry(self, timeout: Any) -> float:
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return float("inf") if timeout is None else self.now + int(timeout)

    def get(self, key, default=None, version=None):
        self._enter()
        with self.lock:
            item = self._live(self.make_key(key, version))
        return default if item is None else item[0]

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._enter()
        with self.lock:
            self.store[self.make_key(key, version)] = (value, self._expiry(timeout))

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._enter()
        with self.lock:
            key = self.make_key(key, version)
            if self._live(key) is not None:
                return False
            self.store[key] = (value, self._expiry(timeout))
            return True

    def incr(self, key, delta=1, version=None):
        self._enter()
        with self.lock:
            key = self.make_key(key, version)
            item = self._live(key)
            if item is None:
                raise ValueError("Key not found")
            self.store[key] = (item[0] + delta, item[1])
            return item[0] + delta

    def delete(self, key, version=None):
        self._enter()
        with self.lock:
            return self.store.pop(self.make_key(key, version), None) is not None

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        self._enter()
        with self.lock:
            key = self.make_key(key, version)
            item = self._live(key)
            if item is None:
                return False
            self.store[key] = (item[0], self._expiry(timeout))
            return True

    def clear(self):
        self._enter()
        with self.lock:
            self.store.clear()
