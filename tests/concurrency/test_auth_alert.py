"""Wrong secrets sent at once in a client's name, against a live server on
PostgreSQL or MariaDB: one alert, never a 5xx, and the right secret still works."""

import httpx
import pytest

from oauth_tokens.provider.models import TokenEvent
from tests.concurrency.conftest import fire_together
from tests.conftest import basic

pytestmark = [
    pytest.mark.server_db,
    pytest.mark.django_db(transaction=True),
]


def test_concurrent_failures_raise_exactly_one_alert(live_server, flow):
    responses = fire_together(
        live_server.url + "/oauth/token",
        {"grant_type": "client_credentials"},
        headers={"Authorization": basic(flow.client.client_id, "a wrong secret")},
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 10 + [429] * 10  # counted atomically: exactly the budget gets a 401
    assert TokenEvent.objects.filter(kind=TokenEvent.AUTH_FAILURES).count() == 1
    right = httpx.post(live_server.url + "/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": basic(flow.client.client_id, flow.client.secret)})
    assert right.status_code == 200, right.text
