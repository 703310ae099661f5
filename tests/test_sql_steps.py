"""Each SQL step on a real in-memory DuckDB, on tiny tables with answers worked out by hand."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import duckdb
import pandas as pd
import pytest

from areascreen import db
from areascreen.contract import INPUT_COLUMNS
from areascreen.flag import criteria_table
from areascreen.paths import SQL_DIR, ruleset_path
from areascreen.ruleset import Ruleset, load_catalogue, load_ruleset
from areascreen.sensitivity import run_sensitivity
from tests.fixture_areas import (
    STATUS_ALL_FOUR,
    criterion,
    fixture_frame,
    fixture_rules,
    screened,
)


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


def rules(*criteria: dict[str, Any]) -> Ruleset:
    """The 2018 ruleset, or with the criteria given (all of them required to be crossed)."""
    if not criteria:
        return fixture_rules()
    return fixture_rules(criteria=list(criteria))


def flagged(frame: pd.DataFrame, ruleset: Ruleset | None = None) -> duckdb.DuckDBPyConnection:
    return screened(frame, ruleset or rules())


def area_criteria(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.table("published_area_criteria").df()


def test_national_average_is_a_ratio_of_sums_not_an_average_of_rates():
    frame = areas(
        [
            {"area_code": "0180C1010", "employed": 100, "population_20_64": 200},
            {"area_code": "0180C1020", "employed": 900, "population_20_64": 1000},
        ]
    )
    averages = flagged(frame).table("national_averages").df().set_index("indicator")
    # (100 + 900) / (200 + 1000) = 83.33 %, while the mean of 50 % and 90 % would be 70 %.
    assert averages.loc["employment_rate", "national_average"] == pytest.approx(100 * 1000 / 1200)
    assert averages.loc["employment_rate", "mean_rate"] == pytest.approx(70.0)
    assert averages.loc["employment_rate", "difference_from_published_pp"] == pytest.approx(
        100 * 1000 / 1200 - 77.9
    )


def test_threshold_equality_is_decided_on_counts_not_on_a_rounded_rate():
    # 283 / 1000 in floating point is 28.299999999999997 %, just under 28.3 %.
    frame = areas(
        [
            {"area_code": "0180C1010", "low_educated": 283, "population_25_64": 1000},
            {"area_code": "0180C1020", "low_educated": 2831, "population_25_64": 10000},
            {"area_code": "0180C1030", "low_educated": 2829, "population_25_64": 10000},
        ]
    )
    below = area_criteria(flagged(frame, rules(criterion("low_education_rate", "below", 28.3))))
    above = area_criteria(flagged(frame, rules(criterion("low_education_rate", "above", 28.3))))
    assert dict(zip(below["area_code"], below["crossed"], strict=True)) == {
        "0180C1010": False,
        "0180C1020": False,
        "0180C1030": True,
    }
    assert dict(zip(above["area_code"], above["crossed"], strict=True)) == {
        "0180C1010": False,
        "0180C1020": True,
        "0180C1030": False,
    }


def test_zero_denominator_is_treated_as_unknown():
    frame = areas([{"area_code": "0180C1010", "voters": 0, "eligible_voters": 0}])
    con = flagged(frame)
    row = area_criteria(con).set_index("criterion").loc["voter_turnout"]
    assert pd.isna(row["crossed"]) and pd.isna(row["rate"]) and pd.isna(row["margin_persons"])
    area = con.table("published_area_results").df().iloc[0]
    assert (area["criteria_evaluated"], area["criteria_suppressed"]) == (3, 1)


def test_margin_is_positive_beyond_the_threshold_in_either_direction():
    frame = areas([{"area_code": "0180C1010", "employed": 550, "long_term_unemployed": 130}])
    rows = area_criteria(flagged(frame)).set_index("criterion")
    assert rows["margin_pp"]["employment_rate"] == pytest.approx(60 - 55)
    assert rows["margin_pp"]["long_term_unemployment_rate"] == pytest.approx(13 - 10)
    assert rows["margin_pp"]["voter_turnout"] == pytest.approx(75 - 90)
    # In persons: 50 employed more and it is at 60 % (not below); 30 unemployed fewer and it
    # is at 10 % (not above); 151 voters fewer and 749 of 1,000 is below 75 %.
    assert rows["margin_persons"].to_dict() == {
        "employment_rate": 50,
        "long_term_unemployment_rate": 30,
        "low_education_rate": 281 - 100,
        "voter_turnout": 151,
    }


def test_sql_indicator_mapping_matches_the_catalogue():
    # Give every count column a distinct value and read back which pair each criterion used.
    values = {column: 10 * (i + 1) for i, column in enumerate(INPUT_COLUMNS[5:])}
    frame = areas([{"area_code": "0180C1010", **values}])
    counts = area_criteria(flagged(frame)).set_index("indicator")
    catalogue = load_catalogue()
    assert len(counts) == 4
    for name in counts.index:
        assert counts.loc[name, "numerator"] == values[catalogue[name].numerator]
        assert counts.loc[name, "denominator"] == values[catalogue[name].denominator]


def test_run_step_binds_exactly_the_parameters_a_step_names():
    assert db.step_parameters("18_criterion_ranks") == {"minimum_population"}
    assert db.step_parameters("20_area_criteria") == set()  # a view: its rules are rows
    assert db.step_parameters("05_macros") == set()
    with pytest.raises(ValueError, match="expects parameters"):
        db.run_step(db.connect(), "18_criterion_ranks", minimum_population=1, extra=2)


CREATES = re.compile(r"\s*CREATE OR REPLACE (TABLE|VIEW|MACRO) (\w+)")


def test_every_sql_file_holds_create_statements_without_python_formatting():
    made: list[str] = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("-- "), f"{path.name} opens with a comment saying what it makes"
        assert "{" not in text, f"{path.name} has a Python format placeholder"
        code = re.sub(r"'[^']*'", "''", re.sub(r"--[^\n]*", "", text))
        statements = [s for s in code.split(";") if s.strip()]
        assert code.rstrip().endswith(";"), path.name
        kinds = []
        for statement in statements:
            match = CREATES.match(statement)
            assert match, f"{path.name}: every statement creates a table, view or macro"
            kinds.append(match.group(1))
            made.append(match.group(2))
        if path.name.endswith("_macros.sql"):  # macro definitions only, no parameters
            assert set(kinds) == {"MACRO"} and "$" not in code
        else:
            assert "MACRO" not in kinds, path.name
    assert len(made) == len(set(made)), "each table, view or macro is made by one step"
    assert {"areas", "area_indicators", "national_averages", "county_averages"} <= set(made)
    assert {"area_criteria", "area_index", "area_results", "municipality_results"} <= set(made)
    assert {"published_area_results", "published_area_criteria"} <= set(made)


def test_criteria_table_keeps_the_ruleset_order():
    ruleset = load_ruleset(ruleset_path(2018))
    table = criteria_table(ruleset)
    assert table["criterion"].to_pylist() == [c.name for c in ruleset.criteria]
    assert table["criterion_id"].to_pylist() == [1, 2, 3, 4]
    assert table["indicator_id"].to_pylist() == [1, 2, 3, 4]
    assert table["kind"].to_pylist() == ["absolute"] * 4
    assert table["value_num"].to_pylist() == [60, 10, 28, 75]
    assert table["value_den"].to_pylist() == [1, 1, 1, 1]


# --- regressions: what went wrong with rulesets other than the 2018 one ----------------------


def test_a_ruleset_with_only_the_turnout_criterion_screens():
    """Turnout below 75 % alone; the fixture's turnout (voters of 1,000):

    selected: 0180C1010 (600), 0180C1020 (600), 1280C1020 (749), 1880C1010 (550),
    1880C1020 (700), 0127C1010 (620), 0127C1020 (680), 0127C1030 (720);
    1280C1010 is exactly at 75 % (750); 1280C1030 (50 of 100) has 150 residents; the others
    (900, 880, 800, 850, 890) are above.
    """
    con = screened(fixture_frame(), rules(criterion("voter_turnout", "below", 75.0)))
    results = con.table("published_area_results").df().set_index("area_code")
    assert results["criteria_used"].to_dict() == dict.fromkeys(STATUS_ALL_FOUR, 1)
    assert set(results["criteria_evaluated"]) == {1}
    assert set(results["criteria_suppressed"]) == {0}
    assert sorted(results.index[results["selected"]]) == [
        "0127C1010", "0127C1020", "0127C1030", "0180C1010", "0180C1020", "1280C1020",
        "1880C1010", "1880C1020",
    ]  # fmt: skip
    assert results.loc["1280C1010", "selection_status"] == "too_few_criteria_crossed"
    assert results.loc["1280C1030", "selection_status"] == "below_minimum_population"
    averages = con.table("national_averages").df()
    assert averages["indicator"].tolist() == ["voter_turnout"]
    eligible = con.table("eligible_municipalities").df()["municipality_code"].tolist()
    assert eligible == ["0127", "0180", "1280", "1880"]


@pytest.mark.parametrize(
    ("numerator", "denominator", "above", "below"),
    [
        # 1 / 3 = 33.333...% is below 33.33334 %: rounding the threshold to four decimals
        # (33.3333) would have made it "above".
        (1, 3, False, True),
        (1_000_000, 3_000_000, False, True),
        # Exactly at the threshold: 3,333,334 of 10,000,000 is 33.33334 %: neither.
        (3_333_334, 10_000_000, False, False),
        # One person either side.
        (3_333_335, 10_000_000, True, False),
        (3_333_333, 10_000_000, False, True),
        # 33.3333 %, the threshold rounded to four decimals: below it.
        (333_333, 1_000_000, False, True),
    ],
)
def test_a_five_decimal_threshold_is_compared_exactly(numerator, denominator, above, below):
    assert (Fraction(100 * numerator, denominator) > Fraction("33.33334")) is above
    frame = areas(
        [{"area_code": "0180C1010", "low_educated": numerator, "population_25_64": denominator}]
    )
    for direction, expected in (("above", above), ("below", below)):
        ruleset = rules(criterion("low_education_rate", direction, 33.33334))
        assert ruleset.criteria[0].threshold.exact == Fraction("3333334/100000")
        row = area_criteria(flagged(frame, ruleset)).iloc[0]
        assert bool(row["crossed"]) is expected, direction


def test_an_area_at_one_third_is_not_selected_above_33_33334_and_sensitivity_runs():
    frame = areas(
        [
            {"area_code": "0180C1010", "low_educated": 1, "population_25_64": 3},
            {"area_code": "0180C1020", "low_educated": 3_333_335, "population_25_64": 10_000_000},
        ]
    )
    ruleset = rules(criterion("low_education_rate", "above", 33.33334))
    con = flagged(frame, ruleset)
    results = con.table("published_area_results").df().set_index("area_code")
    assert results["selected"].to_dict() == {"0180C1010": False, "0180C1020": True}
    # 1 of 3 is 1.0000002 persons short of the threshold: one more person crosses it.
    rows = area_criteria(con).set_index("area_code")
    assert rows.loc["0180C1010", "margin_persons"] == 1
    assert rows.loc["0180C1020", "margin_persons"] == 1
    # Moving the five-decimal threshold by 1 pp keeps it exact: 34.33334 and 32.33334.
    result = run_sensitivity(con, ruleset, [1])
    assert result is not None
    assert result.variants["thresholds"].to_pylist() == [
        "low_education_rate > 33.33334 %",
        "low_education_rate > 34.33334 %",
        "low_education_rate > 32.33334 %",
        "low_education_rate > 34.33334 %",
        "low_education_rate > 32.33334 %",
    ]
    # At 32.33334 % the area at 1/3 crosses; at 34.33334 % neither does.
    assert result.variants["selected_areas"].to_pylist() == [1, 0, 2, 0, 2]


@pytest.mark.parametrize(
    ("a", "b", "floor", "ceiling"),
    [
        (7, 2, 3, 4),
        (-7, 2, -4, -3),
        (-1, 3, -1, 0),
        (1, 3, 0, 1),
        (-6, 3, -2, -2),
        (6, 3, 2, 2),
        (0, 5, 0, 0),
        (-9, 10, -1, 0),
        (-11, 10, -2, -1),
        # Beyond 64 bits, as the products of counts and threshold fractions are.
        (-(10**30) - 1, 10**15, -(10**15) - 1, -(10**15)),
        (10**30 + 1, 10**15, 10**15, 10**15 + 1),
    ],
)
def test_floor_div_and_ceil_div_round_negative_numbers_the_right_way(a, b, floor, ceiling):
    con = db.connect()
    db.run_step(con, "05_macros")
    got = con.execute(
        "SELECT floor_div(CAST($a AS HUGEINT), CAST($b AS HUGEINT)), "
        "ceil_div(CAST($a AS HUGEINT), CAST($b AS HUGEINT))",
        {"a": str(a), "b": str(b)},
    ).fetchone()
    assert got == (floor, ceiling)
