"""Rows for the "Token activity" page's tests: rotations, issued tokens and events
at chosen times, written in bulk (no token endpoint involved)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from oauth_tokens import crypto
from oauth_tokens.provider.models import AccessToken, Client, RefreshToken, TokenEvent


def rotations(client: Client, times: list[datetime]) -> list[RefreshToken]:
    """A family started 30 days before ``times[0]`` (outside any window), then one
    rotation at each of ``times``: each a refresh token whose parent is the one before."""
    family = uuid.uuid4()
    start = min(times) - timedelta(days=30)
    previous = RefreshToken.objects.create(
        digest=crypto.new_token(16), family=family, client=client, created_at=start, family_started_at=start,
        expires_at=start + timedelta(days=60), used_at=min(times),
    )
    made = []
    for at in sorted(times):
        previous = RefreshToken.objects.create(
            digest=crypto.new_token(16), family=family, client=client, parent=previous, created_at=at,
            family_started_at=start, expires_at=at + timedelta(days=30),
        )
        made.append(previous)
    return made


def tokens(client: Client, times: list[datetime]) -> None:
    AccessToken.objects.bulk_create([
        AccessToken(jti=crypto.new_token(16), client=client, created_at=at, expires_at=at + timedelta(hours=1))
        for at in times
    ])


def events(kind: str, client: Client | None, times: list[datetime], *, detail: str = "",
           client_identifier: str = "") -> None:
    TokenEvent.objects.bulk_create([
        TokenEvent(kind=kind, client=client, created_at=at, detail=detail,
                   client_identifier=client.client_id if client else client_identifier)
        for at in times
    ])


def every(start: datetime, count: int, step: timedelta) -> list[datetime]:
    return [start + i * step for i in range(count)]


def bulk_rotations(client: Client, times: list[datetime]) -> None:
    """One rotation at each of ``times``, each in a family of its own (two bulk INSERTs)."""
    roots = RefreshToken.objects.bulk_create([
        RefreshToken(digest=crypto.new_token(16), family=uuid.uuid4(), client=client, used_at=at,
                     created_at=at - timedelta(days=20), family_started_at=at - timedelta(days=20),
                     expires_at=at + timedelta(days=10))
        for at in times
    ])
    RefreshToken.objects.bulk_create([
        RefreshToken(digest=crypto.new_token(16), family=root.family, client=client, parent=root, created_at=at,
                     family_started_at=root.family_started_at, expires_at=at + timedelta(days=30))
        for root, at in zip(roots, times, strict=True)
    ])


def a_week_of_activity(now: datetime, seed: int = 13) -> list[Client]:
    """Four clients busy by day and quiet by night over the last 7 days, a few failed
    client authentications and refreshes, two reuse detections and some anomalies."""
    import math
    import random

    from tests.factories import ClientFactory

    rnd = random.Random(seed)
    names = [("Mobile app", 60), ("Web dashboard", 35), ("Partner sync", 18), ("Reporting CLI", 6)]
    clients = [ClientFactory(name=name) for name, _ in names]
    for client, (_, per_hour) in zip(clients, names, strict=True):
        times = []
        for hour in range(7 * 24):
            at = now - timedelta(hours=hour)
            daylight = 0.55 + 0.45 * math.sin((at.hour - 9) / 24 * 2 * math.pi)
            times += [at - timedelta(seconds=rnd.randrange(3600)) for _ in range(int(per_hour * daylight))]
        bulk_rotations(client, times)
        tokens(client, times + times[: len(times) // 4])
    mobile, web, partner, _ = clients
    events(TokenEvent.AUTH_FAILED, None, [now - timedelta(minutes=rnd.randrange(1440)) for _ in range(14)],
           client_identifier="unknown-client")
    events(TokenEvent.AUTH_FAILED, partner, every(now - timedelta(hours=5, minutes=50), 9, timedelta(minutes=2)))
    events("refresh_failed", mobile, [now - timedelta(minutes=rnd.randrange(1440)) for _ in range(11)])
    events("refresh_failed", web, every(now - timedelta(hours=9, minutes=30), 6, timedelta(minutes=1)))
    events(TokenEvent.REUSE_DETECTED, web, [now - timedelta(hours=9, minutes=24)])
    events(TokenEvent.REUSE_DETECTED, mobile, [now - timedelta(hours=30)])
    events("anomaly", web, [now - timedelta(hours=9, minutes=25)], detail="failed_refresh: 6 in 5 minutes")
    events("anomaly", mobile, every(now - timedelta(hours=14), 3, timedelta(minutes=20)),
           detail="frequent_refresh: 5 rotations in one access token lifetime")
    events("anomaly", mobile, [now - timedelta(hours=3)], detail="new_location: AR, never seen for this family")
    events("anomaly", mobile, [now - timedelta(hours=2, minutes=40)],
           detail="impossible_travel: 11,400 km in 20 minutes")
    return clients
