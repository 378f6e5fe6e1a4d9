"""Charts as inline SVG, drawn on the server for the admin page "Token activity".

No script and no ``style`` attribute: colours are classes (``s0`` ... ``s5``)
styled by the page's stylesheet, with the same colours as presentation
attributes for a page without it, so the charts hold under a strict
Content-Security-Policy. Each chart is an ``img`` with a title and a
description (its total and busiest bucket); every bar links to the rows it
counts and says its number in a tooltip. The page adds a table of the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

#: Fallback fills, in the order of the stylesheet's classes s0 ... s5 (s5: "other").
PALETTE = ("#417690", "#e0823d", "#5b9e4d", "#b04a7a", "#8a6fc4", "#9a9a9a")
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28


@dataclass(frozen=True)
class Segment:
    value: int
    series: str  # its legend label
    colour: int  # index into PALETTE (and the class s<n>)
    url: str | None = None


@dataclass(frozen=True)
class Column:
    label: str
    segments: tuple[Segment, ...]

    @property
    def total(self) -> int:
        return sum(s.value for s in self.segments)


def nice_ceiling(value: int) -> int:
    """The top of a chart's scale: the smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8
    times a power of ten, a whole number) that is at least ``value``, and at least 1."""
    if value <= 1:
        return 1
    power = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        top = step * power
        if top >= value and top == int(top):
            return int(top)
    return 10 * power  # pragma: no cover


def _n(value: float) -> str:
    """A coordinate with one decimal, or a count with thousands separators."""
    return f"{value:.1f}" if isinstance(value, float) else f"{value:,}"


def _summary(columns: list[Column], unit: str) -> str:
    total = sum(c.total for c in columns)
    if not total:
        return "None in this window."
    busiest = max(columns, key=lambda c: c.total)
    return f"{total:,} in {len(columns)} {unit}s; the busiest {unit}, {busiest.label}, had {busiest.total:,}."


def _linked(url: str | None, body: SafeString) -> SafeString:
    return format_html('<a href="{}">{}</a>', url, body) if url else body


def stacked_bars(chart_id: str, title: str, columns: list[Column], *, unit: str) -> SafeString:
    """Vertical bars, one per time bucket, stacked by series."""
    top = nice_ceiling(max((c.total for c in columns), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(columns), 1)
    bar_w = max(slot * 0.72, 1.0)
    every = max(1, math.ceil(len(columns) / 12))
    parts: list[SafeString] = []
    for tick in (0, top // 2, top) if top % 2 == 0 else (0, top):  # a middle line where it is a whole number
        y = TOP + plot_h - plot_h * tick / top
        parts.append(format_html(
            '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ccc"/>'
            '<text class="axis" x="{}" y="{}" text-anchor="end" font-size="11">{}</text>',
            LEFT, WIDTH - RIGHT, _n(y), _n(y), LEFT - 6, _n(y + 4), _n(tick),
        ))
    for i, column in enumerate(columns):
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        for segment in column.segments:
            if not segment.value:
                continue
            h = plot_h * segment.value / top
            base -= h
            rect = format_html(
                '<rect class="bar s{}" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{}, {}: {}</title></rect>",
                segment.colour, _n(x), _n(base), _n(bar_w), _n(max(h, 0.5)), PALETTE[segment.colour],
                column.label, segment.series, _n(segment.value),
            )
            parts.append(_linked(segment.url, rect))
        if i % every == 0:
            parts.append(format_html(
                '<text class="axis" x="{}" y="{}" text-anchor="middle" font-size="11">{}</text>',
                _n(x + bar_w / 2), HEIGHT - 10, column.label,
            ))
    empty = not any(c.total for c in columns)
    return _svg(chart_id, title, _summary(columns, unit), WIDTH, HEIGHT, parts, empty=empty)


@dataclass(frozen=True)
class Row:
    label: str
    value: int
    url: str | None = None


def horizontal_bars(chart_id: str, title: str, rows: list[Row], *, colour: int = 0) -> SafeString:
    """One labelled bar per row, longest first as given, the number at its end."""
    row_h, label_w, number_w = 26, 210, 70
    height = TOP + row_h * max(len(rows), 1) + 4
    top = max((r.value for r in rows), default=0) or 1
    span = WIDTH - label_w - number_w - RIGHT
    parts: list[SafeString] = []
    for i, row in enumerate(rows):
        y = TOP + i * row_h
        w = max(span * row.value / top, 1.0)
        label = row.label if len(row.label) <= 30 else row.label[:29] + "\u2026"
        parts.append(format_html(
            '<text class="axis" x="{}" y="{}" text-anchor="end" font-size="12">{}</text>',
            label_w - 8, y + 16, label,
        ))
        parts.append(_linked(row.url, format_html(
            '<rect class="bar s{}" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            colour, label_w, y + 3, _n(w), row_h - 8, PALETTE[colour], row.label, _n(row.value),
        )))
        parts.append(format_html(
            '<text class="value" x="{}" y="{}" font-size="12">{}</text>', _n(label_w + w + 6), y + 16, _n(row.value)
        ))
    if rows:
        best = rows[0]
        summary = f"{len(rows)} clients; the first, {best.label}, with {best.value:,}."
    else:
        summary = "None in this window."
    return _svg(chart_id, title, summary, WIDTH, height, parts, empty=not rows)


def _svg(
    chart_id: str, title: str, summary: str, width: int, height: int, parts: list[SafeString], *, empty: bool
) -> SafeString:
    body = format_html_join("", "{}", ((p,) for p in parts))
    if empty:
        body += format_html(
            '<text class="axis" x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>',
            width // 2, height // 2, summary,
        )
    return format_html(
        '<svg class="ot-chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" '
        'viewBox="0 0 {w} {h}" width="{w}" height="{h}" preserveAspectRatio="xMinYMin meet" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{summary}</desc>{body}</svg>',
        id=chart_id, w=width, h=height, title=title, summary=summary, body=body,
    )


def legend(entries: Sequence[tuple[str, int, object]]) -> SafeString:
    """(label, colour, total) per series, as an HTML list under a chart; the totals
    are rendered as they render themselves (links, in the page)."""
    items = format_html_join(
        "", '<li><span class="ot-swatch s{}" aria-hidden="true"></span>{} <strong>{}</strong></li>',
        ((colour, label, total) for label, colour, total in entries),
    )
    return format_html('<ul class="ot-legend">{}</ul>', items)
