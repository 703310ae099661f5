"""The two yardsticks for the pipeline's screening stage, applying the same ruleset.

* `duckdb_screening`: one hand-written DuckDB query straight from the Parquet file to Arrow,
  wide (one row per area, no long per-criterion table), every criterion in one pass, then a
  GROUP BY of its result to municipalities: the practical limit. It keeps the rows in file
  order (DuckDB preserves insertion order) rather than sorting them by area code.
* `pandas_screening`: the rules written directly in pandas, as a statistician would.

Both produce the per-area results (rate, deviation and crossing of every criterion, counts,
crossed criteria, selection status) and the municipality results with the eligible list.
The rules are those of `sql/`: a criterion is known when numerator and denominator are
present and the denominator is positive; the threshold comparison is exact, on counts
(a rate exactly at the threshold does not cross); an unknown criterion is not crossed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from areascreen.contract import INDICATORS
from areascreen.paths import MUNICIPALITIES_CSV
from areascreen.rollup import roll_up
from areascreen.ruleset import Criterion, Ruleset

SELECTION_STATUSES = (
    "below_minimum_population",
    "selected",
    "undetermined_suppressed",
    "too_few_criteria_crossed",
)

# --- hand-written DuckDB ----------------------------------------------------------------------


def _known(criterion: Criterion) -> str:
    """SQL: both counts of a criterion are present and the denominator is positive."""
    indicator = INDICATORS[criterion.indicator]
    return f"({indicator.numerator} IS NOT NULL AND {indicator.denominator} > 0)"


def _rate(criterion: Criterion) -> str:
    """SQL: a criterion's rate in per cent, NULL when unknown."""
    indicator = INDICATORS[criterion.indicator]
    return (
        f"CASE WHEN {_known(criterion)} "
        f"THEN 100.0 * {indicator.numerator} / {indicator.denominator} END"
    )


def _crossed(criterion: Criterion) -> str:
    """SQL: exact comparison on counts, strictly beyond the threshold; NULL when unknown."""
    indicator = INDICATORS[criterion.indicator]
    operator = "<" if criterion.direction == "below" else ">"
    threshold = f"CAST({criterion.threshold!r} AS DECIMAL(9, 4))"
    comparison = f"{indicator.numerator} * 100 {operator} {threshold} * {indicator.denominator}"
    return f"CASE WHEN {_known(criterion)} THEN {comparison} END"


def _national_average(criterion: Criterion) -> str:
    """SQL: sum of known numerators over sum of known denominators, in per cent."""
    indicator = INDICATORS[criterion.indicator]
    known = _known(criterion)
    return (
        f"100.0 * sum({indicator.numerator}) FILTER (WHERE {known}) "
        f"/ nullif(sum({indicator.denominator}) FILTER (WHERE {known}), 0) "
        f"AS {criterion.indicator}_average"
    )


def area_query(ruleset: Ruleset) -> str:
    """The hand-written query: every area's criteria and selection, straight from the file."""
    names = [c.indicator for c in ruleset.criteria]
    per_criterion = ",\n        ".join(
        f"{_rate(c)} AS {c.indicator}_pct,\n"
        f"        {c.indicator}_pct - national.{c.indicator}_average AS {c.indicator}_deviation_pp,\n"
        f"        {_crossed(c)} AS {c.indicator}_crossed"
        for c in ruleset.criteria
    )
    evaluated = " + ".join(f"CAST({n}_crossed IS NOT NULL AS INTEGER)" for n in names)
    crossed = " + ".join(f"coalesce(CAST({n}_crossed AS INTEGER), 0)" for n in names)
    crossed_names = ", ".join(f"CASE WHEN {n}_crossed THEN '{n}' END" for n in names)
    wide_columns = ", ".join(f"{n}_pct, {n}_deviation_pp, {n}_crossed" for n in names)
    return f"""
WITH areas AS (
    SELECT * REPLACE (CAST(year AS INTEGER) AS year) FROM read_parquet($path)
),
national AS (
    SELECT {", ".join(_national_average(c) for c in ruleset.criteria)} FROM areas
),
flagged AS (
    SELECT
        areas.area_code, areas.area_name, areas.municipality_code, areas.year, areas.population,
        {per_criterion}
    FROM areas CROSS JOIN national
),
counted AS (
    SELECT
        *,
        {evaluated} AS criteria_evaluated,
        {crossed} AS criteria_crossed,
        {len(names)} - criteria_evaluated AS criteria_suppressed,
        concat_ws(', ', {crossed_names}) AS crossed_criteria
    FROM flagged
),
classified AS (
    SELECT
        *,
        CASE
            WHEN population < $minimum_population THEN 'below_minimum_population'
            WHEN criteria_crossed >= $criteria_required THEN 'selected'
            WHEN criteria_crossed + criteria_suppressed >= $criteria_required
                THEN 'undetermined_suppressed'
            ELSE 'too_few_criteria_crossed'
        END AS selection_status
    FROM counted
)
SELECT
    area_code, area_name, municipality_code, year, population,
    criteria_evaluated, criteria_crossed, criteria_suppressed, crossed_criteria,
    selection_status = 'selected' AS selected, selection_status,
    {wide_columns}
FROM classified
"""


def duckdb_screening(path: Path, ruleset: Ruleset) -> dict[str, pa.Table]:
    """Screen a Parquet file with the hand-written queries; the result tables as Arrow."""
    con = duckdb.connect(":memory:")
    area_parameters = {
        "path": str(path),
        "minimum_population": ruleset.minimum_population,
        "criteria_required": ruleset.criteria_required,
    }
    area_results = con.sql(area_query(ruleset), params=area_parameters).to_arrow_table()
    # The roll-up is one GROUP BY of the per-area result: the pipeline's own step serves both.
    con.register("area_results", area_results)
    roll_up(con, ruleset)
    municipalities = con.table("municipality_results").to_arrow_table()
    return {
        "area_results": area_results,
        "municipality_results": municipalities,
        "eligible_municipalities": municipalities.filter(municipalities["eligible"]),
    }


# --- pandas -----------------------------------------------------------------------------------


def _flag_criterion(areas: pd.DataFrame, criterion: Criterion) -> None:
    """Add a criterion's `_pct`, `_deviation_pp` and `_crossed` columns to `areas`."""
    indicator = INDICATORS[criterion.indicator]
    numerator = areas[indicator.numerator]
    denominator = areas[indicator.denominator]
    known = (numerator.notna() & denominator.gt(0)).fillna(False).astype(bool)
    average = 100 * numerator[known].sum() / denominator[known].sum()
    rate = (100 * numerator / denominator).where(known)
    limit = Fraction(str(criterion.threshold))
    left = numerator * (100 * limit.denominator)
    right = denominator * limit.numerator
    crossed = left < right if criterion.direction == "below" else left > right
    areas[f"{criterion.indicator}_pct"] = rate
    areas[f"{criterion.indicator}_deviation_pp"] = rate - average
    areas[f"{criterion.indicator}_crossed"] = crossed.where(known)


def _joined_names(flags: pd.DataFrame, labels: list[str]) -> pd.Series:
    """Per row, the labels of the columns that are true, joined by ', '."""
    text = pd.Series("", index=flags.index, dtype="str")
    for column, label in zip(flags.columns, labels, strict=True):
        text = text + np.where(flags[column].fillna(False), label + ", ", "")
    return text.str.removesuffix(", ")


def _select(areas: pd.DataFrame, ruleset: Ruleset) -> None:
    """Add the criteria counts, crossed criteria and selection status of every area."""
    names = [c.indicator for c in ruleset.criteria]
    crossed = areas[[f"{n}_crossed" for n in names]]
    areas["criteria_evaluated"] = crossed.notna().sum(axis=1)
    areas["criteria_crossed"] = crossed.fillna(False).astype(bool).sum(axis=1)
    areas["criteria_suppressed"] = len(names) - areas["criteria_evaluated"]
    areas["crossed_criteria"] = _joined_names(crossed, names)
    required = ruleset.criteria_required
    conditions = [
        areas["population"].lt(ruleset.minimum_population).fillna(False).to_numpy(bool),
        areas["criteria_crossed"].ge(required).to_numpy(bool),
        (areas["criteria_crossed"] + areas["criteria_suppressed"]).ge(required).to_numpy(bool),
    ]
    areas["selection_status"] = np.select(
        conditions, list(SELECTION_STATUSES[:3]), "too_few_criteria_crossed"
    )
    areas["selected"] = areas["selection_status"].eq("selected")


def _roll_up(areas: pd.DataFrame, ruleset: Ruleset) -> pd.DataFrame:
    """Municipality totals, selected areas, drivers and eligibility."""
    names = [c.indicator for c in ruleset.criteria]
    selected = areas[areas["selected"]]
    totals = areas.groupby("municipality_code").agg(
        areas=("area_code", "size"), population=("population", "sum")
    )
    chosen = selected.groupby("municipality_code").agg(
        selected_areas=("area_code", "size"),
        population_in_selected_areas=("population", "sum"),
        **{f"{n}_n": (f"{n}_crossed", "sum") for n in names},
    )
    result = totals.join(chosen).fillna(0).astype({"selected_areas": "int64"})
    result["population_in_selected_areas"] = result["population_in_selected_areas"].astype("int64")
    result["share_of_population_in_selected_areas"] = (
        100 * result["population_in_selected_areas"] / result["population"]
    )
    labels = [f"{n}: " for n in names]
    counts = result[[f"{n}_n" for n in names]].astype("int64")
    drivers = [
        np.where(counts[f"{n}_n"] > 0, label + counts[f"{n}_n"].astype(str), None)
        for n, label in zip(names, labels, strict=True)
    ]
    result["criteria_in_selected_areas"] = [
        ", ".join(filter(None, row)) for row in zip(*drivers, strict=True)
    ]
    result["eligible"] = (result["selected_areas"] >= ruleset.minimum_selected_areas) & (
        result["population_in_selected_areas"] >= ruleset.minimum_population_in_selected_areas
    )
    reference = pd.read_csv(MUNICIPALITIES_CSV, dtype=str).set_index("municipality_code")
    return result.drop(columns=counts.columns).join(reference).reset_index()


def pandas_screening(path: Path, ruleset: Ruleset) -> dict[str, pd.DataFrame]:
    """Screen a Parquet file with pandas; the result tables as DataFrames."""
    areas = pd.read_parquet(path)
    for criterion in ruleset.criteria:
        _flag_criterion(areas, criterion)
    _select(areas, ruleset)
    municipalities = _roll_up(areas, ruleset)
    return {
        "area_results": areas,
        "municipality_results": municipalities,
        "eligible_municipalities": municipalities[municipalities["eligible"]],
    }
