"""How a revocation reaches every process: the revocation version, the log, the poll.

The revoking operations live in ``revocation``; this module is what each of
them calls inside its transaction, ``changed(revoked)``, and what the local
verifier polls (``current_version``, ``load_revoked``). ``changed`` bumps the
one-row ``RevocationState`` version in that transaction, then appends the
access tokens it revoked to the revocation log (``RevokedToken`` rows), hands
their ids to this process's revocation list at once, and after commit
publishes the new version to the shared cache. Other processes read the
version at most once per ``REVOCATION_POLL_INTERVAL`` (from the cache when it
is shared, else from the database) and, when it moved, load the log rows added
since the last one they hold (``load_revoked``): no query per request,
revocation everywhere within the interval, and a poll after one revocation
reads one row, not every revoked id.

Why the log's primary key is a cursor no revocation can slip under: the bump
takes the ``RevocationState`` row's lock (SQLite: the database's write lock)
and holds it until commit, and the log rows are inserted after it. Revoking
transactions therefore insert and commit one after the other, so a log row
with a smaller id than one a reader sees was committed before it; a
revocation that commits late (after a long lock wait) also gets its ids late.
Ids are never reused, not even after a rollback (sequences, AUTO_INCREMENT,
SQLite AUTOINCREMENT). Nothing may insert log rows without bumping first.

The version (with its ``changed_at``, so that a number reused after a rolled
back bump still reads as a change) is written to the cache before the commit as
well as after it, and each process records the *database* version alongside
what it loaded, so a process that dies right after committing cannot leave the
others behind.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import caches
from django.db import router, transaction
from django.db.models import F, Max, Min, QuerySet

from oauth_tokens import sharedcache
from oauth_tokens.oauth2.revocation_list import PROVISIONAL_SECONDS, Entry, Loaded
from oauth_tokens.provider import models
from oauth_tokens.provider.models import AccessToken, RevocationState, RevokedToken
from oauth_tokens.settings import token_settings

VERSION_CACHE_KEY = "oauth_tokens:revocation:version"

#: Callbacks run when this process revoked access tokens: ``callback(entries,
#: committed=...)`` (the local verifier's revocation list registers its ``add``).
_local_listeners: list[Callable[..., None]] = []


def on_local_change(callback: Callable[..., None]) -> None:
    _local_listeners.append(callback)


def _notify_local(entries: list[Entry], *, committed: bool) -> None:
    if not entries:
        return
    for callback in list(_local_listeners):
        callback(entries, committed=committed)


def shared_cache_alias() -> str | None:
    """The alias of the cache holding the revocation version, or None when the
    database must be read (no cache configured, or one that each process keeps for
    itself)."""
    alias = token_settings.REVOCATION_CACHE
    if not alias or sharedcache.is_local(alias):
        return None
    return str(alias)


def shared_cache():
    """The cache holding the revocation version, or None (see ``shared_cache_alias``)."""
    alias = shared_cache_alias()
    return caches[alias] if alias else None


def version_cache_ttl() -> int:
    """How long a version written to the cache lives: one poll interval, at least
    the cache's one-second granularity. A write that fails (cache down, slow, or
    the value evicted) leaves the previous version there at most this long, so
    every process honours a revocation within ``REVOCATION_POLL_INTERVAL`` plus
    this, whatever the cache does (two seconds by default); the cost is one
    one-row read of the database per TTL for the whole fleet."""
    return max(1, math.ceil(float(token_settings.REVOCATION_POLL_INTERVAL)))


def _db_version() -> tuple[int, str]:
    """The committed version stamp: the counter and when it last moved."""
    row = RevocationState.objects.filter(pk=1).values_list("version", "changed_at").first()
    if row is None:
        return (0, "")
    return (int(row[0]), row[1].isoformat() if row[1] is not None else "")


def database_version() -> tuple[int, str]:
    """The committed revocation version (what a load of the revoked ids sees)."""
    return _db_version()


def authoritative_version() -> tuple[int, str] | None:
    """The database's version when ``current_version`` read a shared cache, which may
    run ahead of the commit; None when there is none (it read the database itself)."""
    return _db_version() if shared_cache_alias() is not None else None


def _cache_call(method: str, *args: Any, **kwargs: Any) -> Any:
    """A call on the shared cache; None when there is none or it fails (bounded by
    ``CACHE_TIMEOUT``, see ``sharedcache``). The cache only makes the poll cheaper:
    when it is down, the database answers instead."""
    alias = shared_cache_alias()
    if alias is None:
        return None
    value = sharedcache.call(alias, lambda cache: getattr(cache, method)(*args, **kwargs),
                             f"revocation version {method}")
    return None if value is sharedcache.FAILED else value


def current_version() -> Any:
    """The revocation version: from the shared cache when there is one, else the database."""
    cached = _cache_call("get", VERSION_CACHE_KEY)
    if cached is not None:
        return tuple(cached) if isinstance(cached, list | tuple) else cached
    version = _db_version()
    _cache_call("add", VERSION_CACHE_KEY, version, timeout=version_cache_ttl())
    return version


def _leeway() -> timedelta:
    return timedelta(seconds=int(token_settings.JWT_LEEWAY))


def _entries(rows: Iterable[tuple[str, datetime]]) -> list[Entry]:
    """(jti, until when it matters): a revoked token could still pass verification
    until its ``exp`` plus ``JWT_LEEWAY`` (the verifier's clock-skew allowance)."""
    leeway = _leeway().total_seconds()
    return [(jti, exp.timestamp() + leeway) for jti, exp in rows]


def load_revoked(cursor: Any) -> Loaded:
    """The revoked ids added to the log after ``cursor`` (a log id), or all revoked,
    unexpired ids when ``cursor`` is None; with the cursor for the next call.

    The full load reads ids only (no datetime per row: on SQLite converting them
    cost far more than the load, see docs/architecture.md), kept as one set until the latest expiry among them.
    It also reads revoked access-token rows missing from the log: revocations
    recorded before the log existed, or by a process still running an earlier
    version during an upgrade (normally none: an anti-join, no rows to convert)."""
    t = models.now() - _leeway()
    # Ids this thread's open transaction revoked: its own uncommitted rows are
    # visible here, and must not stay in the list if it rolls back. They are
    # skipped, with the cursor kept below them (read again once committed).
    pending = _pending_here()
    if cursor is None:
        # The highest id first: every log row at or below it was committed before it
        # (see the module docstring), so the rows read next include them all.
        top = RevokedToken.objects.aggregate(top=Max("pk"))["top"] or 0
        ids = sorted(pending)
        for start in range(0, len(ids), 500):  # bounded IN lists (SQLite's variable limit)
            first = RevokedToken.objects.filter(jti__in=ids[start:start + 500]).aggregate(first=Min("pk"))["first"]
            top = min(top, first - 1) if first is not None else top
        logged = frozenset(RevokedToken.objects.filter(expires_at__gt=t).values_list("jti", flat=True)) - pending
        unlogged = AccessToken.objects.filter(revoked_at__isnull=False, expires_at__gt=t).exclude(
            jti__in=RevokedToken.objects.values("jti")
        )
        legacy = [jti for jti in unlogged.values_list("jti", flat=True) if jti not in pending]
        # Read after the ids, so it bounds every one of them (no expiry ever moves down).
        bounds = []
        if logged:
            bounds.append(RevokedToken.objects.aggregate(until=Max("expires_at"))["until"])
        if legacy:
            bounds.append(AccessToken.objects.filter(revoked_at__isnull=False).aggregate(
                until=Max("expires_at"))["until"])
        until = max((bound for bound in bounds if bound is not None), default=None)
        return Loaded(
            cursor=int(top),
            ids=logged.union(legacy),
            until=(until + _leeway()).timestamp() if until is not None else -math.inf,
        )
    since = int(cursor)
    rows = list(RevokedToken.objects.filter(pk__gt=since).order_by().values_list("pk", "jti", "expires_at"))
    top = max((pk for pk, _jti, _exp in rows), default=since)
    skipped = [pk for pk, jti, _exp in rows if jti in pending]
    if skipped:
        top = min(skipped) - 1
    return Loaded(cursor=top, entries=_entries((jti, exp) for _pk, jti, exp in rows if exp > t and jti not in pending))


#: Per thread: jti -> deadline (``time.monotonic``) of access tokens its open
#: transaction revoked. Cleared on commit; after a rollback (Django tells nobody)
#: they lapse with the revocation list's provisional entries.
_pending = threading.local()


def _pending_map() -> dict[str, float]:
    pending = getattr(_pending, "jtis", None)
    if pending is None:
        pending = _pending.jtis = {}
    return pending


def forget_pending() -> None:
    """Forget this thread's uncommitted revocations (a reset: tests, settings changed)."""
    _pending_map().clear()


def _pending_here() -> frozenset[str]:
    pending = _pending_map()
    if not pending:
        return frozenset()
    now = time.monotonic()
    for jti in [jti for jti, deadline in pending.items() if deadline <= now]:
        del pending[jti]
    return frozenset(pending)


Revoked = QuerySet[AccessToken] | Iterable[tuple[str, datetime]] | None


def changed(revoked: Revoked) -> None:
    """Hook: tokens were revoked in the current transaction.

    ``revoked`` names the access tokens it revoked: a queryset (its revoked,
    unexpired rows are logged; rows revoked earlier are harmless, the log keeps
    each id once), a list of ``(jti, expires_at)``, or None when only refresh
    tokens were revoked. Required, so that no caller forgets the log."""
    # One transaction for the bump and the log rows, whatever the caller did (no
    # savepoint, so no extra statement when the caller's transaction is open).
    with transaction.atomic(using=router.db_for_write(RevocationState), savepoint=False):
        updated = RevocationState.objects.filter(pk=1).update(version=F("version") + 1, changed_at=models.now())
        if not updated:
            RevocationState.objects.get_or_create(pk=1)
            RevocationState.objects.filter(pk=1).update(version=F("version") + 1, changed_at=models.now())
        # From here on this transaction holds the version row: the log rows below get
        # ids above every committed one, and below every later revocation's.
        version = _db_version()
        entries = _log(revoked)
    # This process refuses them at once (provisionally: the transaction may still
    # roll back), and for good after the commit.
    deadline = time.monotonic() + PROVISIONAL_SECONDS
    pending = _pending_map()
    pending.update((jti, deadline) for jti, _until in entries)
    _notify_local(entries, committed=False)
    # Publish before commit too: a process that dies right after committing must
    # not leave the cache behind. Readers record the database version with the rows
    # they load, so one that polls before the commit polls again after it.
    # A failed write is bounded by version_cache_ttl(), like a lost one.
    _cache_call("set", VERSION_CACHE_KEY, version, timeout=version_cache_ttl())

    def publish() -> None:
        for jti, _until in entries:
            pending.pop(jti, None)
        _cache_call("set", VERSION_CACHE_KEY, version, timeout=version_cache_ttl())
        _notify_local(entries, committed=True)

    transaction.on_commit(publish)


def _log(revoked: Revoked) -> list[Entry]:
    if revoked is None:
        return []
    t = models.now() - _leeway()
    if isinstance(revoked, QuerySet):
        rows = list(revoked.filter(revoked_at__isnull=False, expires_at__gt=t).values_list("jti", "expires_at"))
    else:
        rows = [(jti, exp) for jti, exp in revoked if exp > t]
    if rows:
        RevokedToken.objects.bulk_create(
            [RevokedToken(jti=jti, expires_at=exp) for jti, exp in rows], ignore_conflicts=True, batch_size=500
        )
    return _entries(rows)
