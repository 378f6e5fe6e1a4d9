"""Frequent refreshes over HTTP: a family rotating more often than its access
tokens expire, and a client refreshing far above its own baseline; recorded,
signalled and acted on per ``ANOMALY_FREQUENT_REFRESH_ACTION``."""

import pytest

from oauth_tokens.provider.models import RefreshToken, TokenEvent
from tests.provider.anomaly_support import (
    anomalies,
    exchange,
    refresh,
    refused,
    validates,
    with_settings,
)

pytestmark = pytest.mark.django_db


def rotate(flow, clock, refresh_token, times, *, step=60):
    """``times`` refreshes ``step`` seconds apart, each with the token the last one returned."""
    responses = []
    for _ in range(times):
        clock.advance(step)
        response = refresh(flow, refresh_token)
        responses.append(response)
        if response.status_code == 200:
            refresh_token = response.json()["refresh_token"]
    return responses


def test_a_fourth_rotation_within_one_access_token_lifetime_is_recorded_and_signalled(
    flow, clock, sent, django_capture_on_commit_callbacks
):
    tokens = exchange(flow)
    with django_capture_on_commit_callbacks(execute=True):
        responses = rotate(flow, clock, tokens["refresh_token"], 4)
    assert [r.status_code for r in responses] == [200, 200, 200, 200]  # "record": nothing refused
    [event] = anomalies()
    family = RefreshToken.objects.get(parent=None).family
    assert event.detail.startswith("frequent_refresh: 4 rotations within 3600 s")
    assert "more than 3" in event.detail
    assert (event.client, event.user, event.family, event.ip_address) == (flow.client, flow.user, family,
                                                                          "127.0.0.1")
    [signal] = sent["anomaly"]
    assert signal["kind"] == "frequent_refresh"
    assert (signal["client"], signal["user"], signal["family"], signal["ip"]) == (flow.client, flow.user, family,
                                                                              "127.0.0.1")
    assert signal["details"]["rotations"] == 4 and signal["details"]["limit"] == 3
    assert signal["details"]["action"] == "record" and signal["details"]["detail"] == event.detail
    assert sent["reauth"] == []
    assert validates(flow, responses[-1].json()["access_token"])
    # Once per window: the fifth rotation in the same hour raises nothing new.
    assert rotate(flow, clock, responses[-1].json()["refresh_token"], 1)[0].status_code == 200
    assert len(anomalies()) == 1


def test_rotations_as_the_access_tokens_expire_are_not(flow, clock, sent):
    tokens = exchange(flow)
    responses = rotate(flow, clock, tokens["refresh_token"], 6, step=1300)
    assert all(r.status_code == 200 for r in responses)
    assert anomalies() == [] and sent["anomaly"] == []


def test_the_limit_is_a_setting(flow, clock, settings):
    with_settings(settings, ANOMALY_FREQUENT_REFRESH_LIMIT=5)
    responses = rotate(flow, clock, exchange(flow)["refresh_token"], 5)
    assert anomalies() == []
    rotate(flow, clock, responses[-1].json()["refresh_token"], 1)
    [event] = anomalies()
    assert event.detail.startswith("frequent_refresh: 6 rotations") and "more than 5" in event.detail


def test_revoke_refuses_the_rotation_and_the_family(flow, clock, settings, sent,
                                                    django_capture_on_commit_callbacks):
    with_settings(settings, ANOMALY_FREQUENT_REFRESH_ACTION="revoke")
    tokens = exchange(flow)
    with django_capture_on_commit_callbacks(execute=True):
        responses = rotate(flow, clock, tokens["refresh_token"], 4)
    assert [r.status_code for r in responses] == [200, 200, 200, 400]
    assert refused(responses[-1]) and "unusual use" in responses[-1].json()["error_description"]
    last = responses[2].json()
    assert not validates(flow, last["access_token"])  # the family's tokens are refused from now on
    assert refused(refresh(flow, last["refresh_token"]))
    assert not RefreshToken.objects.filter(revoked_at__isnull=True).exists()
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED, detail="anomaly:frequent_refresh").count() == 1
    [signal] = sent["anomaly"]
    assert signal["details"]["action"] == "revoke" and sent["reauth"] == []
    # The refusal is the anomaly's, not a failed refresh of the client's.
    assert TokenEvent.objects.filter(kind=TokenEvent.REFRESH_FAILED, detail__startswith="anomaly").count() == 0


def test_revoke_and_reauthorize_also_says_the_user_must_authorize_again(
    flow, clock, settings, sent, django_capture_on_commit_callbacks
):
    with_settings(settings, ANOMALY_FREQUENT_REFRESH_ACTION="revoke_and_reauthorize")
    tokens = exchange(flow)
    with django_capture_on_commit_callbacks(execute=True):
        responses = rotate(flow, clock, tokens["refresh_token"], 4)
    assert refused(responses[-1])
    family = RefreshToken.objects.get(parent=None).family
    [reauth] = sent["reauth"]
    assert reauth == {"signal": reauth["signal"], "client": flow.client, "user": flow.user, "family": family,
                      "reason": "anomaly:frequent_refresh"}
    assert sent["anomaly"][0]["details"]["action"] == "revoke_and_reauthorize"
    assert not validates(flow, responses[2].json()["access_token"])


def test_off_and_detection_off_record_nothing(flow, clock, settings, sent):
    with_settings(settings, ANOMALY_FREQUENT_REFRESH_ACTION="off")
    rotate(flow, clock, exchange(flow)["refresh_token"], 5)
    assert anomalies() == []
    with_settings(settings, ANOMALY_DETECTION=False)
    rotate(flow, clock, exchange(flow)["refresh_token"], 5)
    assert anomalies() == [] and sent["anomaly"] == []
    assert RefreshToken.objects.filter(usage__isnull=True).count() == 6  # the second family kept no history


# -- a client's rate against its own baseline ------------------------------------------

def test_a_client_refreshing_far_above_its_hourly_median_is_recorded_once_per_hour(
    flow, clock, settings, sent, django_capture_on_commit_callbacks
):
    with_settings(settings, ANOMALY_FREQUENT_REFRESH_LIMIT=0, ANOMALY_CLIENT_RATE_FACTOR=3,
                  ANOMALY_CLIENT_RATE_FLOOR=5)
    clock.now = clock.now.replace(minute=0, second=0, microsecond=0)
    current = exchange(flow)["refresh_token"]
    for _hour in range(30):  # 30 hours of history: 2 refreshes an hour
        for response in rotate(flow, clock, current, 2, step=11):
            current = response.json()["refresh_token"]
        clock.advance(3600 - 22)
    assert anomalies() == []
    with django_capture_on_commit_callbacks(execute=True):
        burst = rotate(flow, clock, current, 12, step=11)  # the busy hour
    assert all(r.status_code == 200 for r in burst)  # a client's rate is recorded, never revoked
    [event] = anomalies("frequent_refresh")
    assert event.family is None and event.client == flow.client and event.user is None
    assert "refreshes in the last hour" in event.detail and "median over 30 h is 2" in event.detail
    [signal] = sent["anomaly"]
    assert signal["family"] is None and signal["details"]["baseline"] == 2 and signal["details"]["factor"] == 3


def test_a_receiver_written_for_the_consumer_s_kwargs_does_not_fail_the_request(
    flow, clock, settings, sent, django_capture_on_commit_callbacks, caplog
):
    from oauth_tokens import signals

    def consumer_receiver(sender, provider, user, token, url, **kwargs):  # the consumer's kwargs only
        raise AssertionError("not called with these kwargs")

    signals.reauthorization_required.connect(consumer_receiver, dispatch_uid="test-consumer-shaped")
    try:
        with_settings(settings, ANOMALY_FREQUENT_REFRESH_ACTION="revoke_and_reauthorize")
        tokens = exchange(flow)
        with django_capture_on_commit_callbacks(execute=True):
            responses = rotate(flow, clock, tokens["refresh_token"], 4)
    finally:
        signals.reauthorization_required.disconnect(dispatch_uid="test-consumer-shaped")
    assert refused(responses[-1])  # a clear invalid_grant, not a 500
    assert [s["kind"] for s in sent["anomaly"]] == ["frequent_refresh"] and len(sent["reauth"]) == 1
    assert "consumer_receiver" in caplog.text
