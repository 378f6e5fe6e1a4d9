"""The Prometheus exposition view, who may read it, and the checks of its settings
(docs/monitoring.md "Metrics (Prometheus)"; what is counted is ``metrics``'s).

Mount it where Prometheus scrapes, e.g. ``path("metrics", metrics_view)``. It is
not public by default:

- with ``METRICS_ENABLED`` off it answers 404, as if it were not mounted;
- the client's address (``NUM_PROXIES`` read as everywhere) must be inside
  ``METRICS_ALLOWED_NETWORKS`` (default: loopback only; an empty list lets any
  address through), else 403;
- with ``METRICS_BEARER_TOKEN`` set, ``Authorization: Bearer <it>`` is required
  too, else 401.

Under several processes (``PROMETHEUS_MULTIPROC_DIR`` set) it sums every
process's values with prometheus_client's ``MultiProcessCollector``; otherwise
it renders the default registry. The text format, or OpenMetrics when the
scraper asks for it.

Checks: E030 metrics on without ``prometheus_client``; E031 a malformed
``METRICS_ALLOWED_NETWORKS`` / ``METRICS_BEARER_TOKEN``; E032 metrics on with a
``PROMETHEUS_MULTIPROC_DIR`` that is not a directory; W030 metrics on, open to
any address, without a bearer token.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse

from oauth_tokens import crypto
from oauth_tokens.provider import metrics
from oauth_tokens.provider.views import client_ip
from oauth_tokens.settings import token_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
INSTALL = 'pip install "django-oauth-tokens-kit[metrics]"'


def allowed_networks(value: Any) -> list[Network]:
    """``METRICS_ALLOWED_NETWORKS`` parsed; ``ValueError`` naming a bad entry."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"must be a list of networks such as \"10.0.0.0/8\", not {value!r}")
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in value]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"has an entry that is not an IP address or network: {exc}") from None


def _address_allowed(request: HttpRequest) -> bool:
    try:
        networks = allowed_networks(token_settings.METRICS_ALLOWED_NETWORKS)
    except ValueError:
        return False  # E031 says why; closed until it is fixed
    if not networks:
        return True
    address = client_ip(request)
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)


def _bearer_accepted(request: HttpRequest) -> bool:
    expected = token_settings.METRICS_BEARER_TOKEN
    if expected is None:
        return True
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and crypto.constant_time_equals(presented.strip(), str(expected))


def _plain(text: str, status: int) -> HttpResponse:
    response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8", status=status)
    response["Cache-Control"] = "no-store"
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The provider's metrics (and any others in prometheus_client's registry) for Prometheus."""
    if not metrics.enabled():
        raise Http404("Metrics are off")
    if request.method not in ("GET", "HEAD"):
        response = _plain("Method not allowed", 405)
        response["Allow"] = "GET, HEAD"
        return response
    if not _address_allowed(request):
        return _plain("Forbidden", 403)
    if not _bearer_accepted(request):
        response = _plain("Unauthorized", 401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not metrics.installed():
        return _plain(f"prometheus_client is not installed: {INSTALL}", 503)
    from prometheus_client import REGISTRY, CollectorRegistry, exposition, multiprocess

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    encoder, content_type = exposition.choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    response = HttpResponse(encoder(registry), content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


@checks.register(checks.Tags.security)
def check_metrics(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E030, E031, E032, W030 (see the module docstring)."""
    try:
        on = bool(token_settings.METRICS_ENABLED)
        networks_value = token_settings.METRICS_ALLOWED_NETWORKS
        bearer = token_settings.METRICS_BEARER_TOKEN
    except ImproperlyConfigured:
        return []  # E000 / E005 name the problem
    found: list[checks.CheckMessage] = []
    try:
        networks = allowed_networks(networks_value)
    except ValueError as exc:
        networks = None
        found.append(checks.Error(f"OAUTH_TOKENS['METRICS_ALLOWED_NETWORKS'] {exc}.",
                                  hint='For example ["127.0.0.1/32", "10.0.0.0/8"]; [] allows any address.',
                                  id="oauth_tokens.E031"))
    if bearer is not None and (not isinstance(bearer, str) or not bearer.strip()):
        found.append(checks.Error("OAUTH_TOKENS['METRICS_BEARER_TOKEN'] must be None or a non-empty string.",
                                  id="oauth_tokens.E031"))
    if not on:
        return found
    if not metrics.installed():
        found.append(checks.Error(
            "OAUTH_TOKENS['METRICS_ENABLED'] is on but prometheus_client is not installed: nothing is counted.",
            hint=f"Install the metrics extra: {INSTALL}", id="oauth_tokens.E030"))
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and not os.path.isdir(directory):
        found.append(checks.Error(
            f"PROMETHEUS_MULTIPROC_DIR ({directory}) is not a directory.",
            hint="Create it (empty) before the server starts, or unset it for a single process.",
            id="oauth_tokens.E032"))
    if networks == [] and bearer is None:
        found.append(checks.Warning(
            "The metrics view answers any address: METRICS_ALLOWED_NETWORKS is empty and no "
            "METRICS_BEARER_TOKEN is set.",
            hint="List Prometheus's addresses in METRICS_ALLOWED_NETWORKS, or set METRICS_BEARER_TOKEN.",
            id="oauth_tokens.W030"))
    return found
