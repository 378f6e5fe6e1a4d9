"""Issue 10, Low 3 and 4: the grace window is audited and bounded, and refresh
token families end.

- Every grace replay (the same pair handed out again) is a ``grace_replayed``
  token event and a ``refresh_token_replayed`` signal, with the address.
- One rotation's pair is handed out again at most REFRESH_TOKEN_GRACE_REPLAYS
  times (default 1); one more is reuse: the family is revoked.
- The window is per client (``Client.refresh_grace_period``, 0 turns it off);
  public clients have none unless given one (REFRESH_TOKEN_GRACE_PERIOD_PUBLIC).
- A family ends REFRESH_TOKEN_FAMILY_LIFETIME (or the client's own value) after
  its code exchange; no rotation's token outlives that.

Time moves by patching ``oauth_tokens.provider.models.now``; nothing sleeps.
"""

from datetime import timedelta

import pytest

from oauth_tokens import crypto, signals
from oauth_tokens.provider import cleanup
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent
from tests.conftest import REDIRECT, VERIFIER, basic
from tests.factories import PublicClientFactory

pytestmark = pytest.mark.django_db

DAY = 24 * 3600
THIEF = "203.0.113.7"


def row(value):
    return RefreshToken.objects.get(digest=crypto.digest(value))


def pair(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["access_token"], body["refresh_token"]


def invalid_grant(response):
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_grant", response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()


def refresh_from(flow, value, ip="127.0.0.1", client=None):
    client = client or flow.client
    data = {"grant_type": "refresh_token", "refresh_token": value}
    if not client.is_confidential:
        return flow.token({**data, "client_id": client.client_id}, auth="", REMOTE_ADDR=ip)
    return flow.token(data, REMOTE_ADDR=ip)


def family_revoked(value) -> bool:
    family = row(value).family
    return (not RefreshToken.objects.filter(family=family, revoked_at__isnull=True).exists()
            and not AccessToken.objects.filter(family=family, revoked_at__isnull=True).exists())


@pytest.fixture
def received():
    got = {"replayed": [], "reused": []}

    def on_replayed(sender, **kwargs):
        got["replayed"].append(kwargs)

    def on_reused(sender, **kwargs):
        got["reused"].append(kwargs)

    signals.refresh_token_replayed.connect(on_replayed)
    signals.refresh_token_reused.connect(on_reused)
    yield got
    signals.refresh_token_replayed.disconnect(on_replayed)
    signals.refresh_token_reused.disconnect(on_reused)


def with_settings(settings, **values):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, **values}


# -- the grace window: audited ------------------------------------------------------

def test_grace_replay_is_recorded_with_the_address_and_signalled(
    flow, clock, received, django_capture_on_commit_callbacks
):
    tokens = flow.code_tokens()
    first = pair(refresh_from(flow, tokens["refresh_token"]))
    clock.advance(3)
    with django_capture_on_commit_callbacks(execute=True):
        replay = refresh_from(flow, tokens["refresh_token"], ip=THIEF)
    assert pair(replay) == first  # the design holds: the same pair, no fork
    event = TokenEvent.objects.get(kind=TokenEvent.GRACE_REPLAYED)
    spent = row(tokens["refresh_token"])
    assert event.ip_address == THIEF
    assert event.client == flow.client and event.user == flow.user and event.family == spent.family
    assert f"#{spent.pk}" in event.detail and "3.0 s" in event.detail
    for secret in (tokens["refresh_token"], first[1], first[0]):
        assert secret not in event.detail
    [sent] = received["replayed"]
    assert sent["ip"] == THIEF and sent["client"] == flow.client and sent["user"] == flow.user
    assert sent["family"] == spent.family and sent["token"].pk == spent.pk
    assert sent["replays"] == 1 and sent["elapsed"] == 3
    assert received["reused"] == []
    assert row(tokens["refresh_token"]).grace_replays == 1


def test_a_race_loser_is_a_grace_replay_too(flow, clock, django_capture_on_commit_callbacks, received, monkeypatch):
    """A request that found the token unspent and lost the swap gets the pair from
    the same place, and is counted and recorded the same way."""
    from oauth_tokens.provider import stores

    tokens = flow.code_tokens()
    real_rotate = stores.OrmTokenStore.rotate_refresh_token
    sibling = {}

    def rotate_after_a_sibling(self, token, client, scope, presented, *rest):
        if not sibling:  # a sibling request rotates first, between our read and our swap
            sibling["started"] = True
            sibling["pair"] = pair(refresh_from(flow, tokens["refresh_token"]))
        return real_rotate(self, token, client, scope, presented, *rest)

    monkeypatch.setattr(stores.OrmTokenStore, "rotate_refresh_token", rotate_after_a_sibling)
    with django_capture_on_commit_callbacks(execute=True):
        loser = refresh_from(flow, tokens["refresh_token"], ip=THIEF)
    assert pair(loser) == sibling["pair"]
    assert TokenEvent.objects.filter(kind=TokenEvent.GRACE_REPLAYED, ip_address=THIEF).count() == 1
    assert [s["ip"] for s in received["replayed"]] == [THIEF]


# -- the grace window: bounded --------------------------------------------------------

def test_a_second_replay_beyond_the_cap_revokes_the_family(
    flow, clock, received, django_capture_on_commit_callbacks
):
    tokens = flow.code_tokens()
    access2, refresh2 = pair(refresh_from(flow, tokens["refresh_token"]))
    clock.advance(1)
    assert pair(refresh_from(flow, tokens["refresh_token"], ip=THIEF)) == (access2, refresh2)
    clock.advance(1)  # still inside the 10 s window, but the one replay is spent
    with django_capture_on_commit_callbacks(execute=True):
        body = invalid_grant(refresh_from(flow, tokens["refresh_token"], ip=THIEF))
    assert "already used" in body["error_description"]
    assert family_revoked(tokens["refresh_token"])
    invalid_grant(refresh_from(flow, refresh2))  # the pair both parties held is dead
    me = flow.http.get("/oauth/token", HTTP_AUTHORIZATION="Bearer " + access2)
    assert me.status_code == 401
    reuse = TokenEvent.objects.get(kind=TokenEvent.REUSE_DETECTED)
    assert reuse.ip_address == THIEF and "more than 1 time" in reuse.detail
    assert TokenEvent.objects.filter(kind=TokenEvent.GRACE_REPLAYED).count() == 1
    assert [s["ip"] for s in received["reused"]] == [THIEF]


def test_the_replay_cap_is_a_setting(flow, clock, settings):
    with_settings(settings, REFRESH_TOKEN_GRACE_REPLAYS=3)
    tokens = flow.code_tokens()
    first = pair(refresh_from(flow, tokens["refresh_token"]))
    for _ in range(3):
        assert pair(refresh_from(flow, tokens["refresh_token"])) == first
    invalid_grant(refresh_from(flow, tokens["refresh_token"]))
    assert family_revoked(tokens["refresh_token"])
    assert TokenEvent.objects.filter(kind=TokenEvent.GRACE_REPLAYED).count() == 3


def test_no_replays_allowed_means_no_grace(flow, clock, settings):
    with_settings(settings, REFRESH_TOKEN_GRACE_REPLAYS=0)
    tokens = flow.code_tokens()
    pair(refresh_from(flow, tokens["refresh_token"]))
    assert row(tokens["refresh_token"]).successor_response == ""  # nothing kept to hand out
    invalid_grant(refresh_from(flow, tokens["refresh_token"]))
    assert family_revoked(tokens["refresh_token"])


def test_each_rotation_has_its_own_replay(flow, clock):
    tokens = flow.code_tokens()
    second = pair(refresh_from(flow, tokens["refresh_token"]))
    assert pair(refresh_from(flow, tokens["refresh_token"])) == second
    clock.advance(60)
    third = pair(refresh_from(flow, second[1]))
    assert pair(refresh_from(flow, second[1])) == third
    pair(refresh_from(flow, third[1]))  # the family goes on


# -- the grace window: per client -------------------------------------------------------

def test_a_client_window_of_zero_turns_grace_off(flow, clock):
    Client.objects.filter(pk=flow.client.pk).update(refresh_grace_period=0)
    flow.client.refresh_from_db()
    tokens = flow.code_tokens()
    pair(refresh_from(flow, tokens["refresh_token"]))
    assert row(tokens["refresh_token"]).successor_response == ""
    invalid_grant(refresh_from(flow, tokens["refresh_token"]))  # at once: still reuse
    assert family_revoked(tokens["refresh_token"])
    assert TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).exists()


def test_a_client_window_overrides_the_setting(flow, clock):
    Client.objects.filter(pk=flow.client.pk).update(refresh_grace_period=60)
    tokens = flow.code_tokens()
    first = pair(refresh_from(flow, tokens["refresh_token"]))
    clock.advance(45)  # past the 10 s setting, inside the client's 60 s
    assert pair(refresh_from(flow, tokens["refresh_token"])) == first
    # cleartokens keeps the sealed pair for the longest window any client has.
    cleanup.clear_expired()
    assert row(tokens["refresh_token"]).successor_response != ""
    clock.advance(16)
    cleanup.clear_expired()
    assert row(tokens["refresh_token"]).successor_response == ""


def public_tokens(flow, public_client):
    code = flow.authorize(client=public_client)
    response = flow.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                           "code_verifier": VERIFIER, "client_id": public_client.client_id}, auth="")
    assert response.status_code == 200, response.content
    return response.json()


def test_public_clients_have_no_grace_window_unless_given_one(flow, clock):
    public = PublicClientFactory()
    tokens = public_tokens(flow, public)
    pair(refresh_from(flow, tokens["refresh_token"], client=public))
    clock.advance(1)  # inside the 10 s a confidential client gets
    invalid_grant(refresh_from(flow, tokens["refresh_token"], ip=THIEF, client=public))
    assert family_revoked(tokens["refresh_token"])
    assert TokenEvent.objects.get(kind=TokenEvent.REUSE_DETECTED).ip_address == THIEF


def test_a_public_client_given_a_window_gets_the_pair(flow, clock):
    public = PublicClientFactory(refresh_grace_period=5)
    tokens = public_tokens(flow, public)
    first = pair(refresh_from(flow, tokens["refresh_token"], client=public))
    clock.advance(4)
    assert pair(refresh_from(flow, tokens["refresh_token"], client=public)) == first
    assert TokenEvent.objects.filter(kind=TokenEvent.GRACE_REPLAYED, client=public).count() == 1


def test_the_public_default_is_a_setting(flow, clock, settings):
    with_settings(settings, REFRESH_TOKEN_GRACE_PERIOD_PUBLIC=5)
    public = PublicClientFactory()
    tokens = public_tokens(flow, public)
    first = pair(refresh_from(flow, tokens["refresh_token"], client=public))
    clock.advance(4)
    assert pair(refresh_from(flow, tokens["refresh_token"], client=public)) == first


# -- families end ---------------------------------------------------------------------

def test_a_chain_used_monthly_ends_at_the_family_lifetime(flow, clock):
    """REFRESH_TOKEN_LIFETIME (30 days) is the idle lifetime; the family ends 90
    days after the code exchange however often it was rotated."""
    tokens = flow.code_tokens()
    started = row(tokens["refresh_token"]).family_started_at
    value = tokens["refresh_token"]
    for _ in range(3):  # days 29, 58, 87
        clock.advance(29 * DAY)
        _, value = pair(refresh_from(flow, value))
        assert row(value).family_started_at == started  # copied to every successor
    # Rotated on day 87: its own 30 days would reach day 117; the family ends on day 90.
    assert row(value).expires_at == started + timedelta(days=90)
    clock.advance(3 * DAY - 1)
    _, value = pair(refresh_from(flow, value))  # day 90 minus a second: still good
    assert row(value).expires_at == started + timedelta(days=90)
    clock.advance(1)
    body = invalid_grant(refresh_from(flow, value))
    assert "expired" in body["error_description"]
    assert row(value).used_at is None  # refused, not rotated, and not treated as reuse
    assert not TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).exists()


def test_the_family_start_is_the_code_exchange(flow, clock):
    tokens = flow.code_tokens()
    first = row(tokens["refresh_token"])
    assert first.family_started_at == clock.now == first.created_at
    assert first.expires_at == clock.now + timedelta(days=30)


def test_a_client_family_lifetime_overrides_the_setting(flow, clock):
    Client.objects.filter(pk=flow.client.pk).update(refresh_family_lifetime=3600)
    tokens = flow.code_tokens()
    assert row(tokens["refresh_token"]).expires_at == clock.now + timedelta(hours=1)  # capped at the start
    clock.advance(1800)
    _, value = pair(refresh_from(flow, tokens["refresh_token"]))
    assert row(value).expires_at == row(tokens["refresh_token"]).family_started_at + timedelta(hours=1)
    clock.advance(1800)
    invalid_grant(refresh_from(flow, value))


def test_shortening_the_family_lifetime_ends_existing_families(flow, clock, settings):
    tokens = flow.code_tokens()
    clock.advance(10 * DAY)
    _, value = pair(refresh_from(flow, tokens["refresh_token"]))
    with_settings(settings, REFRESH_TOKEN_FAMILY_LIFETIME=timedelta(days=7))
    assert row(value).expires_at > clock.now  # its own expiry was set under the old lifetime
    body = invalid_grant(refresh_from(flow, value))
    assert "maximum lifetime" in body["error_description"]
    assert row(value).state == "expired"


def test_introspection_says_inactive_once_the_family_ended(flow, clock, settings):
    tokens = flow.code_tokens()
    clock.advance(10 * DAY)

    def active():
        response = flow.http.post("/oauth/introspect", f"token={tokens['refresh_token']}",
                                  content_type="application/x-www-form-urlencoded",
                                  HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.client.secret))
        assert response.status_code == 200, response.content
        return response.json()["active"]

    assert active() is True
    with_settings(settings, REFRESH_TOKEN_FAMILY_LIFETIME=timedelta(days=7))
    assert active() is False


def test_family_lifetime_setting_is_validated(settings):
    from oauth_tokens.settings import check_setting_values

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REFRESH_TOKEN_FAMILY_LIFETIME": 0,
                             "REFRESH_TOKEN_GRACE_REPLAYS": -1, "REFRESH_TOKEN_GRACE_PERIOD_PUBLIC": "5s"}
    errors = {e.msg.split("]")[0] for e in check_setting_values()}
    assert errors == {"OAUTH_TOKENS['REFRESH_TOKEN_FAMILY_LIFETIME'", "OAUTH_TOKENS['REFRESH_TOKEN_GRACE_REPLAYS'",
                      "OAUTH_TOKENS['REFRESH_TOKEN_GRACE_PERIOD_PUBLIC'"}


# -- the admin ------------------------------------------------------------------------

def test_refresh_token_admin_shows_the_family_lifetime_and_the_replays(admin_client, flow, clock):
    Client.objects.filter(pk=flow.client.pk).update(refresh_family_lifetime=7 * DAY)
    tokens = flow.code_tokens()
    second = pair(refresh_from(flow, tokens["refresh_token"]))
    pair(refresh_from(flow, tokens["refresh_token"]))  # one grace replay
    spent = row(tokens["refresh_token"])
    ends = spent.family_started_at + timedelta(days=7)

    def shown(value):
        from django.utils import formats, timezone

        return formats.localize(timezone.template_localtime(value))

    page = admin_client.get(f"/admin/oauth_tokens_provider/refreshtoken/{spent.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for label in ("Family started at", "Family ends", "Grace replays"):
        assert label in html, label
    assert shown(spent.family_started_at) in html and shown(ends) in html
    assert '<div class="readonly">1</div>' in html
    # The list shows the token's own expiry; the family's end is on the token's page
    # (above), so that the list keeps every column in view at 1,280 px.
    listing = admin_client.get("/admin/oauth_tokens_provider/refreshtoken/").content.decode()
    assert "expires at" in listing.lower()
    for secret in (tokens["refresh_token"], second[1]):
        assert secret not in html and secret not in listing


def test_client_admin_edits_the_grace_window_and_the_family_lifetime(admin_client, oauth_client):
    url = f"/admin/oauth_tokens_provider/client/{oauth_client.pk}/change/"
    html = admin_client.get(url).content.decode()
    assert 'name="refresh_family_lifetime"' in html and 'name="refresh_grace_period"' in html
    data = {
        "name": oauth_client.name, "client_type": "confidential",
        "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": REDIRECT, "scope": "read",
        "access_token_lifetime": "", "refresh_token_lifetime": "", "refresh_family_lifetime": str(14 * DAY),
        "refresh_grace_period": "0", "owner": "", "is_active": "on", "_continue": "Save",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content[:3000]
    oauth_client.refresh_from_db()
    assert oauth_client.refresh_family_lifetime == 14 * DAY and oauth_client.refresh_grace_period == 0
    assert oauth_client.grace_period() == 0 and oauth_client.family_lifetime() == 14 * DAY
    html = admin_client.get(url).content.decode()
    assert f'name="refresh_family_lifetime" value="{14 * DAY}"' in html
    assert 'name="refresh_grace_period" value="0"' in html
    # Emptied: the settings apply again.
    response = admin_client.post(url, {**data, "refresh_family_lifetime": "", "refresh_grace_period": ""})
    assert response.status_code == 302
    oauth_client.refresh_from_db()
    assert oauth_client.refresh_grace_period is None and oauth_client.grace_period() == 10
    assert oauth_client.family_lifetime() == 90 * DAY
