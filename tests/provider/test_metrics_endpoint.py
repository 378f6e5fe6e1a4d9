"""The metrics view (oauth_tokens.provider.metrics_endpoint.metrics_view, mounted at
/metrics in the example project): absent while off, loopback-only by default, a
bearer token when configured; and the checks of its settings."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from prometheus_client.parser import text_string_to_metric_families

from oauth_tokens.provider import metrics, metrics_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics_settings(settings):
    def configure(**values):
        settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "METRICS_ENABLED": True, **values}

    return configure


def families(response) -> dict[str, dict]:
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def ids(messages) -> list[str]:
    return sorted(message.id for message in messages)


def test_off_it_answers_404_as_if_not_mounted(client):
    assert client.get("/metrics").status_code == 404


def test_on_it_renders_the_text_format_to_loopback(client, metrics_settings):
    metrics_settings()
    client.post("/oauth/token", "grant_type=client_credentials", content_type="application/x-www-form-urlencoded")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response["Cache-Control"] == "no-store"
    found = families(response)
    assert found["oauth_tokens_token_request_duration_seconds"].type == "histogram"
    assert found["oauth_tokens_token_requests"].type == "counter"


def test_openmetrics_when_the_scraper_asks_for_it(client, metrics_settings):
    metrics_settings()
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")


def test_other_addresses_are_refused(client, metrics_settings):
    metrics_settings()
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    metrics_settings(METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"])
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403


def test_behind_a_proxy_the_forwarded_address_is_the_one_checked(client, metrics_settings):
    metrics_settings(NUM_PROXIES=1)
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


def test_a_bearer_token_when_one_is_set(client, metrics_settings):
    metrics_settings(METRICS_ALLOWED_NETWORKS=[], METRICS_BEARER_TOKEN="s3cret-scrape-token")
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-scrape-token").status_code == 401
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ok.status_code == 200


def test_only_get_and_head(client, metrics_settings):
    metrics_settings()
    response = client.post("/metrics")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert client.head("/metrics").status_code == 200


def test_a_malformed_network_list_closes_the_view(client, metrics_settings):
    metrics_settings(METRICS_ALLOWED_NETWORKS="127.0.0.1")
    assert client.get("/metrics").status_code == 403


def test_without_prometheus_client_it_says_what_to_install(client, metrics_settings, monkeypatch):
    metrics_settings()
    monkeypatch.setattr(metrics, "installed", lambda: False)
    response = client.get("/metrics")
    assert response.status_code == 503
    assert b'pip install "django-oauth-tokens-kit[metrics]"' in response.content


# -- checks ------------------------------------------------------------------------
def test_no_check_fires_with_the_defaults_or_a_sane_setup(metrics_settings):
    assert metrics_endpoint.check_metrics() == []
    metrics_settings()
    assert metrics_endpoint.check_metrics() == []


def test_e030_metrics_on_without_prometheus_client(metrics_settings, monkeypatch):
    metrics_settings()
    monkeypatch.setattr(metrics, "installed", lambda: False)
    [error] = metrics_endpoint.check_metrics()
    assert error.id == "oauth_tokens.E030"
    assert "django-oauth-tokens-kit[metrics]" in error.hint
    with pytest.raises(SystemCheckError, match="E030"):
        call_command("check")


def test_e031_malformed_values(metrics_settings):
    metrics_settings(METRICS_ALLOWED_NETWORKS=["10.0.0.0/8", "not a network"], METRICS_BEARER_TOKEN="")
    assert ids(metrics_endpoint.check_metrics()) == ["oauth_tokens.E031", "oauth_tokens.E031"]
    metrics_settings(METRICS_ALLOWED_NETWORKS="10.0.0.0/8", METRICS_BEARER_TOKEN=None)
    assert ids(metrics_endpoint.check_metrics()) == ["oauth_tokens.E031"]


def test_e032_multiprocess_directory_missing(metrics_settings, monkeypatch, tmp_path):
    metrics_settings()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert ids(metrics_endpoint.check_metrics()) == ["oauth_tokens.E032"]


def test_w030_open_to_any_address_without_a_token(metrics_settings):
    metrics_settings(METRICS_ALLOWED_NETWORKS=[])
    assert ids(metrics_endpoint.check_metrics()) == ["oauth_tokens.W030"]
    metrics_settings(METRICS_ALLOWED_NETWORKS=[], METRICS_BEARER_TOKEN="t")
    assert metrics_endpoint.check_metrics() == []


def test_e005_a_flag_that_is_not_a_boolean(settings):
    from oauth_tokens.settings import check_setting_values

    settings.OAUTH_TOKENS = {**settings.OAUTH_TOKENS, "METRICS_ENABLED": "False", "METRICS_CLIENT_LABEL": 0}
    assert ids(check_setting_values()) == ["oauth_tokens.E005", "oauth_tokens.E005"]
    assert metrics.token_request_observer is None
