"""The anomaly decisions of the spec layer (``oauth2.anomaly``): plain values in, findings out."""

import pytest

from oauth_tokens.oauth2 import anomaly
from oauth_tokens.oauth2.anomaly import FailureCounts, Location, Policy, Usage, Use

POLICY = Policy(window=3600, rotation_limit=3, new_location=True, max_speed_kmh=1000)
LONDON = Location("GB", 51.5074, -0.1278, 10)
PARIS = Location("FR", 48.8566, 2.3522, 10)
SYDNEY = Location("AU", -33.8688, 151.2093, 10)


def rotate(usage, *uses, policy=POLICY):
    found = []
    for use in uses:
        usage, findings = anomaly.observe(usage, use, policy)
        found.append([f.kind for f in findings])
    return usage, found


def test_the_fourth_rotation_within_one_access_token_lifetime_is_frequent():
    usage, found = rotate(Usage(), *(Use(at=1000 + 60 * i, network="81.2.0.0/16") for i in range(4)))
    assert found == [[], [], [], ["frequent_refresh"]]


def test_four_rotations_spread_over_more_than_the_lifetime_are_not():
    _, found = rotate(Usage(), *(Use(at=1000 + 1300 * i, network="81.2.0.0/16") for i in range(4)))
    assert found == [[], [], [], []]


def test_a_family_is_flagged_once_per_window_then_again_after_it():
    _, found = rotate(Usage(), *(Use(at=1000 + 60 * i) for i in range(8)),
                      *(Use(at=1000 + 7200 + 60 * i) for i in range(4)))
    assert [i for i, kinds in enumerate(found) if kinds] == [3, 11]


def test_the_finding_says_the_numbers_that_triggered_it():
    _, findings = anomaly.observe(Usage(rotations=(100, 200, 300)), Use(at=400), POLICY)
    (finding,) = findings
    assert finding.detail.startswith("frequent_refresh: 4 rotations within 3600 s")
    assert finding.numbers == {"rotations": 4, "window": 3600, "limit": 3}


def test_a_limit_of_zero_turns_frequent_refresh_off():
    policy = Policy(window=3600, rotation_limit=0, new_location=True, max_speed_kmh=0)
    _, found = rotate(Usage(), *(Use(at=i) for i in range(10)), policy=policy)
    assert not any(found)


def test_the_history_stays_bounded():
    usage = Usage()
    for i in range(100):
        usage, _ = anomaly.observe(usage, Use(at=i, network=f"10.{i}.0.0/16"), POLICY)
    assert len(usage.rotations) <= 3 and len(usage.networks) == anomaly.PLACES_KEPT
    assert len(str(usage.to_json())) < 400


def test_a_network_never_seen_for_the_family_is_a_new_location():
    usage = anomaly.start(Use(at=0, network=anomaly.network_of("81.2.69.160")))
    usage, found = rotate(usage, Use(at=10, network=anomaly.network_of("81.2.200.1")),
                          Use(at=20, network=anomaly.network_of("203.0.113.9")),
                          Use(at=5000, network=anomaly.network_of("81.2.1.1")))
    assert found == [[], ["new_location"], []]


def test_a_family_without_history_learns_its_first_place_without_alarm():
    usage, found = rotate(Usage(), Use(at=0, network="81.2.0.0/16"), Use(at=4000, location=LONDON))
    assert found == [[], []]
    assert usage.networks == ("81.2.0.0/16",) and usage.countries == ("GB",)


def test_a_new_country_is_a_new_location_and_a_near_one_is_no_impossible_travel():
    usage = anomaly.start(Use(at=0, location=LONDON))
    _, findings = anomaly.observe(usage, Use(at=3600, location=PARIS), POLICY)
    assert [f.kind for f in findings] == ["new_location"]
    assert findings[0].detail == "new_location: first use from country FR; seen before: GB"


def test_london_to_sydney_in_ten_minutes_is_impossible_travel():
    usage = anomaly.start(Use(at=0, location=LONDON))
    _, findings = anomaly.observe(usage, Use(at=600, location=SYDNEY), POLICY)
    assert sorted(f.kind for f in findings) == ["impossible_travel", "new_location"]
    travel = next(f for f in findings if f.kind == "impossible_travel")
    assert 16900 < travel.numbers["distance_km"] < 17100 and travel.numbers["seconds"] == 600
    assert "km/h" in travel.detail and travel.detail.startswith("impossible_travel: 16,9")


def test_travel_within_the_accuracy_radius_or_at_a_plane_s_speed_is_possible():
    usage = anomaly.start(Use(at=0, location=LONDON))
    near = Location("GB", 51.6, -0.2, 20)
    assert anomaly.observe(usage, Use(at=0, location=near), POLICY)[1] == []
    assert [f.kind for f in anomaly.observe(usage, Use(at=24 * 3600, location=SYDNEY), POLICY)[1]] == [
        "new_location"]


def test_a_country_only_location_gives_no_travel_verdict():
    usage = anomaly.start(Use(at=0, location=Location("GB")))
    _, findings = anomaly.observe(usage, Use(at=1, location=Location("AU")), POLICY)
    assert [f.kind for f in findings] == ["new_location"]


@pytest.mark.parametrize(("ip", "network"), [
    ("81.2.69.160", "81.2.0.0/16"),
    ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
    ("::ffff:81.2.69.160", "81.2.0.0/16"),
    ("", None),
    ("not an address", None),
])
def test_networks_are_ipv4_16_and_ipv6_48(ip, network):
    assert anomaly.network_of(ip) == network


def test_failures_are_counted_per_ipv4_address_and_ipv6_64():
    assert anomaly.address_bucket("203.0.113.9") == "203.0.113.9"
    assert anomaly.address_bucket("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"


def test_usage_survives_json_and_garbage_reads_as_none():
    usage = Usage(rotations=(1, 2), networks=("a",), countries=("GB",), last_place=(1.0, 2.0, 3.0, 4), alerted_at=5)
    assert Usage.from_json(usage.to_json()) == usage
    for garbage in (None, [], "x", {"r": "nope"}, {"l": [1]}):
        assert Usage.from_json(garbage) == Usage()


def hours(*counts):
    return list(counts)


def test_a_client_far_above_its_median_busy_hour_is_frequent():
    history = [0, 0, 0, 40] * 12  # 48 h, active one hour in four, 40 refreshes then
    finding = anomaly.client_rate(500, 0, 0.5, history, factor=10, floor=100)
    assert finding is not None and finding.kind == "frequent_refresh"
    assert finding.numbers["baseline"] == 40 and finding.numbers["refreshes"] == 500


def test_below_the_floor_or_the_factor_or_without_a_day_of_history_is_not():
    history = [40] * 48
    assert anomaly.client_rate(399, 0, 0.5, history, factor=10, floor=100) is None
    assert anomaly.client_rate(99, 0, 0.5, [0] * 48, factor=10, floor=100) is None  # a quiet client's busy hour
    assert anomaly.client_rate(5000, 0, 0.5, [40] * 23, factor=10, floor=100) is None
    assert anomaly.client_rate(5000, 0, 0.5, history, factor=0, floor=100) is None


def test_the_last_hour_includes_what_of_the_previous_hour_is_still_in_it():
    history = [10] * 48
    assert anomaly.client_rate(50, 200, 0.25, history, factor=10, floor=100).numbers["refreshes"] == 200
    assert anomaly.client_rate(50, 200, 0.99, history, factor=10, floor=100) is None


def test_failures_are_audited_up_to_the_limit_and_the_next_is_the_burst():
    outcomes = [anomaly.failed_refreshes(FailureCounts(address=n, client=n), limit=3, client_limit=100,
                                         window=300, reason="unknown") for n in range(1, 7)]
    assert [audit for audit, _ in outcomes] == [True, True, True, False, False, False]
    assert [f is not None for _, f in outcomes] == [False, False, False, True, False, False]
    finding = outcomes[3][1]
    assert finding.detail.startswith("failed_refresh: failed refreshes within 300 s: 4 from one address")
    assert finding.numbers["address_failures"] == 4 and finding.numbers["reason"] == "unknown"


def test_one_burst_names_every_count_it_completes():
    _, finding = anomaly.failed_refreshes(FailureCounts(address=4, client=4, family=4), limit=3, client_limit=3,
                                          window=60, reason="reused")
    assert {"address_failures", "client_failures", "family_failures"} <= set(finding.numbers)


def test_a_client_past_its_limit_stops_the_audit_rows_from_new_addresses_too():
    audit, finding = anomaly.failed_refreshes(FailureCounts(address=1, client=102), limit=10, client_limit=100,
                                              window=300, reason="unknown")
    assert (audit, finding) == (False, None)


def test_uncounted_failures_are_audited_without_a_burst():
    assert anomaly.failed_refreshes(FailureCounts(address=None, client=None), limit=1, client_limit=1, window=1,
                                    reason="unknown") == (True, None)
