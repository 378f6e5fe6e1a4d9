"""What must hold after a load run, checked in the database and over HTTP.

- no refresh-token family has two live refresh tokens (unrevoked, unspent,
  unexpired): a fork would mean two clients holding the same grant;
- every detected reuse (a ``reuse_detected`` event) revoked its whole family:
  no unrevoked refresh or access token of that family is left;
- every access token the run revoked is revoked in the database and in the
  revocation log, and every gunicorn worker refuses it (401): the server is
  started with ``reliability.pid_wsgi``, which names the answering worker, and
  each token is asked over fresh connections until every worker has answered.

Each check returns a list of problems (empty when it holds) and a one-line figure.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt

from reliability.loadgen import RevokedToken

#: Requests per token before setting it aside; the tokens set aside are asked
#: again, one at a time, with ``MAX_ASKS_RETRY`` requests each (a worker busy
#: with the other threads' requests may not accept for a while).
MAX_ASKS_PER_TOKEN = 80
MAX_ASKS_RETRY = 600


def database_checks(reuse_seen_by_clients: int = 0) -> tuple[list[str], list[str]]:
    """(problems, figures) from the database (needs ``fixtures.setup_django``)."""
    from django.db.models import Count

    from oauth_tokens.provider.models import AccessToken, RefreshToken, TokenEvent, now

    problems, figures = [], []
    forked = list(
        RefreshToken.objects.filter(revoked_at__isnull=True, used_at__isnull=True, expires_at__gt=now())
        .values("family").annotate(n=Count("id")).filter(n__gt=1).values_list("family", "n")
    )
    families = RefreshToken.objects.values("family").distinct().count()
    figures.append(f"{families} refresh-token families, {RefreshToken.objects.count()} refresh tokens, "
                   f"{len(forked)} with two live tokens")
    problems += [f"family {family} has {n} live refresh tokens" for family, n in forked]

    reused = TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).values("family")
    events = TokenEvent.objects.filter(kind=TokenEvent.REUSE_DETECTED).count()
    live_refresh = list(RefreshToken.objects.filter(family__in=reused, revoked_at__isnull=True)
                        .values("family").annotate(n=Count("id")).values_list("family", "n"))
    live_access = list(AccessToken.objects.filter(family__in=reused, revoked_at__isnull=True)
                       .values("family").annotate(n=Count("id")).values_list("family", "n"))
    figures.append(f"{events} reuse events ({reuse_seen_by_clients} replays refused as the clients saw it); "
                   f"families with unrevoked tokens left after reuse: "
                   f"{len({f for f, _ in live_refresh} | {f for f, _ in live_access})}")
    problems += [f"reused family {f}: {n} unrevoked refresh token(s)" for f, n in live_refresh]
    problems += [f"reused family {f}: {n} unrevoked access token(s)" for f, n in live_access]
    if events < reuse_seen_by_clients:
        problems.append(f"{reuse_seen_by_clients} replays were refused but only {events} reuse events recorded")
    return problems, figures


def revoked_in_database(revoked: Iterable[RevokedToken]) -> tuple[list[str], str]:
    """Every token the run revoked has ``revoked_at`` and a revocation-log row."""
    from oauth_tokens.provider.models import AccessToken
    from oauth_tokens.provider.models import RevokedToken as LogRow

    jtis = {jwt.decode(r.token, options={"verify_signature": False})["jti"] for r in revoked}
    problems = []
    for chunk in _chunks(sorted(jtis), 500):
        unrevoked = AccessToken.objects.filter(jti__in=chunk, revoked_at__isnull=True).values_list("jti", flat=True)
        problems += [f"access token {jti[:8]}… was revoked over HTTP but its row is not" for jti in unrevoked]
        logged = set(LogRow.objects.filter(jti__in=chunk).values_list("jti", flat=True))
        problems += [f"access token {jti[:8]}… is missing from the revocation log" for jti in chunk
                     if jti not in logged]
    return problems, f"{len(jtis)} revoked access tokens: all revoked in the database and logged" if not problems \
        else f"{len(jtis)} revoked access tokens: {len(problems)} problems"


def refused_by_every_worker(base_url: str, revoked: list[RevokedToken], workers: list[int], *,
                            limit: int = 3000, threads: int = 8) -> tuple[list[str], str]:
    """Ask each revoked token over fresh connections until every worker has
    answered for it; every answer must be 401. At most ``limit`` tokens (a
    random sample beyond that, said so in the figure)."""
    tokens = list({r.token: r for r in revoked}.values())
    sample = tokens if len(tokens) <= limit else random.sample(tokens, limit)
    wanted = set(workers)
    # The poll interval is 1 s: a revocation from the run's last instant is due by now.
    time.sleep(1.2)
    started = time.monotonic()

    local = threading.local()

    def ask(item: RevokedToken, budget: int = MAX_ASKS_PER_TOKEN) -> tuple[list[str], int, bool]:
        if not hasattr(local, "http"):  # one client per thread; each request on a new connection
            local.http = httpx.Client(base_url=base_url, timeout=30, headers={"Connection": "close"})
        seen: set[int] = set()
        problems, asks = [], 0
        while not wanted <= seen and asks < budget:
            asks += 1
            try:
                r = local.http.get("/api/me", headers={"Authorization": f"Bearer {item.token}"})
            except httpx.HTTPError as exc:
                problems.append(f"no answer for a revoked token: {exc}")
                continue
            pid = int(r.headers.get("x-worker-pid", "0"))
            seen.add(pid)
            if r.status_code != 401:
                problems.append(f"worker {pid} answered {r.status_code} for a token revoked ({item.how}) "
                                f"{time.time() - item.at:.1f} s earlier")
        return problems, asks, wanted <= seen

    with ThreadPoolExecutor(max_workers=threads) as pool:
        answers = list(pool.map(ask, sample))
    # Tokens that missed a worker are asked again, one at a time, so that no
    # other request of ours keeps a worker busy.
    missed = [item for item, (_, _, all_seen) in zip(sample, answers, strict=True) if not all_seen]
    retried = [ask(item, MAX_ASKS_RETRY) for item in missed]
    problems = [p for found, _, _ in answers + retried for p in found]
    asks = sum(a for _, a, _ in answers + retried)
    partial = sum(1 for _, _, all_seen in retried if not all_seen)
    if partial:
        problems.append(f"{partial} token(s) could not reach every worker in "
                        f"{MAX_ASKS_PER_TOKEN} + {MAX_ASKS_RETRY} requests")
    sampled = f" (a sample of {len(tokens)})" if sample != tokens else ""
    again = f", {len(missed)} asked again alone" if missed else ""
    figure = (f"{len(sample)} revoked access tokens{sampled} x {len(wanted)} workers{again}: {asks} requests in "
              f"{time.monotonic() - started:.1f} s, "
              f"{sum(1 for p in problems if 'answered' in p)} accepted")
    return problems, figure


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
