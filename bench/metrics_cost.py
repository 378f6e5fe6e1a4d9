"""What the Prometheus metrics cost at the token endpoint: ours with
``METRICS_ENABLED`` off, then on, in interleaved rounds, for client_credentials
and refresh-token rotation (its own chain). Switched in-process with
``metrics.configure(on)``, so nothing else is reset between rounds. Skipped
(None) when prometheus_client (the ``metrics`` extra) is not installed.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from bench.config import Config
from bench.endpoints import _client_credentials, _rotation
from bench.fixtures import Clients, basic, our_code_exchange
from bench.harness import Driver, Measurement, timed_round

STATES = ("off", "on")


def run(driver: Driver, clients: Clients, config: Config) -> list[Measurement] | None:
    from oauth_tokens.provider import metrics

    if not metrics.installed():
        return None
    auth = basic(clients.ours.client_id, clients.ours_secret)
    user = get_user_model().objects.filter(username__startswith="bench").order_by("pk").first()
    first = our_code_exchange(driver, clients, user)["refresh_token"]
    calls = {"client_credentials": _client_credentials(driver, "/oauth/token", auth),
             "refresh rotation": _rotation(driver, "/oauth/token", auth, first)}
    results = {(grant, state): Measurement(f"ours {grant}, metrics {state}") for grant in calls for state in STATES}
    try:
        for state in STATES:
            metrics.configure(state == "on")
            for call in calls.values():
                call()  # the first request with the receivers connected (or not)
        for _ in range(config.endpoint_rounds):
            for grant, call in calls.items():
                for state in STATES:
                    metrics.configure(state == "on")
                    timed_round(results[grant, state], call, seconds=config.endpoint_seconds, min_requests=5)
    finally:
        metrics.configure()  # back to what the settings say
    return list(results.values())
