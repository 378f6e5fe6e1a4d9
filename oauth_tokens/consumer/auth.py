"""httpx integration: ``BearerAuth`` injects ``Authorization: Bearer`` (RFC 6750
section 2.1), refreshes before expiry, and on a 401 forces one single-flight
refresh and replays the request once, never more (seed 002 "Automatic Retry
Pattern"). ``http_client`` / ``ahttp_client`` return clients wired with it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from oauth_tokens.consumer import service, transport
from oauth_tokens.consumer.config import UnknownProvider
from oauth_tokens.settings import token_settings


class BearerAuth(httpx.Auth):
    """Bearer token of ``user`` at ``provider`` (client_credentials when user is None)."""

    requires_request_body = True  # the body is replayed after a 401

    def __init__(self, provider: str, user: Any = None) -> None:
        self.provider = provider
        self.user = user

    def __repr__(self) -> str:
        return f"<BearerAuth {self.provider} user={service.user_id_of(self.user)}>"

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = service.get_access_token(self.provider, self.user)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = service.refresh_access_token(self.provider, self.user, rejected=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await service.aget_access_token(self.provider, self.user)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await service.arefresh_access_token(self.provider, self.user, rejected=token)
            request.headers["Authorization"] = f"Bearer {token}"
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
