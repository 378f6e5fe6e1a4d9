"""Fault a: PostgreSQL backends of the server's database terminated during rotations.

Threads run refresh-token chains (each rotation followed by a protected call
with the new access token) and client_credentials while another thread calls
``pg_terminate_backend`` on every backend of this part's own database, over and
over. A client that gets a 503 retries the same refresh token, as the docs
tell clients to. Expected: no 500; failures are 503 ``temporarily_unavailable``
with ``no-store``; afterwards every chain's latest refresh token still rotates
and no family has two live refresh tokens.
"""

from __future__ import annotations

import random
import threading
import time
from urllib.parse import urlsplit

from reliability.faultkit import Stack, Tally, close_db_connections, run_for
from reliability.server import with_database_name


def terminate_backends(database_url: str, stop: threading.Event, tally: Tally, pause: tuple[float, float]) -> None:
    """Kill every backend of ``database_url``'s database (never another database's) until ``stop``."""
    import psycopg

    name = urlsplit(database_url).path.lstrip("/")
    admin = with_database_name(database_url, "postgres").replace("postgres://", "postgresql://", 1)
    killed = rounds = 0
    with psycopg.connect(admin, autocommit=True) as conn:
        while not stop.wait(random.uniform(*pause)):
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
            killed += sum(1 for (done,) in rows if done)
            rounds += 1
    tally.notes.append(f"{killed} backends terminated in {rounds} rounds")


def live_families() -> int:
    """Families with more than one live (unused, unrevoked, unexpired) refresh token."""
    from django.db.models import Count
    from django.utils import timezone

    from oauth_tokens.provider.models import RefreshToken

    close_db_connections()
    live = RefreshToken.objects.filter(used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
    return live.values("family").annotate(n=Count("id")).filter(n__gt=1).count()


def run(stack: Stack, *, seconds: float, chains: int = 6) -> Tally:
    tally = Tally("a. PostgreSQL backends killed during rotations")
    setup = stack.client()
    latest: list[str] = []
    for _ in range(chains):
        latest.append(setup.code_flow(scope="read")["refresh_token"])
    setup.close()
    rotations = [0] * chains
    stop = threading.Event()
    killer = threading.Thread(target=terminate_backends, args=(stack.database_url, stop, tally, (0.05, 0.3)))
    killer.start()

    def chain(i: int, running) -> None:
        client = stack.client(timeout=20)
        try:
            while running():
                if i >= chains:  # the extra thread: client_credentials and a protected call
                    r = tally.timed("client_credentials", client.client_credentials, allowed=(200, 503))
                    if r is not None and r.status_code == 200:
                        access = r.json()["access_token"]
                        tally.timed("/api/me", lambda t=access: client.api(t), oauth=False, allowed=(200, 503))
                    continue
                r = tally.timed("refresh", lambda t=latest[i]: client.refresh(t), allowed=(200, 503))
                if r is None or r.status_code != 200:
                    time.sleep(0.05)  # 503: retry the same refresh token
                    continue
                body = r.json()
                latest[i] = body["refresh_token"]
                rotations[i] += 1
                access = body["access_token"]
                tally.timed("/api/me", lambda t=access: client.api(t), oauth=False, allowed=(200, 503))
        finally:
            client.close()

    try:
        run_for(seconds, chains + 1, chain)
    finally:
        stop.set()
        killer.join()
    tally.notes.append(f"{sum(rotations)} rotations in {chains} chains")

    # Nothing lost: each chain's latest refresh token rotates once more (the database is back).
    client = stack.client()
    for i, token in enumerate(latest):
        for _ in range(5):
            r = client.refresh(token)
            if r.status_code != 503:
                break
            time.sleep(0.2)
        if r.status_code != 200:
            tally.lost.append(f"chain {i}: latest refresh token refused afterwards: {r.status_code} {r.text[:80]}")
    client.close()
    forked = live_families()
    if forked:
        tally.lost.append(f"{forked} families with two or more live refresh tokens")
    return tally
