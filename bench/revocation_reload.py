"""What one revocation costs the processes that verify tokens:
``python -m bench.revocation_reload [--ids 100000] [--rounds 20]``.

A SQLite file (WAL) in a temporary directory holds ``--ids`` revoked, unexpired
access tokens. The process loads them once (a starting process), then for each
round another process revokes one more token (simulated: the revocation is made
without telling this process's list) and this one's next check, due at once
(``REVOCATION_POLL_INTERVAL`` 0), times the poll that picks it up. Also timed:
the next check in the process that revoked. Only public entry points are used
(``revocation.revoke_rows``, ``revoke_access_token``, the verifier's revocation
list), so the same script measures any version of the app.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from unittest import mock


def configure(path: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-revocation-reload-0123456789",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "oauth_tokens.provider"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {
            "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}}},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        OAUTH_TOKENS={"ISSUER": "https://bench.example", "REVOCATION_POLL_INTERVAL": 0, "REVOCATION_CACHE": None,
                      "ENCRYPTION_KEYS": ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="], "DIGEST_KEY": "bench"},
    )
    django.setup()


def ms(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:.2f} ms, min {min(values) * 1000:.2f}, "
            f"max {max(values) * 1000:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.revocation_reload", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=100_000, help="revoked, unexpired access tokens")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        configure(os.path.join(tmp, "reload.sqlite3"))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from oauth_tokens.provider import local_verifier, models, revocation, revocation_broadcast
        from oauth_tokens.provider.models import AccessToken, Client

        client = Client(name="bench", grant_types="client_credentials")
        client.set_secret()
        client.save()
        expires = models.now() + timedelta(hours=1)
        t0 = time.perf_counter()
        AccessToken.objects.bulk_create(
            [AccessToken(jti=f"revoked-{i:08d}", client=client, expires_at=expires) for i in range(args.ids)],
            batch_size=2000,
        )
        live = AccessToken.objects.bulk_create(
            [AccessToken(jti=f"live-{i:04d}", client=client, expires_at=expires) for i in range(2 * args.rounds)]
        )
        revocation.revoke_rows(AccessToken.objects.filter(jti__startswith="revoked-"))
        print(f"{args.ids:,} revoked access tokens written in {time.perf_counter() - t0:.1f} s "
              f"(SQLite {os.path.basename(tmp)}/reload.sqlite3, WAL)")

        rl = local_verifier.revocations
        t0 = time.perf_counter()
        assert rl.is_revoked("revoked-00000007")
        print(f"first load (a starting process): {(time.perf_counter() - t0) * 1000:.1f} ms")

        others, here = [], []
        rows = list(AccessToken.objects.filter(jti__startswith="live-").order_by("pk"))
        for i in range(args.rounds):
            # Another process revokes: this process's list is not told.
            with mock.patch.object(revocation_broadcast, "_local_listeners", []):
                revocation.revoke_access_token(rows[i])
            t0 = time.perf_counter()
            assert rl.is_revoked(rows[i].jti)
            others.append(time.perf_counter() - t0)
            # This process revokes: its next check.
            revocation.revoke_access_token(rows[args.rounds + i])
            t0 = time.perf_counter()
            assert rl.is_revoked(rows[args.rounds + i].jti)
            here.append(time.perf_counter() - t0)
        print(f"check after a revocation made elsewhere ({args.rounds} rounds): {ms(others)}")
        print(f"check after a revocation made here ({args.rounds} rounds): {ms(here)}")
        loaded = getattr(rl, "rows_loaded", None)
        if loaded is not None:
            print(f"rows loaded in all: {loaded:,} (full loads: {rl.full_reloads})")
        del live
    return 0


if __name__ == "__main__":
    sys.exit(main())
