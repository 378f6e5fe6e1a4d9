"""How long each part of the benchmark runs: full, ``--quick`` and ``--smoke``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    rounds: int  # interleaved rounds per view; the best round is the rate, the median is shown too
    seconds: float  # length of one round of one view
    warmup: int  # untimed requests per view before the first round
    cold_per_round: int  # first-use tokens per round (capped by the live seeded rows)
    sample: int  # requests whose SQL is captured
    endpoint_rounds: int  # per round: ours, then tuned DOT, for endpoint_seconds each, then one default DOT request
    endpoint_seconds: float

    @classmethod
    def named(cls, mode: str) -> Config:
        return MODES[mode]


MODES = {
    "full": Config(rounds=60, seconds=0.075, warmup=300, cold_per_round=175, sample=20,
                   endpoint_rounds=12, endpoint_seconds=0.5),
    "quick": Config(rounds=20, seconds=0.04, warmup=100, cold_per_round=40, sample=10,
                    endpoint_rounds=4, endpoint_seconds=0.25),
    "smoke": Config(rounds=1, seconds=0.0, warmup=2, cold_per_round=3, sample=2,
                    endpoint_rounds=1, endpoint_seconds=0.0),
}
