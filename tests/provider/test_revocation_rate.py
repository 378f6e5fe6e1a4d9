"""Revocations that no confidential client authenticates are rate-limited per
address (issue 10, Low 5): each one makes every process load the new log rows,
so a loop of refresh + revoke from one address cannot make every worker reload
once a second for ever."""

from datetime import timedelta

import pytest

from oauth_tokens.provider.models import AccessToken
from tests.conftest import basic

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def limited(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "UNAUTHENTICATED_REVOCATION_LIMIT": 3,
                             "UNAUTHENTICATED_REVOCATION_WINDOW": timedelta(minutes=2)}


def access_token(flow):
    r = flow.token({"grant_type": "client_credentials", "scope": "read"})
    assert r.status_code == 200, r.content
    return r.json()["access_token"]


def revoke(flow, body, **headers):
    return flow.http.post("/oauth/revoke", body, content_type=FORM, **headers)


def test_bare_token_revocations_past_the_limit_get_429_with_retry_after(flow, limited):
    tokens = [access_token(flow) for _ in range(5)]
    statuses = [revoke(flow, f"token={t}", REMOTE_ADDR="10.1.0.1").status_code for t in tokens[:3]]
    assert statuses == [200, 200, 200]
    r = revoke(flow, f"token={tokens[3]}", REMOTE_ADDR="10.1.0.1")
    assert r.status_code == 429 and r["Retry-After"] == "120" and r["Cache-Control"] == "no-store"
    assert r.json()["error"] == "temporarily_unavailable" and r.json()["error_description"]
    assert AccessToken.objects.filter(revoked_at__isnull=False).count() == 3  # the refused one was not revoked
    # Another address is not affected.
    assert revoke(flow, f"token={tokens[3]}", REMOTE_ADDR="10.1.0.2").status_code == 200
    assert AccessToken.objects.filter(revoked_at__isnull=False).count() == 4


def test_public_clients_count_as_unauthenticated(flow, limited, public_client):
    for _ in range(3):
        assert revoke(flow, f"token=x&client_id={public_client.client_id}").status_code == 200
    assert revoke(flow, f"token=x&client_id={public_client.client_id}").status_code == 429


def test_confidential_clients_are_not_limited(flow, limited):
    auth = basic(flow.client.client_id, flow.client.secret)
    for _ in range(3):
        assert revoke(flow, "token=x").status_code == 200
    assert revoke(flow, "token=x").status_code == 429
    assert {revoke(flow, f"token={access_token(flow)}", HTTP_AUTHORIZATION=auth).status_code
            for _ in range(5)} == {200}


def test_the_default_limit_and_turning_it_off(flow, settings):
    statuses = [revoke(flow, "token=x", REMOTE_ADDR="10.1.0.3").status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "UNAUTHENTICATED_REVOCATION_LIMIT": 0}
    assert revoke(flow, "token=x", REMOTE_ADDR="10.1.0.3").status_code == 200
