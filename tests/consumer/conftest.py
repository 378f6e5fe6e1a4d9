from datetime import timedelta

import pytest
from django.utils import timezone

from oauth_tokens.consumer import models, provider_calls, providers
from oauth_tokens.consumer.singleflight import lease
from tests.consumer.browser import CALLBACK
from tests.consumer.fakes import FakeProvider
from tests.factories import ClientFactory, UserFactory


@pytest.fixture(autouse=True)
def _consumer_state():
    providers.reset()
    yield
    providers.reset()


@pytest.fixture(autouse=True)
def pauses(monkeypatch):
    """Retries never sleep in tests: the backoff pauses are recorded instead."""
    recorded = []
    monkeypatch.setattr(provider_calls, "sleep", recorded.append)
    return recorded


@pytest.fixture
def register(settings):
    """register(name=config, ...): add providers to OAUTH_TOKENS["PROVIDERS"]."""

    def register(**entries):
        current = dict(settings.OAUTH_TOKENS)
        current["PROVIDERS"] = {**current.get("PROVIDERS", {}), **entries}
        settings.OAUTH_TOKENS = current

    return register


@pytest.fixture
def fake():
    """fake(**options) -> a started FakeProvider (stopped after the test)."""
    started = []

    def make(**options):
        server = FakeProvider(**options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


class Clock:
    """Moves the consumer's clock (``oauth_tokens.consumer.models.now``)."""

    def __init__(self, monkeypatch):
        self.offset = timedelta()
        monkeypatch.setattr(models, "now", lambda: timezone.now() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def connected(alice):
    """connected(provider_name, fake) -> store a fresh pair minted by ``fake`` for alice."""
    from oauth_tokens.consumer.service import store_tokens

    def connect(name, server, user=None):
        return store_tokens(name, user or alice, server.mint())

    return connect


@pytest.fixture
def poll_sleep(monkeypatch):
    """Replace the waiting worker's pause with a callback: poll_sleep(func)."""

    def install(func):
        monkeypatch.setattr(lease, "sleep", func)

    return install


@pytest.fixture
def remote(live_server, register, alice):
    """Our own provider on a live server, registered as the external provider "self"."""
    oauth_client = ClientFactory(redirect_uris=CALLBACK, scope="read write")
    register(self={
        "token_url": live_server.url + "/oauth/token",
        "authorize_url": live_server.url + "/oauth/authorize",
        "revoke_url": live_server.url + "/oauth/revoke",
        "client_id": oauth_client.client_id,
        "client_secret": oauth_client.secret,
        "scope": "read",
        "body_format": "json",
        "auth_method": "post",
        "redirect_uri": CALLBACK,
        "api_base_url": live_server.url,
    })
    return oauth_client
