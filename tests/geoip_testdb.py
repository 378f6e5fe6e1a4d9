"""A small MaxMind-format GeoIP city database for the tests, written on the spot
with the ``mmdb-writer`` package (no download, no real data): a few
documentation and test networks placed in known cities.

    python -m tests.geoip_testdb /tmp/GeoLite2-City-Test.mmdb
"""

from __future__ import annotations

import sys
from pathlib import Path

#: network -> (country, latitude, longitude); accuracy radius 10 km each.
PLACES = {
    "81.2.69.0/24": ("GB", 51.5074, -0.1278),  # London
    "198.51.100.0/24": ("FR", 48.8566, 2.3522),  # Paris
    "203.0.113.0/24": ("AU", -33.8688, 151.2093),  # Sydney
    "2001:db8:a::/48": ("JP", 35.6762, 139.6503),  # Tokyo
}
#: A network the database knows by its country only (no coordinates).
COUNTRY_ONLY = {"192.0.2.0/24": "DE"}


def write(path: Path) -> Path:
    from mmdb_writer import MmdbF64, MmdbU16, MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"],
                        description="oauth_tokens test GeoIP database")
    for network, (country, latitude, longitude) in PLACES.items():
        writer.insert_network(IPSet([network]), {
            "country": {"iso_code": country, "names": {"en": country}},
            "location": {"latitude": MmdbF64(latitude), "longitude": MmdbF64(longitude),
                         "accuracy_radius": MmdbU16(10)},
        })
    for network, country in COUNTRY_ONLY.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": country, "names": {"en": country}}})
    writer.to_db_file(str(path))
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
