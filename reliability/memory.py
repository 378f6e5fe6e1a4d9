"""Worker memory during a load run: sampled, summarised, judged.

``MemorySampler(server, every)`` reads each gunicorn worker's resident memory
(``LiveServer.worker_memory()``) every ``every`` seconds in a thread. The summary
gives, per worker: the first sample, the first after the warm-up, the last, and
the least-squares slope over the last third of the run, in KiB per minute, and
the slope over each quarter (where the growth levels off).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Series:
    times: list[float] = field(default_factory=list)  # seconds since the sampler started
    kib: list[int] = field(default_factory=list)


def slope_per_minute(times: list[float], values: list[int]) -> float:
    """Least-squares slope of ``values`` over ``times`` (seconds), per minute."""
    n = len(times)
    if n < 2:
        return 0.0
    mean_t, mean_v = sum(times) / n, sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times)
    if var == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / var


class MemorySampler:
    def __init__(self, server, every: float = 3.0) -> None:
        self.server = server
        self.every = every
        self.series: dict[int, Series] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def start(self) -> MemorySampler:
        self._started = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        at = time.monotonic() - self._started
        for pid, kib in self.server.worker_memory().items():
            if kib is not None:
                series = self.series.setdefault(pid, Series())
                series.times.append(at)
                series.kib.append(kib)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def summary(self, *, warmup: float, max_slope: float | None = None) -> tuple[list[str], list[str]]:
        """(lines, problems): per worker first / after ``warmup`` s / end and the
        last third's slope; a problem when that slope exceeds ``max_slope`` KiB/min."""
        lines = [f"  {'worker':>8} {'samples':>7} {'first MiB':>9} {'warm MiB':>9} {'end MiB':>8} "
                 f"{'last-third slope KiB/min':>24}  slope by quarter, KiB/min"]
        problems = []
        for pid, s in sorted(self.series.items()):
            if not s.times:
                continue
            end = s.times[-1]
            warm = next((v for t, v in zip(s.times, s.kib, strict=True) if t >= warmup), s.kib[-1])
            half = [(t, v) for t, v in zip(s.times, s.kib, strict=True) if t >= end * 2 / 3]
            slope = slope_per_minute([t for t, _ in half], [v for _, v in half])
            quarters = []
            for q in range(4):
                part = [(t, v) for t, v in zip(s.times, s.kib, strict=True) if q * end / 4 <= t <= (q + 1) * end / 4]
                quarters.append(f"{slope_per_minute([t for t, _ in part], [v for _, v in part]):.0f}")
            lines.append(f"  {pid:>8} {len(s.times):>7} {s.kib[0] / 1024:>9.1f} {warm / 1024:>9.1f} "
                         f"{s.kib[-1] / 1024:>8.1f} {slope:>24.0f}  {' / '.join(quarters)}")
            if max_slope is not None and len(half) >= 5 and slope > max_slope:
                problems.append(f"worker {pid}: memory still growing over the last third of the run: "
                                f"{slope:.0f} KiB/min (limit {max_slope:.0f})")
        return lines, problems


def entry_costs(n: int = 2000) -> dict[str, float]:
    """Bytes per entry of the two per-process structures that grow with traffic,
    measured with ``tracemalloc`` on the real classes: the verified-token cache
    (``CachingVerifier``, RS256 tokens shaped like ours) and the revocation list
    (``RevocationList``, ids with their expiry)."""
    import gc
    import secrets as random_secrets
    import tracemalloc

    from oauth_tokens.oauth2 import jwt as oauth_jwt
    from oauth_tokens.oauth2.revocation_list import Loaded, RevocationList
    from oauth_tokens.oauth2.verifier import CachingVerifier, VerificationKey, VerifierConfig

    key = oauth_jwt.generate_private_key("RS256")
    public = VerificationKey("k1", "RS256", key.public_key())
    now = time.time()
    tokens = [oauth_jwt.sign(oauth_jwt.access_token_claims(
        issuer="http://127.0.0.1:8000", audience="http://127.0.0.1:8000", subject=random_secrets.token_urlsafe(24),
        client_id=random_secrets.token_urlsafe(24), scope="read write", jti=random_secrets.token_urlsafe(24),
        issued_at=int(now), lifetime=3600), key=key, kid="k1", algorithm="RS256") for _ in range(n)]
    verifier = CachingVerifier(key_for=lambda kid: public, config=lambda: VerifierConfig(
        issuer="http://127.0.0.1:8000", audience="http://127.0.0.1:8000"), is_revoked=lambda claims: False,
        clock=time.time, max_entries=n)
    revocations = RevocationList(version=lambda: 1, load=lambda cursor: Loaded(cursor=1), interval=1.0)
    jtis = [random_secrets.token_urlsafe(24) for _ in range(n)]
    costs = {}
    # Fresh copies of the strings (``decode``): a server keeps the ones it received.
    for name, fill in (("verified-token cache", lambda: [verifier.verify(t.encode().decode()) for t in tokens]),
                       ("revocation list", lambda: revocations.add([(j.encode().decode(), now + 3630) for j in jtis]))):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        fill()
        gc.collect()
        costs[name] = (tracemalloc.get_traced_memory()[0] - before) / n
        tracemalloc.stop()
    return costs
