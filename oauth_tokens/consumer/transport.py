"""What every ``http_client()`` of a process shares: one TLS context and, where
that is safe, one connection pool.

httpx builds a new ``ssl.SSLContext`` for each client it creates (loading the
certifi bundle, which is slow: docs/architecture.md), even for ``http://`` URLs, so a client per
request (the pattern a view naturally uses) spent most of its time there. The
context is built once per process, lazily, exactly as httpx builds it for
``verify=True`` (``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else certifi); an
``SSLContext`` is safe to share between threads.

The connection pool (an ``httpx.HTTPTransport``, whose httpcore pool is
thread-safe) is shared by the sync clients of one process: a client per request
then reuses kept-alive connections instead of a TCP and TLS handshake each
time. Closing a client leaves the shared pool open. Clients given anything that
changes how they connect (``verify``, ``cert``, ``transport``, ``mounts``,
``proxy``, ``limits``, ``http1``, ``http2``, ``trust_env``), and every client
while proxy variables are set, get their own transport as before. Async
clients share only the TLS context (connections belong to one event loop).
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any
from urllib.request import getproxies

import httpx

#: Keyword arguments of ``httpx.Client`` that decide how it verifies TLS.
TLS_KWARGS = frozenset({"verify", "cert", "trust_env"})
#: ... and how it connects: any of these keeps the client on a transport of its own.
TRANSPORT_KWARGS = TLS_KWARGS | {"transport", "mounts", "proxy", "proxies", "limits", "http1", "http2", "app"}
#: Limits of the shared pool: no cap on open connections (as before, when every
#: client had its own pool), and up to this many idle ones kept alive.
KEEPALIVE_CONNECTIONS = 100

_lock = threading.Lock()
_context: ssl.SSLContext | None = None
_transports: dict[int, SharedTransport] = {}


def ssl_context() -> ssl.SSLContext:
    """The process's verifying TLS context, built on first use."""
    global _context
    context = _context
    if context is None:
        with _lock:
            if _context is None:
                _context = _build_context()
            context = _context
    return context


def _build_context() -> ssl.SSLContext:
    # The same choice httpx makes for verify=True with trust_env=True.
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class SharedTransport(httpx.BaseTransport):
    """One process-wide connection pool behind many clients; ``close()`` by a
    client is a no-op (the pool outlives it)."""

    def __init__(self) -> None:
        self.pool = httpx.HTTPTransport(
            verify=ssl_context(),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.pool.handle_request(request)

    def close(self) -> None:
        pass


def shared_transport() -> SharedTransport:
    """The pool of this process (a forked child gets its own: sockets are not shared across processes)."""
    pid = os.getpid()
    transport = _transports.get(pid)
    if transport is None:
        ssl_context()  # built first: it takes the same lock
        with _lock:
            transport = _transports.get(pid)
            if transport is None:
                transport = SharedTransport()
                _transports.clear()  # a parent's pool, inherited through fork: never used here
                _transports[pid] = transport
    return transport


def client_options(kwargs: dict[str, Any], *, pool: bool) -> dict[str, Any]:
    """``kwargs`` for ``httpx.Client`` / ``AsyncClient`` with the shared TLS context
    and, when ``pool`` and nothing in ``kwargs`` or the environment says otherwise,
    the shared transport."""
    if TLS_KWARGS.isdisjoint(kwargs):
        if pool and TRANSPORT_KWARGS.isdisjoint(kwargs) and not _proxies_configured():
            kwargs["transport"] = shared_transport()
        else:
            kwargs["verify"] = ssl_context()
    return kwargs


def _proxies_configured() -> bool:
    # What httpx reads for its environment proxies (NO_PROXY alone configures none).
    return any(scheme != "no" for scheme in getproxies())


def reset() -> None:
    """Forget the shared context and pools (tests that change SSL_CERT_FILE)."""
    global _context
    with _lock:
        for transport in _transports.values():
            transport.pool.close()
        _transports.clear()
        _context = None
