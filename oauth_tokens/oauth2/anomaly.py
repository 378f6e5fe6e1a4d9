"""Anomalies in refresh-token use, decided from plain values (RFC 9700 section
4.14: refresh tokens are a prized target; seed 002 "Monitoring").

What this module decides, without storage, settings or a clock of its own:

- ``Usage``: a family's recent use, small and bounded, carried on each refresh
  token to its successor: the times of its last rotations, the networks or
  countries it was used from, where and when it was last used;
- ``observe``: what one more use of a family reveals: more rotations within one
  access-token lifetime than a client that waits for its token to expire would
  need (``frequent_refresh``), a country or network the family was never used
  from (``new_location``), two uses further apart than travel at the maximum
  speed allows in the time between them (``impossible_travel``);
- ``client_rate``: a client refreshing far above its own hourly baseline
  (``frequent_refresh`` of a client);
- ``failed_refreshes``: a burst of refused refreshes (``failed_refresh``) and
  which failures are worth an audit row.

The provider stores, counts, records and acts (``oauth_tokens.provider.anomalies``).

Over our usual 300 lines by a few: the four detections share ``Usage`` and its
bounds, and each reads best beside it.
"""

from __future__ import annotations

import ipaddress
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

FREQUENT_REFRESH = "frequent_refresh"
FAILED_REFRESH = "failed_refresh"
NEW_LOCATION = "new_location"
IMPOSSIBLE_TRAVEL = "impossible_travel"
KINDS = (FREQUENT_REFRESH, FAILED_REFRESH, NEW_LOCATION, IMPOSSIBLE_TRAVEL)

#: What to do about an anomaly of a kind: record it (event and signal), also
#: revoke its family, also tell the client's user to authorize again; or ignore the kind.
RECORD, REVOKE, REVOKE_AND_REAUTHORIZE, OFF = "record", "revoke", "revoke_and_reauthorize", "off"
ACTIONS = (RECORD, REVOKE, REVOKE_AND_REAUTHORIZE, OFF)

#: How many networks and countries a family remembers (the most recently used).
PLACES_KEPT = 8
#: How many rotation times a family remembers at most, whatever the limit.
ROTATIONS_KEPT = 16
#: A client's baseline needs this many hours of counted history.
MIN_BASELINE_HOURS = 24
EARTH_RADIUS_KM = 6371.0088
Number = int | float


@dataclass(frozen=True)
class Finding:
    """One anomaly: its kind, a sentence with the numbers that triggered it, and the numbers."""

    kind: str
    text: str
    numbers: Mapping[str, Number | str]

    @property
    def detail(self) -> str:
        """``"<kind>: <text>"``, at most 255 characters (the audit column)."""
        detail = f"{self.kind}: {self.text}"
        return detail if len(detail) <= 255 else detail[:254] + "…"


@dataclass(frozen=True)
class Location:
    """Where an address is, as far as the GeoIP database knows."""

    country: str
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float = 0.0  # the database's accuracy radius


@dataclass(frozen=True)
class Use:
    """One use of a family: when (epoch seconds), from which network (the fallback
    without GeoIP, else None) and from which location (None when unknown)."""

    at: float
    network: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class Policy:
    window: float  # one access-token lifetime, seconds
    rotation_limit: int  # more rotations than this inside the window is an anomaly; 0: off
    new_location: bool
    max_speed_kmh: float  # 0: off


@dataclass(frozen=True)
class Usage:
    """A family's recent use (JSON on its refresh token row: ``to_json`` / ``from_json``)."""

    rotations: tuple[int, ...] = ()
    networks: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    #: latitude, longitude, accuracy radius (km), epoch seconds of the last located use
    last_place: tuple[float, float, float, int] | None = None
    #: when the family's frequent-refresh anomaly was last raised (once per window)
    alerted_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in (("r", self.rotations), ("n", self.networks), ("c", self.countries)):
            if value:
                data[key] = list(value)
        if self.last_place is not None:
            data["l"] = list(self.last_place)
        if self.alerted_at is not None:
            data["a"] = self.alerted_at
        return data

    @classmethod
    def from_json(cls, data: object) -> Usage:
        """A family's usage from its row; anything unreadable counts as no history."""
        if not isinstance(data, Mapping):
            return cls()
        try:
            place = data.get("l")
            alerted = data.get("a")
            return cls(
                rotations=tuple(map(int, data.get("r", ())))[-ROTATIONS_KEPT:],
                networks=tuple(map(str, data.get("n", ())))[-PLACES_KEPT:],
                countries=tuple(map(str, data.get("c", ())))[-PLACES_KEPT:],
                last_place=(float(place[0]), float(place[1]), float(place[2]), int(place[3])) if place else None,
                alerted_at=int(alerted) if alerted is not None else None,
            )
        except (TypeError, ValueError, IndexError):
            return cls()


@lru_cache(maxsize=4096)
def network_of(ip: str) -> str | None:
    """The network a family is known by without GeoIP: the /16 of an IPv4 address, the
    /48 of an IPv6 one (an IPv4-mapped address is IPv4). None for no or a bad address.
    Memoized (bounded): a busy client's addresses come again and again."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 16 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def address_bucket(ip: str) -> str:
    """What failures are counted per: the IPv4 address, or the /64 of an IPv6 one
    (one host can pick any address of its /64)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _remember(seen: tuple[str, ...], value: str) -> tuple[str, ...]:
    """``seen`` with ``value`` as the most recent, the oldest dropped beyond PLACES_KEPT."""
    return (*(s for s in seen if s != value), value)[-PLACES_KEPT:]


def start(use: Use) -> Usage:
    """The usage of a new family (its code exchange): where it began, no rotation yet."""
    return observe(Usage(), use, Policy(window=0, rotation_limit=0, new_location=False, max_speed_kmh=0))[0]


def observe(usage: Usage, use: Use, policy: Policy) -> tuple[Usage, list[Finding]]:
    """The family's usage after rotating at ``use``, and what that use reveals."""
    findings: list[Finding] = []
    at = int(use.at)
    rotations, alerted = usage.rotations, usage.alerted_at
    if policy.rotation_limit > 0:
        recent = (*(t for t in rotations if t > at - policy.window), at)
        if len(recent) > policy.rotation_limit and (alerted is None or at - alerted >= policy.window):
            alerted = at
            findings.append(Finding(FREQUENT_REFRESH, (
                f"{len(recent)} rotations within {policy.window:g} s (one access-token lifetime); "
                f"more than {policy.rotation_limit} is unusual"),
                {"rotations": len(recent), "window": policy.window, "limit": policy.rotation_limit}))
        rotations = recent[-min(policy.rotation_limit, ROTATIONS_KEPT):]
    networks, countries, last_place = usage.networks, usage.countries, usage.last_place
    if use.network is not None:
        if policy.new_location and networks and use.network not in networks:
            findings.append(Finding(NEW_LOCATION, (
                f"first use from network {use.network}; seen before: {', '.join(networks)}"),
                {"network": use.network, "known": len(networks)}))
        networks = _remember(networks, use.network)
    place = use.location
    if place is not None:
        if policy.new_location and countries and place.country not in countries:
            findings.append(Finding(NEW_LOCATION, (
                f"first use from country {place.country}; seen before: {', '.join(countries)}"),
                {"country": place.country, "known": len(countries)}))
        countries = _remember(countries, place.country)
        if place.latitude is not None and place.longitude is not None:
            travel = _travel(last_place, place, at, policy.max_speed_kmh)
            if travel is not None:
                findings.append(travel)
            last_place = (place.latitude, place.longitude, place.radius_km, at)
    return Usage(rotations, networks, countries, last_place, alerted), findings


def _travel(last: tuple[float, float, float, int] | None, place: Location, at: int,
            max_speed: float) -> Finding | None:
    """``impossible_travel`` when getting from ``last`` to ``place`` by ``at`` needs more
    than ``max_speed`` km/h; each location may be off by its accuracy radius."""
    if last is None or max_speed <= 0 or place.latitude is None or place.longitude is None:
        return None
    lat, lon, radius, then = last
    distance = distance_km(lat, lon, place.latitude, place.longitude)
    beyond_error = distance - radius - place.radius_km
    hours = max(at - then, 0) / 3600
    if beyond_error <= max_speed * hours:
        return None
    speed = "instantly" if hours == 0 else f"at {distance / hours:,.0f} km/h"
    return Finding(IMPOSSIBLE_TRAVEL, (
        f"{distance:,.0f} km ({place.country}) from the last use {at - then} s earlier: travelling {speed}; "
        f"the limit is {max_speed:g} km/h"),
        {"distance_km": round(distance, 1), "seconds": at - then, "max_speed_kmh": max_speed,
         "country": place.country})


def client_rate(current: int, previous: int, fraction: float, history: Sequence[int], *, factor: float,
                floor: int) -> Finding | None:
    """A client's refresh rate over the last hour against its own baseline.

    ``current``: refreshes so far in this clock hour, ``fraction`` of which has
    passed; ``previous``: the hour before (weighted by what of it is still inside
    the last 60 minutes); ``history``: the counts of the hours before this one
    that were counted (up to 7 days). The baseline is the median of the hours in
    which the client refreshed at all (a client busy in office hours only is
    compared with its office hours, not with its nights). An anomaly: the rate is
    at least ``floor`` and more than ``factor`` times the baseline, and there
    are at least ``MIN_BASELINE_HOURS`` hours of history.
    """
    if factor <= 0 or len(history) < MIN_BASELINE_HOURS:
        return None
    rate = current + previous * max(0.0, 1.0 - fraction)
    active = [count for count in history if count > 0]
    baseline = statistics.median(active) if active else 0
    if rate < floor or rate <= factor * baseline:
        return None
    return Finding(FREQUENT_REFRESH, (
        f"{rate:,.0f} refreshes in the last hour; the client's hourly median over {len(history)} h is "
        f"{baseline:g} (alarm above {factor:g} x that, and at {floor} or more)"),
        {"refreshes": round(rate), "baseline": baseline, "hours": len(history), "factor": factor, "floor": floor})


@dataclass(frozen=True)
class FailureCounts:
    """Failed refreshes inside the current window, this one included; None: not counted
    (the cache failed, or the family is unknown)."""

    address: int | None
    client: int | None
    family: int | None = None


def failed_refreshes(counts: FailureCounts, *, limit: int, client_limit: int, window: float,
                     reason: str) -> tuple[bool, Finding | None]:
    """(whether this failure gets an audit row, the burst it completes or None).

    A burst: the failure after ``limit`` from one address or against one family,
    or after ``client_limit`` in one client's name, inside ``window`` seconds;
    each completes once per window. Audit rows stop once the address or the
    client is past its limit, so a flood writes at most one row per ``limit``
    requests of a new address, and at most ``client_limit`` rows per client per
    window otherwise. Uncounted failures (the cache is down) are audited, no burst.
    """
    def past(count: int | None, cap: int) -> bool:
        return cap > 0 and count is not None and count > cap

    audit = not past(counts.address, limit) and not past(counts.client, client_limit)
    burst = [(name, count) for name, count, cap in (
        ("address", counts.address, limit), ("family", counts.family, limit), ("client", counts.client, client_limit),
    ) if cap > 0 and count == cap + 1]
    if not burst:
        return audit, None
    scopes = ", ".join(f"{count} from one {name}" if name == "address" else f"{count} for one {name}"
                       for name, count in burst)
    numbers: dict[str, Number | str] = {f"{name}_failures": count for name, count in burst}
    numbers.update(limit=limit, client_limit=client_limit, window=window, reason=reason)
    return audit, Finding(FAILED_REFRESH, (
        f"failed refreshes within {window:g} s: {scopes} (limits {limit} per address and family, "
        f"{client_limit} per client); last refused as {reason}"), numbers)
