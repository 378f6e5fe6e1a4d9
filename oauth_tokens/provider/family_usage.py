"""A refresh-token family's usage history, carried on its rows, and what each
rotation reveals: ``frequent_refresh`` (of a family), ``new_location`` and
``impossible_travel``.

The history (``oauth2.anomaly.Usage``: its last rotation times, the networks or,
with GeoIP, the countries it was used from, its last location) is a small,
bounded JSON column on the refresh token, ``RefreshToken.usage``. The code
exchange starts it on the family's first refresh token (``start``); a rotation
reads it from the token it spends and writes the next one on the successor it
inserts (``Rotation``). Both rows are in the rotation's hands anyway, so this
costs no query and no cache call, and it is exact across processes: the
rotation's compare-and-swap lets exactly one request continue a family. (A
cache would cost a round trip per rotation and forget; a table of its own, a
write per rotation.)

Where an address is: ``geo.locate`` when a GeoIP database is configured
(country, and with a city database the coordinates), otherwise its network
(IPv4 /16, IPv6 /48), and then ``new_location`` means a network never seen for
this family. A family that started before this history existed has none: its
first rotation starts one and raises nothing.

When an anomaly's action revokes the family, the rotation does not happen:
the anomaly is recorded, the family revoked, and the request answered
``invalid_grant`` (``refuse_if_revoking``). Otherwise the findings are recorded
once the rotation has happened (``rotated``), which also counts it for the
client's rate (``refresh_rate``).
"""

from __future__ import annotations

from datetime import datetime

from oauth_tokens.oauth2 import anomaly
from oauth_tokens.oauth2.anomaly import Finding, Policy, Usage, Use
from oauth_tokens.oauth2.errors import InvalidGrant
from oauth_tokens.provider import anomalies, geo, refresh_rate
from oauth_tokens.provider.models import Client, RefreshToken


def _use(ip: str | None, now: datetime) -> Use:
    at = now.timestamp()
    if not ip:
        return Use(at)
    if geo.enabled():
        return Use(at, location=geo.locate(ip))
    return Use(at, network=anomaly.network_of(ip))


def start(row: RefreshToken, *, ip: str | None, now: datetime) -> None:
    """Begin the history of a new family on its first refresh token (unsaved)."""
    if anomalies.detecting():
        row.usage = anomaly.start(_use(ip, now)).to_json()


def _policy(client: Client) -> Policy:
    config = anomalies.config()
    actions = config.actions
    return Policy(
        window=float(client.access_lifetime()),
        rotation_limit=config.rotation_limit if actions[anomaly.FREQUENT_REFRESH] != anomaly.OFF else 0,
        new_location=actions[anomaly.NEW_LOCATION] != anomaly.OFF,
        max_speed_kmh=config.max_speed_kmh if actions[anomaly.IMPOSSIBLE_TRAVEL] != anomaly.OFF else 0.0,
    )


class Rotation:
    """One rotation of ``token`` into ``successor`` (unsaved), watched."""

    def __init__(self, token: RefreshToken, successor: RefreshToken, client: Client, *, ip: str | None,
                 now: datetime) -> None:
        self.token, self.client, self.ip, self.now = token, client, ip, now
        self.findings: list[Finding] = []
        if not anomalies.detecting():
            return
        usage, self.findings = anomaly.observe(Usage.from_json(token.usage), _use(ip, now), _policy(client))
        successor.usage = usage.to_json()

    def refuse_if_revoking(self) -> None:
        """Before the rotation: when an anomaly's action revokes the family, record it,
        revoke the family and refuse the request (``invalid_grant``)."""
        if any(anomalies.revokes(finding) for finding in self.findings):
            self._record()
            raise InvalidGrant(anomalies.REVOKED, reason="anomaly")

    def rotated(self) -> None:
        """After the rotation: record what it revealed; count it for the client's rate."""
        self._record()
        if anomalies.detecting():
            refresh_rate.count(self.client, self.now)

    def _record(self) -> None:
        for finding in self.findings:
            anomalies.record(finding, client=self.client, token=self.token, ip=self.ip)
        self.findings = []
