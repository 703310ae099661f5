"""The publication's report (`report.html`): one self-contained HTML page with charts.

Everything is inline: CSS, a small script that sorts tables, and charts drawn by matplotlib as
SVG (text as paths, so no fonts are needed). The page loads nothing from the network, and a
Content-Security-Policy lets no script run but the sorting script. Every value taken from the data
is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from areascreen.contract import INDICATORS
from areascreen.formatting import integer, number
from areascreen.ruleset import Criterion, Ruleset
from areascreen.summary import STATUS_LABELS

if TYPE_CHECKING:
    from areascreen.sensitivity import SensitivityResult

COLOURS = {
    "crossed": "#c2410c",
    "not_crossed": "#94a3b8",
    "threshold": "#b91c1c",
    "average": "#1e293b",
    "bar": "#2563eb",
}
SHORT_NAMES = {
    "employment_rate": "employment",
    "long_term_unemployment_rate": "long-term unemployment",
    "low_education_rate": "low education",
    "voter_turnout": "voter turnout",
}

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.querySelectorAll("thead th");
  headers.forEach(function (th, index) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var cell = row.cells[index];
        return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort")
          : cell.textContent.trim();
      };
      var numeric = rows.every(function (row) {
        var k = key(row);
        return k === "" || !isNaN(Number(k));
      });
      var value = function (row) {
        var k = key(row);
        if (!numeric) { return k; }
        return k === "" ? Number.NEGATIVE_INFINITY : Number(k);
      };
      rows.sort(function (a, b) {
        var x = value(a), y = value(b);
        var order = numeric ? (x < y ? -1 : (x > y ? 1 : 0)) : String(x).localeCompare(y, "sv");
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  margin: 0 auto; max-width: 76rem; padding: 1.5rem; color: #1e293b; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { margin-top: 2.4rem; border-bottom: 2px solid #e2e8f0; padding-bottom: .25rem; }
h3 { margin-top: 1.6rem; }
.subtitle { color: #475569; margin-top: 0; }
.note { background: #fef3c7; border-left: 4px solid #d97706; padding: .5rem .8rem; }
.figures { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; padding: 0; }
.figures li { list-style: none; background: #f1f5f9; border-radius: .4rem; padding: .6rem 1rem;
  min-width: 10rem; }
.figures strong { display: block; font-size: 1.5rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid #e2e8f0; text-align: left;
  vertical-align: top; }
th { background: #f8fafc; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.num { text-align: right; max-width: 9rem; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0;
  cursor: pointer; color: inherit; text-align: inherit; }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
td.crossed { background: #ffedd5; }
td.unknown { color: #64748b; font-style: italic; }
.detail { display: block; color: #475569; font-size: .8rem; }
figure { margin: 1rem 0 1.6rem; }
figure svg { width: 100%; max-width: 46rem; height: auto; }
figcaption { color: #334155; }
.scroll { overflow-x: auto; }
"""


@dataclass(frozen=True)
class Cell:
    """One table cell: HTML content (already escaped), a sort key and a CSS class."""

    content: str
    sort: str | None = None
    css: str = ""


def esc(value: object) -> str:
    """Text from the data, HTML-escaped; None as a dash."""
    return "–" if value is None else html.escape(str(value), quote=True)


def short_name(indicator: str) -> str:
    """A criterion's name for a narrow column heading."""
    return SHORT_NAMES.get(indicator, indicator)


def text_cell(value: object) -> Cell:
    """A cell of text from the data."""
    return Cell(esc(value))


def number_cell(value: float | None, decimals: int = 1) -> Cell:
    """A right-aligned number, sorted by its value."""
    return Cell(number(value, decimals), "" if value is None else repr(value), "num")


def html_table(
    header: Sequence[str | tuple[str, str]], rows: Iterable[Sequence[Cell]], table_id: str
) -> str:
    """A sortable table; a header given as (label, 'num') is right-aligned."""
    heads = []
    for item in header:
        label, css = item if isinstance(item, tuple) else (item, "")
        heads.append(f'<th class="{css}"><button type="button">{esc(label)}</button></th>')
    body = [
        "<tr>"
        + "".join(
            f'<td class="{c.css}"'
            + ("" if c.sort is None else f' data-sort="{esc(c.sort)}"')
            + f">{c.content}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    ]
    return (
        f'<div class="scroll"><table class="sortable" id="{esc(table_id)}">'
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


# --- charts -----------------------------------------------------------------------------------


def figure_to_svg(figure: Any, chart_id: str, label: str) -> str:
    """A matplotlib figure as inline SVG, its ids prefixed so several can share one page."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.hashsalt": "areascreen", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{chart_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", svg)
    return svg.replace("<svg ", f'<svg class="chart" role="img" aria-label="{esc(label)}" ', 1)


def new_axes(width: float, height: float, margins: tuple[float, float, float, float]) -> Any:
    """Axes on a new matplotlib figure (object API, no pyplot, no global state).

    Margins (left, bottom, right, top) are in inches, so they do not depend on the figure's size.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    figure.patch.set_alpha(0)
    left, bottom, right, top = margins
    figure.subplots_adjust(
        left=left / width, bottom=bottom / height, right=1 - right / width, top=1 - top / height
    )
    return figure.add_subplot()


def bin_edges(values: Sequence[float], threshold: float, average: float) -> list[float]:
    """Histogram bins of 1 pp (wider for wide ranges), one edge on the threshold."""
    low = min([*values, threshold, average])
    high = max([*values, threshold, average])
    width = next(w for w in (1, 2, 5, 10) if (high - low) / w <= 60)
    below = math.ceil((threshold - low) / width) + 1
    above = math.ceil((high - threshold) / width) + 1
    return [threshold + width * step for step in range(-below, above + 1)]


def criterion_chart(
    criterion: Criterion, crossed: Sequence[float], not_crossed: Sequence[float], average: float
) -> str:
    """Histogram of the areas' rates, coloured by crossing, with threshold and national average."""
    axes = new_axes(7.2, 2.8, (0.7, 0.55, 0.15, 0.1))
    bins = bin_edges([*crossed, *not_crossed], criterion.threshold, average)
    axes.hist(
        [list(not_crossed), list(crossed)],
        bins=bins,
        stacked=True,
        histtype="stepfilled",
        color=[COLOURS["not_crossed"], COLOURS["crossed"]],
        label=["does not cross", "crosses"],
    )
    threshold_label = f"threshold {criterion.threshold:g} %"
    axes.axvline(criterion.threshold, color=COLOURS["threshold"], lw=2, label=threshold_label)
    axes.axvline(
        average,
        color=COLOURS["average"],
        lw=1.5,
        ls="--",
        label=f"national average {average:.1f} %",
    )
    low, high = axes.get_xlim()
    beyond = (
        (low, criterion.threshold)
        if criterion.direction == "below"
        else (criterion.threshold, high)
    )
    axes.axvspan(*beyond, color=COLOURS["crossed"], alpha=0.08, lw=0)
    axes.set_xlim(low, high)
    axes.set_xlabel(f"{criterion.indicator} (%)")
    axes.set_ylabel("areas")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False, fontsize=8, loc="best")
    label = f"Distribution of {criterion.indicator} over areas, {threshold_label}"
    return figure_to_svg(axes.figure, f"chart-{criterion.indicator}", label)


def variants_chart(variants: pa.Table) -> str:
    """Eligible municipalities per sensitivity variant, beside the baseline."""
    rows = variants.to_pylist()
    baseline = rows[0]["eligible_municipalities"]
    axes = new_axes(7.2, 0.22 * len(rows) + 0.7, (2.6, 0.5, 0.15, 0.1))
    labels = [row["variant"] for row in rows]
    counts = [row["eligible_municipalities"] for row in rows]
    colours = [
        {"stricter": COLOURS["crossed"], "looser": COLOURS["bar"]}.get(row["effect"], "#475569")
        for row in rows
    ]
    axes.barh(range(len(rows)), counts, color=colours)
    axes.set_yticks(range(len(rows)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.axvline(baseline, color=COLOURS["average"], ls="--", lw=1, label=f"baseline {baseline}")
    axes.set_xlim(0, max(counts) * 1.3 + 1)
    axes.set_xlabel("eligible municipalities")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False, fontsize=8, loc="upper right")
    return figure_to_svg(axes.figure, "chart-sensitivity", "Eligible municipalities per variant")


# --- sections ---------------------------------------------------------------------------------


def selected_population(area_results: pa.Table) -> int:
    """Residents of the selected areas."""
    return sum(r["population"] or 0 for r in area_results.to_pylist() if r["selected"])


def headline_section(
    year: int, ruleset: Ruleset, tables: dict[str, pa.Table], input_name: str, notes: Sequence[str]
) -> str:
    """Title, ruleset, key figures and the rules in one sentence each."""
    areas = tables["area_results"]
    selected = sum(1 for flag in areas["selected"].to_pylist() if flag)
    budget = ruleset.budget_per_year.get(year)
    figures = [
        ("selected areas", integer(selected)),
        ("eligible municipalities", integer(tables["eligible_municipalities"].num_rows)),
        ("residents of selected areas", integer(selected_population(areas))),
        (f"budget {year}", f"{number(budget)} {esc(ruleset.budget_unit)}"),
    ]
    criteria = "; ".join(
        f"{esc(c.indicator)} {c.direction} {c.threshold:g} %" for c in ruleset.criteria
    )
    return "\n".join(
        [
            f"<h1>Screening {year}: municipalities eligible for the grant</h1>",
            f'<p class="subtitle">Ruleset <code>{esc(ruleset.name)}</code> · input '
            f"<code>{esc(input_name)}</code></p>",
            *(f'<p class="note">{esc(note)}</p>' for note in notes),
            '<ul class="figures" id="headline">',
            *(f"<li><strong>{value}</strong>{esc(name)}</li>" for name, value in figures),
            "</ul>",
            f"<p>Criteria: {criteria}. An area is selected when it has "
            f"{esc(ruleset.rule_text)} and at least {integer(ruleset.minimum_population)} "
            f"residents. A municipality is eligible with at least "
            f"{ruleset.minimum_selected_areas} selected area(s) and at least "
            f"{integer(ruleset.minimum_population_in_selected_areas)} residents in them. "
            "A rate exactly at its threshold does not cross it.</p>",
        ]
    )


def averages_section(national_averages: pa.Table) -> str:
    """National averages computed from the counts beside the published ones."""
    rows = [
        [
            text_cell(row["indicator"]),
            number_cell(row["national_average"], 2),
            number_cell(row["published_national_average"], 1),
            number_cell(row["difference_from_published_pp"], 2),
            number_cell(row["areas_known"], 0),
            number_cell(row["areas_suppressed"], 0),
        ]
        for row in national_averages.to_pylist()
    ]
    header = [
        "criterion",
        ("computed %", "num"),
        ("published %", "num"),
        ("difference pp", "num"),
        ("areas with values", "num"),
        ("areas suppressed", "num"),
    ]
    return (
        '<h2 id="national-averages">National averages</h2>'
        "<p>Computed from the data as the sum of numerators over the sum of denominators of the "
        "areas whose counts are known, beside the average published with the decision.</p>"
        + html_table(header, rows, "averages-table")
    )


def criterion_figure(criterion: Criterion, rows: list[dict[str, Any]], average: float) -> str:
    """One criterion's chart and its caption."""
    crossed = [r["rate"] for r in rows if r["crossed"] is True]
    not_crossed = [r["rate"] for r in rows if r["crossed"] is False]
    unknown = sum(1 for r in rows if r["crossed"] is None)
    known = len(crossed) + len(not_crossed)
    description = INDICATORS[criterion.indicator].description
    caption = (
        f"<strong>{len(crossed)}</strong> of {integer(known)} areas with values cross the "
        f"threshold (rate {criterion.direction} {criterion.threshold:g} %)"
        + (f"; {integer(unknown)} suppressed" if unknown else "")
        + f". National average {average:.2f} %."
    )
    return (
        f'<h3 id="criterion-{esc(criterion.indicator)}">{esc(criterion.indicator)}</h3>'
        f"<p>{esc(description)}.</p>"
        f'<figure data-criterion="{esc(criterion.indicator)}">'
        f"{criterion_chart(criterion, crossed, not_crossed, average)}"
        f'<figcaption data-crossing="{len(crossed)}">{caption}</figcaption></figure>'
    )


def criteria_section(ruleset: Ruleset, tables: dict[str, pa.Table]) -> str:
    """Per criterion, the distribution of the areas' rates with threshold and national average."""
    averages = {
        r["indicator"]: r["national_average"] for r in tables["national_averages"].to_pylist()
    }
    by_indicator: dict[str, list[dict[str, Any]]] = {c.indicator: [] for c in ruleset.criteria}
    for row in tables["area_criteria"].select(["indicator", "rate", "crossed"]).to_pylist():
        by_indicator.setdefault(row["indicator"], []).append(row)
    parts = [
        '<h2 id="criteria">Criteria</h2>',
        "<p>Each chart shows how the areas' rates are distributed (all areas with known counts, "
        "including those too small to be screened), with the threshold (solid red) and the "
        "national average computed from the data (dashed). Areas beyond the threshold are "
        "orange.</p>",
    ]
    for criterion in ruleset.criteria:
        average = averages.get(criterion.indicator)
        parts.append(
            criterion_figure(
                criterion,
                by_indicator[criterion.indicator],
                criterion.published_national_average if average is None else average,
            )
        )
    return "\n".join(parts)


def criteria_counts(text: str | None) -> dict[str, int]:
    """`employment_rate: 2, voter_turnout: 1` as a mapping."""
    counts: dict[str, int] = {}
    for part in (text or "").split(","):
        name, _, count = part.strip().rpartition(":")
        if name and count.strip().isdigit():
            counts[name.strip()] = int(count)
    return counts


def eligible_section(year: int, ruleset: Ruleset, tables: dict[str, pa.Table]) -> str:
    """The sortable list of eligible municipalities."""
    allocation = tables.get("allocation")
    amounts: dict[str, float] = {}
    if allocation is not None and "amount" in allocation.column_names:
        amounts = dict(
            zip(
                allocation["municipality_code"].to_pylist(),
                allocation["amount"].to_pylist(),
                strict=True,
            )
        )
    header: list[str | tuple[str, str]] = [
        "code",
        "municipality",
        "county",
        ("selected areas", "num"),
        ("residents of selected areas", "num"),
        ("% of municipality", "num"),
        *((f"crossing {short_name(c.indicator)}", "num") for c in ruleset.criteria),
    ]
    if allocation is not None:
        header.append((f"{year} amount ({ruleset.budget_unit})", "num"))
    rows = []
    for row in tables["eligible_municipalities"].to_pylist():
        counts = criteria_counts(row["criteria_in_selected_areas"])
        cells = [
            text_cell(row["municipality_code"]),
            text_cell(row["municipality_name"]),
            text_cell(row["county_name"]),
            number_cell(row["selected_areas"], 0),
            number_cell(row["population_in_selected_areas"], 0),
            number_cell(row["share_of_population_in_selected_areas"], 1),
            *(number_cell(counts.get(c.indicator, 0), 0) for c in ruleset.criteria),
        ]
        if allocation is not None:
            cells.append(number_cell(amounts.get(row["municipality_code"]), 1))
        rows.append(cells)
    count = tables["eligible_municipalities"].num_rows
    return (
        f'<h2 id="eligible">Eligible municipalities ({count})</h2>'
        "<p>Click a column heading to sort. The criteria columns count the selected areas "
        "crossing each criterion.</p>" + html_table(header, rows, "eligible-table")
    )


def criterion_explanation(row: dict[str, Any] | None) -> Cell:
    """Rate and how far it is beyond (or short of) the threshold."""
    if row is None or row["crossed"] is None:
        return Cell("suppressed", "", "unknown")
    margin = row["margin_pp"]
    if row["crossed"]:
        detail = f"crossed by {margin:.2f} pp"
    elif margin == 0:
        detail = "exactly at the threshold: not crossed"
    else:
        detail = f"short by {-margin:.2f} pp"
    content = f'{row["rate"]:.1f} %<span class="detail">{detail}</span>'
    return Cell(content, repr(margin), "num crossed" if row["crossed"] else "num")


def explained_areas(ruleset: Ruleset, area_results: pa.Table) -> tuple[list[dict], list[dict]]:
    """The selected areas, and those that missed by exactly one criterion."""
    rows = area_results.to_pylist()
    selected = [r for r in rows if r["selected"]]
    near = ruleset.criteria_required - 1
    missed = [
        r
        for r in rows
        if not r["selected"]
        and near >= 1
        and r["criteria_crossed"] == near
        and r["selection_status"] != "below_minimum_population"
    ]
    return selected, missed


def area_rows(
    ruleset: Ruleset,
    areas: list[dict[str, Any]],
    criteria: dict[tuple[str, str], dict[str, Any]],
    names: dict[str, str],
) -> list[list[Cell]]:
    """One row per area: where it is, its status and each criterion explained."""
    rows = []
    for area in areas:
        code = area["municipality_code"]
        rows.append(
            [
                text_cell(area["area_code"]),
                text_cell(area["area_name"]),
                Cell(esc(f"{code} {names.get(code) or ''}".strip())),
                number_cell(area["population"], 0),
                text_cell(STATUS_LABELS.get(area["selection_status"], area["selection_status"])),
                *(
                    criterion_explanation(criteria.get((area["area_code"], c.indicator)))
                    for c in ruleset.criteria
                ),
            ]
        )
    return rows


def areas_section(ruleset: Ruleset, tables: dict[str, pa.Table]) -> str:
    """Per area: which criteria it crosses and by how many percentage points."""
    criteria = {(r["area_code"], r["indicator"]): r for r in tables["area_criteria"].to_pylist()}
    names = dict(
        zip(
            tables["municipality_results"]["municipality_code"].to_pylist(),
            tables["municipality_results"]["municipality_name"].to_pylist(),
            strict=True,
        )
    )
    selected, missed = explained_areas(ruleset, tables["area_results"])
    header: list[str | tuple[str, str]] = [
        "area",
        "name",
        "municipality",
        ("residents", "num"),
        "result",
        *((short_name(c.indicator), "num") for c in ruleset.criteria),
    ]
    return (
        '<h2 id="areas">Areas explained</h2>'
        "<p>For each criterion: the area's rate and how many percentage points it is beyond the "
        "threshold (crossed, shaded) or short of it. Sorting a criterion column sorts by that "
        "margin.</p>"
        f"<h3>Selected areas ({len(selected)})</h3>"
        + html_table(header, area_rows(ruleset, selected, criteria, names), "selected-areas-table")
        + f"<h3>Areas that missed by one criterion ({len(missed)})</h3>"
        + html_table(header, area_rows(ruleset, missed, criteria, names), "near-miss-table")
    )


def changes_section(tables: dict[str, pa.Table]) -> str:
    """Entries and exits since the previous publication, when there is one."""
    title = '<h2 id="changes">Changes since the previous publication</h2>'
    changes = tables.get("municipality_changes")
    if changes is None:
        return title + "<p>No previous publication to compare with.</p>"
    rows = changes.to_pylist()
    counts = {kind: sum(1 for r in rows if r["change"] == kind) for kind in ("entered", "left")}
    table = html_table(
        [
            "code",
            "municipality",
            "change",
            ("selected areas before", "num"),
            ("now", "num"),
            "areas that changed",
        ],
        (
            [
                text_cell(r["municipality_code"]),
                text_cell(r["municipality_name"]),
                text_cell(r["change"]),
                number_cell(r["selected_areas_before"], 0),
                number_cell(r["selected_areas_now"], 0),
                text_cell(r["area_changes"] or "–"),
            ]
            for r in rows
        ),
        "changes-table",
    )
    codes = tables.get("area_code_changes")
    code_lines = [
        f"<li>{integer(r['area_codes'])} {esc(r['side'].replace('_', ' '))}: "
        f"{esc(r['examples'])}</li>"
        for r in (codes.to_pylist() if codes is not None else [])
    ]
    return (
        title
        + f"<p>{counts['entered']} municipalities entered the list and {counts['left']} left.</p>"
        + table
        + (f"<p>Area codes found in one publication only:</p><ul>{''.join(code_lines)}</ul>")
        * bool(code_lines)
    )


def stability_rows(stability: pa.Table) -> list[list[Cell]]:
    """Municipalities, least stable first."""
    rows = sorted(
        stability.to_pylist(), key=lambda r: (r["stability"], r["municipality_code"] or "")
    )
    return [
        [
            text_cell(r["municipality_code"]),
            text_cell(r["municipality_name"]),
            text_cell("yes" if r["eligible_baseline"] else "no"),
            Cell(
                f"{r['variants_eligible']} of {r['variants']}", repr(r["variants_eligible"]), "num"
            ),
            number_cell(100 * r["stability"], 0),
            text_cell(r["differs_in"] or "–"),
        ]
        for r in rows
    ]


def variant_rows(variants: pa.Table) -> list[list[Cell]]:
    """One row per variant with what it changed."""
    return [
        [
            number_cell(r["variant_id"], 0),
            text_cell(r["variant"]),
            text_cell(r["changed_thresholds"] or "as in the ruleset"),
            number_cell(r["selected_areas"], 0),
            number_cell(r["eligible_municipalities"], 0),
            text_cell(r["entered_municipalities"] or "–"),
            text_cell(r["left_municipalities"] or "–"),
        ]
        for r in variants.to_pylist()
    ]


def sensitivity_section(year: int, sensitivity: SensitivityResult | None) -> str:
    """Which municipalities enter or leave when thresholds move, and how stable each one is."""
    title = '<h2 id="sensitivity">Threshold sensitivity</h2>'
    if sensitivity is None:
        return title + (
            "<p>Not run for this report: <code>areascreen sensitivity --year "
            f"{year} --delta 1,2</code> runs it.</p>"
        )
    deltas = ", ".join(f"{d:g}" for d in sensitivity.deltas)
    variants = sensitivity.variants.num_rows - 1
    method = (
        f"<p>The screening repeated with the thresholds moved by ±{esc(deltas)} percentage "
        "points: each criterion alone in both directions, and all criteria together in the "
        "adverse direction (stricter: fewer areas cross) and the favourable direction (looser). "
        f"That is {variants} variants besides the baseline, screened in one pass over the data "
        "with the same area and municipality rules. A municipality's stability is the share of "
        "the variants in which it is eligible.</p>"
    )
    stability_header = [
        "code",
        "municipality",
        "eligible now",
        ("eligible in variants", "num"),
        ("stability %", "num"),
        "eligibility differs in",
    ]
    variant_header = [
        ("#", "num"),
        "variant",
        "thresholds moved to",
        ("selected areas", "num"),
        ("eligible", "num"),
        "entered",
        "left",
    ]
    return (
        title
        + method
        + '<figure data-chart="sensitivity">'
        + variants_chart(sensitivity.variants)
        + "<figcaption>Eligible municipalities per variant: stricter variants orange, looser "
        "blue, the baseline dashed.</figcaption></figure>"
        + "<h3>Stability of each municipality</h3>"
        + "<p>Every municipality eligible now or in any variant, least stable first.</p>"
        + html_table(
            stability_header, stability_rows(sensitivity.municipality_stability), "stability-table"
        )
        + "<h3>Variants</h3>"
        + html_table(variant_header, variant_rows(sensitivity.variants), "variants-table")
    )


def page(title: str, body: str) -> str:
    """The whole document, with a policy that allows only the inline sorting script to run."""
    digest = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n<script>{SORT_SCRIPT}</script>\n</body></html>\n"
    )


def render_report(
    *,
    year: int,
    ruleset: Ruleset,
    tables: dict[str, pa.Table],
    sensitivity: SensitivityResult | None,
    input_name: str,
    notes: Sequence[str] = (),
) -> str:
    """The whole report.html for one screening."""
    sections = [
        headline_section(year, ruleset, tables, input_name, notes),
        averages_section(tables["national_averages"]),
        criteria_section(ruleset, tables),
        eligible_section(year, ruleset, tables),
        areas_section(ruleset, tables),
        changes_section(tables),
        sensitivity_section(year, sensitivity),
    ]
    return page(f"Screening {year}: eligible municipalities", "\n".join(sections))
