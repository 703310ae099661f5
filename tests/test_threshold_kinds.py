"""Every threshold kind, selection form and municipality rule on a hand-worked table.

Six areas in two municipalities of two counties, one indicator: long-term unemployment
(long_term_unemployed / population_16_64). Worked out by hand:

| area | code      | n / d    | rate | pop  | county |
|------|-----------|----------|------|------|--------|
| A    | 0180C1010 | 10 / 100 | 10   | 500  | 01     |
| B    | 0180C1020 | 30 / 100 | 30   | 500  | 01     |
| C    | 0180C1030 | 50 / 100 | 50   | 1000 | 01     |
| D    | 1280C1010 |  5 / 100 |  5   | 500  | 12     |
| E    | 1280C1020 | 20 / 100 | 20   | 500  | 12     |
| F    | 1280C1030 | 60 / 200 | 30   | 1000 | 12     |

National average from counts: 175 / 700 = 25 %. County 01: 90 / 300 = 30 %; county 12:
85 / 400 = 21.25 %. Unweighted mean of the rates 145 / 6 = 24.1667 %, standard deviation
(population) sqrt(1320.8333 / 6) = 14.8370; population-weighted mean 112,500 / 4,000 =
28.125 %, weighted standard deviation sqrt(948,437.5 / 4,000) = 15.3984.
Worst first (ties by code): C 50, B 30, F 30, E 20, A 10, D 5.
"""

from __future__ import annotations

import math
from copy import deepcopy
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from areascreen.flag import flag_areas, load_areas
from areascreen.rollup import roll_up
from areascreen.ruleset import parse_ruleset

AREAS = {
    "0180C1010": (10, 100, 500),
    "0180C1020": (30, 100, 500),
    "0180C1030": (50, 100, 1000),
    "1280C1010": (5, 100, 500),
    "1280C1020": (20, 100, 500),
    "1280C1030": (60, 200, 1000),
}
A, B, C, D, E, F = AREAS
BASE: dict[str, Any] = {
    "schema_version": 2,
    "name": "hand-worked",
    "year": 2018,
    "division": "deso2018",
    "selection": {"criteria_required": "all", "minimum_population": 0},
    "municipality": {"minimum_selected_areas": 1},
    "budget": {"unit": "MSEK", "per_year": {"2018": 10.0}},
    "allocation": {"method": "base_plus_population", "base_share": 0.5},
}


def frame() -> pd.DataFrame:
    """The six areas in the columns the rulesets below need."""
    rows = [
        {
            "area_code": code,
            "area_name": f"Area {code}",
            "municipality_code": code[:4],
            "year": 2018,
            "population": population,
            "long_term_unemployed": numerator,
            "population_16_64": denominator,
        }
        for code, (numerator, denominator, population) in AREAS.items()
    ]
    table = pd.DataFrame(rows)
    for column in ("year", "population", "long_term_unemployed", "population_16_64"):
        table[column] = table[column].astype("Int64")
    return table


def ruleset(*criteria: dict[str, Any], **sections: dict[str, Any]):
    """A ruleset over long-term unemployment with the criteria and sections given."""
    document = deepcopy(BASE)
    document["criteria"] = [
        {"indicator": "long_term_unemployment_rate", "direction": "above", **c} for c in criteria
    ]
    for key, value in sections.items():
        document[key] = {**document.get(key, {}), **value}
    return parse_ruleset(document, Path("hand-worked.toml"))


def screen(rules, national_only: pd.DataFrame | None = None) -> duckdb.DuckDBPyConnection:
    """Screen the six areas; the connection holds every table."""
    con = duckdb.connect()
    load_areas(con, frame(), rules, national_only)
    flag_areas(con, rules)
    roll_up(con, rules)
    return con


def crossed(con: duckdb.DuckDBPyConnection, criterion_id: int = 1) -> list[str]:
    """Codes of the areas that cross one criterion."""
    rows = con.execute(
        "SELECT area_code FROM published_area_criteria WHERE position = ? AND crossed "
        "ORDER BY area_code",
        [criterion_id],
    ).fetchall()
    return [code for (code,) in rows]


def column(con: duckdb.DuckDBPyConnection, name: str, table: str = "published_area_results"):
    """area_code -> value of a column."""
    return dict(con.execute(f"SELECT area_code, {name} FROM {table}").fetchall())


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        # Above 30 %: B and F are exactly at 30 % and do not cross.
        (30.0, [C]),
        # 1.2 × 25 % = 30 %: compared exactly (30 × 5 × 700 = 6 × 175 × 100).
        ({"kind": "national_ratio", "ratio": 1.2}, [C]),
        # 25 % + 5 pp = 30 %.
        ({"kind": "national_difference", "points": 5.0}, [C]),
        # The county's own average: 30 % in county 01 (only C above), 21.25 % in 12 (F above).
        ({"kind": "county_ratio", "ratio": 1.0}, [C, F]),
        # 21.25 % + 8.75 pp = 30 % in county 12: F is exactly at it; 38.75 % in county 01.
        ({"kind": "county_difference", "points": 8.75}, [C]),
        # Mean + 1 sd = 24.1667 + 14.8370 = 39.0036 % unweighted; 43.5234 % weighted.
        ({"kind": "standard_deviations", "value": 1.0, "weighted": False}, [C]),
        ({"kind": "standard_deviations", "value": 1.0, "weighted": True}, [C]),
        # Worst 50 % of 6 areas: positions 1-3 are C, B, F.
        ({"kind": "rank_share_of_areas", "share": 50.0}, [B, C, F]),
        # Worst areas up to 40 % of 4,000 residents: C (1,000), B (1,500); F would make 2,500.
        ({"kind": "rank_population_share", "share": 40.0}, [B, C]),
    ],
)
def test_each_threshold_kind_crosses_the_hand_worked_areas(threshold, expected):
    con = screen(ruleset({"threshold": threshold}))
    assert crossed(con) == sorted(expected)


def test_below_is_strictly_below():
    con = screen(ruleset({"direction": "below", "threshold": 10.0}))
    assert crossed(con) == [D]  # A is exactly at 10 %


def test_thresholds_as_rates_and_reference_averages():
    con = screen(
        ruleset(
            {"name": "county", "threshold": {"kind": "county_ratio", "ratio": 1.0}},
            {
                "name": "spread",
                "threshold": {"kind": "standard_deviations", "value": 1.0, "weighted": False},
            },
            {
                "name": "weighted",
                "threshold": {"kind": "standard_deviations", "value": 1.0, "weighted": True},
            },
        )
    )
    rows = con.execute(
        "SELECT area_code, criterion, threshold, reference_average FROM published_area_criteria"
    ).fetchall()
    by_key = {(code, name): (threshold, average) for code, name, threshold, average in rows}
    assert by_key[(A, "county")] == (pytest.approx(30.0), pytest.approx(30.0))
    assert by_key[(F, "county")] == (pytest.approx(21.25), pytest.approx(21.25))
    assert by_key[(A, "spread")][0] == pytest.approx(145 / 6 + math.sqrt(1320.8333333 / 6))
    assert by_key[(A, "weighted")][0] == pytest.approx(28.125 + math.sqrt(948437.5 / 4000))
    assert by_key[(A, "spread")][1] == pytest.approx(25.0)


def test_margins_in_persons_and_borderline_areas():
    # Above 30 %: A needs 21 more persons (31 of 100), B one more, C 20 fewer (to 30), F one more.
    con = screen(ruleset({"threshold": 30.0}, selection={"borderline_persons": 1}))
    margins = column(con, "margin_persons", "published_area_criteria")
    assert margins == {A: 21, B: 1, C: 20, D: 26, E: 11, F: 1}
    assert column(con, "margin_pp", "published_area_criteria")[C] == pytest.approx(20.0)
    borderline = column(con, "borderline")
    assert [code for code, flag in borderline.items() if flag] == [B, F]
    per_municipality = dict(
        con.execute(
            "SELECT municipality_code, borderline_selected_areas FROM municipality_results"
        ).fetchall()
    )
    assert per_municipality == {"0180": 0, "1280": 0}


def test_an_exact_threshold_with_five_decimals_decides_exactly():
    # 1 of 3 is 33.333…%: below 33.33334 %, above 33.33333 %.
    table = frame()
    table.loc[0, ["long_term_unemployed", "population_16_64"]] = [1, 3]
    rules_high = ruleset({"threshold": 33.33334})
    rules_low = ruleset({"threshold": 33.33333})
    for rules, expected in ((rules_high, False), (rules_low, True)):
        con = duckdb.connect()
        load_areas(con, table, rules)
        flag_areas(con, rules)
        assert column(con, "crossed", "area_criteria JOIN areas USING (area_id)")[A] is expected


def test_k_of_n_and_required_criteria():
    absolute = {"name": "absolute", "threshold": 30.0}  # C
    county = {"name": "county", "threshold": {"kind": "county_ratio", "ratio": 1.0}}  # C, F
    ranked = {
        "name": "ranked",
        "threshold": {"kind": "rank_share_of_areas", "share": 50.0},
    }  # B, C, F
    two_of_three = screen(ruleset(absolute, county, ranked, selection={"criteria_required": 2}))
    selected = column(two_of_three, "selected")
    assert [code for code, flag in selected.items() if flag] == [C, F]
    assert column(two_of_three, "criteria_crossed") == {A: 0, B: 1, C: 3, D: 0, E: 0, F: 2}
    required = screen(
        ruleset({**county, "required": True}, absolute, ranked, selection={"criteria_required": 1})
    )
    status = column(required, "selection_status")
    assert status[C] == "selected"  # county crossed, and 2 of the others
    assert status[F] == "selected"  # county crossed, and ranked
    assert status[B] == "required_criterion_not_crossed"


def test_minimum_population_also_limits_the_ranking():
    rules = ruleset(
        {"threshold": {"kind": "rank_share_of_areas", "share": 50.0}},
        selection={"minimum_population": 600},
    )
    con = screen(rules)
    # Only C and F (1,000 residents) are screened; the worst 50 % of two areas is C.
    assert crossed(con) == [C]
    assert column(con, "selection_status")[A] == "below_minimum_population"


def index_ruleset(classes: list[int], **municipality: Any):
    """Selection by a one-component index cut at 0 and 1 standard deviation."""
    document = deepcopy(BASE)
    document["index"] = {
        "components": [{"indicator": "long_term_unemployment_rate", "direction": "above"}],
        "class_cuts": [0.0, 1.0],
    }
    document["selection"] = {
        "method": "index",
        "selected_classes": classes,
        "minimum_population": 0,
    }
    document["municipality"] = {"minimum_selected_areas": 1, **municipality}
    return parse_ruleset(document, Path("index.toml"))


# One standardised component: the index score is the area's z value. z = (rate - 24.1667) / 14.837.
Z = {
    code: (n / d * 100 - 145 / 6) / math.sqrt(1320.8333333 / 6) for code, (n, d, _) in AREAS.items()
}


def test_index_classes_select_by_standard_deviations():
    con = screen(index_ruleset([3]))
    scores = column(con, "index_score")
    assert scores == {code: pytest.approx(z) for code, z in Z.items()}
    # z: A -0.955, B 0.393, C 1.741, D -1.292, E -0.281, F 0.393
    assert column(con, "index_class") == {A: 1, B: 2, C: 3, D: 1, E: 1, F: 2}
    assert [code for code, flag in column(con, "selected").items() if flag] == [C]
    wider = screen(index_ruleset([2, 3]))
    assert [code for code, flag in column(wider, "selected").items() if flag] == [B, C, F]


def eligible(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Codes of the eligible municipalities."""
    rows = con.execute("SELECT municipality_code FROM eligible_municipalities").fetchall()
    return [code for (code,) in rows]


def test_share_of_residents_in_selected_areas_absolute_and_relative():
    # Class 3 selects C only: Stockholm 1,000 of 2,000 residents (50 %), Malmö 0 %.
    assert eligible(screen(index_ruleset([3], minimum_share_in_selected_areas=50.0))) == ["0180"]
    assert eligible(screen(index_ruleset([3], minimum_share_in_selected_areas=50.0001))) == []
    # Shares 50 and 0: mean 25, standard deviation 25.
    assert eligible(screen(index_ruleset([3], share_standard_deviations=1.0))) == ["0180"]
    assert eligible(screen(index_ruleset([3], share_standard_deviations=1.1))) == []


def weighted_spread(codes: list[str]) -> float:
    """Population-weighted standard deviation of the index among some areas."""
    weights = [AREAS[c][2] for c in codes]
    values = [Z[c] for c in codes]
    mean = sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)
    spread = sum(w * (v - mean) ** 2 for w, v in zip(weights, values, strict=True))
    return math.sqrt(spread / sum(weights))


def test_municipality_index_spread_relative_to_the_mean_of_municipalities():
    stockholm = weighted_spread([A, B, C])  # 1.029
    malmo = weighted_spread([D, E, F])  # 0.692
    con = screen(index_ruleset([1, 2, 3], index_spread_standard_deviations=0.0))
    spreads = dict(
        con.execute("SELECT municipality_code, index_spread FROM municipality_results").fetchall()
    )
    assert spreads == {"0180": pytest.approx(stockholm), "1280": pytest.approx(malmo)}
    # Mean + 0 sd is the mean of the two spreads: only Stockholm is above it.
    assert eligible(con) == ["0180"]


def test_rows_counted_nationally_only_move_the_national_average():
    rules = ruleset({"threshold": {"kind": "national_difference", "points": 5.0}})
    extra = frame().iloc[:1].copy()
    extra[["long_term_unemployed", "population_16_64"]] = [45, 100]
    con = screen(rules, national_only=extra)
    average, extra_rows = con.execute(
        "SELECT national_average, rows_national_only FROM published_national_averages"
    ).fetchone()
    assert (average, extra_rows) == (pytest.approx(220 / 800 * 100), 1)  # 27.5 %
    assert crossed(con) == [C]  # 27.5 + 5 = 32.5 %
    assert con.execute("SELECT count(*) FROM area_results").fetchone() == (6,)


def _margin_by_search(numerator: int, denominator: int, limit, above: bool) -> int:
    """How many persons must change status, one at a time, for the crossing to flip."""
    from fractions import Fraction

    def crosses(n: int) -> bool:
        rate = Fraction(100 * n, denominator)
        return rate > limit if above else rate < limit

    start = crosses(numerator)
    toward = -1 if start == above else 1
    steps = 1
    while crosses(numerator + toward * steps) == start:
        steps += 1
    return steps


def test_margins_in_persons_equal_a_search_one_person_at_a_time() -> None:
    """The margin of every area, for absolute and national-difference thresholds in both
    directions and at thresholds with up to four decimals, is the number of persons found by
    moving one person at a time; several areas lie exactly on their threshold."""
    from fractions import Fraction

    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    # National 1 / 15 = 6.67 %, the threshold 10 points below it is -3.33 %: a negative
    # threshold count, whose floor integer division alone would get wrong.
    @example(counts=[(1, 10), (0, 5)], value=Fraction(10), direction="below", relative=True)
    @given(
        counts=st.lists(
            st.tuples(st.integers(0, 400), st.integers(1, 400)).map(lambda t: (min(t), max(t))),
            min_size=1,
            max_size=12,
        ),
        value=st.one_of(
            st.integers(1, 99).map(Fraction),
            st.integers(1, 9_999).map(lambda v: Fraction(v, 100)),
            st.integers(1, 999_999).map(lambda v: Fraction(v, 10_000)),
        ),
        direction=st.sampled_from(["above", "below"]),
        relative=st.booleans(),
    )
    def check(counts, value, direction, relative) -> None:
        codes = [f"0180C{1000 + i}" for i in range(len(counts))]
        rows = pd.DataFrame(
            {
                "area_code": codes,
                "area_name": codes,
                "municipality_code": "0180",
                "year": 2018,
                "population": 1000,
                "long_term_unemployed": [n for n, _ in counts],
                "population_16_64": [d for _, d in counts],
            }
        )
        for name in ("year", "population", "long_term_unemployed", "population_16_64"):
            rows[name] = rows[name].astype("Int64")
        points = float(value) % 50
        threshold = (
            {"kind": "national_difference", "points": round(points, 4)}
            if relative
            else round(float(value), 4)
        )
        rules = ruleset(
            {"direction": direction, "threshold": threshold},
            selection={"minimum_population": 0},
        )
        con = duckdb.connect()
        load_areas(con, rows, rules)
        flag_areas(con, rules)
        roll_up(con, rules)
        national = Fraction(sum(n for n, _ in counts) * 100, sum(d for _, d in counts))
        if relative:
            step = Fraction(str(round(points, 4)))
            limit = national + step if direction == "above" else national - step
        else:
            limit = Fraction(str(round(float(value), 4)))
        found = column(con, "margin_persons", "published_area_criteria")
        for code, (n, d) in zip(codes, counts, strict=True):
            expected = _margin_by_search(n, d, limit, direction == "above")
            assert found[code] == expected, (code, n, d, limit, direction)

    check()
