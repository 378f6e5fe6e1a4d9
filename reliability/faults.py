"""The faults part: what clients see when a dependency fails, and that nothing is lost.

One stack (the example project on gunicorn, 4 workers, PostgreSQL, Redis behind
a ``TcpProxy``) serves every scenario:

a. PostgreSQL backends of the server's database terminated during rotations
   (``faults_db``);
b. Redis refused, then paused, under load (``faults_redis``);
c. a revocation while Redis is refused / paused, idle workers, Redis back:
   how long until every worker refuses the token (``faults_redis``);
d. the consumer against an unreachable, slow, 5xx or garbage provider
   (``faults_consumer``);
e. clock skew within and beyond ``JWT_LEEWAY`` (``faults_clock``).

Each prints what the client saw; a table sums them up. ``--short`` bounds the
whole part to a few minutes; ``RELIABILITY_SCALE`` lengthens the timed ones.
Needs PostgreSQL and Redis: ``DATABASE_URL`` (the part uses ``<its name>_faults``)
and ``REDIS_URL`` (default 127.0.0.1:6379/0; the part flushes that database).
"""

from __future__ import annotations

import argparse
import time

from reliability.faultkit import Stack, Tally, scale

SCENARIOS = ("db", "redis", "revocation", "consumer", "clock")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("faults")
    group.add_argument("--faults-only", action="append", choices=SCENARIOS,
                       help="run only this fault scenario (repeatable)")


def run(args: argparse.Namespace) -> bool:
    from reliability import faults_clock, faults_consumer, faults_db, faults_redis

    short = bool(getattr(args, "short", False))
    factor = scale()
    seconds = (15.0 if short else 45.0) * factor
    chosen = getattr(args, "faults_only", None) or SCENARIOS
    tallies: list[Tally] = []
    with Stack() as stack:
        print(f"server {stack.url}, 4 workers, database {stack.database_url.rsplit('/', 1)[1]}, "
              f"Redis through the proxy at {stack.redis.address}", flush=True)
        steps = {
            "db": lambda: [faults_db.run(stack, seconds=seconds)],
            "redis": lambda: faults_redis.load_under_redis_faults(stack, seconds=seconds * 0.6),
            "revocation": lambda: [
                faults_redis.revocation_during_outage(stack, mode=mode, outage=outage,
                                                      limit=(12.0 if short else 40.0) * factor)
                for mode in ("refuse", "pause") for outage in ((3.0,) if short else (1.0, 3.0))],
            "consumer": lambda: [faults_consumer.run(stack)],
            "clock": lambda: [faults_clock.run(stack)],
        }
        for name in chosen:
            started = time.monotonic()
            for tally in steps[name]():
                tally.report()
                tallies.append(tally)
            print(f"  ({name}: {time.monotonic() - started:.0f} s)", flush=True)
    print_table(tallies)
    return all(t.ok() for t in tallies)


def print_table(tallies: list[Tally]) -> None:
    width = max(len(t.name) for t in tallies) if tallies else 10
    print(f"\n{'scenario':<{width}}  {'requests':>8}  {'p99 ms':>7}  {'max ms':>7}  {'lost':>4}  "
          f"{'bad':>3}  statuses")
    for t in tallies:
        print(f"{t.name:<{width}}  {t.requests:>8}  {t.p99() * 1000:>7.0f}  {t.worst() * 1000:>7.0f}  "
              f"{len(t.lost):>4}  {len(t.violations):>3}  {t.statuses_text()}")
    print("(bad: answers that broke the contract, a 5xx other than a 503 temporarily_unavailable, an error "
          "without no-store or not in OAuth JSON, a bound exceeded; lost: tokens, grants or revocations lost)")
