"""The device code grant under concurrent polls, over real HTTP on PostgreSQL or
MariaDB (RFC 8628 section 3.5): N polls released together."""

from collections import Counter

import pytest

from oauth_tokens.provider.models import AccessToken, DeviceCode
from tests.concurrency.conftest import N, fire_together
from tests.factories import PublicClientFactory, UserFactory
from tests.provider.device import ENABLED, GRANT, form_post

pytestmark = [
    pytest.mark.server_db,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def device(live_server, settings, client):
    settings.OAUTH_TOKENS = ENABLED
    tv = PublicClientFactory(grant_types=f"{GRANT} refresh_token", redirect_uris="", scope="read")
    started = form_post(client, "/oauth/device_authorization", {}, client=tv).json()
    poll = {"grant_type": GRANT, "device_code": started["device_code"], "client_id": tv.client_id}
    return started, poll


def test_concurrent_polls_after_approval_give_exactly_one_token_response(live_server, client, device):
    started, poll = device
    client.force_login(UserFactory())
    assert client.post("/oauth/device", {"user_code": started["user_code"], "allow": "1"}).status_code == 200
    responses = fire_together(live_server.url + "/oauth/token", poll)
    assert Counter(r.status_code for r in responses) == {200: 1, 400: N - 1}, [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    assert AccessToken.objects.count() == 1
    assert DeviceCode.objects.get().status == DeviceCode.USED


def test_concurrent_polls_while_pending_are_one_pending_and_the_rest_slow_down(live_server, device):
    _started, poll = device
    responses = fire_together(live_server.url + "/oauth/token", poll)
    assert Counter(r.json()["error"] for r in responses) == {"authorization_pending": 1, "slow_down": N - 1}
