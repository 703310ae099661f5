"""What the report and the summary show of the areas, computed in DuckDB after the screening.

The per-area tables (every area, and every area and criterion) are far too large to hand to the
documents. `area_facts` asks the database instead (`sql/75_area_facts.sql`,
`sql/76_criterion_bins.sql`) and fetches only small results: counts, each criterion's histogram
already binned, and the few areas the report explains one by one. The view area_criteria is read
three times, each a streaming pass: for the range of each criterion's values, for the rows of the
explained areas, and for the bins, whose edges depend on the range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from areascreen.charts import bin_edges
from areascreen.db import fetch_table, run_step
from areascreen.flag import selection_parameters
from areascreen.ruleset import Criterion, Ruleset

UNSCREENED = "below_minimum_population"
# The columns of area_criteria that explain an area.
EXPLAINING_COLUMNS = (
    "area_code", "criterion", "crossed", "rate", "threshold", "margin_pp", "margin_persons",
)  # fmt: skip
# The columns of area_results an explained area shows.
AREA_COLUMNS = (
    "area_code", "area_name", "municipality_code", "population", "selection_status",
    "index_value", "index_class", "selected", "borderline", "smallest_margin_persons",
)  # fmt: skip


@dataclass(frozen=True)
class CriterionFacts:
    """One criterion over every area: the counts of its caption and its histogram, binned.

    `thresholds` are the distinct thresholds of the rows with known counts, rounded to 9
    decimals; `crossed` and `not_crossed` count those rows per bin between `edges`.
    """

    name: str
    rows: int
    known: int
    crossing: int
    thresholds: tuple[float, ...]
    average: float | None
    edges: tuple[float, ...] = ()
    crossed: tuple[int, ...] = ()
    not_crossed: tuple[int, ...] = ()

    @property
    def varying(self) -> bool:
        """Whether areas are compared with different thresholds (then margins are binned)."""
        return len(self.thresholds) > 1

    @property
    def threshold(self) -> float:
        """Where the chart marks the threshold: the threshold, or 0 on a scale of margins."""
        return self.thresholds[0] if len(self.thresholds) == 1 else 0.0

    @property
    def average_mark(self) -> float | None:
        """Where the chart marks the national average: nowhere on a scale of margins."""
        return None if self.varying else self.average


@dataclass(frozen=True)
class Bucket:
    """Screened areas with one number of criteria crossed (or in one index class)."""

    value: int
    areas: int
    selected: int


@dataclass(frozen=True)
class AreaFacts:
    """What the documents show of the areas.

    `explained` holds the areas the report explains (selected, borderline, or near selection)
    with `AREA_COLUMNS` and `near`, in area code order; `explained_criteria` their rows of
    area_criteria (`EXPLAINING_COLUMNS` and `borderline`), by area and criterion.
    """

    areas: int
    statuses: Mapping[str, int]
    selected_population: int
    borderline: int
    combined: tuple[Bucket, ...]
    criteria: tuple[CriterionFacts, ...]
    explained: pa.Table
    explained_criteria: pa.Table

    @property
    def selected(self) -> int:
        """How many areas are selected."""
        return self.statuses.get("selected", 0)


def by_index_class(ruleset: Ruleset) -> bool:
    """Whether the combined rule is shown by index class rather than by criteria crossed."""
    return ruleset.selection.method == "index" and ruleset.index is not None


def rows_of(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """A small table of the database as a list of rows."""
    return fetch_table(con, table).to_pylist()


# --- counts -------------------------------------------------------------------------------------


def status_counts(counts: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Areas per selection status."""
    statuses: dict[str, int] = {}
    for row in counts:
        status = row["selection_status"]
        statuses[status] = statuses.get(status, 0) + row["areas"]
    return statuses


def combined_buckets(ruleset: Ruleset, counts: Sequence[Mapping[str, Any]]) -> tuple[Bucket, ...]:
    """Screened areas and the selected ones by criteria crossed (0 to all) or index class."""
    if by_index_class(ruleset):
        key, values = "index_class", range(1, ruleset.index.classes + 1)  # type: ignore[union-attr]
    else:
        key, values = "criteria_crossed", range(len(ruleset.criteria) + 1)
    screened = [row for row in counts if row["selection_status"] != UNSCREENED]
    buckets = []
    for value in values:
        own = [row for row in screened if row[key] == value]
        selected = sum(row["areas"] for row in own if row["selected"])
        buckets.append(Bucket(value, sum(row["areas"] for row in own), selected))
    return tuple(buckets)


# --- criteria -----------------------------------------------------------------------------------


def national_averages(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """Indicator name to its national average, as published."""
    return {
        r["indicator"]: r["national_average"] for r in rows_of(con, "published_national_averages")
    }


def criterion_range(
    criterion: Criterion, found: Mapping[str, Any] | None, average: float | None
) -> tuple[CriterionFacts, tuple[float, ...]]:
    """A criterion's counts and the edges of its histogram (none without known rows)."""
    if found is None:
        return CriterionFacts(criterion.name, 0, 0, 0, (), average), ()
    rounded = sorted({round(value, 9) for value in found["thresholds"] or ()})
    facts = CriterionFacts(
        criterion.name, found["area_rows"], found["known"], found["crossing"], tuple(rounded),
        average,
    )  # fmt: skip
    if not facts.known:
        return facts, ()
    low, high = (
        (found["lowest_margin"], found["highest_margin"])
        if facts.varying
        else (found["lowest_rate"], found["highest_rate"])
    )
    edges = bin_edges(low, high, facts.threshold, facts.average_mark)
    return facts, tuple(float(edge) for edge in edges)


def binned(
    con: duckdb.DuckDBPyConnection, ranged: Sequence[tuple[CriterionFacts, tuple[float, ...]]]
) -> tuple[CriterionFacts, ...]:
    """Each criterion's rows counted per bin between its edges, in one pass over area_criteria."""
    if not any(edges for _, edges in ranged):
        return tuple(facts for facts, _ in ranged)
    run_step(
        con,
        "76_criterion_bins",
        edges=[list(edges) for _, edges in ranged],
        by_margin=[facts.varying for facts, _ in ranged],
    )
    counts: dict[tuple[int, int, bool], int] = {
        (row["criterion_id"], row["bin"], row["crossed"]): row["areas"]
        for row in rows_of(con, "criterion_bins")
    }
    criteria = []
    for criterion_id, (facts, edges) in enumerate(ranged, start=1):
        bins = range(1, len(edges))
        crossed = tuple(counts.get((criterion_id, n, True), 0) for n in bins)
        not_crossed = tuple(counts.get((criterion_id, n, False), 0) for n in bins)
        criteria.append(replace(facts, edges=edges, crossed=crossed, not_crossed=not_crossed))
    return tuple(criteria)


def criteria_facts(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> tuple[CriterionFacts, ...]:
    """Per criterion, in the ruleset's order, the counts and histogram the report shows."""
    found = {row["criterion"]: row for row in rows_of(con, "criterion_ranges")}
    averages = national_averages(con)
    ranged = [
        criterion_range(
            criterion,
            found.get(criterion.name),
            averages.get(criterion.indicator.name, criterion.published_national_average),
        )
        for criterion in ruleset.criteria
    ]
    return binned(con, ranged)


# --- the areas explained ------------------------------------------------------------------------


def explained_criteria(con: duckdb.DuckDBPyConnection, explained: pa.Table) -> pa.Table:
    """The explained areas' rows of area_criteria, by area and criterion, with their codes."""
    rows = fetch_table(con, "explained_area_criteria").sort_by(
        [("area_id", "ascending"), ("criterion_id", "ascending")]
    )
    positions = pc.index_in(rows["area_id"], value_set=explained["area_id"])
    codes = pc.take(explained["area_code"], positions)
    return rows.append_column("area_code", codes).select([*EXPLAINING_COLUMNS, "borderline"])


# --- all of it ----------------------------------------------------------------------------------


def area_facts(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> AreaFacts:
    """The facts of the areas screened on `con` under `ruleset` (after `screen_into`)."""
    run_step(con, "75_area_facts", **selection_parameters(ruleset))
    counts = rows_of(con, "area_counts")
    explained = fetch_table(con, "explained_area_results").sort_by("area_id")
    return AreaFacts(
        areas=sum(row["areas"] for row in counts),
        statuses=status_counts(counts),
        selected_population=sum(row["population"] for row in counts if row["selected"]),
        borderline=sum(row["areas"] for row in counts if row["borderline"]),
        combined=combined_buckets(ruleset, counts),
        criteria=criteria_facts(con, ruleset),
        explained=explained.select([*AREA_COLUMNS, "near"]),
        explained_criteria=explained_criteria(con, explained),
    )
