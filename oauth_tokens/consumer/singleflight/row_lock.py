"""Single-flight with a row lock, where the database has one (PostgreSQL,
MariaDB / MySQL, Oracle): ``SELECT ... FOR UPDATE`` on the token row. Waiters
block on the lock; once they have it, the row holds the token the winner
stored, which they use as is.
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, connections, transaction
from django.db.models import F

from oauth_tokens.consumer import provider_calls
from oauth_tokens.consumer.config import Provider
from oauth_tokens.consumer.exceptions import ConsumerError, ProviderError, ProviderUnavailable
from oauth_tokens.consumer.models import Credentials, ExternalToken, create_client_token_row, database, token_rows
from oauth_tokens.consumer.singleflight import outcomes
from oauth_tokens.consumer.singleflight.need import TokenNeed, dead_grant_reason


def obtain(need: TokenNeed) -> Credentials:
    """Lock the row, re-check it (a sibling may have refreshed while we waited for
    the lock) and use its token; else call the provider while holding the lock."""
    if need.user_id is None and not token_rows(need.provider.name, None).exists():
        # Created and committed before the row is locked, never in the locking
        # transaction: on MariaDB / MySQL the INSERTs of the workers that lose the
        # race leave them holding a shared lock on the new row until their
        # transaction ends, and two of them then asking for the exclusive lock
        # (SELECT ... FOR UPDATE) deadlock.
        create_client_token_row(need.provider.name)
    with transaction.atomic(using=database()):
        row = _lock_row(need)  # waits while a sibling refreshes
        token = need.token_to_use(row)  # re-checked under the lock: a sibling's fresh token will do
        if token is not None:
            return token
        outcome = _refresh(need, row)  # still needed: the one call to the provider
    if isinstance(outcome, ConsumerError):
        raise outcome  # after the commit: the row already says why
    return outcome


def set_lock_timeout(provider: Provider) -> None:
    """Wait for a row lock no longer than a sibling's provider call can take (PostgreSQL)."""
    connection = connections[database()]
    if connection.vendor == "postgresql":
        wait_ms = int((provider.call_budget() + 2) * 1000)
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {wait_ms}")


def _lock_row(need: TokenNeed) -> Any:
    """The row (or None), locked until the transaction ends."""
    set_lock_timeout(need.provider)
    try:
        return token_rows(need.provider.name, need.user_id).select_for_update().first()
    except OperationalError:
        raise ProviderUnavailable(need.provider.name, "another worker's refresh did not finish in time")


def _refresh(need: TokenNeed, row: ExternalToken) -> Credentials | ConsumerError:
    """Ask the provider and write what it answered, under the lock: the new access
    token, or the error to raise once the row's new state is committed."""
    qs = token_rows(need.provider.name, need.user_id).filter(pk=row.pk)
    reason = dead_grant_reason(row)
    if not reason:
        key = outcomes.grant_key(need.provider, row)
        try:
            response = outcomes.ask_provider(need.provider, row, key)
        except provider_calls.GrantRejected as exc:
            if row.user_id is None:
                raise ProviderError(need.provider.name, "invalid_grant", exc.description)
            reason = "invalid_grant"  # we hold the lock: nobody rotated it meanwhile
        except provider_calls.OutcomeUnknown as exc:
            columns, failure = outcomes.hold_off(need, exc)
            qs.update(**columns)
            return failure
        else:
            qs.update(version=F("version") + 1, **outcomes.refreshed_columns(row, response, need.provider, key))
            outcomes.announce_refreshed(row.pk)
            return outcomes.credentials(response, key)
    qs.update(version=F("version") + 1, **outcomes.reauth_columns(reason))  # the grant is dead
    return outcomes.reauthorization_required(need, row.pk, reason)
