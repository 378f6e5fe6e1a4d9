"""What the provider counts for Prometheus, and the token endpoint's timing
(docs/monitoring.md "Metrics (Prometheus)"; the exposition view is ``metrics_endpoint``'s).

Optional: the ``metrics`` extra (``prometheus_client``) and
``OAUTH_TOKENS["METRICS_ENABLED"] = True``. Off (the default), nothing here is
connected, ``prometheus_client`` is not imported, and the token view's hook is
one attribute read (``token_request_observer is None``).

Counters (``client`` is the client's ``client_id``, "unknown" for an id that
names no client, and "" for every client when ``METRICS_CLIENT_LABEL`` is off):

- ``oauth_tokens_issued_total{grant_type, client}`` and
  ``oauth_tokens_refresh_rotations_total{client}``: token responses (200) that
  issued new tokens, seen by ``TokenView``'s hook; a grace replay hands out a
  pair already issued and is not counted (its ``grace_replayed`` event tells);
- ``oauth_tokens_refresh_reuse_detected_total{client}``,
  ``oauth_tokens_client_auth_failures_total{client}``,
  ``oauth_tokens_refresh_failures_total{client}``,
  ``oauth_tokens_anomalies_total{kind, client}``,
  ``oauth_tokens_revocations_total{reason}``: ``TokenEvent`` rows by kind
  (``post_save``), so every path that records one is counted;
- ``oauth_tokens_token_requests_total{grant_type, status}`` and the histogram
  ``oauth_tokens_token_request_duration_seconds{grant_type}``: ``TokenView``.

Why not the ``token_issued`` / ``token_refreshed`` signals: with a receiver
connected, the store loads the rotated token's user for ``token_refreshed``,
one more query per rotation; the token view already knows the outcome.

What a transaction wrote is counted once it commits (``transaction.on_commit``):
a rolled back request counts nothing. Labels take bounded values only: a
grant type this server does not know is "other", an anomaly kind outside the
documented four is "other", a revocation reason that is not a code-chosen
word is "other".

Several processes (gunicorn workers): start them with ``PROMETHEUS_MULTIPROC_DIR``
set (prometheus_client's multiprocess mode); each process writes its values
there and the view sums them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from functools import partial, wraps
from importlib.util import find_spec
from typing import Any, ParamSpec

from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponseBase

from oauth_tokens import process_caches
from oauth_tokens.oauth2.grants import GRANTS
from oauth_tokens.provider.models import AccessToken, TokenEvent
from oauth_tokens.settings import token_settings

#: The anomaly kinds a ``TokenEvent`` of kind ``anomaly`` names first in its detail ("kind: ...").
ANOMALY_KINDS = frozenset({"frequent_refresh", "failed_refresh", "new_location", "impossible_travel"})
#: Token-endpoint latency buckets, in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: A revocation reason chosen by code ("logout", "client_deactivated"...), not a sentence.
_REASON = re.compile(r"[a-z][a-z_]{0,39}")

logger = logging.getLogger(__name__)

Observer = Callable[..., HttpResponseBase]
P = ParamSpec("P")

#: Set while the metrics are on: ``TokenView.dispatch`` hands each POST to it.
token_request_observer: Observer | None = None
#: While a token request runs: the grace replays it handed out (``grace_replayed`` events).
_replays: ContextVar[list[TokenEvent] | None] = ContextVar("oauth_tokens_metrics_replays", default=None)


def installed() -> bool:
    """Whether ``prometheus_client`` (the ``metrics`` extra) can be imported."""
    return find_spec("prometheus_client") is not None


class ProviderMetrics:
    """The metric objects, made once per process in prometheus_client's default
    registry (so a project's own exporter shows them too)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.issued = Counter("oauth_tokens_issued_total", "Token responses issued (new tokens), per grant type "
                              "and client.", ["grant_type", "client"])
        self.rotations = Counter("oauth_tokens_refresh_rotations_total", "Refresh tokens rotated.", ["client"])
        self.reuse = Counter("oauth_tokens_refresh_reuse_detected_total",
                             "Rotated refresh tokens presented again: family revoked.", ["client"])
        self.auth_failures = Counter("oauth_tokens_client_auth_failures_total",
                                     "Failed client authentications (recorded ones; throttled attempts answered "
                                     "429 are in oauth_tokens_token_requests_total).", ["client"])
        self.refresh_failures = Counter("oauth_tokens_refresh_failures_total",
                                        "Refresh requests refused with invalid_grant.", ["client"])
        self.anomalies = Counter("oauth_tokens_anomalies_total", "Anomalies detected, per kind.", ["kind", "client"])
        self.revocations = Counter("oauth_tokens_revocations_total",
                                   "Revocations (a family, a client's or user's tokens, single tokens), per reason.",
                                   ["reason"])
        self.requests = Counter("oauth_tokens_token_requests_total",
                                "Token endpoint POST requests, per grant type and HTTP status.",
                                ["grant_type", "status"])
        self.latency = Histogram("oauth_tokens_token_request_duration_seconds",
                                 "Token endpoint POST latency in seconds, per grant type.", ["grant_type"],
                                 buckets=LATENCY_BUCKETS)


_metrics: ProviderMetrics | None = None


def current() -> ProviderMetrics:
    """This process's metric objects (made on first use)."""
    global _metrics
    if _metrics is None:
        _metrics = ProviderMetrics()
    return _metrics


def enabled() -> bool:
    """``METRICS_ENABLED``, False while the settings cannot be read (their checks say why)."""
    try:
        return bool(token_settings.METRICS_ENABLED)
    except ImproperlyConfigured:
        return False


# -- labels ------------------------------------------------------------------------
def grant_label(grant_type: str | None) -> str:
    return grant_type if grant_type in GRANTS else "other"


def client_label(client_id: str | None) -> str:
    if not token_settings.METRICS_CLIENT_LABEL:
        return ""
    return client_id or "unknown"


def anomaly_label(detail: str) -> str:
    kind = detail.split(":", 1)[0].strip()
    return kind if kind in ANOMALY_KINDS else "other"


def revocation_label(event: TokenEvent) -> str:
    if event.kind == TokenEvent.REUSE_DETECTED:
        return "reuse"
    if event.kind == TokenEvent.CODE_REPLAYED:
        return "code_replay"
    if " in the admin " in event.detail:  # the admin's "revoke selected" records one sentence per row
        return "admin"
    return event.detail if _REASON.fullmatch(event.detail) else "other"


# -- counting ----------------------------------------------------------------------
def never_fails(count: Callable[P, None]) -> Callable[P, None]:
    """``count`` that logs instead of raising: a metric that cannot be recorded (a full
    disk under the multiprocess directory...) never turns a token response into a 500."""

    @wraps(count)
    def counted(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            count(*args, **kwargs)
        except Exception:
            logger.warning("A metric could not be recorded", exc_info=True)

    return counted


@never_fails
def count_issued(grant: str, client_id: str) -> None:
    found, label = current(), client_label(client_id)
    found.issued.labels(grant, label).inc()
    if grant == "refresh_token":
        found.rotations.labels(label).inc()


#: TokenEvent kinds counted, whatever writes them (``refresh_failed`` and ``anomaly``: the monitoring).
COUNTED_KINDS = frozenset({
    TokenEvent.REUSE_DETECTED, TokenEvent.CODE_REPLAYED, TokenEvent.REVOKED, TokenEvent.AUTH_FAILED,
    "refresh_failed", "anomaly",
})


@never_fails
def count_event(event: TokenEvent) -> None:
    found, kind = current(), event.kind
    if kind == TokenEvent.AUTH_FAILED:
        found.auth_failures.labels(client_label(event.client_identifier)).inc()
    elif kind == "refresh_failed":
        found.refresh_failures.labels(client_label(event.client_identifier)).inc()
    elif kind == "anomaly":
        found.anomalies.labels(anomaly_label(event.detail), client_label(event.client_identifier)).inc()
    else:
        if kind == TokenEvent.REUSE_DETECTED:
            found.reuse.labels(client_label(event.client_identifier)).inc()
        found.revocations.labels(revocation_label(event)).inc()


def _event_saved(sender: Any, instance: TokenEvent, created: bool, using: str, raw: bool = False,
                 **kwargs: Any) -> None:
    if not created or raw:
        return
    if instance.kind in COUNTED_KINDS:
        transaction.on_commit(partial(count_event, instance), using=using)
    elif instance.kind == TokenEvent.GRACE_REPLAYED and (replays := _replays.get()) is not None:
        replays.append(instance)


def observe_token_request(view: Any, dispatch: Observer, request: HttpRequest, *args: Any,
                          **kwargs: Any) -> HttpResponseBase:
    """``dispatch(request, ...)`` timed: latency and status per grant type, and, once
    committed, the tokens a 200 issued (``view.token_request``: the parsed request,
    None when its body was refused)."""
    started, status = time.perf_counter(), 500
    replays: list[TokenEvent] = []
    handed_out = _replays.set(replays)
    try:
        response = dispatch(request, *args, **kwargs)
        status = response.status_code
        return response
    finally:
        _replays.reset(handed_out)
        count_request(view.token_request, status, time.perf_counter() - started, issued=not replays)


@never_fails
def count_request(parsed: Any, status: int, seconds: float, issued: bool) -> None:
    """One token request's latency and status; once committed, the tokens it issued."""
    grant = grant_label(parsed.get("grant_type") if parsed is not None else None)
    found = current()
    found.latency.labels(grant).observe(seconds)
    found.requests.labels(grant, str(status)).inc()
    if status == 200 and parsed is not None and issued:
        transaction.on_commit(partial(count_issued, grant, parsed.credentials.client_id),
                              using=router.db_for_write(AccessToken))


def configure(on: bool | None = None) -> bool:
    """Connect the receiver and the token view's hook when the metrics are on
    (``on``, default ``METRICS_ENABLED``), disconnect them when off; returns
    whether they are on. Without ``prometheus_client`` they stay off (check
    ``oauth_tokens.E030`` says so). Called by ``AppConfig.ready()`` and when
    ``OAUTH_TOKENS`` changes."""
    global token_request_observer
    on = (enabled() if on is None else on) and installed()
    uid = "oauth_tokens.provider.metrics.event_saved"
    if on:
        current()
        post_save.connect(_event_saved, sender=TokenEvent, dispatch_uid=uid)
    else:
        post_save.disconnect(_event_saved, sender=TokenEvent, dispatch_uid=uid)
    token_request_observer = observe_token_request if on else None
    return on


@process_caches.resets_on("OAUTH_TOKENS")
def _reconfigure() -> None:
    configure()
