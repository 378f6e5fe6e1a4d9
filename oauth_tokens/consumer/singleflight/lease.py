"""Single-flight with a lease, where the database has no row locks (SQLite): a
compare-and-swap on ``version`` (``UPDATE ... SET version = version + 1,
refreshing_until = ... WHERE version = v``) elects one worker. The others poll
the row until the winner saves, then use its token, or take over when the lease
expires (the winner died).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.db.models import F

from oauth_tokens.consumer import models, provider_calls
from oauth_tokens.consumer.exceptions import ProviderError, ProviderUnavailable
from oauth_tokens.consumer.models import Credentials, ExternalToken, create_client_token_row, token_rows
from oauth_tokens.consumer.singleflight import outcomes
from oauth_tokens.consumer.singleflight.need import TokenNeed, dead_grant_reason

logger = logging.getLogger("oauth_tokens.consumer")

#: How a waiting worker pauses between reads; tests patch ``lease.sleep``.
sleep = time.sleep
POLL_DELAYS = (0.01, 0.02, 0.05, 0.1, 0.2)


def obtain(need: TokenNeed) -> Credentials:
    """Re-check the row on every pass and use a sibling's fresh token; wait while a
    sibling holds the lease; else take the lease and call the provider."""
    name = need.provider.name
    lease = need.provider.call_budget() + 2
    deadline = time.monotonic() + lease + 2
    waits = 0
    while True:
        row = _read(need)
        token = need.token_to_use(row)  # re-checked on every pass: a sibling's fresh token will do
        if token is not None:
            return token
        if row.refreshing_until is not None and row.refreshing_until > models.now():  # a sibling is refreshing
            if time.monotonic() > deadline:
                raise ProviderUnavailable(name, "another worker's refresh did not finish in time")
            pause(waits)
            waits += 1
            continue
        unchanged = token_rows(name, need.user_id).filter(pk=row.pk, version=row.version)
        reason = dead_grant_reason(row)
        if reason:
            if unchanged.update(version=row.version + 1, **outcomes.reauth_columns(reason)):
                raise outcomes.reauthorization_required(need, row.pk, reason)
            continue
        # Compare-and-swap: only one worker moves the version from v to v + 1.
        if not unchanged.update(
            version=row.version + 1, refreshing_until=models.now() + timedelta(seconds=lease), last_error=""
        ):
            continue  # a sibling took the lease: wait for it
        token = _refresh_holding_the_lease(need, row)  # ours: the one call to the provider
        if token is not None:
            return token


def pause(waits: int) -> None:
    """One pause of a worker waiting for a sibling's refresh, longer each time."""
    sleep(POLL_DELAYS[min(waits, len(POLL_DELAYS) - 1)])


def _read(need: TokenNeed) -> Any:
    """The row (or None); the client_credentials row is created empty the first time."""
    rows = token_rows(need.provider.name, need.user_id)
    row = rows.first()
    if row is None and need.user_id is None:
        create_client_token_row(need.provider.name)
        row = rows.get()
    return row


def _refresh_holding_the_lease(need: TokenNeed, row: ExternalToken) -> Credentials | None:
    """Ask the provider and write what it answered, releasing the lease: the new
    access token, or None when a sibling's write came first (read the row again)."""
    name = need.provider.name
    this_row = token_rows(name, need.user_id).filter(pk=row.pk)
    held = this_row.filter(version=row.version + 1)
    try:
        key = outcomes.grant_key(need.provider, row)
        response = outcomes.ask_provider(need.provider, row, key)
        saved = held.update(version=row.version + 2, **outcomes.refreshed_columns(row, response, need.provider, key))
    except provider_calls.GrantRejected as exc:
        if row.user_id is None:
            held.update(version=row.version + 2, refreshing_until=None)
            raise ProviderError(name, "invalid_grant", exc.description)
        # Re-read: unless a sibling changed the row meanwhile, the refresh token is dead.
        if held.update(version=row.version + 2, **outcomes.reauth_columns("invalid_grant")):
            raise outcomes.reauthorization_required(need, row.pk, "invalid_grant")
        return None
    except provider_calls.OutcomeUnknown as exc:
        columns, failure = outcomes.hold_off(need, exc)
        held.update(version=row.version + 2, **columns)
        raise failure
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
        saved = this_row.filter(obtained_at=row.obtained_at).exclude(status=ExternalToken.REVOKED).update(
            version=F("version") + 1, **outcomes.refreshed_columns(row, response, need.provider, key)
        )
        logger.warning("%s: refresh lease expired before the provider answered; %s", name,
                       "saved the new pair" if saved else "a sibling stored a newer pair")
    if saved:
        outcomes.announce_refreshed(row.pk)
        return outcomes.credentials(response, key)
    return None
