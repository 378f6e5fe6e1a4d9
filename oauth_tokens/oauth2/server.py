"""The token endpoint's flow (RFC 6749 section 3.2): authenticate, dispatch, issue.

``authenticate_client`` implements section 2.3 (``client_secret_basic``,
``client_secret_post``, and ``none`` for public clients);
``create_token_response`` reads like the spec: find the grant by
``grant_type``, check the client may use it, validate, issue.
"""

from __future__ import annotations

from collections.abc import Callable

from oauth_tokens.oauth2.errors import (
    InvalidClient,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from oauth_tokens.oauth2.grants import GRANTS
from oauth_tokens.oauth2.request import TokenRequest
from oauth_tokens.oauth2.store import ClientLookup, ClientT, CodeT, RefreshT, TokenSet, TokenStore

SUBJECT_KINDS = ("user", "client")


def authenticate_client(request: TokenRequest, store: ClientLookup[ClientT]) -> ClientT:
    """The client this request authenticates as, or ``InvalidClient``."""
    creds = request.credentials
    if not creds.client_id:
        raise InvalidClient("Client authentication failed: no client_id", used_basic=creds.used_basic)
    client = store.get_client(creds.client_id)
    if client is None or not client.is_active:
        raise InvalidClient(used_basic=creds.used_basic)
    if client.is_confidential:
        if creds.secret is None or not client.check_secret(creds.secret):
            raise InvalidClient(used_basic=creds.used_basic)
    elif creds.secret:
        # A public client has no secret; one that sends a secret is misconfigured.
        raise InvalidClient("Public clients must not send a client_secret", used_basic=creds.used_basic)
    return client


def create_token_response(
    request: TokenRequest,
    store: TokenStore[ClientT, CodeT, RefreshT],
    authenticate: Callable[[TokenRequest, TokenStore[ClientT, CodeT, RefreshT]], ClientT] = authenticate_client,
) -> tuple[ClientT, TokenSet]:
    if request.subject_kind is not None and request.subject_kind not in SUBJECT_KINDS:
        raise InvalidRequest(f"Unknown token type {request.subject_kind!r}; use 'user' or 'client'")
    grant_type = request.require("grant_type")
    grant_class = GRANTS.get(grant_type)
    if grant_class is None or not grant_class.available(store):
        raise UnsupportedGrantType(f"Unsupported grant_type {grant_type!r}")
    client = authenticate(request, store)
    if grant_type not in client.grant_type_list:
        raise UnauthorizedClient(f"This client may not use grant_type {grant_type}")
    grant = grant_class(request, client, store)
    grant.validate()
    return client, grant.issue()
