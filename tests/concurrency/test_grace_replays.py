"""The grace-replay cap holds under real concurrency, on PostgreSQL and MariaDB.

20 threads released together by a barrier replay one rotated refresh token
against a live server: exactly as many get the successor pair as
REFRESH_TOKEN_GRACE_REPLAYS allows (a conditional UPDATE on the replay
counter), the others are reuse (the family is revoked), and nothing answers 5xx.
"""

import httpx
import pytest

from oauth_tokens import crypto
from oauth_tokens.provider.models import AccessToken, RefreshToken, TokenEvent
from tests.concurrency.conftest import N, fire_together
from tests.conftest import basic

pytestmark = [
    pytest.mark.server_db,
    pytest.mark.django_db(transaction=True),
]


def family_of(value):
    return RefreshToken.objects.get(digest=crypto.digest(value)).family


def live_in(family) -> int:
    return (RefreshToken.objects.filter(family=family, revoked_at__isnull=True, used_at__isnull=True).count()
            + AccessToken.objects.filter(family=family, revoked_at__isnull=True).count())


@pytest.mark.parametrize("cap", [1, 5])
def test_concurrent_replays_of_a_rotated_token_get_the_pair_cap_times(live_server, flow, settings, cap):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REFRESH_TOKEN_GRACE_REPLAYS": cap}
    tokens = flow.code_tokens(scope="read")
    auth = {"Authorization": basic(flow.client.client_id, flow.client.secret)}
    url = live_server.url + "/oauth/token"
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = httpx.post(url, data=data, headers=auth)
    assert rotated.status_code == 200, rotated.text
    responses = fire_together(url, data, headers=auth)
    statuses = sorted(r.status_code for r in responses)
    assert [s for s in statuses if s >= 500] == [], [r.text for r in responses if r.status_code >= 500]
    ok = [r.json() for r in responses if r.status_code == 200]
    assert len(ok) == cap, statuses
    assert {b["refresh_token"] for b in ok} == {rotated.json()["refresh_token"]}
    assert {r.json()["error"] for r in responses if r.status_code != 200} == {"invalid_grant"}
    spent = RefreshToken.objects.get(digest=crypto.digest(tokens["refresh_token"]))
    assert spent.grace_replays == cap
    assert TokenEvent.objects.filter(kind=TokenEvent.GRACE_REPLAYED, family=spent.family).count() == cap
    # The replays beyond the cap were reuse: the family, with the pair handed out, is revoked.
    assert live_in(spent.family) == 0
    assert TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED, family=spent.family).exists()


def test_concurrent_refreshes_with_the_default_cap(live_server, flow):
    """20 requests racing with one live token: one rotates, one more gets the same
    pair (the one replay allowed), the other 18 are reuse and end the family. A
    client that refreshes in parallel either single-flights or raises the cap
    (test_races.py shows a cap of N keeping the family)."""
    tokens = flow.code_tokens(scope="read")
    responses = fire_together(
        live_server.url + "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": basic(flow.client.client_id, flow.client.secret)},
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 2 + [400] * (N - 2), statuses
    ok = [r.json() for r in responses if r.status_code == 200]
    assert len({b["refresh_token"] for b in ok}) == 1 and len({b["access_token"] for b in ok}) == 1
    family = family_of(tokens["refresh_token"])
    assert RefreshToken.objects.filter(family=family).count() == 2  # never a fork
    assert live_in(family) == 0
