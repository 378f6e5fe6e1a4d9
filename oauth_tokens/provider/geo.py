"""Where an address is, for the geographic anomalies: Django's ``GeoIP2``
(``django.contrib.gis.geoip2``, the optional ``geoip2`` package, install extra
``geoip``) over the MaxMind database at ``settings.GEOIP_PATH``.

``locate(ip)``: the country (and, with a city database, the coordinates and
their accuracy radius) of an address, or None when the database does not know
it. ``enabled()`` is False when the project configured no database, or one that
cannot be opened (logged once): the detection then falls back to networks
(``oauth2.anomaly.network_of``). Lookups are memoized per process (bounded), so
a busy address costs one database read.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from functools import lru_cache
from typing import Any

from django.conf import settings

from oauth_tokens import process_caches
from oauth_tokens.oauth2.anomaly import Location

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, Any] = {}  # "reader": a GeoIP2, or None when there is none to use


def configured() -> bool:
    """The project points ``GEOIP_PATH`` at a database (whether or not it opens)."""
    return bool(getattr(settings, "GEOIP_PATH", None))


def _reader() -> Any:
    if "reader" in _state:
        return _state["reader"]
    with _lock:
        if "reader" not in _state:
            _state["reader"] = _open() if configured() else None
    return _state["reader"]


def _open() -> Any:
    try:
        from django.contrib.gis.geoip2 import GeoIP2

        return GeoIP2()
    except Exception as exc:  # not installed (ImportError), a missing or unsupported file (GeoIP2Exception)
        logger.warning("GEOIP_PATH is set but its GeoIP database cannot be used (%s): geographic anomalies "
                       "fall back to networks (/16, /48)", exc)
        return None


def enabled() -> bool:
    """A GeoIP database is configured and open."""
    return _reader() is not None


def problem() -> str | None:
    """Why the configured GeoIP database cannot be used, or None (system check)."""
    if not configured():
        return None
    try:
        from django.contrib.gis.geoip2 import GeoIP2

        GeoIP2()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@lru_cache(maxsize=4096)
def _lookup(ip: str) -> Location | None:
    reader = _reader()
    if reader is None:
        return None
    address = ipaddress.ip_address(ip)
    try:
        if reader.is_city:
            data = reader.city(address)
            if not data.get("country_code"):
                return None
            return Location(country=data["country_code"], latitude=data.get("latitude"),
                            longitude=data.get("longitude"), radius_km=float(data.get("accuracy_radius") or 0))
        data = reader.country(address)
    except Exception:  # an address the database does not have (geoip2's AddressNotFoundError), a bad record
        return None
    return Location(country=data["country_code"]) if data.get("country_code") else None


def locate(ip: str) -> Location | None:
    """The location of ``ip`` (a valid address), or None."""
    if not ip:
        return None
    try:
        return _lookup(ip)
    except ValueError:
        return None


@process_caches.resets_on("GEOIP_PATH", "GEOIP_CITY", "GEOIP_COUNTRY")
def reset() -> None:
    with _lock:
        _state.clear()
        _lookup.cache_clear()
