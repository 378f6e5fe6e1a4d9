"""Single-flight refresh: however many threads and processes ask at once, exactly
one refresh request reaches the provider (RFC 6749 section 6; seeds 000, 002).

Two interchangeable strategies, chosen by what the database can do:

* row lock (PostgreSQL, MySQL, Oracle): ``SELECT ... FOR UPDATE`` on the token
  row, re-check freshness, call the provider while holding the lock, save the
  rotated pair, commit. Waiters block on the lock, then find the fresh token.
* lease (SQLite, which has no row locks): a compare-and-swap on ``version``
  (``UPDATE ... SET version = version + 1, refreshing_until = ... WHERE
  version = v``) elects one worker; the others poll the row until the winner
  saves, or take over when the lease expires (the winner died).

Either way the new access token and the rotated refresh token are written in
one statement, so a crash before it leaves the old pair in place. On
``invalid_grant`` the row is re-read (a sibling may have rotated it); if it is
unchanged it is marked ``needs_reauth``, the tokens are cleared, and
``ReauthorizationRequired`` is raised after commit.

A refresh whose answer was lost (``provider_calls.OutcomeUnknown``: it may have rotated
the refresh token at the provider) holds the refresh off for the provider's
``refresh_hold_off``: ``refreshing_until`` is set that far ahead with
``last_error`` ``refresh_unconfirmed``, and until then every worker that needs a
refresh raises ``ProviderUnavailable`` without a request (a plain
``get_access_token`` still gets an access token that is due but not expired).
Then one worker, elected as above, presents the token once more: the replay a
rotating provider's grace window allows, where a stream of replays would be
reuse and revoke the grant.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import F

from oauth_tokens import crypto, signals
from oauth_tokens.consumer import models, provider_calls
from oauth_tokens.consumer.config import Provider
from oauth_tokens.consumer.exceptions import (
    ConsumerError,
    NotConnected,
    ProviderError,
    ProviderUnavailable,
    ReauthorizationRequired,
)
from oauth_tokens.consumer.models import ExternalToken

logger = logging.getLogger("oauth_tokens.consumer")

#: How a waiting worker pauses between reads; tests patch ``singleflight.sleep``.
sleep = time.sleep
POLL_DELAYS = (0.01, 0.02, 0.05, 0.1, 0.2)
T = TypeVar("T")


def connect_url(provider: str) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("oauth_tokens_consumer:connect", kwargs={"provider": provider})
    except NoReverseMatch:
        return ""


def database() -> str:
    return router.db_for_write(ExternalToken)


def rows(provider: str, user_id: Any) -> Any:
    return ExternalToken.objects.using(database()).filter(provider=provider, user_id=user_id)


class Request:
    """What the caller needs: a token usable for ``horizon`` seconds (None: the
    provider's leeway), a new one (``force``), or one other than ``rejected``
    (the token a resource server just answered 401 to)."""

    def __init__(self, provider: Provider, user_id: Any, *, horizon: float | None = None,
                 force: bool = False, rejected: str | None = None) -> None:
        self.provider = provider
        self.user_id = user_id
        self.horizon = horizon
        self.force = force
        self.rejected = rejected

    def usable(self, row: ExternalToken) -> bool:
        if row.status != ExternalToken.ACTIVE or not row.access_token:
            return False
        if self.force:
            return False
        if self.rejected is not None:
            return not crypto.constant_time_equals(row.access_token, self.rejected)
        if self.horizon is not None:
            expires = row.expiry(self.provider.assumed_lifetime)
            return expires is None or expires > models.now() + timedelta(seconds=self.horizon)
        return row.is_fresh(self.provider.refresh_leeway, assumed=self.provider.assumed_lifetime)

    def valid_meanwhile(self, row: ExternalToken) -> bool:
        """While the refresh is held off: a plain ``get_access_token`` (not forced, not
        after a 401, no horizon) may have the stored access token until it expires."""
        if self.force or self.rejected is not None or self.horizon is not None:
            return False
        if row.status != ExternalToken.ACTIVE or not row.access_token:
            return False
        expires = row.expiry(self.provider.assumed_lifetime)
        return expires is None or expires > models.now()

    def check(self, row: ExternalToken | None) -> str | None:
        """The token to use as is, None when a refresh is needed, or raise."""
        name = self.provider.name
        if row is None:
            raise NotConnected(name, url=connect_url(name))
        if self.usable(row):
            return row.access_token
        if row.user_id is not None:
            if row.status == ExternalToken.REVOKED:
                raise NotConnected(name, url=connect_url(name), reason="revoked")
            if row.status == ExternalToken.NEEDS_REAUTH:
                raise ReauthorizationRequired(name, url=connect_url(name), reason=row.last_error or "invalid_grant")
            wait = row.hold_off_left()
            if wait:
                if self.valid_meanwhile(row):
                    return row.access_token
                raise ProviderUnavailable(
                    name, f"refresh held off for {wait:.1f} s more: the answer to the last refresh was lost and "
                    "may have rotated the refresh token, which is presented again once, after the hold-off",
                    retry_after=wait)
        return None

    def dead_reason(self, row: ExternalToken) -> str:
        """Why a user's token cannot be refreshed without asking the provider, or ""."""
        if row.user_id is None:
            return ""
        if not row.refresh_token:
            return "no_refresh_token"
        if row.refresh_expires_at is not None and row.refresh_expires_at <= models.now():
            return "refresh_expired"
        return ""

    def call(self, row: ExternalToken) -> provider_calls.TokenResponse:
        if row.user_id is None:
            return provider_calls.client_credentials(self.provider)
        return provider_calls.refresh(self.provider, row.refresh_token)


def new_values(row: ExternalToken, response: provider_calls.TokenResponse, provider: Provider) -> dict[str, Any]:
    """The columns a successful token response writes (one UPDATE: one transaction)."""
    at = models.now()
    lifetime = response.expires_in
    if lifetime is None and (row.renewable or response.refresh_token) and provider.assumed_lifetime:
        lifetime = int(provider.assumed_lifetime)  # no expires_in: assumed, so it is refreshed in time
    values: dict[str, Any] = {
        "access_token": response.access_token,
        "token_type": response.token_type,
        "obtained_at": at,
        "expires_at": at + timedelta(seconds=lifetime) if lifetime is not None else None,
        "status": ExternalToken.ACTIVE,
        "last_error": "",
        "refreshing_until": None,
        "refresh_count": F("refresh_count") + 1,
        "updated_at": at,
    }
    if response.scope is not None:
        values["scope"] = response.scope
    if row.user_id is not None and response.refresh_token:
        # RFC 6749 section 6: a new refresh token replaces the old one; without one, keep the old.
        values["refresh_token"] = response.refresh_token
        values["refresh_expires_at"] = (
            at + timedelta(seconds=response.refresh_expires_in) if response.refresh_expires_in else None
        )
    return values


def reauth_values(reason: str) -> dict[str, Any]:
    return {
        "status": ExternalToken.NEEDS_REAUTH,
        "access_token": "",
        "refresh_token": "",
        "last_error": reason,
        "refreshing_until": None,
        "updated_at": models.now(),
    }


def unconfirmed(request: Request, exc: provider_calls.OutcomeUnknown) -> tuple[dict[str, Any], ProviderUnavailable]:
    """After a refresh whose answer was lost: the columns that hold the refresh off
    for ``refresh_hold_off`` seconds, and the error to raise."""
    hold = float(request.provider.refresh_hold_off)
    if not hold:
        return {"refreshing_until": None}, exc
    at = models.now()
    logger.warning("%s: the answer to a refresh for user %s was lost (%s); refresh held off for %g s",
                   request.provider.name, request.user_id, exc.detail, hold)
    values = {"refreshing_until": at + timedelta(seconds=hold), "last_error": ExternalToken.REFRESH_UNCONFIRMED,
              "updated_at": at}
    return values, ProviderUnavailable(
        request.provider.name, f"{exc.detail}; the refresh may have reached the provider: held off for {hold:g} s, "
        "then the refresh token is presented once more", retry_after=hold)


def send_after_commit(signal: Any, row_pk: int, **kwargs: Any) -> None:
    def send() -> None:
        if signal.has_listeners(ExternalToken):
            row = ExternalToken.objects.using(database()).select_related("user").filter(pk=row_pk).first()
            if row is not None:
                signal.send(sender=ExternalToken, provider=row.provider, user=row.user, token=row, **kwargs)

    transaction.on_commit(send, using=database())


def _refreshed(row_pk: int) -> None:
    send_after_commit(signals.token_refreshed, row_pk)


def _reauth(request: Request, row_pk: int, reason: str) -> ReauthorizationRequired:
    url = connect_url(request.provider.name)
    logger.warning("%s: stored token for user %s needs re-authorization (%s)",
                   request.provider.name, request.user_id, reason)
    send_after_commit(signals.reauthorization_required, row_pk, url=url)
    return ReauthorizationRequired(request.provider.name, url=url, reason=reason)


def _create_client_token_row(request: Request) -> None:
    """The client_credentials row, created empty, unless a sibling was first."""
    try:
        with transaction.atomic(using=database()):
            ExternalToken.objects.using(database()).create(provider=request.provider.name, user=None)
    except IntegrityError:
        pass  # a sibling created it first


def _client_token_row(request: Request) -> ExternalToken:
    """The client_credentials row, created empty the first time (lease strategy)."""
    qs = rows(request.provider.name, None)
    row = qs.first()
    if row is None:
        _create_client_token_row(request)
        row = qs.get()
    return row


def obtain(request: Request) -> str:
    """The slow path: a token satisfying ``request``, refreshed at most once across workers.

    Always runs in a transaction of its own: inside the caller's ``atomic`` block
    (e.g. ``ATOMIC_REQUESTS``) a rollback would lose a rotated refresh token, so
    the work moves to a short-lived thread with its own connection (SQLite, with
    one writer at a time, stays on the caller's connection).
    """
    connection = connections[database()]
    # SELECT ... FOR UPDATE where the database has it (every supported one but SQLite).
    run = _obtain_leased if connection.vendor == "sqlite" else _obtain_locked
    return outside_caller_transaction(run, request)


def outside_caller_transaction(func: Callable[..., T], *args: Any) -> T:
    connection = connections[database()]
    if transaction.get_autocommit(using=connection.alias) or connection.vendor == "sqlite":
        return func(*args)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func(*args)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=target, name="oauth-tokens-refresh", daemon=True)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def set_lock_timeout(request: Request) -> None:
    connection = connections[database()]
    if connection.vendor == "postgresql":
        wait_ms = int((request.provider.call_budget() + 2) * 1000)
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {wait_ms}")


def _obtain_locked(request: Request) -> str:
    failure: ConsumerError | None = None
    if request.user_id is None and not rows(request.provider.name, None).exists():
        # Created and committed before the row is locked, never in the locking
        # transaction: on MariaDB / MySQL the INSERTs of the workers that lose the
        # race leave them holding a shared lock on the new row until their
        # transaction ends, and two of them then asking for the exclusive lock
        # (SELECT ... FOR UPDATE) deadlock.
        _create_client_token_row(request)
    with transaction.atomic(using=database()):
        set_lock_timeout(request)
        try:
            row = rows(request.provider.name, request.user_id).select_for_update().first()
        except OperationalError:
            raise ProviderUnavailable(request.provider.name, "another worker's refresh did not finish in time")
        token = request.check(row)
        if token is not None:
            return token
        qs = rows(request.provider.name, request.user_id).filter(pk=row.pk)
        reason = request.dead_reason(row)
        if not reason:
            try:
                response = request.call(row)
            except provider_calls.GrantRejected as exc:
                if row.user_id is None:
                    raise ProviderError(request.provider.name, "invalid_grant", exc.description)
                reason = "invalid_grant"  # we hold the lock: nobody rotated it meanwhile
            except provider_calls.OutcomeUnknown as exc:
                values, failure = unconfirmed(request, exc)
                qs.update(**values)  # committed before the error is raised
            else:
                qs.update(version=F("version") + 1, **new_values(row, response, request.provider))
                _refreshed(row.pk)
                return response.access_token
        if failure is None:  # the grant is dead
            qs.update(version=F("version") + 1, **reauth_values(reason))
            failure = _reauth(request, row.pk, reason)
    raise failure


def _obtain_leased(request: Request) -> str:
    name = request.provider.name
    lease = request.provider.call_budget() + 2
    deadline = time.monotonic() + lease + 2
    waits = 0
    while True:
        if request.user_id is None:
            row = _client_token_row(request)
        else:
            row = rows(name, request.user_id).first()
        token = request.check(row)
        if token is not None:
            return token
        qs = rows(name, request.user_id).filter(pk=row.pk)
        if row.refreshing_until is not None and row.refreshing_until > models.now():
            if time.monotonic() > deadline:
                raise ProviderUnavailable(name, "another worker's refresh did not finish in time")
            sleep(POLL_DELAYS[min(waits, len(POLL_DELAYS) - 1)])
            waits += 1
            continue
        reason = request.dead_reason(row)
        if reason:
            if qs.filter(version=row.version).update(version=row.version + 1, **reauth_values(reason)):
                raise _reauth(request, row.pk, reason)
            continue
        # Compare-and-swap: only one worker moves the version from v to v + 1.
        if not qs.filter(version=row.version).update(
            version=row.version + 1, refreshing_until=models.now() + timedelta(seconds=lease), last_error=""
        ):
            continue
        held = qs.filter(version=row.version + 1)
        try:
            response = request.call(row)
            saved = held.update(version=row.version + 2, **new_values(row, response, request.provider))
        except provider_calls.GrantRejected as exc:
            if row.user_id is None:
                held.update(version=row.version + 2, refreshing_until=None)
                raise ProviderError(name, "invalid_grant", exc.description)
            # Re-read: unless a sibling changed the row meanwhile, the refresh token is dead.
            if held.update(version=row.version + 2, **reauth_values("invalid_grant")):
                raise _reauth(request, row.pk, "invalid_grant")
            continue
        except provider_calls.OutcomeUnknown as exc:
            values, error = unconfirmed(request, exc)
            held.update(version=row.version + 2, **values)
            raise error
        except BaseException:
            held.update(version=row.version + 2, refreshing_until=None)
            raise
        if not saved:
            # The lease expired while the provider was answering (a slow DNS lookup, a
            # paused process) and a sibling took over with the same refresh token. The
            # provider has rotated it for us, so our pair is the newest one unless
            # somebody stored another pair since we read the row (a sibling's successful
            # refresh or a reconnect change ``obtained_at``; a revocation wins): without
            # this, a rotating provider's invalid_grant to the sibling would kill the grant.
            saved = qs.filter(obtained_at=row.obtained_at).exclude(status=ExternalToken.REVOKED).update(
                version=F("version") + 1, **new_values(row, response, request.provider)
            )
            logger.warning("%s: refresh lease expired before the provider answered; %s", name,
                           "saved the new pair" if saved else "a sibling stored a newer pair")
        if saved:
            _refreshed(row.pk)
            return response.access_token

