"""The device authorization grant over HTTP (RFC 8628): the device endpoint,
polling, the verification page, and the feature switch."""

import json
from io import StringIO

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.test import Client, override_settings

from oauth_tokens.provider.models import AccessToken, DeviceCode, RefreshToken
from oauth_tokens.provider.models import Client as OAuthClient
from tests.factories import ClientFactory, PublicClientFactory, UserFactory
from tests.provider.device import ENABLED, GRANT, TEST_OAUTH, enter, later, poll, start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("device_enabled")]


@pytest.fixture
def device_enabled(settings):
    settings.OAUTH_TOKENS = ENABLED


@pytest.fixture
def tv(db):
    return PublicClientFactory(name="Living room TV", grant_types=f"{GRANT} refresh_token", redirect_uris="",
                               scope="read write openid")


@pytest.fixture
def alice(client):
    user = UserFactory(username="alice")
    client.force_login(user)
    return user


def test_the_whole_flow(client, tv, alice):
    started = start(client, tv, scope="read openid")
    assert started.status_code == 200 and started["Cache-Control"] == "no-store"
    body = started.json()
    assert set(body) == {"device_code", "user_code", "verification_uri", "verification_uri_complete",
                         "expires_in", "interval"}
    assert body["verification_uri"] == "https://auth.example.test/oauth/device"
    assert body["verification_uri_complete"] == f"{body['verification_uri']}?user_code={body['user_code']}"
    assert body["expires_in"] == 600 and body["interval"] == 5
    assert len(body["user_code"]) == 9 and body["user_code"][4] == "-"

    pending = poll(client, tv, body["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"

    # The user opens verification_uri_complete: the code is pre-filled, then confirmed.
    page = client.get("/oauth/device", {"user_code": body["user_code"]})
    assert page.status_code == 200 and f'value="{body["user_code"]}"' in page.content.decode()
    consent = enter(client, body["user_code"].lower().replace("-", ""))
    text = consent.content.decode()
    assert consent.status_code == 200 and "Living room TV" in text and body["user_code"] in text
    assert 'name="allow"' in text and "<code>openid</code>" in text
    done = enter(client, body["user_code"], allow="1")
    assert done.status_code == 200 and "Device connected" in done.content.decode()

    with later(5):
        tokens = poll(client, tv, body["device_code"])
        assert tokens.status_code == 200, tokens.content
        issued = tokens.json()
        assert issued["scope"] == "read openid" and issued["refresh_token"] and issued["id_token"]
        me = client.get("/api/me", HTTP_AUTHORIZATION="Bearer " + issued["access_token"])
        assert me.status_code == 200 and me.json()["client_id"] == tv.client_id
    assert AccessToken.objects.get().user == alice
    # A new family like a code's: its usage history (anomaly detection) starts on its first refresh token.
    assert RefreshToken.objects.get().usage is not None
    with later(10):
        again = poll(client, tv, body["device_code"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 1


def test_a_confidential_client_authenticates_as_at_the_token_endpoint(client):
    box = ClientFactory(grant_types=GRANT, scope="read")
    assert start(client, box).status_code == 200
    box.secret = "wrong"
    wrong = start(client, box)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_scope_and_grant_type_are_checked(client, tv):
    assert start(client, tv, scope="read admin").json()["error"] == "invalid_scope"
    web = PublicClientFactory(grant_types="authorization_code")
    refused = start(client, web)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert not DeviceCode.objects.exists()


def test_polling_too_fast_is_slow_down_and_the_interval_grows_by_5_seconds(client, tv):
    device_code = start(client, tv).json()["device_code"]
    assert poll(client, tv, device_code).json()["error"] == "authorization_pending"
    with later(2):
        assert poll(client, tv, device_code).json()["error"] == "slow_down"
    assert DeviceCode.objects.get().interval == 10
    with later(2 + 6):  # the first interval is not enough any more
        assert poll(client, tv, device_code).json()["error"] == "slow_down"
    with later(8 + 16):
        assert poll(client, tv, device_code).json()["error"] == "authorization_pending"


def test_an_expired_device_code_is_expired_token_and_its_user_code_is_refused(client, tv, alice):
    body = start(client, tv).json()
    with later(601):
        expired = poll(client, tv, body["device_code"])
        assert expired.status_code == 400 and expired.json()["error"] == "expired_token"
        page = enter(client, body["user_code"])
        assert page.status_code == 400 and "expired" in page.content.decode()
    assert DeviceCode.objects.get().status == DeviceCode.PENDING


def test_denial_is_access_denied(client, tv, alice):
    body = start(client, tv).json()
    done = enter(client, body["user_code"], deny="1")
    assert done.status_code == 200 and "denied" in done.content.decode()
    denied = poll(client, tv, body["device_code"])
    assert denied.status_code == 400 and denied.json()["error"] == "access_denied"
    again = enter(client, body["user_code"], allow="1")
    assert again.status_code == 400 and "already been used" in again.content.decode()
    assert not AccessToken.objects.exists()


def test_another_client_cannot_redeem_the_device_code(client, tv, alice):
    body = start(client, tv).json()
    enter(client, body["user_code"], allow="1")
    thief = PublicClientFactory(grant_types=GRANT)
    assert poll(client, thief, body["device_code"]).json()["error"] == "invalid_grant"
    assert poll(client, tv, body["device_code"]).status_code == 200


def test_the_page_requires_login_and_csrf(tv):
    body = start(Client(), tv).json()
    anonymous = Client().get("/oauth/device", {"user_code": body["user_code"]})
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"].lower()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())
    forged = browser.post("/oauth/device", {"user_code": body["user_code"], "allow": "1"})
    assert forged.status_code == 403
    assert DeviceCode.objects.get().status == DeviceCode.PENDING


def test_wrong_user_codes_are_throttled_then_even_the_right_one_is_refused(client, tv, alice):
    body = start(client, tv).json()
    for typed in ("BCDF-GHJK", "nonsense", "ZZZZ-ZZZZ", "BBBB-BBBB", "CCCC-CCCC"):
        wrong = enter(client, typed)
        assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    blocked = enter(client, body["user_code"])
    assert blocked.status_code == 429 and "Too many wrong codes" in blocked.content.decode()
    assert enter(client, body["user_code"], allow="1").status_code == 429
    with later(301):
        cache.clear()  # the cache's counters expire with the window (real time); the session's by the clock
        assert enter(client, body["user_code"], allow="1").status_code == 200
    assert DeviceCode.objects.get().status == DeviceCode.APPROVED


def test_the_address_budget_holds_across_users_and_sessions(client, tv, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "DEVICE_USER_CODE_FAILURE_LIMIT": 100,
                             "DEVICE_USER_CODE_ADDRESS_FAILURE_LIMIT": 3}
    body = start(client, tv).json()
    for n in range(3):
        client.force_login(UserFactory(username=f"mallory{n}"))
        assert enter(client, "BCDF-GHJK").status_code == 400
    client.force_login(UserFactory(username="bob"))
    assert enter(client, body["user_code"]).status_code == 429


def test_with_the_cache_down_the_session_still_counts(client, tv, alice):
    body = start(client, tv).json()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("get_many", "incr", "add"):
            patch.setattr(LocMemCache, name, lambda *a, **k: (_ for _ in ()).throw(ConnectionError("down")))
        for _ in range(5):
            assert enter(client, "BCDF-GHJK").status_code == 400
        assert enter(client, body["user_code"]).status_code == 429


def test_starting_flows_is_bounded_per_address_and_fails_open_without_the_cache(client, tv, settings):
    settings.OAUTH_TOKENS = {**ENABLED, "DEVICE_AUTHORIZATION_ADDRESS_LIMIT": 3}
    for _ in range(3):
        assert start(client, tv).status_code == 200
    refused = start(client, tv)
    assert refused.status_code == 429 and refused.json()["error"] == "temporarily_unavailable"
    assert int(refused["Retry-After"]) == 300 and "no-store" in refused["Cache-Control"]
    assert DeviceCode.objects.count() == 3
    other = Client(REMOTE_ADDR="192.0.2.9")  # another address has its own budget
    assert start(other, tv).status_code == 200
    with pytest.MonkeyPatch.context() as patch:  # the default cache, whichever backend it is, is down
        for name in ("get_many", "incr", "add"):
            patch.setattr(type(caches["default"]), name,
                          lambda *a, **k: (_ for _ in ()).throw(ConnectionError("down")))
        assert start(client, tv).status_code == 200  # not counted, never a 500


@override_settings(OAUTH_TOKENS=TEST_OAUTH)
def test_off_by_default_every_part_is_absent(client, tv, alice):
    assert start(client, tv).status_code == 404
    page = client.get("/oauth/device")
    assert page.status_code == 404 and "no-store" in page["Cache-Control"]
    refused = poll(client, tv, "whatever")
    assert refused.status_code == 400 and refused.json()["error"] == "unsupported_grant_type"
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        metadata = client.get(path).json()
        assert "device_authorization_endpoint" not in metadata
        assert GRANT not in metadata["grant_types_supported"]


def test_discovery_lists_it_when_enabled(client):
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        metadata = client.get(path).json()
        assert metadata["device_authorization_endpoint"] == "https://auth.example.test/oauth/device_authorization"
        assert GRANT in metadata["grant_types_supported"]


def test_cleartokens_deletes_expired_device_codes_and_createclient_accepts_the_grant(client, tv):
    start(client, tv)
    with later(601):
        start(client, tv)
        call_command("cleartokens", stdout=StringIO())
    assert DeviceCode.objects.count() == 1
    out = StringIO()
    call_command("createclient", "Kiosk", "--public", "--grant-types", GRANT, "--json", stdout=out)
    kiosk = OAuthClient.objects.get(client_id=json.loads(out.getvalue())["client_id"])
    assert kiosk.grant_type_list == [GRANT]


def test_the_admin_offers_the_grant(admin_client):
    page = admin_client.get("/admin/oauth_tokens_provider/client/add/").content.decode()
    assert f'value="{GRANT}"' in page
