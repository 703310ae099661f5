"""Flag and roll-up on a real DuckDB database, checked against the hand-worked fixture."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from areascreen import db
from areascreen.flag import flag_areas, load_areas
from areascreen.paths import ruleset_path
from areascreen.rollup import roll_up
from areascreen.ruleset import Ruleset, load_ruleset
from tests.fixture_areas import (
    CROSSED,
    NAMES,
    POPULATION,
    SELECTED_ALL_FOUR,
    STATUS_ALL_FOUR,
    STATUS_AT_LEAST_THREE,
    fixture_frame,
)


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(ruleset_path(2018))


def screen(frame: pd.DataFrame, ruleset: Ruleset) -> dict[str, pd.DataFrame]:
    """Run flag and roll-up; return the result tables as pandas frames."""
    con = db.connect()
    load_areas(con, frame)
    flag_areas(con, ruleset)
    roll_up(con, ruleset)
    names = ("national_averages", "area_criteria", "area_results", "municipality_results")
    return {name: con.table(name).df() for name in (*names, "eligible_municipalities")}


@pytest.fixture(scope="module")
def all_four(ruleset: Ruleset) -> dict[str, pd.DataFrame]:
    return screen(fixture_frame(), ruleset)


@pytest.fixture(scope="module")
def at_least_three(ruleset: Ruleset) -> dict[str, pd.DataFrame]:
    return screen(fixture_frame(), dataclasses.replace(ruleset, criteria_required=3))


def test_every_area_gets_the_hand_worked_status_under_all_four(all_four):
    areas = all_four["area_results"].set_index("area_code")
    assert areas["selection_status"].to_dict() == STATUS_ALL_FOUR
    assert sorted(areas.index[areas["selected"]]) == SELECTED_ALL_FOUR
    assert areas["criteria_crossed"].to_dict() == CROSSED


def test_at_least_three_of_four_selects_more_areas(at_least_three):
    areas = at_least_three["area_results"].set_index("area_code")
    assert areas["selection_status"].to_dict() == STATUS_AT_LEAST_THREE


def test_a_rate_exactly_at_the_threshold_does_not_cross(all_four):
    criteria = all_four["area_criteria"].set_index(["area_code", "indicator"])
    # 600 of 1,000 employed is exactly 60 %: not below 60 %.
    assert not criteria.loc[("0180C1020", "employment_rate"), "crossed"]
    # 10 %, 28 % and 75 % exactly: not above, not above, not below.
    for indicator in ("long_term_unemployment_rate", "low_education_rate", "voter_turnout"):
        assert not criteria.loc[("1280C1010", indicator), "crossed"]
    # One person beyond each threshold crosses it.
    assert criteria.loc["1280C1020", "crossed"].all()


def test_a_suppressed_count_leaves_the_criterion_unknown(all_four):
    criteria = all_four["area_criteria"].set_index(["area_code", "indicator"])
    unknown = criteria.loc[("1880C1010", "long_term_unemployment_rate")]
    assert pd.isna(unknown["crossed"]) and pd.isna(unknown["rate"])
    area = all_four["area_results"].set_index("area_code").loc["1880C1010"]
    assert (area["criteria_evaluated"], area["criteria_suppressed"]) == (3, 1)
    assert area["crossed_criteria"] == "employment_rate, low_education_rate, voter_turnout"


def test_rates_and_deviations_per_area(all_four):
    area = all_four["area_results"].set_index("area_code").loc["0180C1010"]
    averages = all_four["national_averages"].set_index("indicator")["national_average"]
    assert area["employment_rate_pct"] == pytest.approx(50.0)
    assert area["employment_rate_deviation_pp"] == pytest.approx(50.0 - averages["employment_rate"])
    assert area["voter_turnout_pct"] == pytest.approx(60.0)
    assert bool(area["voter_turnout_crossed"])


def test_national_averages_come_from_the_counts_of_areas_with_known_values(all_four):
    averages = all_four["national_averages"].set_index("indicator")
    # Employment: 14 areas with known counts. Numerators by hand:
    employed = 500 + 600 + 800 + 550 + 599 + 40 + 450 + 520 + 850 + 480 + 510 + 580 + 750 + 780
    assert averages.loc["employment_rate", "numerator_total"] == employed == 8009
    assert averages.loc["employment_rate", "denominator_total"] == 13 * 1000 + 100
    assert averages.loc["employment_rate", "national_average"] == pytest.approx(800900 / 13100)
    assert averages.loc["employment_rate", "areas_suppressed"] == 1
    assert averages.loc["voter_turnout", "published_national_average"] == 85.8


def test_municipality_roll_up_under_all_four(all_four):
    municipalities = all_four["municipality_results"].set_index("municipality_code")
    assert municipalities["municipality_name"].to_dict() == NAMES
    stockholm = municipalities.loc["0180"]
    assert stockholm["areas"] == 3 and stockholm["selected_areas"] == 1
    assert stockholm["population"] == 2100 + 1900 + 2500
    assert stockholm["population_in_selected_areas"] == 2100
    assert stockholm["share_of_population_in_selected_areas"] == pytest.approx(100 * 2100 / 6500)
    botkyrka = municipalities.loc["0127"]
    assert botkyrka["population_in_selected_areas"] == 2300 + 2600
    assert botkyrka["criteria_in_selected_areas"] == (
        "employment_rate: 2, long_term_unemployment_rate: 2, low_education_rate: 2, "
        "voter_turnout: 2"
    )
    # Östersund and Örebro have no selected area under the all-four rule.
    assert municipalities.loc[["1880", "2380"], "selected_areas"].tolist() == [0, 0]
    eligible = all_four["eligible_municipalities"]
    assert eligible["municipality_code"].tolist() == ["0127", "0180", "1280"]


def test_municipality_roll_up_under_at_least_three(at_least_three):
    municipalities = at_least_three["municipality_results"].set_index("municipality_code")
    assert municipalities.loc["1880", "selected_areas"] == 2
    assert municipalities.loc["1880", "population_in_selected_areas"] == 2200 + 2000
    assert municipalities.loc["1880", "criteria_in_selected_areas"] == (
        "employment_rate: 2, low_education_rate: 2, voter_turnout: 2"
    )
    assert municipalities.loc["0180", "selected_areas"] == 2
    eligible = at_least_three["eligible_municipalities"]["municipality_code"].tolist()
    assert eligible == ["0127", "0180", "1280", "1880"]


def test_municipality_rule_minimum_population_in_selected_areas(ruleset):
    strict = dataclasses.replace(ruleset, minimum_population_in_selected_areas=2000)
    eligible = screen(fixture_frame(), strict)["eligible_municipalities"]
    # Malmö's one selected area has 1,800 residents; Stockholm's 2,100; Botkyrka's 4,900.
    assert eligible["municipality_code"].tolist() == ["0127", "0180"]
    assert POPULATION["1280C1020"] == 1800


def test_minimum_population_is_a_rule_not_a_constant(ruleset):
    lenient = dataclasses.replace(ruleset, minimum_population=100)
    areas = screen(fixture_frame(), lenient)["area_results"].set_index("area_code")
    assert areas.loc["1280C1030", "selection_status"] == "selected"


def test_a_ruleset_with_fewer_criteria_screens_on_those_only(ruleset):
    two = dataclasses.replace(ruleset, criteria=ruleset.criteria[:2], criteria_required=2)
    results = screen(fixture_frame(), two)
    assert results["national_averages"]["indicator"].tolist() == [
        "employment_rate",
        "long_term_unemployment_rate",
    ]
    areas = results["area_results"].set_index("area_code")
    # A criterion the ruleset does not use keeps its rate, but is neither judged nor counted.
    assert areas["voter_turnout_crossed"].isna().all()
    assert areas["voter_turnout_deviation_pp"].isna().all()
    assert areas.loc["0180C1010", "voter_turnout_pct"] == pytest.approx(60.0)
    assert areas.loc["0180C1030", "criteria_evaluated"] == 2
    assert areas.loc["1880C1010", "criteria_suppressed"] == 1
    # 1880C1020 crosses employment but not long-term unemployment.
    assert areas.loc["1880C1020", "selection_status"] == "too_few_criteria_crossed"
    assert areas.loc["0180C1020", "selection_status"] == "too_few_criteria_crossed"
    assert areas.loc["0180C1010", "selected"]
