"""Running the consumer's token writes outside the caller's transaction.

A refresh that rotates the refresh token must commit even when the caller's
transaction then rolls back: the provider has already spent the old refresh
token, so a rolled-back save loses the new one and with it the grant. The same
holds for a local revocation, which must not come back to life. Callers are
often inside ``atomic`` without knowing it (``ATOMIC_REQUESTS`` wraps every
view), and Django cannot commit part of a transaction. So when the caller's
connection is inside one, the work moves to a short-lived thread: a new thread
gets a database connection of its own, where the work commits by itself, and
its connections are closed when it ends. The caller waits for it (the refresh is
synchronous either way), then gets its result or its exception.

SQLite stays on the caller's connection: it has one writer at a time, so a
second connection would wait for the caller's write lock while the caller waits
for the thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections, transaction

from oauth_tokens.consumer.models import database

T = TypeVar("T")


def outside_caller_transaction(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)``, in a transaction of its own even when the caller is in one."""
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
