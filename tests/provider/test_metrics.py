"""Prometheus counters and the token endpoint's histogram (oauth_tokens.provider.metrics):
each counts what a request did, once its transaction commits, with bounded labels."""

from __future__ import annotations

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from oauth_tokens.provider import metrics
from oauth_tokens.provider.models import TokenEvent
from tests.conftest import basic

pytestmark = pytest.mark.django_db


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Counts:
    """Samples read before, compared after: other tests count into the same registry."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def added(self) -> list[float]:
        return [value(name, **labels) - was for (name, labels), was in zip(self.samples, self.before, strict=True)]


def sample(name: str, **labels: str) -> tuple[str, dict[str, str]]:
    return name, labels


@pytest.fixture
def metrics_on(settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "METRICS_ENABLED": True}
    assert metrics.token_request_observer is not None


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs, at its end, what the requests inside deferred to their
    commit (the test's own transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def cc(flow, **kwargs):
    return flow.token({"grant_type": "client_credentials"}, **kwargs)


def test_off_by_default_nothing_is_hooked_or_counted(flow, committed):
    assert metrics.token_request_observer is None
    counts = Counts(sample("oauth_tokens_issued_total", grant_type="client_credentials", client=flow.client.client_id),
                    sample("oauth_tokens_token_requests_total", grant_type="client_credentials", status="200"))
    with committed():
        assert cc(flow).status_code == 200
    assert counts.added() == [0, 0]


def test_client_credentials_counts_the_issue_the_status_and_the_latency(flow, metrics_on, committed):
    client = flow.client.client_id
    counts = Counts(
        sample("oauth_tokens_issued_total", grant_type="client_credentials", client=client),
        sample("oauth_tokens_token_requests_total", grant_type="client_credentials", status="200"),
        sample("oauth_tokens_token_request_duration_seconds_count", grant_type="client_credentials"),
        sample("oauth_tokens_token_request_duration_seconds_bucket", grant_type="client_credentials", le="+Inf"),
    )
    with committed():
        for _ in range(3):
            assert cc(flow).status_code == 200
    assert counts.added() == [3, 3, 3, 3]
    assert value("oauth_tokens_token_request_duration_seconds_sum", grant_type="client_credentials") > 0


def test_nothing_is_issued_until_the_transaction_commits(flow, metrics_on, committed):
    counts = Counts(sample("oauth_tokens_issued_total", grant_type="client_credentials", client=flow.client.client_id))
    with committed():
        assert cc(flow).status_code == 200
        assert counts.added() == [0]
    assert counts.added() == [1]


def test_code_exchange_and_rotation_count_per_grant(flow, metrics_on, committed):
    client = flow.client.client_id
    counts = Counts(
        sample("oauth_tokens_issued_total", grant_type="authorization_code", client=client),
        sample("oauth_tokens_issued_total", grant_type="refresh_token", client=client),
        sample("oauth_tokens_refresh_rotations_total", client=client),
        sample("oauth_tokens_token_requests_total", grant_type="refresh_token", status="200"),
    )
    with committed():
        tokens = flow.code_tokens()
        for _ in range(2):
            answer = flow.refresh(tokens["refresh_token"])
            assert answer.status_code == 200, answer.content
            tokens = answer.json()
    assert counts.added() == [1, 2, 2, 2]


def test_a_grace_replay_hands_out_no_new_tokens(flow, metrics_on, committed):
    client = flow.client.client_id
    counts = Counts(sample("oauth_tokens_issued_total", grant_type="refresh_token", client=client),
                    sample("oauth_tokens_refresh_rotations_total", client=client),
                    sample("oauth_tokens_token_requests_total", grant_type="refresh_token", status="200"))
    with committed():
        spent = flow.code_tokens()["refresh_token"]
        first, again = flow.refresh(spent), flow.refresh(spent)  # inside the grace window: the same pair
    assert first.status_code == again.status_code == 200
    assert first.json()["refresh_token"] == again.json()["refresh_token"]
    assert counts.added() == [1, 1, 2]


def test_reuse_counts_a_detection_and_a_revocation(flow, metrics_on, committed, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "REFRESH_TOKEN_GRACE_PERIOD": 0}
    client = flow.client.client_id
    counts = Counts(sample("oauth_tokens_refresh_reuse_detected_total", client=client),
                    sample("oauth_tokens_revocations_total", reason="reuse"),
                    sample("oauth_tokens_token_requests_total", grant_type="refresh_token", status="400"))
    with committed():
        tokens = flow.code_tokens()
        assert flow.refresh(tokens["refresh_token"]).status_code == 200
        assert flow.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert counts.added() == [1, 1, 1]


def test_failed_client_authentication_counts_per_client_and_unknown_ids(flow, metrics_on, committed):
    counts = Counts(sample("oauth_tokens_client_auth_failures_total", client=flow.client.client_id),
                    sample("oauth_tokens_client_auth_failures_total", client="unknown"),
                    sample("oauth_tokens_token_requests_total", grant_type="client_credentials", status="401"))
    with committed():
        assert cc(flow, auth=basic(flow.client.client_id, "wrong")).status_code == 401
        assert cc(flow, auth=basic(flow.client.client_id, "wrong")).status_code == 401
        assert cc(flow, auth=basic("no-such-client", "wrong")).status_code == 401
    assert counts.added() == [2, 1, 3]


def test_refresh_failures_and_anomalies_count_from_their_events(oauth_client, metrics_on, committed):
    client = oauth_client.client_id
    counts = Counts(sample("oauth_tokens_refresh_failures_total", client=client),
                    sample("oauth_tokens_anomalies_total", kind="frequent_refresh", client=client),
                    sample("oauth_tokens_anomalies_total", kind="impossible_travel", client=client),
                    sample("oauth_tokens_anomalies_total", kind="other", client=client))
    event = {"client": oauth_client, "client_identifier": client}
    with committed():
        TokenEvent.objects.create(kind="refresh_failed", detail="unknown refresh token", **event)
        TokenEvent.objects.create(kind="anomaly", detail="frequent_refresh: 5 rotations in 3600 s", **event)
        TokenEvent.objects.create(kind="anomaly", detail="impossible_travel: 9000 km in 60 s", **event)
        TokenEvent.objects.create(kind="anomaly", detail="something new: x", **event)
        TokenEvent.objects.create(kind=TokenEvent.GRACE_REPLAYED, **event)  # not counted
    assert counts.added() == [1, 1, 1, 1]


def test_revocations_count_per_reason_whatever_revokes(flow, metrics_on, committed):
    counts = Counts(sample("oauth_tokens_revocations_total", reason="revoked"),
                    sample("oauth_tokens_revocations_total", reason="user_deactivated"),
                    sample("oauth_tokens_revocations_total", reason="admin"),
                    sample("oauth_tokens_revocations_total", reason="other"))
    with committed():
        token = cc(flow).json()["access_token"]
        answer = flow.http.post("/oauth/revoke", f"token={token}", content_type="application/x-www-form-urlencoded",
                                HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.client.secret))
        assert answer.status_code == 200
        flow.code_tokens()
        flow.user.is_active = False
        flow.user.save()
        TokenEvent.objects.create(kind=TokenEvent.REVOKED, detail="access token #7 revoked in the admin by root")
        TokenEvent.objects.create(kind=TokenEvent.REVOKED, detail="A sentence, not a reason")
    assert counts.added() == [1, 1, 1, 1]


def test_a_rolled_back_transaction_counts_nothing(oauth_client, metrics_on, committed):
    counts = Counts(sample("oauth_tokens_refresh_failures_total", client=oauth_client.client_id))
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        TokenEvent.objects.create(kind="refresh_failed", client=oauth_client,
                                  client_identifier=oauth_client.client_id)
        raise RuntimeError("rolled back")
    assert counts.added() == [0]


def test_the_client_label_can_be_turned_off(flow, metrics_on, committed, settings):
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "METRICS_CLIENT_LABEL": False}
    counts = Counts(sample("oauth_tokens_issued_total", grant_type="client_credentials", client=""),
                    sample("oauth_tokens_issued_total", grant_type="client_credentials",
                           client=flow.client.client_id))
    with committed():
        assert cc(flow).status_code == 200
    assert counts.added() == [1, 0]


def test_a_grant_type_this_server_does_not_know_is_labelled_other(flow, metrics_on):
    counts = Counts(sample("oauth_tokens_token_requests_total", grant_type="other", status="400"),
                    sample("oauth_tokens_token_request_duration_seconds_count", grant_type="other"))
    assert flow.token({"grant_type": "urn:made:up:" + "x" * 50}).status_code == 400
    assert flow.token({}).status_code == 400
    assert counts.added() == [2, 2]


def test_validation_requests_are_not_token_requests(flow, metrics_on):
    token = cc(flow).json()["access_token"]
    counts = Counts(sample("oauth_tokens_token_request_duration_seconds_count", grant_type="other"),
                    sample("oauth_tokens_token_request_duration_seconds_count", grant_type="client_credentials"))
    assert flow.http.get("/oauth/token", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert counts.added() == [0, 0]


def test_a_metric_that_cannot_be_recorded_never_fails_a_token_request(flow, metrics_on, committed, monkeypatch,
                                                                    caplog):
    def broken():
        raise OSError("No space left on device")

    monkeypatch.setattr(metrics, "current", broken)
    with committed():
        assert cc(flow).status_code == 200
        assert cc(flow, auth=basic(flow.client.client_id, "wrong")).status_code == 401
    assert "A metric could not be recorded" in caplog.text


def test_without_prometheus_client_the_metrics_stay_off(monkeypatch, settings):
    monkeypatch.setattr(metrics, "installed", lambda: False)
    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "METRICS_ENABLED": True}
    assert metrics.token_request_observer is None
    assert metrics.configure() is False


def test_labels_take_bounded_values():
    assert metrics.anomaly_label("new_location: 10.1.0.0/16 first seen") == "new_location"
    assert metrics.anomaly_label("no colon at all") == "other"
    assert metrics.grant_label(None) == metrics.grant_label("password") == "other"
    assert metrics.grant_label("refresh_token") == "refresh_token"
