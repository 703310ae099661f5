"""The report's charts as plain geometry: bars, lines, ticks and labels in the SVG's own units.

`templates/report/chart.html.j2` draws a `Chart` as inline SVG, so every text is escaped by the
page's autoescaping and the page's own font shows it. Counts are on a scale that is linear from
0 to 1 and logarithmic above, so that a single area's bar stays visible beside hundreds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

WIDTH = 346.0
FONT_SIZE = 11.0
LEGEND_ROW = 15.0
TICK = 4.0
AXIS_COLOUR = "#334155"


@dataclass(frozen=True)
class Bar:
    """A filled rectangle, with the text a reader sees on hovering it."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str = ""
    opacity: float = 1.0


@dataclass(frozen=True)
class Line:
    """A straight line; `dash` draws it dashed."""

    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    width: float = 1.0
    dash: bool = False


@dataclass(frozen=True)
class Label:
    """A text at a point; `anchor` is start, middle or end; `rotate` in degrees; a `halo`
    keeps it readable over a line."""

    x: float
    y: float
    text: str
    anchor: str = "middle"
    size: float = FONT_SIZE
    rotate: float = 0.0
    halo: bool = False


@dataclass(frozen=True)
class LegendItem:
    """A swatch (box, line or dashed line) and its text."""

    x: float
    y: float
    colour: str
    text: str
    kind: str = "box"


@dataclass(frozen=True)
class Chart:
    """Everything one chart draws, back to front: shading, bars, lines, axes, texts, legend."""

    chart_id: str
    label: str
    height: float
    width: float = WIDTH
    shading: tuple[Bar, ...] = ()
    bars: tuple[Bar, ...] = ()
    lines: tuple[Line, ...] = ()
    axes: tuple[Line, ...] = ()
    labels: tuple[Label, ...] = ()
    legend: tuple[LegendItem, ...] = ()


@dataclass(frozen=True)
class Plot:
    """The plotting area inside the chart, in SVG units."""

    left: float
    top: float
    right: float
    bottom: float


def rounded(value: float) -> float:
    """Coordinates to 0.01 unit: short, and the same page for the same results."""
    return round(float(value), 2)


def linear_scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    """Map [low, high] onto [start, end]."""
    span = (high - low) or 1.0

    def scale(value: float) -> float:
        return rounded(start + (value - low) * (end - start) / span)

    return scale


def symlog(value: float) -> float:
    """Linear to 1, logarithmic (base 10) above."""
    return value if value <= 1 else 1 + math.log10(value)


def count_axis_top(highest: float) -> float:
    """The top of a count axis: room above the highest bar, and at least 2."""
    return max(2.0, highest * 1.6)


def count_scale(top: float, plot: Plot) -> Callable[[float], float]:
    """Counts from 0 to `top` on the symmetric log scale, bottom to top of the plot."""
    height = plot.bottom - plot.top
    ceiling = symlog(top)

    def scale(value: float) -> float:
        return rounded(plot.bottom - height * symlog(value) / ceiling)

    return scale


def count_ticks(top: float) -> list[float]:
    """0, 1, 10, 100 … up to the top of the axis."""
    ticks = [0.0, 1.0]
    while ticks[-1] * 10 <= top:
        ticks.append(ticks[-1] * 10)
    return ticks


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) within [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(s * magnitude for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    value = first * step
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def legend(items: Sequence[tuple[str, str, str]], left: float, top: float) -> list[LegendItem]:
    """Legend entries (colour, text, kind) in two columns from the top left."""
    column = (WIDTH - left) / 2
    return [
        LegendItem(
            x=rounded(left + column * (n % 2)),
            y=rounded(top + LEGEND_ROW * (n // 2)),
            colour=colour,
            text=text,
            kind=kind,
        )
        for n, (colour, text, kind) in enumerate(items)
    ]


def axes_lines(plot: Plot) -> list[Line]:
    """The left and bottom axes."""
    return [
        Line(plot.left, plot.top, plot.left, plot.bottom, AXIS_COLOUR),
        Line(plot.left, plot.bottom, plot.right, plot.bottom, AXIS_COLOUR),
    ]


def x_tick_marks(
    plot: Plot, positions: Sequence[float], texts: Sequence[str]
) -> tuple[list[Line], list[Label]]:
    """Tick marks below the bottom axis and their texts."""
    marks = [Line(x, plot.bottom, x, plot.bottom + TICK, AXIS_COLOUR) for x in positions]
    labels = [
        Label(x, rounded(plot.bottom + TICK + FONT_SIZE + 1), text)
        for x, text in zip(positions, texts, strict=True)
    ]
    return marks, labels


def y_tick_marks(
    plot: Plot, positions: Sequence[float], texts: Sequence[str]
) -> tuple[list[Line], list[Label]]:
    """Tick marks left of the left axis and their texts."""
    marks = [Line(plot.left - TICK, y, plot.left, y, AXIS_COLOUR) for y in positions]
    labels = [
        Label(rounded(plot.left - TICK - 2), rounded(y + FONT_SIZE * 0.35), text, anchor="end")
        for y, text in zip(positions, texts, strict=True)
    ]
    return marks, labels


def axis_titles(plot: Plot, height: float, x_title: str, y_title: str | None) -> list[Label]:
    """The x axis title under the tick texts, the y axis title turned along the left edge."""
    titles = [Label(rounded((plot.left + plot.right) / 2), rounded(height - 8), x_title)]
    if y_title is not None:
        middle = rounded((plot.top + plot.bottom) / 2)
        titles.append(Label(FONT_SIZE + 2, middle, y_title, rotate=-90.0))
    return titles


def count_axis(plot: Plot, top: float, format_number: Callable[[float], str]):
    """The count scale of a plot, its tick marks and their texts."""
    scale = count_scale(top, plot)
    ticks = count_ticks(top)
    marks, labels = y_tick_marks(plot, [scale(t) for t in ticks], [format_number(t) for t in ticks])
    return scale, marks, labels


def stacked_pair(
    left: float,
    width: float,
    y: Callable[[float], float],
    counts: tuple[int, int],
    colours: Mapping[str, str],
    title: str,
) -> list[Bar]:
    """One column of two parts on a count scale: the first (not crossed, or not selected) at
    the bottom, the second on top of it; nothing drawn for an empty part."""
    below, above = counts
    bars = []
    for bottom, count, colour in (
        (0, below, colours["not_crossed"]),
        (below, above, colours["crossed"]),
    ):
        if count:
            y_top, y_bottom = y(bottom + count), y(bottom)
            bars.append(Bar(left, y_top, width, rounded(y_bottom - y_top), colour, title))
    return bars


def bin_edges(low: float, high: float, threshold: float, average: float | None) -> list[float]:
    """Histogram bins of 1 pp (wider for wide ranges) over values from `low` to `high` and the
    marks, one edge on the threshold."""
    marks = [threshold] if average is None else [threshold, average]
    low = min(low, *marks)
    high = max(high, *marks)
    width = next((w for w in (0.5, 1, 2, 5, 10, 20) if (high - low) / w <= 40), 50)
    below = math.ceil((threshold - low) / width) + 1
    above = math.ceil((high - threshold) / width) + 1
    return [threshold + width * step for step in range(-below, above + 1)]


@dataclass(frozen=True)
class HistogramMarks:
    """Where a histogram's threshold and average lie, and on which side areas cross."""

    threshold: float
    average: float | None
    direction: str


def histogram(
    chart_id: str,
    counts: tuple[Sequence[int], Sequence[int]],
    edges: Sequence[float],
    marks: HistogramMarks,
    texts: Mapping[str, str],
    colours: Mapping[str, str],
    format_number: Callable[[float], str],
    bin_title: Callable[[str, str, int], str],
) -> Chart:
    """Areas in bins, those crossing stacked on those not, with threshold and average.

    `counts` is (crossed, not crossed), each a count per bin between `edges`; `texts` holds the
    legend's `crossed`, `not_crossed`, `threshold` and `average`, the axis titles `x` and `y`
    and the accessible `label`; `bin_title(low, high, areas)` is each bar's hover text.
    """
    height = 252.0
    plot = Plot(left=54.0, top=46.0, right=WIDTH - 10.0, bottom=height - 42.0)
    upper, lower = counts
    totals = [below + above for below, above in zip(lower, upper, strict=True)]
    top = count_axis_top(float(max([1, *totals])))
    y, y_marks, y_labels = count_axis(plot, top, format_number)
    pad = (edges[-1] - edges[0]) * 0.03
    low, high = edges[0] - pad, edges[-1] + pad
    x = linear_scale(low, high, plot.left, plot.right)
    bars: list[Bar] = []
    for n in range(len(edges) - 1):
        left, right = x(edges[n]), x(edges[n + 1])
        title = bin_title(format_number(edges[n]), format_number(edges[n + 1]), totals[n])
        pair = (lower[n], upper[n])
        bars += stacked_pair(left, rounded(right - left), y, pair, colours, title)
    at = x(marks.threshold)
    beyond = (plot.left, at) if marks.direction == "below" else (at, plot.right)
    shading = Bar(
        beyond[0], plot.top, rounded(beyond[1] - beyond[0]), rounded(plot.bottom - plot.top),
        colours["crossed"], opacity=0.08,
    )  # fmt: skip
    lines = [Line(at, plot.top, at, plot.bottom, colours["threshold"], width=2.0)]
    entries = [
        (colours["not_crossed"], texts["not_crossed"], "box"),
        (colours["crossed"], texts["crossed"], "box"),
        (colours["threshold"], texts["threshold"], "line"),
    ]
    if marks.average is not None:
        mean = x(marks.average)
        lines.append(Line(mean, plot.top, mean, plot.bottom, colours["average"], 1.5, dash=True))
        entries.append((colours["average"], texts["average"], "dash"))
    ticks = nice_ticks(low, high)
    x_marks, x_labels = x_tick_marks(plot, [x(t) for t in ticks], [format_number(t) for t in ticks])
    return Chart(
        chart_id=chart_id,
        label=texts["label"],
        height=height,
        shading=(shading,),
        bars=tuple(bars),
        lines=tuple(lines),
        axes=(*axes_lines(plot), *y_marks, *x_marks),
        labels=(*y_labels, *x_labels, *axis_titles(plot, height, texts["x"], texts["y"])),
        legend=tuple(legend(entries, plot.left, 12.0)),
    )


def stacked_columns(
    chart_id: str,
    categories: Sequence[str],
    parts: tuple[Sequence[int], Sequence[int]],
    texts: Mapping[str, str],
    colours: Mapping[str, str],
    format_number: Callable[[float], str],
    column_title: Callable[[str, int, int], str],
) -> Chart:
    """One column per category: the rest below, the selected part on top; counts on the log scale.

    `texts` holds the legend's `rest` and `selected`, the axis titles `x` and `y` and the
    accessible `label`; `column_title(category, rest, selected)` is each column's hover text.
    """
    height = 230.0
    plot = Plot(left=54.0, top=34.0, right=WIDTH - 10.0, bottom=height - 42.0)
    rest, selected = parts
    top = count_axis_top(
        float(max((a + b for a, b in zip(rest, selected, strict=True)), default=1))
    )
    y, y_marks, y_labels = count_axis(plot, top, format_number)
    band = (plot.right - plot.left) / max(len(categories), 1)
    bars: list[Bar] = []
    centres = []
    for n, category in enumerate(categories):
        left = rounded(plot.left + band * (n + 0.1))
        centres.append(rounded(plot.left + band * (n + 0.5)))
        title = column_title(category, rest[n], selected[n])
        bars += stacked_pair(left, rounded(band * 0.8), y, (rest[n], selected[n]), colours, title)
    x_marks, x_labels = x_tick_marks(plot, centres, list(categories))
    entries = [
        (colours["not_crossed"], texts["rest"], "box"),
        (colours["crossed"], texts["selected"], "box"),
    ]
    return Chart(
        chart_id=chart_id,
        label=texts["label"],
        height=height,
        bars=tuple(bars),
        axes=(*axes_lines(plot), *y_marks, *x_marks),
        labels=(*y_labels, *x_labels, *axis_titles(plot, height, texts["x"], texts["y"])),
        legend=tuple(legend(entries, plot.left, 12.0)),
    )


@dataclass(frozen=True)
class Row:
    """One horizontal bar: its text (shown above it), value and colour."""

    text: str
    value: int
    colour: str


def labelled_rows(
    chart_id: str,
    rows: Sequence[Row],
    baseline: tuple[int, str],
    texts: Mapping[str, str],
    colours: Mapping[str, str],
    format_number: Callable[[float], str],
) -> Chart:
    """Horizontal bars, each with its text above it (never cut), and a dashed baseline.

    `baseline` is (value, legend text); `texts` holds the axis title `x` and the `label`.
    """
    row_height = 27.0
    plot = Plot(left=12.0, top=30.0, right=WIDTH - 14.0, bottom=30.0 + row_height * len(rows) + 4)
    height = plot.bottom + 40.0
    highest = max((row.value for row in rows), default=0)
    x = linear_scale(0, highest * 1.3 + 1, plot.left, plot.right)
    bars, labels = [], []
    for n, row in enumerate(rows):
        y = plot.top + row_height * n
        labels.append(Label(plot.left + 2, rounded(y + 10), row.text, "start", 10.0, halo=True))
        bars.append(
            Bar(plot.left, rounded(y + 13), rounded(x(row.value) - plot.left), 11.0, row.colour,
                f"{row.text}: {row.value}")
        )  # fmt: skip
    value, text = baseline
    at = x(value)
    lines = [Line(at, plot.top - 4, at, plot.bottom, colours["average"], 1.0, dash=True)]
    ticks = nice_ticks(0, highest * 1.3 + 1)
    ticks = [t for t in ticks if t == int(t)]
    x_marks, x_labels = x_tick_marks(plot, [x(t) for t in ticks], [format_number(t) for t in ticks])
    return Chart(
        chart_id=chart_id,
        label=texts["label"],
        height=rounded(height),
        bars=tuple(bars),
        lines=tuple(lines),
        axes=(Line(plot.left, plot.bottom, plot.right, plot.bottom, AXIS_COLOUR), *x_marks),
        labels=(*labels, *x_labels, *axis_titles(plot, height, texts["x"], None)),
        legend=tuple(legend([(colours["average"], text, "dash")], plot.left, 12.0)),
    )
