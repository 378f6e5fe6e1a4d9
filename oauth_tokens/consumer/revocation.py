"""Local half of revocation: mark the row revoked and clear its tokens once no
refresh is in flight, so a freshly rotated pair is never left alive behind our
back. The RFC 7009 calls to the provider happen afterwards (``service.revoke``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connections, transaction
from django.db.models import F

from oauth_tokens import signals
from oauth_tokens.consumer import models
from oauth_tokens.consumer.config import Provider
from oauth_tokens.consumer.exceptions import TokenDecryptionError
from oauth_tokens.consumer.models import ExternalToken, database, token_rows
from oauth_tokens.consumer.outside_transaction import outside_caller_transaction
from oauth_tokens.consumer.singleflight import lease
from oauth_tokens.consumer.singleflight.outcomes import send_after_commit
from oauth_tokens.consumer.singleflight.row_lock import set_lock_timeout


def revoke_locally(provider: Provider, user_id: Any) -> ExternalToken | None:
    """Mark the row revoked and clear its tokens, after any refresh in flight has
    finished (so a rotated pair is never left alive behind our back). Returns the
    row as it was (tokens in memory only, for RFC 7009 calls), or None."""
    return outside_caller_transaction(_revoke_locally, provider, user_id)


logger = logging.getLogger("oauth_tokens.consumer")
TOKENS = ("access_token", "refresh_token", "dpop_key")


def _read(qs: Any) -> ExternalToken | None:
    """The row with its tokens, or with empty ones when they cannot be decrypted (a
    removed key): it can still be revoked locally, just not at the provider."""
    row = qs.defer(*TOKENS).first()
    if row is not None:
        try:
            row.access_token, row.refresh_token, row.dpop_key = qs.filter(pk=row.pk).values_list(*TOKENS).get()
        except TokenDecryptionError:
            logger.error("%s: the stored tokens of user %s cannot be decrypted; revoked locally only",
                         row.provider, row.user_id)
            row.access_token = row.refresh_token = row.dpop_key = ""
    return row


def _revoked_values() -> dict[str, Any]:
    return {
        "status": ExternalToken.REVOKED,
        "access_token": "",
        "refresh_token": "",
        "dpop_key": "",
        "dpop_jkt": "",
        "expires_at": None,
        "refresh_expires_at": None,
        "refreshing_until": None,
        "last_error": "",
        "updated_at": models.now(),
    }


def _revoke_locally(provider: Provider, user_id: Any) -> ExternalToken | None:
    if connections[database()].vendor != "sqlite":  # SELECT ... FOR UPDATE where the database has it
        with transaction.atomic(using=database()):
            set_lock_timeout(provider)
            row = _read(token_rows(provider.name, user_id).select_for_update())
            if row is None:
                return None
            token_rows(provider.name, user_id).filter(pk=row.pk).update(version=F("version") + 1, **_revoked_values())
            send_after_commit(signals.token_revoked, row.pk)
            return row
    deadline = time.monotonic() + provider.call_budget() + 4
    waits = 0
    while True:
        row = _read(token_rows(provider.name, user_id))
        if row is None:
            return None
        leased = row.refreshing_until is not None and row.refreshing_until > models.now() and not row.hold_off_left()
        if leased and time.monotonic() < deadline:  # a sibling's refresh: wait for it (a hold-off: no need)
            lease.pause(waits)
            waits += 1
            continue
        qs = token_rows(provider.name, user_id).filter(pk=row.pk, version=row.version)
        if qs.update(version=row.version + 1, **_revoked_values()):
            send_after_commit(signals.token_revoked, row.pk)
            return row
