"""The facts of the areas that the report and the summary show, computed in DuckDB: the same as a
plain computation over the whole per-area tables (counts, each criterion's histogram binned by
numpy, the areas one criterion or class short by the rule in Python), on the synthetic default
data under rulesets of every kind, and the binning step on values placed on its edges."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from areascreen import db, paths
from areascreen.area_facts import AREA_COLUMNS, EXPLAINING_COLUMNS, AreaFacts, area_facts
from areascreen.ruleset import Ruleset, load_ruleset
from areascreen.screening import read_input, result_tables, screen_into

UNSCREENED = "below_minimum_population"


def with_required_criterion() -> Ruleset:
    """The 2018 ruleset with its first criterion required and 2 of the other 3."""
    ruleset = load_ruleset(paths.ruleset_path(2018))
    first = dataclasses.replace(ruleset.criteria[0], required=True)
    selection = dataclasses.replace(ruleset.selection, criteria_required=2)
    return dataclasses.replace(
        ruleset, criteria=(first, *ruleset.criteria[1:]), selection=selection
    )


RULESETS = {
    "2018": lambda: load_ruleset(paths.ruleset_path(2018)),
    "required": with_required_criterion,
    "index": lambda: load_ruleset(paths.RULESET_DIR / "2018-index-scb-style.toml"),
    "index-two-classes": lambda: load_ruleset(paths.RULESET_DIR / "2018-delmos-style.toml"),
    "county-thresholds": lambda: load_ruleset(paths.RULESET_DIR / "2018-denmark-style.toml"),
    "relative": lambda: load_ruleset(paths.RULESET_DIR / "2018-relative.toml"),
}


@dataclasses.dataclass(frozen=True)
class Screened:
    ruleset: Ruleset
    facts: AreaFacts
    tables: dict[str, pa.Table]


@pytest.fixture(scope="module", params=list(RULESETS))
def screened(request: pytest.FixtureRequest) -> Screened:
    """The default input screened under one ruleset: its facts and every published table."""
    ruleset = RULESETS[request.param]()
    con = db.connect()
    screen_into(con, read_input(paths.DEFAULT_INPUT, ruleset, year=2018), ruleset)
    return Screened(ruleset, area_facts(con, ruleset), result_tables(con))


# --- the plain computation ----------------------------------------------------------------------


def criteria_short(ruleset: Ruleset, rows: Mapping[str, Mapping[str, Any]]) -> int:
    """How many more criteria an area would need to cross to be selected (unknown: not crossed)."""
    required = [c for c in ruleset.criteria if c.required]
    optional = [c for c in ruleset.criteria if not c.required]
    missing = sum(1 for c in required if rows.get(c.name, {}).get("crossed") is not True)
    crossed = sum(1 for c in optional if rows.get(c.name, {}).get("crossed") is True)
    return missing + max(0, ruleset.selection.criteria_required - crossed)


def is_near(ruleset: Ruleset, area: Mapping[str, Any], rows: Mapping[str, Any]) -> bool:
    """Not selected, screened, and one criterion (or one index class) short of selection."""
    if area["selected"] or area["selection_status"] == UNSCREENED:
        return False
    if ruleset.selection.method == "index":
        if area["index_class"] is None:
            return False
        return min(abs(area["index_class"] - c) for c in ruleset.selection.selected_classes) == 1
    return criteria_short(ruleset, rows) == 1


def bin_edges(values: Sequence[float], threshold: float, average: float | None) -> list[float]:
    """Histogram bins of 1 pp (wider for wide ranges), one edge on the threshold."""
    marks = [threshold] if average is None else [threshold, average]
    low = min([*values, *marks])
    high = max([*values, *marks])
    width = next((w for w in (0.5, 1, 2, 5, 10, 20) if (high - low) / w <= 40), 50)
    below = math.ceil((threshold - low) / width) + 1
    above = math.ceil((high - threshold) / width) + 1
    return [threshold + width * step for step in range(-below, above + 1)]


def criterion_histogram(rows: list[dict[str, Any]], average: float | None) -> dict[str, Any]:
    """A criterion's counts, thresholds, edges and numpy's bins, from all its rows."""
    known = [r for r in rows if r["crossed"] is not None and r["rate"] is not None]
    thresholds = sorted({round(r["threshold"], 9) for r in known if r["threshold"] is not None})
    varying = len(thresholds) > 1
    value = "margin_pp" if varying else "rate"
    crossed = [r[value] for r in known if r["crossed"]]
    not_crossed = [r[value] for r in known if not r["crossed"]]
    threshold = thresholds[0] if len(thresholds) == 1 else 0.0
    edges = bin_edges([*crossed, *not_crossed], threshold, None if varying else average)
    return {
        "rows": len(rows),
        "known": len(known),
        "crossing": len(crossed),
        "thresholds": tuple(thresholds),
        "edges": tuple(edges),
        "crossed": tuple(int(n) for n in np.histogram(np.asarray(crossed), bins=edges)[0]),
        "not_crossed": tuple(int(n) for n in np.histogram(np.asarray(not_crossed), bins=edges)[0]),
    }


def rows_by_area(area_criteria: pa.Table) -> dict[str, dict[str, dict[str, Any]]]:
    """Area code to criterion name to its row."""
    by_area: dict[str, dict[str, dict[str, Any]]] = {}
    for row in area_criteria.to_pylist():
        by_area.setdefault(row["area_code"], {})[row["criterion"]] = row
    return by_area


# --- the facts against it -----------------------------------------------------------------------


def test_counts_equal_those_of_the_whole_table(screened: Screened):
    areas = screened.tables["area_results"].to_pylist()
    facts = screened.facts
    assert facts.areas == len(areas) > 1000
    assert dict(facts.statuses) == Counter(a["selection_status"] for a in areas)
    assert facts.selected == sum(1 for a in areas if a["selected"]) > 0
    assert facts.selected_population == sum(a["population"] for a in areas if a["selected"])
    assert facts.borderline == sum(1 for a in areas if a["borderline"])


def test_combined_rule_buckets_equal_those_of_the_whole_table(screened: Screened):
    ruleset = screened.ruleset
    by_index = ruleset.selection.method == "index"
    key = "index_class" if by_index else "criteria_crossed"
    values = range(1, ruleset.index.classes + 1) if by_index else range(len(ruleset.criteria) + 1)
    screened_areas = [
        a
        for a in screened.tables["area_results"].to_pylist()
        if a["selection_status"] != UNSCREENED
    ]
    expected = [
        (
            value,
            sum(1 for a in screened_areas if a[key] == value),
            sum(1 for a in screened_areas if a[key] == value and a["selected"]),
        )
        for value in values
    ]
    assert [(b.value, b.areas, b.selected) for b in screened.facts.combined] == expected
    assert sum(b.areas for b in screened.facts.combined) > 0


def test_histograms_equal_numpy_on_every_row(screened: Screened):
    averages = {
        r["indicator"]: r["national_average"]
        for r in screened.tables["national_averages"].to_pylist()
    }
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in screened.tables["area_criteria"].to_pylist():
        rows.setdefault(row["criterion"], []).append(row)
    assert [c.name for c in screened.facts.criteria] == [c.name for c in screened.ruleset.criteria]
    for criterion, facts in zip(screened.ruleset.criteria, screened.facts.criteria, strict=True):
        average = averages.get(criterion.indicator.name, criterion.published_national_average)
        expected = criterion_histogram(rows[criterion.name], average)
        found = {name: getattr(facts, name) for name in expected}
        assert found == expected, criterion.name
        assert facts.average == average
        assert sum(facts.crossed) == facts.crossing and sum(facts.not_crossed) > 0


def test_thresholds_that_vary_bin_margins(screened: Screened):
    varying = [c.name for c in screened.facts.criteria if c.varying]
    if screened.ruleset.name.startswith("denmark"):
        assert varying == ["employment_below_county"]  # against each county's average
        (facts,) = [c for c in screened.facts.criteria if c.varying]
        assert facts.threshold == 0.0 and facts.average_mark is None
        assert 0.0 in facts.edges
    elif screened.ruleset.name == "segregation-grant-2018":
        assert varying == []


def test_explained_areas_are_the_selected_borderline_and_near_ones(screened: Screened):
    ruleset = screened.ruleset
    results = screened.tables["area_results"]
    criteria = rows_by_area(screened.tables["area_criteria"])
    near = {
        a["area_code"]
        for a in results.to_pylist()
        if is_near(ruleset, a, criteria.get(a["area_code"], {}))
    }
    selected = {a["area_code"] for a in results.to_pylist() if a["selected"]}
    borderline = {a["area_code"] for a in results.to_pylist() if a["borderline"]}
    explained = screened.facts.explained
    assert explained.column_names == [*AREA_COLUMNS, "near"]
    codes = explained["area_code"].to_pylist()
    assert codes == sorted(selected | borderline | near)
    assert {c for c, n in zip(codes, explained["near"].to_pylist(), strict=True) if n} == near
    assert near  # every ruleset here has areas one criterion or class short
    # The same rows as the published table, smallest margin in persons included.
    published = [
        {column: a[column] for column in AREA_COLUMNS}
        for a in results.to_pylist()
        if a["area_code"] in set(codes)
    ]
    assert explained.drop_columns(["near"]).to_pylist() == published


def test_explained_criteria_are_the_rows_of_the_explained_areas(screened: Screened):
    codes = set(screened.facts.explained["area_code"].to_pylist())
    columns = [*EXPLAINING_COLUMNS, "borderline"]
    published = [
        {column: row[column] for column in columns}
        for row in screened.tables["area_criteria"].to_pylist()
        if row["area_code"] in codes
    ]
    assert screened.facts.explained_criteria.to_pylist() == published
    assert len(published) == len(codes) * len(screened.ruleset.criteria)


# --- the binning step on its own ----------------------------------------------------------------


def bins_on(values: list[tuple[int, bool, float]], edges: list[list[float]]) -> dict[tuple, int]:
    """criterion_bins over a stand-in area_criteria holding the (criterion, crossed, rate)
    rows given, the margin binned for none."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE area_criteria (criterion_id INTEGER, crossed BOOLEAN, rate DOUBLE, "
        "margin_pp DOUBLE)"
    )
    con.executemany("INSERT INTO area_criteria VALUES (?, ?, ?, NULL)", values)
    db.run_step(con, "76_criterion_bins", edges=edges, by_margin=[False] * len(edges))
    rows = con.execute("SELECT criterion_id, bin, crossed, areas FROM criterion_bins").fetchall()
    return {(c, n, crossed): areas for c, n, crossed, areas in rows}


def test_bins_hold_their_lower_edge_and_the_last_its_upper_edge_as_numpy():
    edges = [59.0 + 0.5 * step for step in range(-4, 5)]  # 57 to 61 by 0.5
    edge_values = [*edges, 0.1 + 0.2 + 59.6, 59.49999999999999, 59.50000000000001, 60.25]
    rows = [(1, False, v) for v in edge_values] + [(1, True, 57.0), (1, None, 58.0)]
    found = bins_on(rows, [edges])
    expected, _ = np.histogram(np.asarray(edge_values), bins=edges)
    assert [found.get((1, n, False), 0) for n in range(1, len(edges))] == list(expected)
    assert found[(1, len(edges) - 1, False)] == 2  # 60.5 and 61, the last edge, in the last bin
    assert found[(1, 1, True)] == 1
    assert sum(found.values()) == len(edge_values) + 1  # the unknown row is left out


def test_each_criterion_is_binned_between_its_own_edges():
    first = [0.0, 10.0, 20.0]
    second = [-3.0, -1.0, 1.0, 3.0]
    rows = [(1, True, 10.0), (1, False, 20.0), (2, True, -1.0), (2, True, 2.9), (2, False, 3.0)]
    assert bins_on(rows, [first, second]) == {
        (1, 2, True): 1,
        (1, 2, False): 1,
        (2, 2, True): 1,
        (2, 3, True): 1,
        (2, 3, False): 1,
    }


def test_a_criterion_without_known_rows_has_no_histogram(tmp_path: Path):
    ruleset = load_ruleset(paths.ruleset_path(2018))
    con = db.connect()
    data = read_input(paths.DEFAULT_INPUT, ruleset, year=2018)
    table = data.loaded.table
    blank = pa.nulls(table.num_rows, table.schema.field("voters").type)
    suppressed = table.set_column(table.schema.get_field_index("voters"), "voters", blank)
    data = dataclasses.replace(data, loaded=dataclasses.replace(data.loaded, data=suppressed))
    screen_into(con, data, ruleset)
    turnout = area_facts(con, ruleset).criteria[-1]
    assert turnout.name == "voter_turnout"
    assert (turnout.known, turnout.crossing, turnout.edges, turnout.crossed) == (0, 0, (), ())
    assert turnout.rows == table.num_rows
