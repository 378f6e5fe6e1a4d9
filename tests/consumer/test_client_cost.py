"""A client per request is cheap (issue: every ``http_client()`` cost about 60 ms
of CPU because httpx built a TLS context from the certifi bundle for each one,
even for http:// URLs; a client per request made 462-668 calls in 30 s where a
client per thread made 3,064-3,544). The clients of a process share one TLS
context and one keep-alive connection pool; ``bench.consumer_bench`` measures
the throughput of both patterns."""

import ssl
import threading
import time

import pytest

from oauth_tokens.consumer import ahttp_client, http_client, transport
from tests.consumer.fakes import KeepAliveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def keepalive():
    server = KeepAliveServer()
    yield server
    server.stop()


@pytest.fixture
def api(fake, register, keepalive):
    provider = fake()
    register(api=provider.config(api_base_url=keepalive.url))
    return keepalive


@pytest.fixture
def tls_contexts(monkeypatch):
    """How many TLS contexts were built (httpx and the consumer both call ssl.create_default_context)."""
    transport.reset()
    built = []
    original = ssl.create_default_context

    def counting(*args, **kwargs):
        built.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    yield built
    transport.reset()


def test_clients_share_one_tls_context(api, tls_contexts):
    for _ in range(20):
        with http_client("api"):
            pass
    assert len(tls_contexts) <= 1


def test_async_clients_share_it_too(api, tls_contexts):
    async def build():
        for _ in range(5):
            async with ahttp_client("api"):
                pass

    import asyncio

    asyncio.run(build())
    assert len(tls_contexts) <= 1


def test_a_client_costs_well_under_a_millisecond_of_cpu(api):
    with http_client("api"):
        pass  # the first one builds what is shared
    start = time.process_time()
    for _ in range(50):
        with http_client("api"):
            pass
    # Before: 20-60 ms each, so >= 1 s for 50. Now about 0.1 ms each; 0.5 s leaves room for a loaded machine.
    assert time.process_time() - start < 0.5


def test_a_client_per_request_reuses_one_kept_alive_connection(api):
    for _ in range(5):
        with http_client("api") as client:
            assert client.get("/v1/things").status_code == 200
    assert len(api.requests) == 5 and len(api.connections) == 1
    assert all(r["authorization"].startswith("Bearer at-") for r in api.requests)


def test_threads_with_a_client_per_request_share_the_pool(api):
    """16 threads x 10 requests, each request through a new client, all at once.
    (``auth=None``: the token's own concurrency is proven in test_concurrency; the
    test database here is SQLite in memory, which serialises threads.)"""
    http_client("api").close()
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def run():
        barrier.wait()
        for _ in range(10):
            with http_client("api") as client:
                statuses.append(client.get("/v1/things", auth=None).status_code)

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 160
    assert len(api.connections) <= 16  # connections are reused, never more than one per concurrent request


def test_options_that_change_connections_keep_a_transport_of_their_own(api):
    for _ in range(3):
        with http_client("api", verify=ssl.create_default_context()) as client:
            assert client.get("/v1/things").status_code == 200
    assert len(api.connections) == 3  # each client had its own pool, closed with it


def test_proxy_variables_are_honoured(api, monkeypatch):
    """With HTTP_PROXY set, requests go through the proxy, as httpx does by default."""
    proxy = KeepAliveServer()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with http_client("api") as client:
            assert client.get(api.url + "/v1/things").status_code == 200
        assert [r["path"] for r in proxy.requests] == [api.url + "/v1/things"]
    finally:
        proxy.stop()
