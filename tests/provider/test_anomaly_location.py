"""Geographic anomalies over HTTP: with Django's GeoIP2 and a MaxMind-format test
database (``tests/geoip_testdb.py``), a family's first use from a new country and
impossible travel; without GeoIP, a network never seen for the family."""

import logging

import pytest
from django.core.management import call_command

from oauth_tokens.provider import geo
from oauth_tokens.provider.models import RefreshToken, TokenEvent
from tests import geoip_testdb
from tests.provider.anomaly_support import (
    anomalies,
    exchange,
    refresh,
    refused,
    validates,
    with_settings,
)

pytestmark = pytest.mark.django_db

LONDON, LONDON_TOO, PARIS, SYDNEY, BERLIN = "81.2.69.160", "81.2.69.7", "198.51.100.20", "203.0.113.9", "192.0.2.4"


@pytest.fixture(scope="session")
def geoip_database(tmp_path_factory):
    # requirements-dev.txt installs both (the "geoip" extra and the writer); elsewhere these skip.
    pytest.importorskip("geoip2", reason="the geoip extra (geoip2) is not installed")
    pytest.importorskip("mmdb_writer", reason="mmdb-writer (writes the test database) is not installed")
    return geoip_testdb.write(tmp_path_factory.mktemp("geoip") / "GeoLite2-City-Test.mmdb")


@pytest.fixture
def geoip(settings, geoip_database):
    settings.GEOIP_PATH = str(geoip_database)
    assert geo.enabled()
    yield
    del settings.GEOIP_PATH


# -- without GeoIP: networks -----------------------------------------------------------

def test_without_geoip_a_network_never_seen_for_the_family_is_a_new_location(
    flow, clock, sent, django_capture_on_commit_callbacks
):
    assert not geo.enabled()
    tokens = exchange(flow, ip="81.2.69.160")
    clock.advance(600)
    same_network = refresh(flow, tokens["refresh_token"], ip="81.2.200.1")
    assert same_network.status_code == 200 and anomalies() == []
    clock.advance(600)
    with django_capture_on_commit_callbacks(execute=True):
        elsewhere = refresh(flow, same_network.json()["refresh_token"], ip=SYDNEY)
    assert elsewhere.status_code == 200
    [event] = anomalies()
    assert event.detail == "new_location: first use from network 203.0.0.0/16; seen before: 81.2.0.0/16"
    family = RefreshToken.objects.get(parent=None).family
    assert (event.client, event.user, event.family, event.ip_address) == (flow.client, flow.user, family, SYDNEY)
    [signal] = sent["anomaly"]
    assert signal["kind"] == "new_location" and signal["ip"] == SYDNEY and signal["family"] == family
    assert signal["details"]["network"] == "203.0.0.0/16" and signal["details"]["action"] == "record"
    # Seen now: going back is no anomaly, nor is another family's first use from there.
    clock.advance(600)
    assert refresh(flow, elsewhere.json()["refresh_token"], ip="81.2.1.1").status_code == 200
    exchange(flow, ip=SYDNEY)
    assert len(anomalies()) == 1


def test_ipv6_networks_are_their_48(flow, clock):
    tokens = exchange(flow, ip="2001:db8:1:1::1")
    clock.advance(600)
    response = refresh(flow, tokens["refresh_token"], ip="2001:db8:1:ffff::2")
    assert response.status_code == 200 and anomalies() == []
    clock.advance(600)
    refresh(flow, response.json()["refresh_token"], ip="2001:db8:2::1")
    assert [e.detail.split(";")[0] for e in anomalies()] == ["new_location: first use from network 2001:db8:2::/48"]


# -- with GeoIP: countries and travel ------------------------------------------------------

def test_with_geoip_a_new_country_is_a_new_location_and_an_impossible_journey_is_impossible_travel(
    flow, clock, geoip, sent, django_capture_on_commit_callbacks
):
    tokens = exchange(flow, ip=LONDON)
    clock.advance(3600)
    with django_capture_on_commit_callbacks(execute=True):
        in_london = refresh(flow, tokens["refresh_token"], ip=LONDON_TOO)
        clock.advance(3600)
        in_paris = refresh(flow, in_london.json()["refresh_token"], ip=PARIS)  # 344 km in an hour: possible
    assert in_paris.status_code == 200
    [event] = anomalies()
    assert event.detail == "new_location: first use from country FR; seen before: GB"
    assert sent["anomaly"][0]["details"]["country"] == "FR"

    clock.advance(600)
    with django_capture_on_commit_callbacks(execute=True):
        in_sydney = refresh(flow, in_paris.json()["refresh_token"], ip=SYDNEY)
    assert in_sydney.status_code == 200  # "record" by default
    [travel] = anomalies("impossible_travel")
    assert travel.ip_address == SYDNEY and travel.family == event.family
    assert "(AU) from the last use 600 s earlier" in travel.detail and "the limit is 1000 km/h" in travel.detail
    [signal] = [s for s in sent["anomaly"] if s["kind"] == "impossible_travel"]
    assert 16000 < signal["details"]["distance_km"] < 17500 and signal["details"]["seconds"] == 600
    assert signal["details"]["max_speed_kmh"] == 1000
    assert [e.detail.split(";")[0] for e in anomalies("new_location")] == [
        "new_location: first use from country FR", "new_location: first use from country AU"]


def test_impossible_travel_set_to_revoke_refuses_and_ends_the_family(
    flow, clock, geoip, settings, sent, django_capture_on_commit_callbacks
):
    with_settings(settings, ANOMALY_IMPOSSIBLE_TRAVEL_ACTION="revoke", ANOMALY_NEW_LOCATION_ACTION="off")
    tokens = exchange(flow, ip=LONDON)
    clock.advance(300)
    with django_capture_on_commit_callbacks(execute=True):
        response = refresh(flow, tokens["refresh_token"], ip=SYDNEY)
    assert refused(response)
    assert not validates(flow, tokens["access_token"])
    assert refused(refresh(flow, tokens["refresh_token"], ip=LONDON))
    assert [s["kind"] for s in sent["anomaly"]] == ["impossible_travel"]
    assert TokenEvent.objects.filter(kind=TokenEvent.REVOKED, detail="anomaly:impossible_travel").exists()


def test_new_location_set_to_revoke_and_reauthorize(flow, clock, geoip, settings, sent,
                                                    django_capture_on_commit_callbacks):
    with_settings(settings, ANOMALY_NEW_LOCATION_ACTION="revoke_and_reauthorize", ANOMALY_MAX_TRAVEL_SPEED=0)
    tokens = exchange(flow, ip=LONDON)
    clock.advance(300)
    with django_capture_on_commit_callbacks(execute=True):
        assert refused(refresh(flow, tokens["refresh_token"], ip=SYDNEY))
    family = RefreshToken.objects.get().family
    [reauth] = sent["reauth"]
    assert (reauth["client"], reauth["user"], reauth["family"], reauth["reason"]) == (
        flow.client, flow.user, family, "anomaly:new_location")
    assert [s["kind"] for s in sent["anomaly"]] == ["new_location"]


def test_an_address_the_database_does_not_know_and_a_country_only_record(flow, clock, geoip):
    tokens = exchange(flow, ip="127.0.0.1")  # not in the database: no place to compare with
    clock.advance(60)
    response = refresh(flow, tokens["refresh_token"], ip=BERLIN)  # country only: learned
    clock.advance(60)
    refresh(flow, response.json()["refresh_token"], ip=SYDNEY)  # a new country, no travel verdict (no coordinates)
    assert [e.detail.split(";")[0] for e in anomalies()] == ["new_location: first use from country AU"]


def test_an_unusable_geoip_path_falls_back_to_networks_with_a_warning(flow, clock, settings, tmp_path, caplog):
    settings.GEOIP_PATH = str(tmp_path / "missing.mmdb")
    with caplog.at_level(logging.WARNING, logger="oauth_tokens.provider.geo"):
        assert not geo.enabled()
    assert "fall back to networks" in caplog.text
    tokens = exchange(flow, ip=LONDON)
    clock.advance(60)
    refresh(flow, tokens["refresh_token"], ip=SYDNEY)
    assert [e.detail.split(";")[0] for e in anomalies()] == ["new_location: first use from network 203.0.0.0/16"]
    from io import StringIO

    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "oauth_tokens.W040" in out.getvalue()
    del settings.GEOIP_PATH
