"""httpx integration: ``BearerAuth`` injects ``Authorization: Bearer`` (RFC 6750
section 2.1), refreshes before expiry, and on a 401 forces one single-flight
refresh and replays the request once, never more (seed 002 "Automatic Retry
Pattern"). ``http_client`` / ``ahttp_client`` return clients wired with it.

For a DPoP grant (RFC 9449 section 7) the same class sends ``Authorization:
DPoP <token>`` and a new proof with every request, made with the grant's key
(``ath`` the token's hash, ``nonce`` the origin's latest). A 401 asking for a
nonce (``WWW-Authenticate: DPoP error="use_dpop_nonce"`` with ``DPoP-Nonce``)
is sent once more with a proof carrying it, without a refresh; once per
request: a second refusal is returned as is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from oauth_tokens.consumer import dpop, service, transport
from oauth_tokens.consumer.config import UnknownProvider
from oauth_tokens.consumer.models import Credentials
from oauth_tokens.settings import token_settings


def authorize(request: httpx.Request, found: Credentials) -> None:
    """Put ``found``'s token on ``request``: Bearer, or DPoP with a new proof."""
    if not found.is_dpop:
        request.headers["Authorization"] = f"Bearer {found.access_token}"
        request.headers.pop("DPoP", None)
        return
    url = str(request.url)
    key = dpop.load_key(found.dpop_key)
    request.headers["Authorization"] = f"DPoP {found.access_token}"
    request.headers["DPoP"] = key.proof(request.method, url, access_token=found.access_token,
                                        nonce=dpop.nonce_for(url))


def wants_nonce(request: httpx.Request, response: httpx.Response, found: Credentials) -> bool:
    """Remember the nonce ``response`` carries; whether it refused the proof for want of it."""
    if not found.is_dpop:
        return False
    dpop.remember_nonce(str(request.url), response)
    return dpop.asks_for_nonce(response, at_resource=True)


class BearerAuth(httpx.Auth):
    """The access token of ``user`` at ``provider`` (client_credentials when user is
    None): as a Bearer token, or as a DPoP token with proofs for a DPoP grant."""

    requires_request_body = True  # the body is replayed after a 401

    def __init__(self, provider: str, user: Any = None) -> None:
        self.provider = provider
        self.user = user

    def __repr__(self) -> str:
        return f"<BearerAuth {self.provider} user={service.user_id_of(self.user)}>"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        found = service.credentials(self.provider, self.user)
        authorize(request, found)
        response = yield request
        nonce_retried = wants_nonce(request, response, found)
        if nonce_retried:
            authorize(request, found)
            response = yield request
            wants_nonce(request, response, found)
        if response.status_code == 401 and not dpop.asks_for_nonce(response, at_resource=True):
            found = service.refreshed_credentials(self.provider, self.user, rejected=found.access_token)
            authorize(request, found)
            response = yield request
            if wants_nonce(request, response, found) and not nonce_retried:
                authorize(request, found)
                yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        found = await service.acredentials(self.provider, self.user)
        authorize(request, found)
        response = yield request
        nonce_retried = wants_nonce(request, response, found)
        if nonce_retried:
            authorize(request, found)
            response = yield request
            wants_nonce(request, response, found)
        if response.status_code == 401 and not dpop.asks_for_nonce(response, at_resource=True):
            found = await service.arefreshed_credentials(self.provider, self.user, rejected=found.access_token)
            authorize(request, found)
            response = yield request
            if wants_nonce(request, response, found) and not nonce_retried:
                authorize(request, found)
                yield request


def _options(provider: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    # Read the entry itself, not get_provider(): that may fetch the provider's
    # metadata, a blocking call that must not run inside ahttp_client's event loop.
    entries = token_settings.PROVIDERS
    if provider not in entries:
        raise UnknownProvider(f'No provider {provider!r} in OAUTH_TOKENS["PROVIDERS"].')
    base_url = entries[provider].get("api_base_url") if isinstance(entries[provider], dict) else None
    if base_url:
        kwargs.setdefault("base_url", base_url)
    kwargs.setdefault("timeout", httpx.Timeout(10.0))
    return kwargs


def http_client(provider: str, user: Any = None, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` that calls ``provider``'s APIs as ``user``. Extra
    keyword arguments go to ``httpx.Client``. Use it as a context manager.

    Cheap to make per request: the clients of a process share one TLS context
    and one connection pool (``oauth_tokens.consumer.transport``)."""
    options = transport.client_options(_options(provider, kwargs), pool=True)
    return httpx.Client(auth=BearerAuth(provider, user), **options)


def ahttp_client(provider: str, user: Any = None, **kwargs: Any) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of ``http_client`` for async views (shares
    the TLS context; connections stay per client, they belong to one event loop)."""
    options = transport.client_options(_options(provider, kwargs), pool=False)
    return httpx.AsyncClient(auth=BearerAuth(provider, user), **options)
