"""Client authentication at every endpoint that takes client credentials (token,
revocation, introspection), with the brute-force throttle and the audit trail
in one place (RFC 6749 section 2.3.1)."""

from __future__ import annotations

from oauth_tokens.oauth2.errors import InvalidClient
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.server import authenticate_client
from oauth_tokens.provider import throttle
from oauth_tokens.provider.models import Client, TokenEvent
from oauth_tokens.provider.stores import OrmTokenStore


def authenticate(request: TokenRequest, store: OrmTokenStore) -> Client:
    """The client ``request`` authenticates as, or ``InvalidClient`` (counted and audited)."""
    claimed_id, ip = request.credentials.client_id, request.client_ip
    trusted_since = throttle.check(claimed_id, ip)
    store.preload(request)
    try:
        client = authenticate_client(request, store)
    except InvalidClient:
        known = store.get_client(claimed_id) if claimed_id else None
        # Only a real confidential client's id is worth a lockout: a public client
        # has no secret to guess, and counting unknown ids would let anyone lock
        # out a public app for all its users.
        throttle.record_failure(claimed_id if known is not None and known.is_confidential else None, ip)
        TokenEvent.objects.create(
            kind=TokenEvent.AUTH_FAILED,
            client=known,
            # Never the claimed id when it names no client: it may be a mistyped secret.
            client_identifier=known.client_id if known is not None else "",
            ip_address=ip or None,
        )
        raise
    if client.is_confidential:
        throttle.record_success(client.client_id, ip, trusted_since)
    return client
