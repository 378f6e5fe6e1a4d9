"""The three anomaly kinds detected over real HTTP: the token endpoint served by
a live server (its own thread), requests sent with httpx, the client's address
taken from X-Forwarded-For behind one proxy (NUM_PROXIES=1), time moved by
patching the provider's clock (the ``clock`` fixture). The codes come from the authorization endpoint
(Django's test client: the consent step); everything after is HTTP."""

from __future__ import annotations

import httpx
import pytest

from oauth_tokens.provider import models
from tests.conftest import REDIRECT, VERIFIER, Flow, basic
from tests.provider.anomaly_support import anomalies, patient_cache, with_settings  # noqa: F401
from tests.provider.test_anomaly_location import LONDON, PARIS, SYDNEY, geoip, geoip_database  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(live_server, settings):
    with_settings(settings, NUM_PROXIES=1)
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def token(http, oauth_client, data, ip):
    return http.post("/oauth/token", data=data, headers={
        "Authorization": basic(oauth_client.client_id, oauth_client.secret), "X-Forwarded-For": ip})


def new_family(client, http, oauth_client, user, ip):
    code = Flow(client, oauth_client, user).authorize()
    answer = token(http, oauth_client, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                        "code_verifier": VERIFIER}, ip)
    assert answer.status_code == 200, answer.text
    return answer.json()["refresh_token"]


def rotate(http, oauth_client, refresh_token, ip):
    answer = token(http, oauth_client, {"grant_type": "refresh_token", "refresh_token": refresh_token}, ip)
    assert answer.status_code == 200, answer.text
    return answer.json()["refresh_token"]


def test_frequent_refreshes(client, http, oauth_client, user, clock):
    current = new_family(client, http, oauth_client, user, "10.1.0.1")
    for _ in range(3):  # within one access-token lifetime (3600 s)
        clock.advance(60)
        current = rotate(http, oauth_client, current, "10.1.0.1")
    assert anomalies() == []  # three are within the limit
    for _ in range(1):  # four rotations within one access-token lifetime: one more than the default 3
        clock.advance(60)
        current = rotate(http, oauth_client, current, "10.1.0.1")
    [event] = anomalies("frequent_refresh")
    assert event.client == oauth_client and event.user == user and event.ip_address == "10.1.0.1"
    assert event.detail.startswith("frequent_refresh: 4 rotations within 3600 s")


def test_failed_refreshes(http, oauth_client, clock):
    for i in range(11):  # over the default limit of 10 from one address
        answer = token(http, oauth_client, {"grant_type": "refresh_token", "refresh_token": f"stolen-{i}"},
                       "10.2.0.9")
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
        assert answer.headers["Cache-Control"] == "no-store"
    [event] = anomalies("failed_refresh")
    assert event.ip_address == "10.2.0.9" and event.client == oauth_client
    failed = models.TokenEvent.objects.filter(kind=models.TokenEvent.REFRESH_FAILED)
    assert failed.count() == 10 and not [e for e in failed if "stolen" in e.detail]


def test_new_location_and_impossible_travel_with_geoip(client, http, oauth_client, user, clock, geoip):  # noqa: F811
    current = new_family(client, http, oauth_client, user, LONDON)
    clock.advance(3600)
    current = rotate(http, oauth_client, current, PARIS)
    [moved] = anomalies("new_location")
    assert moved.ip_address == PARIS and "FR" in moved.detail
    clock.advance(600)
    rotate(http, oauth_client, current, SYDNEY)
    [travel] = anomalies("impossible_travel")
    assert travel.ip_address == SYDNEY and travel.family == moved.family
