"""Revoking tokens, and the revocation state every process polls.

``changed()`` is called inside every transaction that revokes tokens
(``stores.revoke_family``, ``revoke_rows``, ``revoke_client``, ``revoke_user``).
It bumps the one-row ``RevocationState`` counter in that transaction, marks
this process's revocation list stale at once (the revoking process refuses the
token immediately), and after commit publishes the new version to the shared
cache. Other processes read the version at most once per
``REVOCATION_POLL_INTERVAL`` (from the cache when it is shared, else from the
database) and reload the revoked ids when it moved: no query per request,
revocation everywhere within the interval, with or without a shared cache.

The version is written to the cache before the commit as well as after it, and
each process records the *database* version alongside the ids it loaded, so a
process that dies right after committing cannot leave the others behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import router, transaction
from django.db.models import F

from oauth_tokens import signals
from oauth_tokens.provider import models
from oauth_tokens.provider.models import AccessToken, RefreshToken, RevocationState, RevokedToken, TokenEvent
from oauth_tokens.settings import token_settings

logger = logging.getLogger(__name__)

VERSION_CACHE_KEY = "oauth_tokens:revocation:version"
#: Bound on how long a lost cache write can hide a revocation from other processes.
VERSION_CACHE_TTL = 30

#: Callbacks run when this process revoked something (the local verifier's
#: revocation list registers its ``invalidate``).
_local_listeners: list[Callable[[], None]] = []


def on_local_change(callback: Callable[[], None]) -> None:
    _local_listeners.append(callback)


def _notify_local() -> None:
    for callback in list(_local_listeners):
        callback()


def shared_cache():
    """The cache holding the revocation version, or None when the database must be read
    (no cache configured, or one that each process keeps for itself)."""
    alias = token_settings.REVOCATION_CACHE
    if not alias:
        return None
    cache = caches[alias]
    if isinstance(cache, (LocMemCache, DummyCache)):
        return None
    return cache


def _db_version() -> int:
    row = RevocationState.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(row or 0)


def database_version() -> int:
    """The committed revocation version (what a reload of the revoked ids sees)."""
    return _db_version()


def _cache_call(method: str, *args: Any, **kwargs: Any) -> Any:
    """A call on the shared cache; None when there is none or it fails. The cache
    only makes the poll cheaper: when it is down, the database answers instead."""
    cache = shared_cache()
    if cache is None:
        return None
    try:
        return getattr(cache, method)(*args, **kwargs)
    except Exception:
        logger.warning("Revocation cache %r unavailable; reading the database", token_settings.REVOCATION_CACHE,
                       exc_info=True)
        return None


def current_version() -> int:
    """The revocation version: from the shared cache when there is one, else the database."""
    cached = _cache_call("get", VERSION_CACHE_KEY)
    if cached is not None:
        return int(cached)
    version = _db_version()
    _cache_call("add", VERSION_CACHE_KEY, version, timeout=VERSION_CACHE_TTL)
    return version


def revoked_ids() -> list[str]:
    """Ids of revoked access tokens that could still pass verification: unexpired, or
    expired less than ``JWT_LEEWAY`` ago (the verifier's clock-skew allowance)."""
    t = models.now() - timedelta(seconds=int(token_settings.JWT_LEEWAY))
    ids = list(
        AccessToken.objects.filter(revoked_at__isnull=False, expires_at__gt=t).values_list("jti", flat=True)
    )
    ids += RevokedToken.objects.filter(expires_at__gt=t).values_list("jti", flat=True)
    return ids


def changed() -> None:
    """Hook: tokens were revoked in the current transaction."""
    updated = RevocationState.objects.filter(pk=1).update(version=F("version") + 1, changed_at=models.now())
    if not updated:
        RevocationState.objects.get_or_create(pk=1)
        RevocationState.objects.filter(pk=1).update(version=F("version") + 1, changed_at=models.now())
    version = _db_version()
    # Now for this thread's next request (it sees its own transaction), and
    # again after commit for the other threads of this process.
    _notify_local()
    # Publish before commit too: a process that dies right after committing must
    # not leave the cache behind. Readers record the database version with the set
    # they load, so one that reloads before the commit reloads again after it.
    # A failed write is bounded by VERSION_CACHE_TTL, like a lost one.
    _cache_call("set", VERSION_CACHE_KEY, version, timeout=VERSION_CACHE_TTL)

    def publish() -> None:
        _cache_call("set", VERSION_CACHE_KEY, version, timeout=VERSION_CACHE_TTL)
        _notify_local()

    transaction.on_commit(publish)


def _atomic():
    return transaction.atomic(using=router.db_for_write(AccessToken))


def lock_rows(queryset) -> None:
    """Take the row locks of ``queryset`` in primary-key order before updating it.

    A rotation in flight holds its token's row; waiting for it here means the
    UPDATE that follows (a new statement) also sees the successor that rotation
    just committed, so no live token survives a revocation. A no-op on SQLite,
    whose IMMEDIATE transactions already serialize writers."""
    list(queryset.select_for_update().order_by("pk").values_list("pk", flat=True))


def revoke_rows(queryset) -> int:
    """Revoke the given access or refresh token rows (admin action, RFC 7009)."""
    with _atomic():
        lock_rows(queryset.filter(revoked_at__isnull=True))
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=models.now())
        if count:
            changed()
    return count


def revoke_client(client) -> int:
    """Revoke every live token of ``client`` (it was deactivated)."""
    with _atomic():
        count = revoke_rows(RefreshToken.objects.filter(client=client)) + revoke_rows(
            AccessToken.objects.filter(client=client)
        )
        if count:
            _record(TokenEvent.REVOKED, client=client, user=None, reason="client_deactivated")
    return count


def revoke_user(user: Any, *, reason: str) -> int:
    """Revoke every live token issued on behalf of ``user`` (deactivated, new password, logged out)."""
    with _atomic():
        count = revoke_rows(RefreshToken.objects.filter(user=user)) + revoke_rows(
            AccessToken.objects.filter(user=user)
        )
        if count:
            _record(TokenEvent.REVOKED, client=None, user=user, reason=reason)
    return count


def revoke_access_token(row: AccessToken, *, reason: str = "revoked", ip: str | None = None) -> None:
    with _atomic():
        if AccessToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=models.now()):
            changed()
            _record(TokenEvent.REVOKED, client=row.client, user=row.user, reason=reason, ip=ip, family=row.family)


def bury(queryset) -> int:
    """Keep the ids of the unexpired access tokens in ``queryset`` (revoked or not)
    refused after their rows are deleted (their user or client is being deleted)."""
    t = models.now()
    rows = list(queryset.filter(expires_at__gt=t).values_list("jti", "expires_at"))
    if not rows:
        return 0
    with _atomic():
        RevokedToken.objects.bulk_create(
            [RevokedToken(jti=jti, expires_at=exp) for jti, exp in rows], ignore_conflicts=True
        )
        changed()
    return len(rows)


def _record(kind: str, *, client, user, reason: str, ip: str | None = None, family=None) -> None:
    TokenEvent.objects.create(
        kind=kind, client=client, client_identifier=client.client_id if client else "",
        user=user, family=family, ip_address=ip, detail=reason,
    )
    transaction.on_commit(
        lambda: signals.token_revoked.send(sender=AccessToken, client=client, user=user, family=family, reason=reason)
    )
