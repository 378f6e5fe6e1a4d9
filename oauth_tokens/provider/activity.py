"""Token activity: the numbers behind the admin page "Token activity"
(``dashboard``), read with one aggregate query per chart.

A window is the last 24 hours in hourly buckets or the last 7 days in daily
buckets, each bucket a range of instants that begins on a local hour or day of
the current time zone (``window``). Where the numbers come from:

- refreshes: refresh tokens with a parent (a rotation creates one);
- tokens issued: access token rows;
- failures, reuse detections and anomalies: ``TokenEvent`` rows of those kinds.

A chart's query is one ``UNION ALL`` of a ``GROUP BY`` per bucket, each over a
``created_at`` range. Truncating each row's time in the database
(``TruncHour`` / ``TruncDay``) counts the same, but converts every row to the
time zone (MariaDB needs its time-zone tables for that), and PostgreSQL, unable
to guess how many groups such an expression makes, plans it as one serial
aggregate: 4 times slower on a million rows than the per-bucket ranges, which
read only the indexes ``(created_at, client, ...)`` / ``(kind, created_at, client)``,
in parallel. A bucket's range is also exactly its admin list's filter.

Every count is also a changelist filter (``*_filter``), so that the page can
link each number to the rows it counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType

from django.db.models import Case, CharField, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from oauth_tokens.provider import models
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent

AUTH_FAILED = TokenEvent.AUTH_FAILED
REFRESH_FAILED = TokenEvent.REFRESH_FAILED
REUSE_DETECTED = TokenEvent.REUSE_DETECTED
ANOMALY = TokenEvent.ANOMALY
#: The anomaly kinds the detection records, in the order the page shows them.
ANOMALY_KINDS = ("frequent_refresh", "failed_refresh", "new_location", "impossible_travel")
OTHER = "other"


def anomaly_lookup(kind: str) -> dict[str, str]:
    """Where an ``anomaly`` event keeps its own kind: ``detail`` begins with
    ``"<kind>:"``. The chart groups and the page's links filter by this one
    lookup, so both follow it if the event's layout changes."""
    return {"detail__startswith": f"{kind}:"}


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True)
class Window:
    name: str  # "24h" or "7d"
    unit: str  # "hour" or "day"
    buckets: tuple[Bucket, ...]

    @property
    def start(self) -> datetime:
        return self.buckets[0].start

    @property
    def end(self) -> datetime:
        return self.buckets[-1].end

    def created_filter(self, bucket: Bucket | None = None) -> Mapping[str, str]:
        """The changelist lookups for rows created in ``bucket`` (or the whole window)."""
        return _created_filter(bucket.start, bucket.end) if bucket else _created_filter(self.start, self.end)


@lru_cache(maxsize=64)
def _created_filter(start: datetime, end: datetime) -> Mapping[str, str]:
    return MappingProxyType({"created_at__gte": start.astimezone(UTC).isoformat(sep=" "),
                             "created_at__lt": end.astimezone(UTC).isoformat(sep=" ")})


WINDOWS = {"24h": "Last 24 hours", "7d": "Last 7 days"}


def window(name: str, now: datetime | None = None) -> Window:
    """The window called ``name`` ("24h" or "7d"; anything else is "24h"), ending with the
    current bucket. Hours and days are the current time zone's: a day of a change to or
    from summer time has 23 or 25 hours, an hour that happens twice is one bucket."""
    now = now or models.now()
    if name == "7d":
        today = timezone.localtime(now).date()
        days = [today - timedelta(days=n) for n in range(6, -2, -1)]  # and tomorrow: the end of today
        starts = [timezone.make_aware(datetime.combine(day, time.min)) for day in days]
        return Window("7d", "day", tuple(
            Bucket(start, end, f"{day:%a %d}") for day, start, end in zip(days, starts, starts[1:], strict=False)
        ))
    walls: list[datetime] = []  # local hours, as on a wall clock
    for n in range(24, -1, -1):
        wall = timezone.localtime(now - timedelta(hours=n)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        if not walls or walls[-1] != wall:
            walls.append(wall)
    walls.append(walls[-1] + timedelta(hours=1))  # the end of the current hour
    starts = [timezone.make_aware(wall) for wall in walls]
    buckets = [Bucket(start, end, f"{wall:%H:00}") for wall, start, end in zip(walls, starts, starts[1:], strict=False)]
    return Window("24h", "hour", tuple(buckets[-24:]))


# -- the aggregate queries -----------------------------------------------------------


@dataclass
class Counts:
    """Counts keyed by (bucket index, series key), with totals per series and per bucket."""

    cells: Counter = field(default_factory=Counter)
    series: Counter = field(default_factory=Counter)
    buckets: Counter = field(default_factory=Counter)

    def add(self, bucket: int, series: object, n: int) -> None:
        self.cells[bucket, series] += n
        self.series[series] += n
        self.buckets[bucket] += n

    @property
    def total(self) -> int:
        return sum(self.series.values())


def _in_window(queryset: QuerySet, win: Window) -> QuerySet:
    return queryset.filter(created_at__gte=win.start, created_at__lt=win.end)


def _per_bucket(queryset: QuerySet, win: Window, *group_by: str, **expressions) -> QuerySet:
    """One query: the rows of ``queryset`` counted per bucket (its index, ``bucket``) and ``group_by``."""
    grouped = queryset.annotate(**expressions).values(*group_by).annotate(n=Count("*")).order_by()
    parts = [
        grouped.filter(created_at__gte=bucket.start, created_at__lt=bucket.end)
        .annotate(bucket=Value(i, output_field=IntegerField()))
        for i, bucket in enumerate(win.buckets)
    ]
    # No ORDER BY: the models' default ordering names columns the counts do not select
    # (Django 6 applies it to the combined query).
    return parts[0].union(*parts[1:], all=True).order_by()


def refreshes_by_client(win: Window) -> Counts:
    """Rotations per bucket and client id."""
    counts = Counts()
    for row in _per_bucket(RefreshToken.objects.filter(parent__isnull=False), win, "client_id"):
        counts.add(row["bucket"], row["client_id"], row["n"])
    return counts


def refresh_filter() -> dict[str, str]:
    return {"parent__isnull": "0"}


def events_by_kind_and_client(win: Window) -> dict[str, Counts]:
    """Failed client authentications, failed refreshes and reuse detections, per
    bucket and client id (None: a client id nobody registered)."""
    kinds = (AUTH_FAILED, REFRESH_FAILED, REUSE_DETECTED)
    result = {kind: Counts() for kind in kinds}
    for row in _per_bucket(TokenEvent.objects.filter(kind__in=kinds), win, "kind", "client_id"):
        result[row["kind"]].add(row["bucket"], row["client_id"], row["n"])
    return result


def event_filter(kind: str, client_id: int | None | str = "") -> dict[str, str]:
    """The event changelist lookups for ``kind``, and for one client (None: events without one)."""
    return {"kind__exact": kind, **(client_filter(client_id) if client_id != "" else {})}


def anomalies_by_kind(win: Window) -> Counts:
    """Anomaly events per bucket and anomaly kind (``OTHER`` for a kind not in ``ANOMALY_KINDS``)."""
    kind = Case(
        *(When(Q(**anomaly_lookup(k)), then=Value(k)) for k in ANOMALY_KINDS),
        default=Value(OTHER),
        output_field=CharField(),
    )
    counts = Counts()
    for row in _per_bucket(TokenEvent.objects.filter(kind=ANOMALY), win, "anomaly", anomaly=kind):
        counts.add(row["bucket"], row["anomaly"], row["n"])
    return counts


def anomaly_filter(kind: str) -> dict[str, str]:
    return {"kind__exact": ANOMALY, **(anomaly_lookup(kind) if kind != OTHER else {})}


def tokens_by_client(win: Window) -> Counter:
    """Access tokens issued in the window, per client id."""
    rows = _in_window(AccessToken.objects.all(), win).values("client_id").annotate(n=Count("*")).order_by()
    return Counter({row["client_id"]: row["n"] for row in rows})


def client_filter(client_id: int | str | None) -> dict[str, str]:
    """The changelist lookups for one client's rows (None: events of a client id nobody registered)."""
    return {"client__isnull": "1"} if client_id is None else {"client__id__exact": str(client_id)}


def client_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(Client.objects.filter(pk__in=ids).values_list("pk", "name"))
