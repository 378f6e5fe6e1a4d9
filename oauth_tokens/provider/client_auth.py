"""Client authentication at every endpoint that takes client credentials (token,
revocation, introspection, device authorization), with the brute-force throttle
and the audit trail in one place (RFC 6749 section 2.3.1). Client assertions
(``private_key_jwt``, ``client_secret_jwt``) are checked by
``client_assertions``; a bad one is counted and audited like a wrong secret.

The secret is checked first, always: a correct one authenticates whatever the
failure counters say (``throttle``). Only a wrong one consults them: within the
address's budget it is a 401 and an audit row, past it a 429 without one.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from oauth_tokens import signals
from oauth_tokens.oauth2.errors import InvalidClient, TooManyRequests
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import authenticate_client
from oauth_tokens.oauth2.store import ClientLookup
from oauth_tokens.provider import client_assertions, models, throttle
from oauth_tokens.provider.models import Client, TokenEvent
from oauth_tokens.settings import token_settings


class _Lookup:
    """``clients`` as ``authenticate_client`` sees it, keeping the row it found, so
    that a failure needs no second query to know whose id was claimed."""

    def __init__(self, clients: ClientLookup[Client]) -> None:
        self.clients = clients
        self.asked: str | None = None
        self.found: Client | None = None

    def get_client(self, client_id: str) -> Client | None:
        self.asked, self.found = client_id, self.clients.get_client(client_id)
        return self.found


def authenticate(request: TokenRequest, clients: ClientLookup[Client], *,
                 endpoint: tuple[str, str] = client_assertions.TOKEN_ENDPOINT) -> Client:
    """The client ``request`` authenticates as, or ``InvalidClient`` (counted and
    audited), or ``TooManyRequests`` (a wrong secret from an address past its budget).
    ``clients`` is where its row is found: the store, or what it read ahead.
    ``endpoint`` (URL name, path) is the one called: an assertion may name it as ``aud``."""
    claimed_id, ip = request.credentials.client_id, request.client_ip
    lookup = _Lookup(clients)
    try:
        return authenticate_client(request, lookup, client_assertions.AssertionVerifier(endpoint))
    except InvalidClient:
        known = lookup.found if claimed_id and lookup.asked == claimed_id else None
        # Only a real confidential client's id is counted as such: a public client
        # has no secret to guess, and unknown ids count for their address only.
        guessed = known if known is not None and known.is_confidential else None
        verdict = throttle.failure(guessed.client_id if guessed is not None else None, ip)
        if guessed is not None and verdict.alert_count is not None:
            alert(guessed, ip, verdict.alert_count)
        if verdict.throttled:
            raise TooManyRequests(retry_after=int(token_settings.CLIENT_AUTH_FAILURE_WINDOW)) from None
        TokenEvent.objects.create(
            kind=TokenEvent.AUTH_FAILED,
            client=known,
            # Never the claimed id when it names no client: it may be a mistyped secret.
            client_identifier=known.client_id if known is not None else "",
            ip_address=ip or None,
        )
        raise


def alert(client: Client, ip: str, count: int) -> None:
    """``client``'s id failed ``count`` times inside the window: one ``client_auth_failures``
    event and signal, unless one was already recorded for it inside the window (a
    restart or another process's cache counted the same attack)."""
    window = int(token_settings.CLIENT_AUTH_FAILURE_WINDOW)
    since = models.now() - timedelta(seconds=window)
    if TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES, client=client, created_at__gt=since).exists():
        return
    TokenEvent.objects.create(
        kind=TokenEvent.AUTH_FAILURES,
        client=client,
        client_identifier=client.client_id,
        ip_address=ip or None,
        detail=f"{count} failed client authentications within {window} s",
    )
    transaction.on_commit(
        lambda: signals.client_auth_failures.send(sender=Client, client=client, ip=ip or None, count=count,
                                                  window=window)
    )
