"""refresh_token at POST /oauth/token: rotation, grace window, reuse detection
(RFC 6749 section 6, RFC 9700 section 4.14.2, DESIGN.md section 4).
Time moves by patching ``oauth_tokens.provider.models.now``; nothing sleeps."""


import pytest
from django.core.cache import cache
from django.utils import timezone

from oauth_tokens import crypto, signals
from oauth_tokens.provider import keys
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent
from tests.conftest import REDIRECT, VERIFIER, basic
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reused():
    got = []

    def receiver(sender, **kwargs):
        got.append(kwargs)

    signals.refresh_token_reused.connect(receiver)
    yield got
    signals.refresh_token_reused.disconnect(receiver)


def row(value):
    return RefreshToken.objects.get(digest=crypto.digest(value))


def invalid_grant(response):
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant", response.content
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    return response.json()


def pair(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["access_token"], body["refresh_token"]


def family_is_dead(flow, *refresh_tokens):
    first = row(refresh_tokens[0])
    assert not RefreshToken.objects.filter(family=first.family, revoked_at__isnull=True).exists()
    assert not AccessToken.objects.filter(family=first.family, revoked_at__isnull=True).exists()
    for value in refresh_tokens:
        invalid_grant(flow.refresh(value))


def test_rotation_returns_a_new_pair_and_keeps_a_tombstone(flow, clock):
    tokens = flow.code_tokens(scope="read write")
    r = flow.refresh(tokens["refresh_token"])
    access, refresh = pair(r)
    assert r.json()["scope"] == "read write" and r.json()["expires_in"] == 3600
    assert refresh != tokens["refresh_token"] and access != tokens["access_token"]
    old, new = row(tokens["refresh_token"]), row(refresh)
    assert old.used_at == clock.now and old.revoked_at is None and old.state == "rotated"
    assert new.parent == old and new.family == old.family and new.scope == "read write"
    # The new access token's row records the rotation (with the requester's address); no event row.
    assert AccessToken.objects.get(refresh_token=new).ip_address == "127.0.0.1"
    assert not TokenEvent.objects.filter(family=old.family).exists()
    # The plaintext is nowhere in the rows; the successor is kept only encrypted.
    for r_row in RefreshToken.objects.all():
        assert refresh not in r_row.successor_response and refresh not in r_row.digest


def test_refresh_with_json_body_and_body_credentials(flow):
    tokens = flow.code_tokens()
    r = flow.http.post("/oauth/token", {
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": flow.client.client_id, "client_secret": flow.client.secret,
    }, content_type="application/json")
    pair(r)


def test_reuse_after_the_grace_window_revokes_the_family(
    flow, clock, reused, django_capture_on_commit_callbacks
):
    tokens = flow.code_tokens()
    access2, refresh2 = pair(flow.refresh(tokens["refresh_token"]))
    clock.advance(11)  # REFRESH_TOKEN_GRACE_PERIOD is 10 s
    with django_capture_on_commit_callbacks(execute=True):
        body = invalid_grant(flow.refresh(tokens["refresh_token"]))
    assert "already used" in body["error_description"]
    family_is_dead(flow, tokens["refresh_token"], refresh2)
    event = TokenEvent.objects.get(kind=TokenEvent.REUSE_DETECTED)
    assert event.family == row(refresh2).family and event.client == flow.client and event.user == flow.user
    assert event.ip_address == "127.0.0.1"
    [sent] = reused
    assert sent["client"] == flow.client and sent["user"] == flow.user and sent["family"] == event.family
    r = flow.http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + access2)
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # The legitimate client, refreshing with the family's newest token, learns why its grant ended.
    newest = invalid_grant(flow.refresh(refresh2))
    assert "revoked because an earlier refresh token of it was used again" in newest["error_description"]


def test_retry_inside_the_grace_window_returns_the_same_pair(flow, clock, reused):
    tokens = flow.code_tokens()
    r1 = flow.refresh(tokens["refresh_token"])
    clock.advance(9)
    r2 = flow.refresh(tokens["refresh_token"])
    assert pair(r2) == pair(r1)
    assert r2.json()["expires_in"] == 3600 - 9
    assert RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1
    assert AccessToken.objects.filter(revoked_at__isnull=True).count() == 2  # no new access token either
    assert reused == [] and not TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).exists()
    pair(flow.refresh(pair(r1)[1]))  # the family goes on


def test_grace_window_length_is_a_setting(flow, clock, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REFRESH_TOKEN_GRACE_PERIOD": 0}
    tokens = flow.code_tokens()
    pair(flow.refresh(tokens["refresh_token"]))
    clock.advance(1)
    invalid_grant(flow.refresh(tokens["refresh_token"]))
    assert TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).exists()


def test_retry_with_the_grandparent_revokes_the_family(flow, clock):
    tokens = flow.code_tokens()
    _, refresh2 = pair(flow.refresh(tokens["refresh_token"]))
    clock.advance(1)
    _, refresh3 = pair(flow.refresh(refresh2))
    clock.advance(1)  # still inside the window for both
    invalid_grant(flow.refresh(tokens["refresh_token"]))
    family_is_dead(flow, refresh2, refresh3)


def test_retry_of_the_previous_token_after_the_successor_was_used(flow, clock):
    tokens = flow.code_tokens()
    _, refresh2 = pair(flow.refresh(tokens["refresh_token"]))
    pair(flow.refresh(refresh2))
    # refresh2's successor is live, but the first token's successor (refresh2) is spent.
    invalid_grant(flow.refresh(tokens["refresh_token"]))
    family_is_dead(flow, refresh2)


def test_rotated_token_is_still_rejected_after_a_restart(flow, clock):
    tokens = flow.code_tokens()
    _, refresh2 = pair(flow.refresh(tokens["refresh_token"]))
    clock.advance(11)
    keys.reset_cache()  # what a new process starts with
    cache.clear()
    invalid_grant(flow.refresh(tokens["refresh_token"]))
    family_is_dead(flow, refresh2)


def test_grace_retry_works_across_processes(flow, clock):
    tokens = flow.code_tokens()
    first = pair(flow.refresh(tokens["refresh_token"]))
    keys.reset_cache()
    cache.clear()
    assert pair(flow.refresh(tokens["refresh_token"])) == first


def test_successor_response_is_dropped_after_the_window(flow, clock):
    tokens = flow.code_tokens()
    pair(flow.refresh(tokens["refresh_token"]))
    assert row(tokens["refresh_token"]).successor_response
    clock.advance(11)
    flow.refresh(tokens["refresh_token"])
    assert row(tokens["refresh_token"]).successor_response == ""


def test_broader_scope_is_invalid_scope_and_does_not_burn_the_token(flow):
    tokens = flow.code_tokens(scope="read")
    r = flow.refresh(tokens["refresh_token"], scope="read write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    assert row(tokens["refresh_token"]).used_at is None
    pair(flow.refresh(tokens["refresh_token"]))


def test_narrower_scope_is_fine_and_the_family_keeps_the_grant_scope(flow):
    tokens = flow.code_tokens(scope="read write")
    r = flow.refresh(tokens["refresh_token"], scope="read")
    _, refresh2 = pair(r)
    assert r.json()["scope"] == "read"
    assert row(refresh2).scope == "read write"
    r = flow.refresh(refresh2, scope="write")
    assert r.status_code == 200 and r.json()["scope"] == "write"


def test_refresh_token_of_client_a_used_by_client_b_is_invalid_grant(flow):
    tokens = flow.code_tokens()
    other = ClientFactory()
    invalid_grant(flow.token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                             auth=basic(other.client_id, other.secret)))
    assert row(tokens["refresh_token"]).used_at is None and row(tokens["refresh_token"]).revoked_at is None
    pair(flow.refresh(tokens["refresh_token"]))


def test_public_client_refresh_is_bound_to_its_client_id(flow, public_client):
    code = flow.authorize(client=public_client)
    r = flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                    "code_verifier": VERIFIER, "client_id": public_client.client_id}, auth="")
    refresh = r.json()["refresh_token"]
    other_public = ClientFactory(client_type=Client.PUBLIC)
    invalid_grant(flow.token({"grant_type": "refresh_token", "refresh_token": refresh,
                              "client_id": other_public.client_id}, auth=""))
    r = flow.token({"grant_type": "refresh_token", "refresh_token": refresh, "client_id": public_client.client_id},
                   auth="")
    pair(r)


def test_expired_refresh_token_is_invalid_grant(flow, clock):
    tokens = flow.code_tokens()
    clock.advance(30 * 24 * 3600 + 1)
    body = invalid_grant(flow.refresh(tokens["refresh_token"]))
    assert "expired" in body["error_description"]


def test_per_client_refresh_lifetime(flow, clock):
    Client.objects.filter(pk=flow.client.pk).update(refresh_token_lifetime=3600)
    tokens = flow.code_tokens()
    clock.advance(3599)
    _, refresh2 = pair(flow.refresh(tokens["refresh_token"]))
    clock.advance(3601)
    invalid_grant(flow.refresh(refresh2))


def test_revoked_family_token_is_invalid_grant(flow):
    tokens = flow.code_tokens()
    RefreshToken.objects.update(revoked_at=timezone.now())
    invalid_grant(flow.refresh(tokens["refresh_token"]))


def test_refresh_for_a_deactivated_user_is_invalid_grant(flow, user):
    tokens = flow.code_tokens()
    user.is_active = False
    user.save()
    invalid_grant(flow.refresh(tokens["refresh_token"]))


def test_client_that_lost_the_refresh_grant_is_unauthorized(flow):
    tokens = flow.code_tokens()
    Client.objects.filter(pk=flow.client.pk).update(grant_types="authorization_code")
    r = flow.refresh(tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize("value", ["", "garbage", "x" * 5000, "\u00e9t\u00e9"])
def test_unknown_or_missing_refresh_token(flow, value):
    r = flow.refresh(value)
    assert r.status_code == 400 and r.json()["error"] == ("invalid_request" if value == "" else "invalid_grant")


def test_refresh_drops_scopes_the_client_has_lost(flow):
    tokens = flow.code_tokens(scope="read write")
    Client.objects.filter(pk=flow.client.pk).update(scope="read")
    response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "read"
    wider = flow.refresh(response.json()["refresh_token"], scope="read write")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


def test_refresh_after_the_client_lost_every_granted_scope_is_invalid_scope(flow):
    tokens = flow.code_tokens(scope="write")
    Client.objects.filter(pk=flow.client.pk).update(scope="read")
    response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
