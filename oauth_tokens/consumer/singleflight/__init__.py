"""Single-flight refresh: however many threads and processes ask at once, exactly
one refresh request reaches the provider (RFC 6749 section 6; seeds 000, 002).

The refresh happens under a lock on the token row, the row is checked again
once the lock is taken, and a fresh token a sibling worker stored meanwhile is
used instead of calling the provider again. Two interchangeable locks, chosen
by what the database can do:

* ``row_lock``: ``SELECT ... FOR UPDATE`` (PostgreSQL, MariaDB / MySQL, Oracle);
* ``lease``: a compare-and-swap on ``version`` (SQLite, which has no row locks).

``need`` says whether the stored row gives what the caller asked for;
``outcomes`` calls the provider and writes its answer. The new access token
and the rotated refresh token are written in one statement, so a crash before
it leaves the old pair in place. On ``invalid_grant`` the row is re-read (a
sibling may have rotated it); if it is unchanged it is marked ``needs_reauth``,
the tokens are cleared, and ``ReauthorizationRequired`` is raised after commit.
Either way the work commits on its own, even inside the caller's transaction
(``outside_transaction``).

A refresh whose answer was lost (``provider_calls.OutcomeUnknown``: it may have
rotated the refresh token at the provider) holds the refresh off for the
provider's ``refresh_hold_off``: ``refreshing_until`` is set that far ahead with
``last_error`` ``refresh_unconfirmed``, and until then every worker that needs a
refresh raises ``ProviderUnavailable`` without a request (a plain
``get_access_token`` still gets an access token that is due but not expired).
Then one worker, elected as above, presents the token once more: the replay a
rotating provider's grace window allows, where a stream of replays would be
reuse and revoke the grant.

A DPoP grant's refresh is proved with the grant's stored key (read with the
row, under the lock), whichever worker makes it (``outcomes.grant_key``).
"""

from __future__ import annotations

from django.db import connections

from oauth_tokens.consumer.models import Credentials, database
from oauth_tokens.consumer.outside_transaction import outside_caller_transaction
from oauth_tokens.consumer.singleflight import lease, row_lock
from oauth_tokens.consumer.singleflight.need import TokenNeed

__all__ = ["TokenNeed", "obtain"]


def obtain(need: TokenNeed) -> Credentials:
    """The slow path of ``get_access_token``: a token satisfying ``need`` (with the
    grant's DPoP key, for ``http_client``), refreshed
    at most once across workers. Each strategy takes its lock, re-checks the row,
    and uses a sibling's fresh token or else calls the provider once.

    Always commits on its own, even inside the caller's ``atomic`` block: a
    rollback would lose a rotated refresh token (``outside_caller_transaction``).
    """
    strategy = lease.obtain if connections[database()].vendor == "sqlite" else row_lock.obtain
    return outside_caller_transaction(strategy, need)
