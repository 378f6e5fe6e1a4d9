"""The token endpoint's flow (RFC 6749 section 3.2): authenticate, dispatch, issue.

``authenticate_client`` implements section 2.3 (``client_secret_basic``,
``client_secret_post``, and ``none`` for public clients) and, through the
``AssertionVerifier`` the web layer passes, ``private_key_jwt`` and
``client_secret_jwt`` (RFC 7523, ``client_assertion``). A client registered for
one method cannot authenticate with another: a JWT client with a secret, a
secret client with an assertion;
``create_token_response`` reads like the spec: find the grant by
``grant_type``, check the client may use it, validate, issue.
"""

from __future__ import annotations

from collections.abc import Callable

from oauth_tokens.oauth2 import client_assertion
from oauth_tokens.oauth2.client_assertion import AssertionVerifier
from oauth_tokens.oauth2.errors import (
    InvalidClient,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from oauth_tokens.oauth2.grants import GRANTS
from oauth_tokens.oauth2.request import ASSERTION, TokenRequest
from oauth_tokens.oauth2.store import ClientLookup, ClientT, CodeT, RefreshT, TokenSet, TokenStore

SUBJECT_KINDS = ("user", "client")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


def registered_methods(client: ClientT) -> tuple[str, ...]:
    """The client authentication methods ``client`` may use: the one it is registered
    for, or (none registered) a secret either way for a confidential client and
    ``none`` for a public one."""
    method = client.token_endpoint_auth_method
    if method:
        return (method,)
    return SECRET_METHODS if client.is_confidential else ("none",)


def authenticate_client(request: TokenRequest, store: ClientLookup[ClientT],
                        assertions: AssertionVerifier[ClientT] | None = None) -> ClientT:
    """The client this request authenticates as, or ``InvalidClient``. ``assertions``
    checks client assertions; without it they are refused."""
    creds = request.credentials
    if not creds.client_id:
        raise InvalidClient("Client authentication failed: no client_id", used_basic=creds.used_basic)
    client = store.get_client(creds.client_id)
    if client is None or not client.is_active:
        raise InvalidClient(used_basic=creds.used_basic)
    methods = registered_methods(client)
    jwt_method = next((m for m in methods if m in client_assertion.METHODS), None)
    if creds.method == ASSERTION:
        if jwt_method is None or assertions is None or creds.assertion is None:
            raise InvalidClient("This client does not authenticate with a client assertion")
        assertions.verify(client, creds.assertion)
        return client
    if jwt_method is not None:
        raise InvalidClient(f"This client authenticates with {jwt_method} (a client_assertion)",
                            used_basic=creds.used_basic)
    if client.is_confidential and creds.secret is not None and creds.method not in methods:
        raise InvalidClient(f"This client authenticates with {methods[0]}", used_basic=creds.used_basic)
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
