"""The admin page "Token activity" at ``admin/oauth_tokens_provider/activity/``
(URL name ``admin:oauth_tokens_provider_activity``), listed on the provider's
app index: refreshes per client, failures, reuse detections, anomalies and the
busiest clients, over the last 24 hours (hourly) or 7 days (daily).

Staff who may view token events see it (``oauth_tokens_provider.view_tokenevent``;
superusers have every permission). Each number links to the admin list of the
rows it counts, when the user may view that list. The numbers come from
``activity``, the SVG from ``charts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from oauth_tokens.provider import activity, charts
from oauth_tokens.provider.activity import Counts, Window
from oauth_tokens.provider.models import AccessToken, Activity, RefreshToken, TokenEvent

TOP_CLIENTS = 10
STACKED_CLIENTS = 5  # series of their own in a chart by client; the rest are "other clients"
KIND_LABELS = {
    activity.AUTH_FAILED: "Failed client authentications",
    activity.REFRESH_FAILED: "Failed refreshes",
    activity.REUSE_DETECTED: "Reuse detections",
}
ANOMALY_LABELS = {
    "frequent_refresh": "Unusually frequent refreshes",
    "failed_refresh": "Bursts of failed refreshes",
    "new_location": "New location",
    "impossible_travel": "Impossible travel",
    activity.OTHER: "Other",
}


class Changelists:
    """The admin lists the page links to, for the ones this user may view."""

    def __init__(self, site: admin.AdminSite, request) -> None:
        self.bases: dict[type[Model], str] = {}
        for model in (AccessToken, RefreshToken, TokenEvent):
            try:
                model_admin = site.get_model_admin(model)
            except NotRegistered:
                continue
            if model_admin.has_view_permission(request):
                opts = model._meta
                self.bases[model] = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist",
                                            current_app=site.name)

    def url(self, model: type[Model], *lookups: Mapping[str, str] | None) -> str | None:
        base = self.bases.get(model)
        return f"{base}?{'&'.join(query(tuple(part.items())) for part in lookups if part)}" if base else None


@lru_cache(maxsize=512)
def query(items: tuple[tuple[str, str], ...]) -> str:
    """A part of a query string, encoded once: a page repeats each a hundred times."""
    return urlencode(items)


class Number(NamedTuple):
    """A count as the page shows it: a link to the rows it counts, when there are
    some and the user may view their list."""

    value: int
    url: str | None

    def __str__(self) -> SafeString:  # what templates render
        if self.value and self.url:
            return format_html('<a href="{}">{}</a>', self.url, f"{self.value:,}")
        return format_html("{}", f"{self.value:,}")

    def __html__(self) -> SafeString:
        return self.__str__()


@dataclass(frozen=True)
class Series:
    key: object
    label: str
    colour: int
    lookups: dict[str, str] | None  # None: no admin list shows exactly these rows
    rest: bool = False  # the rows of no other series (the other clients)


def client_label(names: dict[int, str], client_id: int | None) -> str:
    return names.get(client_id, f"client #{client_id}") if client_id is not None else "Unknown client id"


def client_series(counts: Counts, names: dict[int, str]) -> list[Series]:
    """The busiest clients of ``counts`` each as a series, then the rest as one."""
    busiest = [key for key, _ in counts.series.most_common(STACKED_CLIENTS)]
    if len(counts.series) == STACKED_CLIENTS + 1:
        busiest = list(counts.series)  # a series of its own rather than an "other" of one
    series = [Series(key, client_label(names, key), i, activity.client_filter(key)) for i, key in enumerate(busiest)]
    if len(counts.series) > len(busiest):
        series.append(Series(activity.OTHER, "Other clients", 5, None, rest=True))
    return series


def stacked_panel(chart_id: str, title: str, win: Window, counts: Counts, series: list[Series],
                  model: type[Model], lookups: dict[str, str], links: Changelists) -> dict:
    """A stacked bar chart, its legend and its table: every number with the link to its rows."""
    named = {s.key for s in series if not s.rest}

    def value(i: int, s: Series) -> int:
        if s.rest:
            return counts.buckets[i] - sum(counts.cells[i, k] for k in named)
        return counts.cells[i, s.key]

    def url(s: Series, bucket=None) -> str | None:
        if s.lookups is None:
            return None
        return links.url(model, lookups, s.lookups, win.created_filter(bucket))

    rows, columns = [], []
    for i, bucket in enumerate(win.buckets):
        cells = [Number(value(i, s), url(s, bucket)) for s in series]
        segments = tuple(charts.Segment(n, s.label, s.colour, u) for (n, u), s in zip(cells, series, strict=True))
        columns.append(charts.Column(bucket.label, segments))
        total = Number(counts.buckets[i], links.url(model, lookups, win.created_filter(bucket)))
        rows.append((bucket.label, cells, total))
    totals = [(s.label, s.colour, Number(sum(value(i, s) for i in range(len(win.buckets))), url(s))) for s in series]
    return {
        "id": chart_id,
        "title": title,
        "svg": charts.stacked_bars(chart_id, title, columns, unit=win.unit),
        "legend": charts.legend(totals),
        "headers": [s.label for s in series],
        "rows": rows,
        "total": Number(counts.total, links.url(model, lookups, win.created_filter())),
    }


def by_kind(events: dict[str, Counts], kinds: tuple[str, ...]) -> Counts:
    merged = Counts()
    for kind in kinds:
        for (bucket, _client), n in events[kind].cells.items():
            merged.add(bucket, kind, n)
    return merged


def build(request, site: admin.AdminSite, win: Window) -> dict:
    """Everything the template shows: five queries (four aggregates and the client names)."""
    links = Changelists(site, request)
    refreshes = activity.refreshes_by_client(win)
    events = activity.events_by_kind_and_client(win)
    anomalies = activity.anomalies_by_kind(win)
    tokens = activity.tokens_by_client(win)
    client_ids = set(refreshes.series) | set(tokens) | {c for counts in events.values() for c in counts.series}
    names = activity.client_names(client_ids)
    failures = (activity.AUTH_FAILED, activity.REFRESH_FAILED)
    kind_series = [Series(k, KIND_LABELS[k], i + 1, activity.event_filter(k)) for i, k in enumerate(failures)]
    anomaly_kinds = [k for k in (*activity.ANOMALY_KINDS, activity.OTHER) if k != activity.OTHER or anomalies.series[k]]
    anomaly_series = [Series(k, ANOMALY_LABELS[k], i, activity.anomaly_lookup(k) if k != activity.OTHER else None)
                      for i, k in enumerate(anomaly_kinds)]
    reuse = activity.REUSE_DETECTED
    panels = [
        stacked_panel("refreshes", f"Refreshes per {win.unit}, by client", win, refreshes,
                      client_series(refreshes, names), RefreshToken, activity.refresh_filter(), links),
        stacked_panel("failures", "Failed client authentications and failed refreshes", win,
                      by_kind(events, failures), kind_series, TokenEvent, {"kind__in": ",".join(failures)}, links),
        stacked_panel("reuse", "Reuse detections (family revoked), by client", win, events[reuse],
                      client_series(events[reuse], names), TokenEvent, activity.event_filter(reuse), links),
        stacked_panel("anomalies", "Anomalies by kind", win, anomalies, anomaly_series, TokenEvent,
                      activity.anomaly_filter(activity.OTHER), links),
    ]
    window_filter = win.created_filter()
    top = [
        (client_label(names, cid),
         Number(n, links.url(AccessToken, activity.client_filter(cid), window_filter)),
         Number(refreshes.series[cid],
                links.url(RefreshToken, activity.refresh_filter(), activity.client_filter(cid), window_filter)))
        for cid, n in tokens.most_common(TOP_CLIENTS)
    ]
    failing = sorted({c for kind in (*failures, reuse) for c in events[kind].series},
                     key=lambda c: -sum(events[k].series[c] for k in (*failures, reuse)))[:TOP_CLIENTS]
    return {
        "summary": [
            ("Tokens issued", Number(sum(tokens.values()), links.url(AccessToken, window_filter))),
            ("Refreshes", Number(refreshes.total, links.url(RefreshToken, activity.refresh_filter(), window_filter))),
            *((KIND_LABELS[k], Number(events[k].total, links.url(TokenEvent, activity.event_filter(k), window_filter)))
              for k in (*failures, reuse)),
            ("Anomalies", Number(anomalies.total,
                                 links.url(TokenEvent, activity.anomaly_filter(activity.OTHER), window_filter))),
        ],
        "panels": panels,
        "top_clients": top,
        "top_clients_svg": charts.horizontal_bars(
            "top-clients", "Top clients by tokens issued",
            [charts.Row(name, issued.value, issued.url) for name, issued, _ in top],
        ),
        "failure_kinds": [KIND_LABELS[k] for k in (*failures, reuse)],
        "failing_clients": [
            (client_label(names, c),
             [Number(events[k].series[c], links.url(TokenEvent, activity.event_filter(k, c), window_filter))
              for k in (*failures, reuse)])
            for c in failing
        ],
    }


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    """No list and no form: the page "Token activity" in their place."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.activity_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("", view, name=name),
            path("", view, name=f"{name}_changelist"),  # the name the app index links to
            # There are no objects here: an object's URL leads to the page, as the admin
            # redirects a missing object's URL to its list.
            path("<path:rest>/", self.admin_site.admin_view(self.to_the_page)),
        ]

    def to_the_page(self, request, rest):
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}",
                                            current_app=self.admin_site.name))

    def has_view_permission(self, request, obj=None):
        opts = TokenEvent._meta
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def activity_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        win = activity.window(request.GET.get("window", "24h"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Token activity",
            "opts": self.opts,
            "window": win,
            "windows": activity.WINDOWS.items(),
            **build(request, self.admin_site, win),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/oauth_tokens_provider/activity.html", context)
