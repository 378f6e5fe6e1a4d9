"""RevocationList with a version copy (a shared cache) that runs ahead of the
database: a reload that happened before the revoking transaction committed is
repeated until the loaded set carries the committed version."""

from oauth_tokens.oauth2.revocation_list import RevocationList


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_reload_before_the_commit_is_repeated_after_it():
    clock = Clock()
    state = {"cache": 1, "db": 1, "ids": set()}
    rl = RevocationList(
        version=lambda: state["cache"],
        load=lambda: set(state["ids"]),
        interval=1.0,
        clock=clock,
        authoritative_version=lambda: state["db"],
    )
    assert not rl.is_revoked("a")
    state["cache"] = 2  # published before commit: the database still says 1, without "a"
    clock.t = 1.0
    assert not rl.is_revoked("a")
    state["db"], state["ids"] = 2, {"a"}  # committed; the process died before publishing again
    clock.t = 2.0
    assert rl.is_revoked("a")
    reloads = rl.reloads
    clock.t = 3.0
    assert rl.is_revoked("a") and rl.reloads == reloads  # settled: no reload while nothing moves
