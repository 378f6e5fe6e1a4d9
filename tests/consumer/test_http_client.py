"""http_client / ahttp_client: bearer injected, proactive refresh, and on a 401
exactly one forced refresh and one replay (never a loop)."""

import asyncio

import pytest

from oauth_tokens.consumer import (
    ReauthorizationRequired,
    aget_access_token,
    ahttp_client,
    arevoke,
    http_client,
)
from oauth_tokens.consumer.models import ExternalToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(fake, register):
    server = fake()
    register(api=server.config())
    return server


def api_calls(server):
    return [r for r in server.requests if r["path"] == "/api"]


def test_bearer_is_injected_and_body_sent(server, connected, alice):
    row = connected("api", server)
    with http_client("api", alice) as api:
        response = api.post("/api", json={"hello": "world"})
    assert response.status_code == 200 and response.json()["body"] == {"hello": "world"}
    [call] = api_calls(server)
    assert call["authorization"] == f"Bearer {row.access_token}"


def test_proactive_refresh_before_the_call(server, connected, alice, clock):
    row = connected("api", server)
    clock.advance(3500)
    with http_client("api", alice) as api:
        assert api.get("/api").status_code == 200
    assert len(server.token_requests) == 1 and len(api_calls(server)) == 1
    assert api_calls(server)[0]["authorization"] != f"Bearer {row.access_token}"


def test_401_refreshes_once_and_replays_the_request_once(server, connected, alice):
    row = connected("api", server)
    server.live_access.discard(row.access_token)  # revoked early by the provider
    with http_client("api", alice) as api:
        response = api.put("/api", json={"n": 1})
    assert response.status_code == 200 and response.json()["body"] == {"n": 1}
    first, replay = api_calls(server)
    assert first["authorization"] != replay["authorization"] and replay["params"] == {"n": 1}
    assert len(server.token_requests) == 1


def test_a_persistent_401_is_returned_not_looped(server, connected, alice):
    connected("api", server)
    server.api_status = 401
    with http_client("api", alice) as api:
        assert api.get("/api").status_code == 401
    assert len(api_calls(server)) == 2 and len(server.token_requests) == 1


def test_401_with_a_dead_refresh_token_raises_reauthorization(server, connected, alice):
    row = connected("api", server)
    server.live_access.discard(row.access_token)
    server.live_refresh.clear()
    with http_client("api", alice) as api, pytest.raises(ReauthorizationRequired) as caught:
        api.get("/api")
    assert caught.value.url == "/oauth/connect/api/"


def test_client_credentials_client(server):
    with http_client("api") as api:
        assert api.get("/api").status_code == 200
    assert [r["params"]["grant_type"] for r in server.token_requests] == ["client_credentials"]


def test_async_twins(server, connected, alice, clock):
    row = connected("api", server)
    server.live_access.discard(row.access_token)

    async def scenario():
        assert await aget_access_token("api", alice) == row.access_token
        async with ahttp_client("api", alice) as api:
            response = await api.get("/api")  # 401 -> refresh -> replay
        await arevoke("api", alice)
        return response

    response = asyncio.run(scenario())
    assert response.status_code == 200 and len(server.token_requests) == 1
    assert ExternalToken.objects.get(pk=row.pk).status == "revoked"
    assert len(server.revoked) == 2


def test_ahttp_client_construction_never_blocks_on_metadata_discovery(settings):
    # Nothing listens on port 9: a discovery attempt here would stall, retry and raise.
    settings.OAUTH_TOKENS = {
        **settings.OAUTH_TOKENS,
        "PROVIDERS": {
            "far": {
                "metadata_url": "http://127.0.0.1:9/.well-known/oauth-authorization-server",
                "client_id": "x",
                "client_secret": "y",
                "api_base_url": "https://api.far.test/",
            }
        },
    }

    async def build():
        async with ahttp_client("far") as http:
            return str(http.base_url)

    assert asyncio.run(build()) == "https://api.far.test/"


def test_http_client_for_an_unknown_provider_is_a_clear_error():
    from oauth_tokens.consumer.config import UnknownProvider

    with pytest.raises(UnknownProvider, match="nope"):
        http_client("nope")
