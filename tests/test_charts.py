"""The report's charts: geometry worked out by hand, and the SVG the template draws from it."""

from __future__ import annotations

import math
import re

import pytest

from areascreen import charts
from areascreen.report import COLOURS, chart_number
from areascreen.summary import environment

TEXTS = {
    "crossed": "crosses",
    "not_crossed": "does not cross",
    "threshold": "threshold 1 %",
    "average": "national average 1.5 %",
    "x": "rate (%)",
    "y": "areas",
    "label": "Rate: below 1 %",
}


def draw(chart: charts.Chart) -> str:
    """The chart as the report's template draws it."""
    template = environment(None, html=True).get_template("report/chart.html.j2")
    return str(template.module.chart(chart))


def test_nice_ticks_are_round_steps_inside_the_range():
    assert charts.nice_ticks(13.4, 101.6) == [20, 40, 60, 80, 100]  # 88.2 / 5 = 17.6 -> 20
    assert charts.nice_ticks(0, 3.1) == [0, 1, 2, 3]  # 0.62 -> 1
    assert charts.nice_ticks(-2.5, 2.5) == [-2, -1, 0, 1, 2]  # 1.0 -> 1
    assert charts.nice_ticks(0, 0.9) == [0, 0.2, 0.4, 0.6, 0.8]  # 0.18 -> 0.2
    assert charts.nice_ticks(5, 5) == [5]


def test_histogram_stacks_crossing_areas_on_a_symmetric_log_scale():
    chart = charts.histogram(
        "chart-rate",
        ([1, 0], [0, 2]),  # one area crossing in the first bin, two not in the second
        [0.0, 1.0, 2.0],
        charts.HistogramMarks(threshold=1.0, average=1.5, direction="below"),
        TEXTS,
        COLOURS,
        chart_number("en"),
        lambda low, high, areas: f"{low}-{high}: {areas}",
    )
    # The plot runs from y 46 (top) to 210 (bottom), x 54 to 336; the count axis ends at
    # 1.6 x the highest bin (2 areas) = 3.2, linear to 1 and logarithmic above.
    top = 1 + math.log10(3.2)
    one = 210 - 164 * 1 / top
    two = 210 - 164 * (1 + math.log10(2)) / top
    # x: the bins' range 0-2 padded by 3 % on each side, 2.12 wide over 282 units.
    x = [54 + (edge + 0.06) * 282 / 2.12 for edge in (0.0, 1.0, 2.0)]
    crossed, not_crossed = chart.bars
    assert (crossed.colour, crossed.title) == (COLOURS["crossed"], "0-1: 1")
    assert (crossed.x, crossed.width) == (round(x[0], 2), round(x[1] - x[0], 2))
    assert (crossed.y, crossed.height) == (
        pytest.approx(one, abs=0.01),
        pytest.approx(210 - one, abs=0.02),
    )
    assert (not_crossed.colour, not_crossed.title) == (COLOURS["not_crossed"], "1-2: 2")
    assert not_crossed.y == pytest.approx(two, abs=0.01)
    threshold, average = chart.lines
    assert threshold.x1 == round(x[1], 2) and threshold.width == 2.0 and not threshold.dash
    assert average.x1 == pytest.approx(54 + 1.56 * 282 / 2.12, abs=0.01) and average.dash
    (shading,) = chart.shading  # below the threshold: from the left edge to the threshold
    assert (shading.x, shading.width) == (54, round(x[1] - 54, 2))
    y_ticks = [label.text for label in chart.labels if label.anchor == "end"]
    assert y_ticks == ["0", "1"]  # 10 is above the axis's 3.2
    assert [item.text for item in chart.legend] == [
        "does not cross", "crosses", "threshold 1 %", "national average 1.5 %",
    ]  # fmt: skip


def test_stacked_columns_put_the_selected_part_on_top():
    chart = charts.stacked_columns(
        "chart-combined",
        ["0", "1", "2"],
        ([9, 0, 1], [0, 0, 3]),
        {"rest": "not selected", "selected": "selected", "x": "criteria", "y": "areas",
         "label": "Areas"},
        COLOURS,
        chart_number("en"),
        lambda bucket, rest, selected: f"{bucket}: {selected}+{rest}",
    )  # fmt: skip
    # Nothing is drawn for an empty part: 9 rest in "0", none in "1", 1 rest + 3 selected in "2".
    assert [bar.title for bar in chart.bars] == ["0: 0+9", "2: 3+1", "2: 3+1"]
    rest_two, selected_two = chart.bars[1:]
    assert selected_two.colour == COLOURS["crossed"]
    assert selected_two.y + selected_two.height == pytest.approx(rest_two.y, abs=0.01)
    # Three bands over 282 units, each bar 80 % of its band, 10 % in from its left.
    assert chart.bars[0].x == round(54 + 0.1 * 94, 2) and chart.bars[0].width == round(0.8 * 94, 2)


def test_labelled_rows_keep_every_label_and_mark_the_baseline():
    rows = [charts.Row("baseline", 26, "#475569"), charts.Row("stricter", 13, "#c2410c")]
    chart = charts.labelled_rows(
        "chart-sensitivity", rows, (26, "baseline 26"), {"x": "eligible", "label": "Variants"},
        COLOURS, chart_number("en"),
    )  # fmt: skip
    # x runs from 0 to 26 x 1.3 + 1 = 34.8 over 12..332.
    baseline, stricter = chart.bars
    assert baseline.width == round(26 * 320 / 34.8, 2)
    assert stricter.width == round(13 * 320 / 34.8, 2)
    (line,) = chart.lines
    assert line.dash and line.x1 == round(12 + 26 * 320 / 34.8, 2)
    assert [label.text for label in chart.labels[:2]] == ["baseline", "stricter"]
    assert all(label.halo for label in chart.labels[:2])
    assert chart.height == 30 + 27 * 2 + 4 + 40


def test_swedish_numbers_use_a_decimal_comma():
    assert chart_number("sv")(2.5) == "2,5"
    assert chart_number("en")(2.5) == "2.5"
    assert chart_number("en")(0.1 + 0.2) == "0.3"


def test_the_template_escapes_every_text_and_draws_each_part():
    rows = [charts.Row("<b>x</b> & y", 2, "#475569"), charts.Row("z", 1, "#c2410c")]
    chart = charts.labelled_rows(
        "chart-evil", rows, (2, "base"), {"x": "<i>axis</i>", "label": '"label"'},
        COLOURS, chart_number("en"),
    )  # fmt: skip
    svg = draw(chart)
    assert "<b>" not in svg and "<i>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in svg and "&lt;i&gt;axis&lt;/i&gt;" in svg
    assert 'aria-label="&#34;label&#34;"' in svg
    assert svg.startswith('<svg class="chart" role="img"') and svg.endswith("</svg>")
    assert len(re.findall(r"<rect ", svg)) == 2  # the two bars (the legend's swatch is a line)
    assert 'stroke-dasharray="5 3"' in svg and 'paint-order="stroke"' in svg
    assert re.search(r'viewBox="0 0 346.0 \d+(\.\d+)?"', svg)
