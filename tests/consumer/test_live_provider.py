"""The consumer against our own provider over real HTTP (a live server running
``oauth_tokens.provider``): connect flow, proactive refresh, rotation persisted,
no reuse, recovery after a lost save, 401 retry, revocation."""

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from oauth_tokens import crypto
from oauth_tokens.consumer import get_access_token, http_client, revoke
from oauth_tokens.consumer.models import ExternalToken
from oauth_tokens.consumer.singleflight import outcomes
from oauth_tokens.provider.models import AccessToken, RefreshToken, TokenEvent
from tests.consumer.browser import connect


def live_refresh_digests():
    live = RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True)
    return set(live.values_list("digest", flat=True))


def test_connect_refresh_rotate_and_call_the_api(client, alice, remote, live_server, clock):
    row = connect(client, alice, live_server)
    assert row.status == "active" and row.refresh_count == 0 and row.scope == "read"
    assert 3590 <= row.seconds_left() <= 3600
    assert crypto.digest(row.refresh_token) in live_refresh_digests()

    with http_client("self", alice) as api:
        me = api.get("/api/me")
    assert me.status_code == 200 and me.json()["sub"] == str(alice.pk)

    for cycle in range(1, 4):
        clock.advance(3600 - 100)  # inside the leeway: refreshed before it expires
        token = get_access_token("self", alice)
        row.refresh_from_db()
        assert token == row.access_token and row.refresh_count == cycle
        # Rotation persisted: what we hold is the provider's one live refresh token.
        assert live_refresh_digests() == {crypto.digest(row.refresh_token)}
    assert RefreshToken.objects.filter(used_at__isnull=False).count() == 3
    assert not TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).exists()


def test_a_lost_save_is_recovered_through_the_providers_grace_window(client, alice, remote, live_server, clock,
                                                                     monkeypatch):
    row = connect(client, alice, live_server)
    original = outcomes.refreshed_columns
    monkeypatch.setattr(outcomes, "refreshed_columns", lambda *a: (_ for _ in ()).throw(RuntimeError("crash")))
    clock.advance(3600)
    with pytest.raises(RuntimeError):
        get_access_token("self", alice)  # the provider rotated, we did not save
    assert ExternalToken.objects.get(pk=row.pk).refresh_token == row.refresh_token  # old pair kept
    monkeypatch.setattr(outcomes, "refreshed_columns", original)
    token = get_access_token("self", alice)  # same old refresh token, inside the grace window
    row.refresh_from_db()
    assert token == row.access_token and live_refresh_digests() == {crypto.digest(row.refresh_token)}
    assert not TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).exists()


def test_401_forces_one_refresh_and_one_replay(client, alice, remote, live_server):
    row = connect(client, alice, live_server)
    AccessToken.objects.update(revoked_at=timezone.now())  # the provider killed the access token early
    with http_client("self", alice) as api:
        me = api.get("/api/me")
    assert me.status_code == 200
    row.refresh_from_db()
    assert row.refresh_count == 1


def test_revocation_at_the_provider(client, alice, remote, live_server):
    try:
        reverse("oauth_tokens:revoke")
    except NoReverseMatch:
        pytest.skip("the provider's revocation endpoint is not mounted yet")
    row = connect(client, alice, live_server)
    old_access = row.access_token
    revoke("self", alice)
    row.refresh_from_db()
    assert row.status == "revoked" and row.access_token == "" and row.refresh_token == ""
    assert live_refresh_digests() == set()
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {old_access}").status_code == 401
