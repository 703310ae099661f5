"""The run summary (`summary.md`): ruleset, national averages, counts and the list, in Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from areascreen.changes import moves_text
from areascreen.formatting import integer, markdown_table, number
from areascreen.ruleset import Ruleset

STATUS_LABELS = {
    "selected": "selected",
    "too_few_criteria_crossed": "not selected: too few criteria crossed",
    "undetermined_suppressed": "not selected: suppressed values could have changed the result",
    "below_minimum_population": "not screened: below the minimum population",
}


def ruleset_section(ruleset: Ruleset) -> str:
    """The criteria and rules the screening applied."""
    criteria = markdown_table(
        ["criterion", "an area crosses when its rate is", "threshold %", "published national %"],
        (
            [c.indicator, c.direction, number(c.threshold), number(c.published_national_average)]
            for c in ruleset.criteria
        ),
    )
    return "\n".join(
        [
            "## Ruleset",
            f"`{ruleset.name}` ({ruleset.path.name}, SHA-256 `{ruleset.sha256[:12]}…`): "
            f"{ruleset.description}",
            "",
            criteria,
            "",
            f"- An area is selected when it has {ruleset.rule_text} "
            f"and at least {integer(ruleset.minimum_population)} residents.",
            f"- A municipality is eligible with at least {ruleset.minimum_selected_areas} selected "
            f"area(s) and at least {integer(ruleset.minimum_population_in_selected_areas)} "
            "residents in them.",
            "- A rate exactly at its threshold does not cross it; rates are compared exactly, "
            "on counts.",
        ]
    )


def averages_section(national_averages: pa.Table) -> str:
    """National averages computed from the counts beside the published ones."""
    rows = (
        [
            row["indicator"],
            number(row["national_average"], 2),
            number(row["published_national_average"], 1),
            number(row["difference_from_published_pp"], 2),
            integer(row["areas_known"]),
            integer(row["areas_suppressed"]),
        ]
        for row in national_averages.to_pylist()
    )
    header = [
        "criterion",
        "computed %",
        "published %",
        "difference pp",
        "areas with values",
        "areas suppressed",
    ]
    return "## National averages\n\nComputed as sum of numerators / sum of denominators.\n\n" + (
        markdown_table(header, rows)
    )


def counts_section(area_results: pa.Table, municipality_results: pa.Table) -> str:
    """How many areas ended in each status, and how many municipalities are eligible."""
    statuses = pc.value_counts(area_results["selection_status"]).to_pylist()
    by_status = {item["values"]: item["counts"] for item in statuses}
    selected = pc.filter(area_results, area_results["selected"])
    lines = [
        "## Counts",
        "",
        f"- Areas screened: {integer(area_results.num_rows)}",
        *(
            f"- {label}: {integer(by_status.get(status, 0))}"
            for status, label in STATUS_LABELS.items()
        ),
        f"- Population in selected areas: {integer(pc.sum(selected['population']).as_py() or 0)}",
        f"- Municipalities with areas: {integer(municipality_results.num_rows)}",
        f"- Eligible municipalities: {integer(pc.sum(municipality_results['eligible']).as_py())}",
    ]
    return "\n".join(lines)


def list_section(eligible: pa.Table, allocation: pa.Table, year: int, unit: str) -> str:
    """The list of eligible municipalities with their amounts."""
    amounts = dict(
        zip(
            allocation["municipality_code"].to_pylist(),
            allocation["amount"].to_pylist(),
            strict=True,
        )
    )
    rows = (
        [
            row["municipality_code"],
            row["municipality_name"],
            row["selected_areas"],
            integer(row["population_in_selected_areas"]),
            number(row["share_of_population_in_selected_areas"]),
            number(amounts.get(row["municipality_code"])),
        ]
        for row in eligible.to_pylist()
    )
    header = [
        "code",
        "municipality",
        "selected areas",
        "population in them",
        "% of municipality",
        f"{year} amount ({unit})",
    ]
    return f"## Eligible municipalities ({eligible.num_rows})\n\n" + markdown_table(header, rows)


def render_summary(
    *,
    year: int,
    ruleset: Ruleset,
    input_name: str,
    tables: dict[str, pa.Table],
    validation_links: Sequence[Path],
    notes: Sequence[str] = (),
) -> str:
    """The whole summary.md."""
    links = [f"- [{path.parent.name}]({path.as_posix()})" for path in validation_links]
    parts = [
        f"# Screening {year}: municipalities eligible for the grant",
        f"Input: `{input_name}`" + "".join(f"\n\n> {note}" for note in notes),
        "The full report with charts, explanations per area and threshold sensitivity: "
        "[report.html](report.html).",
        ruleset_section(ruleset),
        averages_section(tables["national_averages"]),
        counts_section(tables["area_results"], tables["municipality_results"]),
        list_section(
            tables["eligible_municipalities"], tables["allocation"], year, ruleset.budget_unit
        ),
        "## Validation (Great Expectations Data Docs)\n\n" + ("\n".join(links) or "- none"),
    ]
    if "municipality_changes" in tables:
        counted = moves_text(tables["municipality_changes"])
        parts.append(
            f"## Changes\n\nSince the previous publication: {counted}. See [changes.md](changes.md)."
        )
    return "\n\n".join(parts) + "\n"
