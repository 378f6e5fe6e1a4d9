"""What anomaly detection costs the token endpoint: our refresh rotation with
``ANOMALY_DETECTION`` on (the default) and off, each on a family of its own.

The two run in short rounds side by side, in turns first, many times: the
median of the paired ratios is what detection costs, with what other processes
do to the machine cancelled out as far as pairing can. Switching the setting
resets the per-process caches (keys, SQL), so each round starts with one
untimed request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.test.utils import override_settings

from bench.config import Config
from bench.endpoints import _rotation
from bench.fixtures import Clients, Tokens, basic
from bench.harness import Driver, Measurement, timed_round

ON, OFF = "ours rotation, monitoring on", "ours rotation, monitoring off"


@contextmanager
def detection(on: bool) -> Iterator[None]:
    with override_settings(OAUTH_TOKENS={**settings.OAUTH_TOKENS, "ANOMALY_DETECTION": on}):
        yield


def run(driver: Driver, clients: Clients, tokens: Tokens, config: Config) -> list[Measurement]:
    auth = basic(clients.ours.client_id, clients.ours_secret)
    sides = [(ON, True, _rotation(driver, "/oauth/token", auth, tokens.ours_refresh_monitored)),
             (OFF, False, _rotation(driver, "/oauth/token", auth, tokens.ours_refresh_unmonitored))]
    results = {name: Measurement(name) for name, _, _ in sides}
    for number in range(4 * config.endpoint_rounds):
        for name, on, call in sides if number % 2 == 0 else sides[::-1]:
            with detection(on):
                call()  # untimed: caches reloaded after the switch
                timed_round(results[name], call, seconds=config.endpoint_seconds / 2, min_requests=3)
    return list(results.values())
