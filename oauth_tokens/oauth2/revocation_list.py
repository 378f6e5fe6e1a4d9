"""Which access tokens are revoked, known without a query per request.

Every process keeps the set of revoked-but-unexpired token ids (``jti``). It
asks a cheap *version* (a counter bumped by every revocation) at most once per
``interval`` seconds and reloads the set only when the version moved, so a
revocation made anywhere reaches this process within ``interval``.
``invalidate()`` forces a reload on the next check: the revoking process calls
it, so there the revocation takes effect immediately.

The version is read *before* the set, so a revocation that lands in between
is either in the loaded set or moves the version again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable

from oauth_tokens.oauth2.errors import TemporarilyUnavailable

_UNKNOWN = object()


class RevocationList:
    def __init__(
        self,
        *,
        version: Callable[[], Hashable],
        load: Callable[[], Iterable[str]],
        interval: Callable[[], float] | float,
        clock: Callable[[], float] = time.monotonic,
        authoritative_version: Callable[[], Hashable] | None = None,
    ) -> None:
        self._version_of = version
        # When ``version`` reads a copy (a shared cache) that may run ahead of what
        # ``load`` can see yet, this reads the source of truth to record with the set.
        self._authoritative_version = authoritative_version or version
        self._load = load
        self._interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._revoked: frozenset[str] = frozenset()
        self._version: object = _UNKNOWN
        self._next_check = 0.0
        self._wanted = 0  # bumped by invalidate()
        self._loaded = -1  # the ``_wanted`` value the current set satisfies
        self.reloads = 0
        self.polls = 0

    def is_revoked(self, jti: str) -> bool:
        if self._loaded != self._wanted or self.clock() >= self._next_check:
            self._refresh()
        return jti in self._revoked

    def invalidate(self) -> None:
        """Reload on the next check, whatever the version says."""
        self._wanted += 1

    def _refresh(self) -> None:
        with self._lock:
            wanted = self._wanted
            now = self.clock()
            if self._loaded == wanted and now < self._next_check:
                return  # another thread refreshed while we waited
            try:
                self.polls += 1
                version = self._version_of()
                if self._loaded != wanted or version != self._version:
                    recorded = version if self._authoritative_version is self._version_of else (
                        self._authoritative_version()
                    )
                    self._revoked = frozenset(self._load())
                    self._version = recorded
                    self.reloads += 1
            except Exception as exc:  # fail closed: no answer is better than a wrong one
                raise TemporarilyUnavailable("The revocation state cannot be read; retry shortly") from exc
            interval = self._interval() if callable(self._interval) else self._interval
            self._loaded = wanted
            self._next_check = now + float(interval)

    @property
    def revoked(self) -> frozenset[str]:
        return self._revoked
