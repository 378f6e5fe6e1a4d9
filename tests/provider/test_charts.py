"""The SVG charts of the page "Token activity", drawn without a database."""

import re

from oauth_tokens.provider.charts import Column, Row, Segment, horizontal_bars, legend, nice_ceiling, stacked_bars


def test_the_scale_ends_on_a_round_number_just_above_the_highest_bar():
    assert [nice_ceiling(n) for n in (0, 1, 2, 3, 7, 11, 120, 151, 999, 1001)] == [
        1, 1, 2, 3, 8, 15, 150, 200, 1000, 1500,
    ]


def test_stacked_bars_stack_each_series_and_link_each_segment():
    columns = [
        Column("09:00", (Segment(3, "Mobile", 0, "/a?x=1&y=2"), Segment(1, "Web", 1, None))),
        Column("10:00", (Segment(0, "Mobile", 0, "/a"), Segment(4, "Web", 1, "/b"))),
    ]
    svg = str(stacked_bars("c", "Refreshes", columns, unit="hour"))
    rects = re.findall(r'<rect class="bar s(\d)" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    assert [colour for colour, _, _ in rects] == ["0", "1", "1"]  # the empty segment draws nothing
    assert float(rects[0][2]) == 3 * float(rects[1][2])  # heights in proportion to the counts
    assert float(rects[1][1]) + float(rects[1][2]) == float(rects[0][1])  # the second sits on the first
    assert '<a href="/a?x=1&amp;y=2"><rect' in svg and "<title>09:00, Mobile: 3</title>" in svg
    assert '<title id="c-title">Refreshes</title>' in svg
    assert "8 in 2 hours; the busiest hour, 09:00, had 4." in svg


def test_labels_are_escaped_and_an_empty_chart_says_so():
    svg = str(stacked_bars("e", "<script>", [Column("<b>", (Segment(0, "<i>", 0),))], unit="day"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "None in this window." in svg and "<rect" not in svg
    bars = str(horizontal_bars("h", "Top", [Row("<img src=x>", 5, "/c")]))
    assert "<img" not in bars and "&lt;img src=x&gt;" in bars
    assert "None in this window." in str(horizontal_bars("h", "Top", []))


def test_horizontal_bars_are_as_long_as_their_share_of_the_longest():
    svg = str(horizontal_bars("t", "Top", [Row("a", 100, None), Row("b", 25, None)]))
    widths = [float(w) for w in re.findall(r'<rect class="bar s0" x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert widths[0] == 4 * widths[1]
    assert "2 clients; the first, a, with 100." in svg


def test_the_legend_renders_each_total_as_given():
    html = str(legend([("Mobile", 0, 3), ("Other clients", 5, 1)]))
    assert '<span class="ot-swatch s5" aria-hidden="true"></span>Other clients <strong>1</strong>' in html
