"""Real concurrent HTTP requests against a live server on PostgreSQL or MariaDB.

20 threads released together by a barrier: one refresh token -> one successor
pair, one authorization code -> exactly one 200, and never a 5xx.
"""

import httpx
import pytest

from oauth_tokens.provider.models import AccessToken, RefreshToken
from tests.concurrency.conftest import N, fire_together
from tests.conftest import REDIRECT, VERIFIER, basic

pytestmark = [
    pytest.mark.server_db,
    pytest.mark.django_db(transaction=True),
]



def test_concurrent_refreshes_give_one_successor_pair(live_server, flow, settings):
    # Every loser of the race may have the pair again (the default cap is 1:
    # test_grace_replays.py shows what the other 18 get then).
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REFRESH_TOKEN_GRACE_REPLAYS": N}
    tokens = flow.code_tokens(scope="read write")
    auth = {"Authorization": basic(flow.client.client_id, flow.client.secret)}
    responses = fire_together(
        live_server.url + "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=auth,
    )
    assert [r.status_code for r in responses if r.status_code >= 500] == []
    ok = [r.json() for r in responses if r.status_code == 200]
    assert ok, [r.text for r in responses]
    # Every winner got the same pair: one successor, no fork.
    assert len({b["refresh_token"] for b in ok}) == 1
    assert len({b["access_token"] for b in ok}) == 1
    family = RefreshToken.objects.get(parent__isnull=True).family
    assert RefreshToken.objects.filter(family=family).count() == 2  # the original + one successor
    assert RefreshToken.objects.filter(family=family, used_at__isnull=True, revoked_at__isnull=True).count() == 1
    # The family is intact: the successor still rotates.
    again = httpx.post(
        live_server.url + "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": ok[0]["refresh_token"]},
        headers=auth,
    )
    assert again.status_code == 200, again.text


def test_concurrent_code_redemptions_give_exactly_one_token(live_server, flow):
    code = flow.authorize(scope="read")
    responses = fire_together(
        live_server.url + "/oauth/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER},
        headers={"Authorization": basic(flow.client.client_id, flow.client.secret)},
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert all(s == 400 for s in statuses if s != 200), statuses
    assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
    assert AccessToken.objects.count() == 1
    assert RefreshToken.objects.count() == 1
