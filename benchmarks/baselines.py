"""The two yardsticks for the pipeline's screening stage, for a ruleset of absolute thresholds.

* `duckdb_eligible`: ONE DuckDB query from the Parquet file to the eligible list: every
  criterion as an integer comparison on the counts in the WHERE clause, the minimum population,
  a GROUP BY of the selected areas and the municipality rule in HAVING; no sort.
* `pandas_eligible`: the same rule as a fluent pandas user writes it: the Parquet file read into
  numpy dtypes (counts with suppressed values as float64 with NaN, which compares False, and
  the municipality code as a categorical), the criteria as vectorised comparisons on numpy
  arrays, and a group-by over the selected rows only.

The rules are those of `sql/`: an area is screened when its population is at least the minimum;
a criterion is crossed only strictly beyond its threshold, compared exactly on counts
(`100 × q × numerator < p × denominator` for a threshold of p/q per cent); a suppressed count
or a zero denominator crosses nothing. Both yardsticks require what the 2018 ruleset has:
absolute thresholds, every criterion to be crossed, and a municipality rule of a minimum number
of selected areas and of residents in them. Neither builds a per-area table: that is the
pipeline's extra work, and the price it pays for its published outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from areascreen.ruleset import Ruleset


class UnsupportedRuleset(ValueError):
    """The yardsticks cover rulesets of absolute thresholds that must all be crossed."""


@dataclass(frozen=True)
class Comparison:
    """One criterion as an exact integer comparison: `100 × q × numerator OP p × denominator`."""

    numerator: str
    denominator: str
    operator: str
    scale: int
    threshold: int


@dataclass(frozen=True)
class Rule:
    """What the yardsticks apply: criteria, minimum population and the municipality rule."""

    population: str
    minimum_population: int
    comparisons: tuple[Comparison, ...]
    minimum_selected_areas: int
    minimum_population_in_selected_areas: int

    @property
    def columns(self) -> list[str]:
        """The file columns the rule reads."""
        counts = [c for x in self.comparisons for c in (x.numerator, x.denominator)]
        return list(dict.fromkeys(["municipality_code", self.population, *counts]))


def rule_of(ruleset: Ruleset) -> Rule:
    """The ruleset as a yardstick rule; UnsupportedRuleset when it is not of the 2018 form."""
    selection, municipality = ruleset.selection, ruleset.municipality
    criteria = ruleset.criteria
    problems = [
        f"{c.name}: threshold kind {c.threshold.kind}"
        for c in criteria
        if c.threshold.kind != "absolute"
    ]
    if selection.method != "criteria" or selection.criteria_required + sum(
        c.required for c in criteria
    ) != len(criteria):
        problems.append("not every criterion must be crossed")
    if (
        municipality.minimum_share_in_selected_areas is not None
        or municipality.share_standard_deviations is not None
        or municipality.index_spread_standard_deviations is not None
    ):
        problems.append("a municipality rule beyond minimum areas and residents")
    if problems:
        raise UnsupportedRuleset(f"{ruleset.name}: " + "; ".join(problems))
    comparisons = tuple(
        Comparison(
            numerator=c.indicator.numerator,
            denominator=c.indicator.denominator,
            operator="<" if c.direction == "below" else ">",
            scale=100 * c.threshold.exact.denominator,
            threshold=c.threshold.exact.numerator,
        )
        for c in criteria
    )
    return Rule(
        population=ruleset.population_column,
        minimum_population=selection.minimum_population,
        comparisons=comparisons,
        minimum_selected_areas=municipality.minimum_selected_areas,
        minimum_population_in_selected_areas=municipality.minimum_population_in_selected_areas,
    )


# --- one DuckDB query -------------------------------------------------------------------------


def selection_predicate(rule: Rule) -> str:
    """SQL: the area is screened and crosses every criterion (NULL counts compare NULL)."""
    terms = [f"{rule.population} >= {rule.minimum_population}"]
    for c in rule.comparisons:
        terms.append(f"{c.denominator} > 0")
        terms.append(f"{c.scale} * {c.numerator} {c.operator} {c.threshold} * {c.denominator}")
    return "\n    AND ".join(terms)


def eligible_query(rule: Rule) -> str:
    """The yardstick query: Parquet file (parameter $path) to the eligible list, unsorted."""
    return f"""
SELECT
    municipality_code,
    count(*) AS selected_areas,
    sum({rule.population}) AS population_in_selected_areas
FROM read_parquet($path)
WHERE {selection_predicate(rule)}
GROUP BY municipality_code
HAVING count(*) >= {rule.minimum_selected_areas}
    AND sum({rule.population}) >= {rule.minimum_population_in_selected_areas}
"""


def duckdb_eligible(path: Path, rule: Rule) -> pa.Table:
    """Run the yardstick query in a fresh in-memory database."""
    import duckdb

    with duckdb.connect(":memory:") as con:
        return con.execute(eligible_query(rule), {"path": str(path)}).to_arrow_table()


def duckdb_selected_codes(path: Path, rule: Rule) -> list[str]:
    """The area codes the query's WHERE clause selects (for the agreement check, not timed)."""
    import duckdb

    query = f"SELECT area_code FROM read_parquet($path) WHERE {selection_predicate(rule)}"
    with duckdb.connect(":memory:") as con:
        return [row[0] for row in con.execute(query, {"path": str(path)}).fetchall()]


# --- pandas / numpy ---------------------------------------------------------------------------

_OPERATORS = {"<": np.less, ">": np.greater}


def read_frame(path: Path, columns: list[str]) -> pd.DataFrame:
    """The columns of the file in numpy dtypes; the municipality code as a categorical."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns, read_dictionary=["municipality_code"])
    return table.to_pandas(ignore_metadata=True)


def pandas_eligible(path: Path, rule: Rule) -> tuple[pd.DataFrame, np.ndarray]:
    """The eligible list (municipality_code, selected_areas, population_in_selected_areas) and
    the row positions of the selected areas."""
    frame = read_frame(path, rule.columns)
    selected = frame[rule.population].to_numpy() >= rule.minimum_population
    for c in rule.comparisons:
        numerator = frame[c.numerator].to_numpy()
        denominator = frame[c.denominator].to_numpy()
        crossed = _OPERATORS[c.operator](c.scale * numerator, c.threshold * denominator)
        selected &= crossed & (denominator > 0)
    rows = np.flatnonzero(selected)
    per_municipality = (
        frame.iloc[rows]
        .groupby("municipality_code", observed=True, sort=False)[rule.population]
        .agg(selected_areas="size", population_in_selected_areas="sum")
    )
    eligible = per_municipality[
        (per_municipality["selected_areas"] >= rule.minimum_selected_areas)
        & (
            per_municipality["population_in_selected_areas"]
            >= rule.minimum_population_in_selected_areas
        )
    ]
    return eligible.reset_index(), rows


def area_codes_at(path: Path, rows: np.ndarray) -> list[str]:
    """The area codes at the given row positions of the file (agreement check, not timed)."""
    import pyarrow.parquet as pq

    codes = pq.read_table(path, columns=["area_code"]).column("area_code")
    return codes.take(pa.array(rows)).to_pylist()
