"""RevocationList without Django: incremental loads from a cursor, a version copy
(a shared cache) that runs ahead of the database, polls nobody waits for, and
ids this process revoked itself."""

import threading
import time

import pytest

from oauth_tokens.oauth2 import revocation_list
from oauth_tokens.oauth2.errors import TemporarilyUnavailable
from oauth_tokens.oauth2.revocation_list import Loaded, RevocationList


class Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Log:
    """A revocation log: rows (id, jti, keep_until) and a version, like the provider's."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, float]] = []
        self.version = 0
        self.loads: list[object] = []  # the cursor of every load

    def revoke(self, *jtis: str, keep_until: float = 10_000.0) -> None:
        for jti in jtis:
            self.rows.append((len(self.rows) + 1, jti, keep_until))
        self.version += 1

    def load(self, cursor):
        self.loads.append(cursor)
        since = 0 if cursor is None else cursor
        rows = [(jti, until) for pk, jti, until in self.rows if pk > since]
        top = max((pk for pk, _j, _u in self.rows), default=since)
        if cursor is None:  # the full load: one set, kept until the latest of them
            return Loaded(cursor=top, ids=frozenset(j for j, _u in rows), until=max((u for _j, u in rows), default=0))
        return Loaded(cursor=top, entries=rows)


def make(log: Log, clock: Clock, wall: Clock | None = None, **kwargs) -> RevocationList:
    return RevocationList(version=lambda: log.version, load=log.load, interval=1.0, clock=clock,
                          wall_clock=wall or Clock(0.0), **kwargs)


def test_after_a_revocation_only_the_new_rows_are_loaded():
    log, clock = Log(), Clock()
    log.revoke(*[f"old-{i}" for i in range(1000)])
    rl = make(log, clock)
    assert rl.is_revoked("old-7") and not rl.is_revoked("new")
    assert (log.loads, rl.rows_loaded, rl.full_reloads) == ([None], 1000, 1)
    log.revoke("new")
    clock.t = 1.0
    assert rl.is_revoked("new") and rl.is_revoked("old-7")
    assert log.loads == [None, 1000]  # from the cursor, not everything again
    assert rl.rows_loaded == 1001 and rl.full_reloads == 1
    clock.t = 5.0
    assert rl.is_revoked("new") and len(log.loads) == 2  # version unchanged: no load


def test_a_reload_before_the_commit_is_repeated_after_it():
    clock = Clock()
    log = Log()
    state = {"cache": 1, "db": 1}
    log.version = 1
    rl = RevocationList(
        version=lambda: state["cache"],
        load=log.load,
        interval=1.0,
        clock=clock,
        authoritative_version=lambda: state["db"],
    )
    assert not rl.is_revoked("a")
    state["cache"] = 2  # published before commit: the database still says 1, without "a"
    clock.t = 1.0
    assert not rl.is_revoked("a")
    log.revoke("a")
    state["db"] = 2  # committed; the process died before publishing again
    clock.t = 2.0
    assert rl.is_revoked("a")
    reloads = rl.reloads
    clock.t = 3.0
    assert rl.is_revoked("a") and rl.reloads == reloads  # settled: no reload while nothing moves


def test_an_authoritative_none_means_the_version_read_was_the_source():
    log, clock = Log(), Clock()
    reads = []
    rl = make(log, clock, authoritative_version=lambda: reads.append(1))
    rl.is_revoked("a")
    log.revoke("a")
    clock.t = 1.0
    assert rl.is_revoked("a")
    clock.t = 2.0
    assert rl.is_revoked("a") and rl.reloads == 2  # recorded the version it read: no reload loop


@pytest.mark.slow
def test_requests_do_not_wait_for_a_poll_while_the_list_is_still_good():
    """A slow poll (a slow database) started in the interval's last tenth: other
    threads keep answering from the current list instead of queueing behind it.
    Queued, they would wait until the poll gives up (5 s): the bound is half that,
    the 100 answers take well under a millisecond."""
    log, clock = Log(), Clock()
    started, release = threading.Event(), threading.Event()
    slow_version = {"on": False}

    def version():
        if slow_version["on"]:
            started.set()
            release.wait(5)
        return log.version

    rl = RevocationList(version=version, load=log.load, interval=1.0, clock=clock)
    rl.is_revoked("a")  # first load
    slow_version["on"] = True  # from now on the version read takes its time
    clock.t = 0.95  # inside the last tenth: the next request starts the poll
    poller = threading.Thread(target=rl.is_revoked, args=("a",))
    poller.start()
    assert started.wait(5)
    t0 = time.perf_counter()
    answers = [rl.is_revoked("a") for _ in range(100)]  # another thread, meanwhile
    waited = time.perf_counter() - t0
    release.set()
    poller.join(5)
    assert answers == [False] * 100 and waited < 2.5
    assert rl.polls == 2


def test_past_the_interval_a_request_waits_for_the_poll_it_needs():
    """The promise (honoured within the interval) wins over not waiting: a request
    that finds the list older than the interval gets the poll's result."""
    log, clock = Log(), Clock()
    rl = make(log, clock)
    rl.is_revoked("a")
    log.revoke("a")
    clock.t = 1.0
    assert rl.is_revoked("a")


def test_a_failed_early_poll_answers_from_the_current_list_then_fails_closed(caplog):
    log, clock = Log(), Clock()
    state = {"fail": False}

    def version():
        if state["fail"]:
            raise ConnectionError("database down")
        return log.version

    rl = RevocationList(version=version, load=log.load, interval=1.0, clock=clock)
    assert not rl.is_revoked("a")
    state["fail"] = True
    clock.t = 0.95
    assert not rl.is_revoked("a")  # still good: answered, the failure logged
    assert "Revocation poll failed" in caplog.text
    clock.t = 1.0
    with pytest.raises(TemporarilyUnavailable):
        rl.is_revoked("a")  # past the interval: no answer is better than a wrong one
    state["fail"] = False
    assert not rl.is_revoked("a")


def test_invalidate_loads_everything_again():
    log, clock = Log(), Clock()
    rl = make(log, clock)
    rl.is_revoked("a")
    log.rows.append((99, "a", 10_000.0))  # written without moving the version
    rl.invalidate()
    assert rl.is_revoked("a") and log.loads == [None, None]


def test_ids_revoked_here_count_at_once_provisionally_then_for_good(monkeypatch):
    log, clock = Log(), Clock()
    rl = make(log, clock, wall=Clock(0.0))
    rl.is_revoked("x")
    rl.add([("a", 100.0), ("b", 100.0)], provisional=True)  # inside the revoking transaction
    assert rl.is_revoked("a") and rl.is_revoked("b") and log.loads == [None]
    rl.add([("a", 100.0)])  # committed
    clock.t = revocation_list.PROVISIONAL_SECONDS + 0.5
    assert rl.is_revoked("a")  # for good
    assert not rl.is_revoked("b")  # rolled back: it lapsed


def test_expired_ids_are_dropped():
    log, clock, wall = Log(), Clock(), Clock(0.0)
    rl = make(log, clock, wall=wall)
    rl.is_revoked("x")  # the full load (of nothing)
    log.revoke("short", keep_until=20.0)
    log.revoke("long", keep_until=5000.0)
    clock.t = 1.0
    assert rl.is_revoked("short") and len(rl) == 2
    wall.t = 30.0
    clock.t = 2.0
    rl.is_revoked("long")
    assert len(rl) == 2  # pruned at most once a minute
    wall.t = revocation_list.PRUNE_EVERY
    clock.t = 3.0
    assert rl.is_revoked("long") and not rl.is_revoked("short") and len(rl) == 1


def test_a_full_loads_ids_are_dropped_together_once_the_latest_expired():
    log, clock, wall = Log(), Clock(), Clock(0.0)
    log.revoke("short", keep_until=20.0)
    log.revoke("long", keep_until=5000.0)
    rl = make(log, clock, wall=wall)
    assert rl.is_revoked("short") and rl.is_revoked("long")
    wall.t, clock.t = 4000.0, 1.0
    assert rl.is_revoked("short")  # kept with the others: harmless, its token expired anyway
    wall.t, clock.t = 5001.0, 2.0
    assert not rl.is_revoked("long") and len(rl) == 0
