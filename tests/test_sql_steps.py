"""Each SQL step on a real in-memory DuckDB, on tiny tables with answers worked out by hand."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest

from areascreen import db
from areascreen.contract import INDICATORS, INPUT_COLUMNS
from areascreen.flag import criteria_table, flag_areas, load_areas
from areascreen.paths import SQL_DIR, ruleset_path
from areascreen.ruleset import Criterion, load_ruleset


def areas(rows: list[dict]) -> pd.DataFrame:
    """Input rows with every count defaulting to a plain, unremarkable area."""
    plain = {
        "area_name": "Test area",
        "year": 2018,
        "population": 3000,
        "employed": 800,
        "population_20_64": 1000,
        "long_term_unemployed": 30,
        "population_16_64": 1000,
        "low_educated": 100,
        "population_25_64": 1000,
        "voters": 900,
        "eligible_voters": 1000,
    }
    records = [{**plain, "municipality_code": row["area_code"][:4], **row} for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(INPUT_COLUMNS))
    for column in INPUT_COLUMNS[3:]:
        frame[column] = frame[column].astype("Int64")
    return frame


def flagged(frame: pd.DataFrame, criteria: tuple[Criterion, ...] | None = None):
    ruleset = load_ruleset(ruleset_path(2018))
    if criteria is not None:
        ruleset = dataclasses.replace(ruleset, criteria=criteria, criteria_required=len(criteria))
    con = db.connect()
    load_areas(con, frame)
    flag_areas(con, ruleset)
    return con


def test_national_average_is_a_ratio_of_sums_not_an_average_of_rates():
    frame = areas(
        [
            {"area_code": "0180C0001", "employed": 100, "population_20_64": 200},
            {"area_code": "0180C0002", "employed": 900, "population_20_64": 1000},
        ]
    )
    averages = flagged(frame).table("national_averages").df().set_index("indicator")
    # (100 + 900) / (200 + 1000) = 83.33 %, while the mean of 50 % and 90 % would be 70 %.
    assert averages.loc["employment_rate", "national_average"] == pytest.approx(100 * 1000 / 1200)
    assert averages.loc["employment_rate", "difference_from_published_pp"] == pytest.approx(
        100 * 1000 / 1200 - 77.9
    )


def test_threshold_equality_is_decided_on_counts_not_on_a_rounded_rate():
    # 283 / 1000 in floating point is 28.299999999999997 %, just under 28.3 %.
    below = Criterion("low_education_rate", "below", 28.3, 14.2)
    above = Criterion("low_education_rate", "above", 28.3, 14.2)
    frame = areas(
        [
            {"area_code": "0180C0001", "low_educated": 283, "population_25_64": 1000},
            {"area_code": "0180C0002", "low_educated": 2831, "population_25_64": 10000},
            {"area_code": "0180C0003", "low_educated": 2829, "population_25_64": 10000},
        ]
    )
    crossed_below = flagged(frame, (below,)).table("area_criteria").df().set_index("area_code")
    crossed_above = flagged(frame, (above,)).table("area_criteria").df().set_index("area_code")
    assert crossed_below["crossed"].to_dict() == {
        "0180C0001": False,
        "0180C0002": False,
        "0180C0003": True,
    }
    assert crossed_above["crossed"].to_dict() == {
        "0180C0001": False,
        "0180C0002": True,
        "0180C0003": False,
    }


def test_zero_denominator_is_treated_as_unknown():
    frame = areas([{"area_code": "0180C0001", "voters": 0, "eligible_voters": 0}])
    row = flagged(frame).table("area_criteria").df().set_index("indicator").loc["voter_turnout"]
    assert pd.isna(row["crossed"]) and pd.isna(row["rate"])


def test_margin_is_positive_beyond_the_threshold_in_either_direction():
    frame = areas([{"area_code": "0180C0001", "employed": 550, "long_term_unemployed": 130}])
    margins = flagged(frame).table("area_criteria").df().set_index("indicator")["margin_pp"]
    assert margins["employment_rate"] == pytest.approx(60 - 55)
    assert margins["long_term_unemployment_rate"] == pytest.approx(13 - 10)
    assert margins["voter_turnout"] == pytest.approx(75 - 90)


def test_sql_indicator_mapping_matches_the_contract():
    # Give every count column a distinct value and read back which pair each indicator used.
    values = {column: 10 * (i + 1) for i, column in enumerate(INPUT_COLUMNS[5:])}
    frame = areas([{"area_code": "0180C0001", **values}])
    counts = flagged(frame).table("area_criteria").df().set_index("indicator")
    for name, indicator in INDICATORS.items():
        assert counts.loc[name, "numerator"] == values[indicator.numerator]
        assert counts.loc[name, "denominator"] == values[indicator.denominator]


def test_run_step_binds_exactly_the_parameters_a_step_names():
    assert db.step_parameters("20_area_results") == {"minimum_population", "criteria_required"}
    with pytest.raises(ValueError, match="expects parameters"):
        db.run_step(db.connect(), "20_area_results", minimum_population=1)


def test_every_sql_file_is_one_statement_without_python_formatting():
    for path in sorted(SQL_DIR.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("-- "), f"{path.name} opens with a comment saying what it makes"
        assert "{" not in text, f"{path.name} has a Python format placeholder"
        code = re.sub(r"'[^']*'", "''", re.sub(r"--[^\n]*", "", text))
        statements = [s for s in code.split(";") if s.strip()]
        assert code.rstrip().endswith(";"), path.name
        if path.name.endswith("_macros.sql"):  # macro definitions only, no parameters
            assert all(s.strip().startswith("CREATE OR REPLACE MACRO") for s in statements)
            assert "$" not in code
        else:
            assert len(statements) == 1, path.name


def test_criteria_table_keeps_the_ruleset_order():
    ruleset = load_ruleset(ruleset_path(2018))
    table = criteria_table(ruleset)
    assert table["indicator"].to_pylist() == [c.indicator for c in ruleset.criteria]
    assert table["position"].to_pylist() == [1, 2, 3, 4]
