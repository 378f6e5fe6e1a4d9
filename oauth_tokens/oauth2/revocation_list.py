"""Which access tokens are revoked, known without a query per request.

Every process keeps the revoked-but-unexpired token ids (``jti``), each with the
time until which it matters (its ``exp`` plus the verifiers' leeway). It asks a
cheap *version* (changed by every revocation) at most once per ``interval`` and,
when the version moved, loads only the ids revoked since the *cursor* it holds
(``load(cursor)``; ``load(None)`` is the full load a process starts with). So a
revocation made anywhere reaches this process within ``interval``, and costs it
the rows that changed, not the whole set.

Nobody waits for a poll they do not need. The set loaded from a version read at
time ``v`` is good for every request that starts before ``v + interval`` (a
revocation committed after ``v`` need only be honoured from ``v + interval``
on). A request in the last ``EARLY`` share of that span starts the next poll
while the others keep answering from the current set; one poll runs at a time.
Only a request that finds the set past its span (no request came during the
early share) waits for the poll, because the interval's promise needs its
result. The first load, and a load after ``invalidate()``, are waited for.

``add()`` puts ids this process revoked into the set at once, without a load:
``provisional=True`` for a transaction not yet committed (the entries lapse
after ``PROVISIONAL_SECONDS`` unless added again for good, so a rolled-back
revocation does not stay), then for good after the commit.

The version is read *before* the rows, so a revocation that lands in between
is either in the loaded rows or moves the version again.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from oauth_tokens.oauth2.errors import TemporarilyUnavailable

logger = logging.getLogger(__name__)

#: One revoked token: its ``jti`` and the Unix time after which it no longer
#: matters (the token's ``exp`` plus the verifiers' leeway).
Entry = tuple[str, float]


@dataclass(frozen=True)
class Loaded:
    """What one load found: the cursor to pass next time, and the revoked ids,
    either each with its own time (``entries``) or, cheaper for the many ids of a
    full load, as one set that matters until ``until`` (a bound on all of them)."""

    cursor: Hashable
    entries: Sequence[Entry] = ()
    ids: frozenset[str] = frozenset()
    until: float = math.inf


#: ``load(cursor)``: what was revoked since ``cursor``; everything for None.
Loader = Callable[[Hashable | None], Loaded]

#: Share of the interval, at its end, during which a request starts the next poll.
EARLY = 0.1
#: How long a provisional entry (a revocation not yet committed) counts.
PROVISIONAL_SECONDS = 60.0
#: Expired entries are dropped at most this often (wall-clock seconds).
PRUNE_EVERY = 60.0

_UNKNOWN = object()


class RevocationList:
    def __init__(
        self,
        *,
        version: Callable[[], Hashable],
        load: Loader,
        interval: Callable[[], float] | float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        authoritative_version: Callable[[], Hashable | None] | None = None,
    ) -> None:
        self._version_of = version
        # When ``version`` reads a copy (a shared cache) that may run ahead of what
        # ``load`` can see yet, this reads the source of truth to record with the
        # rows; it returns None when ``version`` just read the source itself.
        self._authoritative_version = authoritative_version
        self._load = load
        self._interval = interval
        self.clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._revoked: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []  # heap of (keep until, jti)
        self._bulk: frozenset[str] = frozenset()  # a full load's ids, all kept until _bulk_until
        self._bulk_until = math.inf
        self._provisional: dict[str, float] = {}  # jti -> clock() deadline
        self._version: object = _UNKNOWN
        self._cursor: Hashable | None = None
        self._fresh_until = -math.inf  # clock(): the current rows are good until then
        self._poll_from = -math.inf  # clock(): from then on a request starts the next poll
        self._next_prune = -math.inf
        self._wanted = 0  # bumped by invalidate()
        self._loaded = -1  # the ``_wanted`` value the current rows satisfy
        #: Counters, for tests and benchmarks.
        self.polls = 0
        self.reloads = 0
        self.full_reloads = 0
        self.rows_loaded = 0

    # -- reading --------------------------------------------------------------
    def is_revoked(self, jti: str) -> bool:
        now = self.clock()
        if self._loaded != self._wanted or now >= self._fresh_until:
            self._refresh(wait=True)
        elif now >= self._poll_from:
            self._refresh(wait=False)
        if jti in self._revoked or jti in self._bulk:
            return True
        deadline = self._provisional.get(jti)
        return deadline is not None and self.clock() < deadline

    @property
    def revoked(self) -> frozenset[str]:
        return self._bulk | frozenset(self._revoked)

    def __len__(self) -> int:
        return len(self.revoked)

    # -- writing --------------------------------------------------------------
    def invalidate(self) -> None:
        """Load everything again on the next check (settings or keys changed)."""
        self._wanted += 1

    def add(self, entries: Iterable[Entry], *, provisional: bool = False) -> None:
        """Ids this process revoked: refused from now on, without waiting for a poll."""
        entries = list(entries)
        with self._lock:
            if provisional:
                deadline = self.clock() + PROVISIONAL_SECONDS
                for jti, _keep_until in entries:
                    self._provisional[jti] = deadline
                return
            for jti, keep_until in entries:
                _keep(self._revoked, self._expiry, jti, keep_until)
                self._provisional.pop(jti, None)

    # -- polling --------------------------------------------------------------
    def _refresh(self, *, wait: bool) -> None:
        if not self._lock.acquire(blocking=wait):
            return  # another thread is polling, and the current rows are still good
        try:
            now = self.clock()
            wanted = self._wanted
            if self._loaded == wanted and now < (self._fresh_until if wait else self._poll_from):
                return  # another thread polled while we waited
            try:
                self._poll(full=self._loaded != wanted)
            except Exception as exc:
                if self._loaded == wanted and now < self._fresh_until:
                    # An early poll: the current rows still answer; the next request retries.
                    logger.warning("Revocation poll failed; answering from the current list", exc_info=True)
                    return
                # Fail closed: no answer is better than a wrong one.
                raise TemporarilyUnavailable("The revocation state cannot be read; retry shortly") from exc
            interval = float(self._interval() if callable(self._interval) else self._interval)
            self._loaded = wanted
            self._fresh_until = now + interval
            self._poll_from = now + interval * (1 - EARLY)
        finally:
            self._lock.release()

    def _poll(self, *, full: bool) -> None:
        self.polls += 1
        version = self._version_of()
        if full or version != self._version:
            recorded = self._authoritative_version() if self._authoritative_version is not None else None
            if recorded is None:
                recorded = version
            if full:
                loaded = self._load(None)
                revoked: dict[str, float] = {}
                expiry: list[tuple[float, str]] = []
                for jti, keep_until in loaded.entries:
                    _keep(revoked, expiry, jti, keep_until)
                # The new bulk set first: a reader between the assignments sees every
                # id of the new load, plus the old entries.
                self._bulk, self._bulk_until = loaded.ids, loaded.until
                self._revoked, self._expiry = revoked, expiry
                self.full_reloads += 1
            else:
                loaded = self._load(self._cursor)
                for jti in loaded.ids:
                    _keep(self._revoked, self._expiry, jti, loaded.until)
                for jti, keep_until in loaded.entries:
                    _keep(self._revoked, self._expiry, jti, keep_until)
            self.rows_loaded += len(loaded.ids) + len(loaded.entries)
            self._cursor = loaded.cursor
            self._version = recorded
            self.reloads += 1
        self._prune()

    def _prune(self) -> None:
        """Drop what can no longer pass verification anyway: ids past their time,
        provisional entries past their deadline."""
        now = self.wall_clock()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        while self._expiry and self._expiry[0][0] < now:
            keep_until, jti = heapq.heappop(self._expiry)
            if self._revoked.get(jti) == keep_until:
                del self._revoked[jti]
        if self._bulk and self._bulk_until < now:
            self._bulk = frozenset()
        deadline = self.clock()
        for jti in [j for j, until in self._provisional.items() if until <= deadline]:
            self._provisional.pop(jti, None)


def _keep(revoked: dict[str, float], expiry: list[tuple[float, str]], jti: str, keep_until: float) -> None:
    """Add ``jti`` to ``revoked`` (and its time to the ``expiry`` heap), unless it is
    already there for at least as long."""
    if revoked.get(jti, -math.inf) < keep_until:
        revoked[jti] = keep_until
        heapq.heappush(expiry, (keep_until, jti))
