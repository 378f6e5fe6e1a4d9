"""Failed refreshes over HTTP: every invalid_grant on the refresh grant is a
``refresh_failed`` audit event (never the token), counted per address, client and
family; a burst is a ``failed_refresh`` anomaly; a flood writes bounded rows."""

import pytest

from oauth_tokens import crypto
from oauth_tokens.provider.models import RefreshToken, TokenEvent
from tests.factories import ClientFactory
from tests.provider.anomaly_support import (
    anomalies,
    exchange,
    refresh,
    refused,
    validates,
    with_settings,
)

pytestmark = pytest.mark.django_db

THIEF = "203.0.113.66"


def failures():
    return list(TokenEvent.objects.filter(kind=TokenEvent.REFRESH_FAILED).order_by("id"))


def assert_no_token_in_events(*values):
    for event in TokenEvent.objects.all():
        text = " ".join(str(v) for v in (event.detail, event.client_identifier, event.ip_address, event.family))
        for value in values:
            assert value not in text and crypto.digest(value) not in text


def test_each_refusal_is_audited_with_its_reason_client_family_and_address(flow, clock, settings):
    with_settings(settings, REFRESH_TOKEN_GRACE_PERIOD=0)
    tokens = exchange(flow)
    family = RefreshToken.objects.get().family
    other = ClientFactory()
    made_up = crypto.new_token(32)

    assert refused(refresh(flow, made_up, ip=THIEF))  # unknown
    assert refused(refresh(flow, tokens["refresh_token"], ip=THIEF, client=other))  # another client's token
    rotated = refresh(flow, tokens["refresh_token"]).json()
    assert refused(refresh(flow, tokens["refresh_token"], ip=THIEF))  # reused: the family is revoked
    assert refused(refresh(flow, rotated["refresh_token"], ip=THIEF))  # revoked (by that reuse)
    fresh = exchange(flow)
    clock.advance(31 * 24 * 3600)
    assert refused(refresh(flow, fresh["refresh_token"], ip=THIEF))  # expired

    events = failures()
    assert [e.detail.split(":")[0] for e in events] == ["unknown", "wrong_client", "reused", "revoked", "expired"]
    assert [e.client for e in events] == [flow.client, other, flow.client, flow.client, flow.client]
    assert [e.family for e in events[:4]] == [None, family, family, family]
    assert events[0].user is None and events[2].user == flow.user
    assert {e.ip_address for e in events} == {THIEF}
    assert events[1].detail == "wrong_client: the refresh token was issued to another client"
    assert_no_token_in_events(made_up, tokens["refresh_token"], rotated["refresh_token"], fresh["refresh_token"])


def test_a_burst_from_one_address_is_one_anomaly_and_the_rows_stop_at_the_limit(
    flow, settings, sent, django_capture_on_commit_callbacks
):
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=3)
    with django_capture_on_commit_callbacks(execute=True):
        responses = [refresh(flow, crypto.new_token(32), ip=THIEF) for _ in range(40)]
    assert all(refused(r) for r in responses)  # the answers do not change
    assert len(failures()) == 3
    [event] = anomalies()
    assert event.detail.startswith("failed_refresh: failed refreshes within 300 s: 4 from one address")
    assert event.ip_address == THIEF and event.client == flow.client and event.family is None
    [signal] = sent["anomaly"]
    assert signal["kind"] == "failed_refresh" and signal["ip"] == THIEF and signal["family"] is None
    assert signal["details"]["address_failures"] == 4 and signal["details"]["window"] == 300
    assert signal["details"]["action"] == "record"


def test_a_flood_in_one_client_s_name_from_ever_new_addresses_stays_bounded(flow, settings):
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=2, ANOMALY_FAILED_REFRESH_CLIENT_LIMIT=5)
    for n in range(30):
        assert refused(refresh(flow, crypto.new_token(32), ip=f"198.51.100.{n + 1}"))
    assert len(failures()) == 5
    [event] = anomalies()
    assert "6 for one client" in event.detail


def test_the_window_is_a_setting_and_a_new_window_audits_again(flow, settings):
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=1, ANOMALY_FAILED_REFRESH_WINDOW=120)
    for _ in range(3):
        refresh(flow, crypto.new_token(32), ip=THIEF)
    assert len(failures()) == 1 and "within 120 s" in anomalies()[0].detail
    from django.core.cache import cache

    cache.clear()  # the window passed (the counters expired)
    refresh(flow, crypto.new_token(32), ip=THIEF)
    assert len(failures()) == 2


def test_revoke_ends_the_family_another_client_keeps_presenting(
    flow, settings, sent, django_capture_on_commit_callbacks
):
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=3, ANOMALY_FAILED_REFRESH_ACTION="revoke")
    tokens = exchange(flow)
    other = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(4):  # from four addresses: the family's count completes the burst
            assert refused(refresh(flow, tokens["refresh_token"], ip=f"198.51.100.{n + 1}", client=other))
    [event] = anomalies()
    family = RefreshToken.objects.get().family
    assert event.family == family and "4 for one family" in event.detail
    assert refused(refresh(flow, tokens["refresh_token"]))  # its own client is refused too now
    assert not validates(flow, tokens["access_token"])
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED, detail="anomaly:failed_refresh").count() == 1
    assert sent["anomaly"][0]["details"]["action"] == "revoke" and sent["reauth"] == []


def test_revoke_and_reauthorize_sends_the_provider_kwargs(flow, settings, sent, django_capture_on_commit_callbacks):
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=2, ANOMALY_FAILED_REFRESH_ACTION="revoke_and_reauthorize")
    tokens = exchange(flow)
    other = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            refresh(flow, tokens["refresh_token"], ip=THIEF, client=other)
    family = RefreshToken.objects.get().family
    [reauth] = sent["reauth"]
    assert (reauth["client"], reauth["user"], reauth["family"], reauth["reason"]) == (
        other, flow.user, family, "anomaly:failed_refresh")


def test_failures_without_a_family_are_recorded_not_revoked(flow, settings, sent, django_capture_on_commit_callbacks):
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=1, ANOMALY_FAILED_REFRESH_ACTION="revoke")
    tokens = exchange(flow)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            refresh(flow, crypto.new_token(32), ip=THIEF)
    assert sent["anomaly"][0]["details"]["action"] == "record"
    assert validates(flow, tokens["access_token"])


def test_with_the_cache_down_failures_are_audited_and_answered_as_usual(flow, settings):
    from tests.flakycache import FlakyCache

    FlakyCache.restore()
    settings.CACHES = {"default": {"BACKEND": "tests.flakycache.FlakyCache"}}
    FlakyCache.mode = "down"
    with_settings(settings, ANOMALY_FAILED_REFRESH_LIMIT=1)
    try:
        for _ in range(3):
            assert refused(refresh(flow, crypto.new_token(32), ip=THIEF))
    finally:
        FlakyCache.restore()
    assert len(failures()) == 3 and anomalies() == []


def test_no_audit_when_detection_is_off(flow, settings):
    with_settings(settings, ANOMALY_DETECTION=False)
    assert refused(refresh(flow, crypto.new_token(32)))
    assert failures() == []
