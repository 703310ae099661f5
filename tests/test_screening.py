"""Flag and roll-up on a real DuckDB database, checked against the hand-worked fixture."""

from __future__ import annotations

import pandas as pd
import pytest

from areascreen.ruleset import Ruleset
from areascreen.screening import result_tables, screen
from tests.fixture_areas import (
    CROSSED,
    NAMES,
    POPULATION,
    SELECTED_ALL_FOUR,
    STATUS_ALL_FOUR,
    STATUS_AT_LEAST_THREE,
    fixture_document,
    fixture_frame,
    fixture_rules,
    screened,
)

TABLES = ("national_averages", "area_criteria", "area_results", "municipality_results")
FOUR = ("employment_rate", "long_term_unemployment_rate", "low_education_rate", "voter_turnout")


def screen_fixture(ruleset: Ruleset) -> dict[str, pd.DataFrame]:
    """Run flag and roll-up on the fixture; return the tables as pandas frames. The per-area
    tables are the published ones (with area codes)."""
    con = screened(fixture_frame(), ruleset)
    frames = {name: con.table(name).df() for name in (*TABLES, "eligible_municipalities")}
    frames["area_results"] = con.table("published_area_results").df()
    frames["area_criteria"] = con.table("published_area_criteria").df()
    return frames


@pytest.fixture(scope="module")
def all_four() -> dict[str, pd.DataFrame]:
    return screen_fixture(fixture_rules())


@pytest.fixture(scope="module")
def at_least_three() -> dict[str, pd.DataFrame]:
    return screen_fixture(fixture_rules(selection={"criteria_required": 3}))


def test_every_area_gets_the_hand_worked_status_under_all_four(all_four):
    areas = all_four["area_results"].set_index("area_code")
    assert areas["selection_status"].to_dict() == STATUS_ALL_FOUR
    assert sorted(areas.index[areas["selected"]]) == SELECTED_ALL_FOUR
    assert areas["criteria_crossed"].to_dict() == CROSSED
    assert set(areas["criteria_used"]) == {4}
    suppressed = areas["criteria_suppressed"]
    assert suppressed[suppressed > 0].to_dict() == {"1880C1010": 1, "2380C1010": 1}
    assert (areas["criteria_evaluated"] + suppressed == 4).all()
    assert areas["index_class"].isna().all()


def test_at_least_three_of_four_selects_more_areas(at_least_three):
    areas = at_least_three["area_results"].set_index("area_code")
    assert areas["selection_status"].to_dict() == STATUS_AT_LEAST_THREE


def test_one_row_per_area_and_criterion_in_the_ruleset_order(all_four):
    criteria = all_four["area_criteria"]
    assert len(criteria) == 15 * 4
    first = criteria[criteria["area_code"] == "0127C1010"]
    assert first["criterion"].tolist() == list(FOUR)
    assert first["position"].tolist() == [1, 2, 3, 4]
    assert first["threshold_kind"].tolist() == ["absolute"] * 4
    assert first["direction"].tolist() == ["below", "above", "above", "below"]
    assert first["threshold"].tolist() == [60.0, 10.0, 28.0, 75.0]


def test_a_rate_exactly_at_the_threshold_does_not_cross(all_four):
    criteria = all_four["area_criteria"].set_index(["area_code", "criterion"])
    # 600 of 1,000 employed is exactly 60 %: not below 60 %.
    assert not criteria.loc[("0180C1020", "employment_rate"), "crossed"]
    # 10 %, 28 % and 75 % exactly: not above, not above, not below.
    for name in ("long_term_unemployment_rate", "low_education_rate", "voter_turnout"):
        assert not criteria.loc[("1280C1010", name), "crossed"]
    # One person beyond each threshold crosses it.
    assert criteria.loc["1280C1020", "crossed"].tolist() == [True] * 4


def test_margins_in_persons_and_borderline_areas(all_four):
    criteria = all_four["area_criteria"].set_index(["area_code", "criterion"])
    margins = criteria["margin_persons"]
    # 1280C1020 (599, 101, 281, 749 of 1,000): one person fewer beyond each threshold and it is
    # exactly at it, so every crossing is decided by one person.
    assert margins.loc["1280C1020"].tolist() == [1, 1, 1, 1]
    # 1280C1010 (550, 100, 280, 750): employment 50 persons beyond 600; the others exactly at
    # the threshold, so one more person (101, 281, 749) would cross.
    assert margins.loc["1280C1010"].tolist() == [50, 1, 1, 1]
    assert criteria.loc["1280C1010", "crossed"].tolist() == [True, False, False, False]
    # 0180C1010 (500, 150, 350, 600): 100, 50, 70 and 150 persons.
    assert margins.loc["0180C1010"].tolist() == [
        600 - 500,
        150 - 100,
        350 - 280,
        750 - 600,
    ]
    # The small area: denominators of 100, thresholds of 60, 10, 28 and 75 persons.
    assert margins.loc["1280C1030"].tolist() == [60 - 40, 20 - 10, 40 - 28, 75 - 50]
    # A suppressed count has no margin.
    assert pd.isna(margins.loc[("1880C1010", "long_term_unemployment_rate")])
    # Borderline rows: a margin of at most 5 persons (the 2018 ruleset's borderline_persons).
    borderline = criteria.index[criteria["borderline"]].tolist()
    assert borderline == [
        ("0180C1020", "employment_rate"),
        ("1280C1010", "long_term_unemployment_rate"),
        ("1280C1010", "low_education_rate"),
        ("1280C1010", "voter_turnout"),
        *(("1280C1020", name) for name in FOUR),
    ]
    areas = all_four["area_results"].set_index("area_code")
    # 1280C1020 is selected by one person per criterion; 0180C1020 is one employed person
    # fewer (599) from crossing its fourth. 1280C1010 crosses one criterion: even one more
    # crossing would leave it two short, so it is not borderline.
    assert sorted(areas.index[areas["borderline"]]) == ["0180C1020", "1280C1020"]
    assert areas.loc["1280C1020", "smallest_margin_persons"] == 1
    assert areas.loc["0180C1010", "smallest_margin_persons"] == 50
    municipalities = all_four["municipality_results"].set_index("municipality_code")
    assert municipalities.loc["1280", "borderline_selected_areas"] == 1
    assert municipalities.loc["0180", "borderline_selected_areas"] == 0


def test_a_suppressed_count_leaves_the_criterion_unknown(all_four):
    criteria = all_four["area_criteria"].set_index(["area_code", "criterion"])
    unknown = criteria.loc[("1880C1010", "long_term_unemployment_rate")]
    assert pd.isna(unknown["crossed"]) and pd.isna(unknown["rate"])
    assert pd.isna(unknown["numerator"]) and unknown["denominator"] == 1000
    area = all_four["area_results"].set_index("area_code").loc["1880C1010"]
    assert (area["criteria_evaluated"], area["criteria_suppressed"]) == (3, 1)
    assert area["crossed_criteria"] == "employment_rate, low_education_rate, voter_turnout"


def test_rates_and_deviations_per_area(all_four):
    criteria = all_four["area_criteria"].set_index(["area_code", "criterion"])
    averages = all_four["national_averages"].set_index("indicator")["national_average"]
    employment = criteria.loc[("0180C1010", "employment_rate")]
    assert employment["rate"] == pytest.approx(50.0)
    assert employment["deviation_pp"] == pytest.approx(50.0 - averages["employment_rate"])
    assert employment["reference_average"] == pytest.approx(averages["employment_rate"])
    assert employment["margin_pp"] == pytest.approx(60.0 - 50.0)
    turnout = criteria.loc[("0180C1010", "voter_turnout")]
    assert turnout["rate"] == pytest.approx(60.0)
    assert bool(turnout["crossed"])
    assert criteria.loc[("1280C1020", "employment_rate"), "rate"] == pytest.approx(59.9)


def test_national_averages_come_from_the_counts_of_areas_with_known_values(all_four):
    averages = all_four["national_averages"].set_index("indicator")
    assert averages.index.tolist() == list(FOUR)
    # Employment: 14 areas with known counts. Numerators by hand:
    employed = 500 + 600 + 800 + 550 + 599 + 40 + 450 + 520 + 850 + 480 + 510 + 580 + 750 + 780
    assert averages.loc["employment_rate", "numerator_total"] == employed == 8009
    assert averages.loc["employment_rate", "denominator_total"] == 13 * 1000 + 100
    assert averages.loc["employment_rate", "national_average"] == pytest.approx(800900 / 13100)
    assert averages.loc["employment_rate", "areas_known"] == 14
    assert averages.loc["employment_rate", "areas_suppressed"] == 1
    assert averages.loc["voter_turnout", "published_national_average"] == 85.8
    assert averages.loc["voter_turnout", "areas_suppressed"] == 0


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
    assert municipalities.loc["1880", "criteria_in_selected_areas"] == ""
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


def test_municipality_rule_minimum_population_in_selected_areas():
    strict = fixture_rules(municipality={"minimum_population_in_selected_areas": 2000})
    eligible = screen_fixture(strict)["eligible_municipalities"]
    # Malmö's one selected area has 1,800 residents; Stockholm's 2,100; Botkyrka's 4,900.
    assert eligible["municipality_code"].tolist() == ["0127", "0180"]
    assert POPULATION["1280C1020"] == 1800


def test_municipality_rule_minimum_selected_areas():
    eligible = screen_fixture(fixture_rules(municipality={"minimum_selected_areas": 2}))
    # Only Botkyrka has two selected areas (0127C1010 and 0127C1020).
    assert eligible["eligible_municipalities"]["municipality_code"].tolist() == ["0127"]


def test_minimum_population_is_a_rule_not_a_constant():
    lenient = fixture_rules(selection={"minimum_population": 100})
    areas = screen_fixture(lenient)["area_results"].set_index("area_code")
    assert areas.loc["1280C1030", "selection_status"] == "selected"
    strict = fixture_rules(selection={"minimum_population": 2000})
    areas = screen_fixture(strict)["area_results"].set_index("area_code")
    # 1280C1020 (1,800 residents) is now too small; 0180C1010 (2,100) and Botkyrka's stay.
    assert areas.loc["1280C1020", "selection_status"] == "below_minimum_population"
    assert sorted(areas.index[areas["selected"]]) == ["0127C1010", "0127C1020", "0180C1010"]


def test_a_ruleset_with_fewer_criteria_screens_on_those_only():
    document = fixture_document()
    results = screen_fixture(fixture_rules(criteria=document["criteria"][:2]))
    assert results["national_averages"]["indicator"].tolist() == [
        "employment_rate",
        "long_term_unemployment_rate",
    ]
    # An indicator the ruleset does not use is neither read, judged nor counted.
    criteria = results["area_criteria"]
    assert set(criteria["criterion"]) == {"employment_rate", "long_term_unemployment_rate"}
    assert len(criteria) == 15 * 2
    areas = results["area_results"].set_index("area_code")
    assert set(areas["criteria_used"]) == {2}
    assert areas.loc["0180C1030", "criteria_evaluated"] == 2
    assert areas.loc["1880C1010", "criteria_suppressed"] == 1
    # 1880C1020 crosses employment but not long-term unemployment.
    assert areas.loc["1880C1020", "selection_status"] == "too_few_criteria_crossed"
    assert areas.loc["0180C1020", "selection_status"] == "too_few_criteria_crossed"
    # 1880C1010 crosses employment; its long-term unemployment is suppressed.
    assert areas.loc["1880C1010", "selection_status"] == "undetermined_suppressed"
    # Employment below 60 and long-term unemployment above 10: 0180C1010 (50, 15), 0127C1010
    # (48, 12), 0127C1020 (51, 11), 1280C1020 (59.9, 10.1); 1280C1030 is too small.
    assert sorted(areas.index[areas["selected"]]) == SELECTED_ALL_FOUR


def test_a_required_criterion_must_be_crossed_whatever_the_others():
    """Turnout required, and at least 2 of the other three.

    0180C1020 (60, 15, 35 | 60): turnout crossed, 2 others: selected.
    1880C1020 (52, 5, 30 | 70): turnout crossed, 2 others: selected.
    0127C1030 (58, 4, 20 | 72): turnout crossed, 1 other: too few.
    2380C1010 (.., 14, 32 | 80): turnout not crossed: required criterion not crossed.
    1880C1010 (45, .., 40 | 55): turnout crossed, 2 others known: selected.
    """
    document = fixture_document()
    criteria = [dict(c) for c in document["criteria"]]
    criteria[3]["required"] = True
    ruleset = fixture_rules(criteria=criteria, selection={"criteria_required": 2})
    areas = screen_fixture(ruleset)["area_results"].set_index("area_code")
    assert areas["selection_status"].to_dict() == {
        "0180C1010": "selected",
        "0180C1020": "selected",
        "0180C1030": "required_criterion_not_crossed",
        "1280C1010": "required_criterion_not_crossed",
        "1280C1020": "selected",
        "1280C1030": "below_minimum_population",
        "1880C1010": "selected",
        "1880C1020": "selected",
        "1880C1030": "required_criterion_not_crossed",
        "0127C1010": "selected",
        "0127C1020": "selected",
        "0127C1030": "too_few_criteria_crossed",
        "2380C1010": "required_criterion_not_crossed",
        "2380C1020": "required_criterion_not_crossed",
        "2380A0010": "required_criterion_not_crossed",
    }
    # 1280C1010's turnout is exactly 75 %: one voter fewer would cross it, and it crosses
    # employment, so it is not borderline: it would still lack a second other criterion.
    assert not areas.loc["1280C1010", "borderline"]


def test_the_notebook_api_screens_a_frame_under_a_ruleset_document():
    tables = screen(fixture_frame(), fixture_document(), validate=False)
    areas = tables["area_results"].to_pandas().set_index("area_code")
    assert areas["selection_status"].to_dict() == STATUS_ALL_FOUR
    assert tables["area_results"]["area_code"].to_pylist() == sorted(STATUS_ALL_FOUR)
    eligible = tables["eligible_municipalities"]["municipality_code"].to_pylist()
    assert eligible == ["0127", "0180", "1280"]
    assert tables["area_criteria"].num_rows == 15 * 4


def test_result_tables_are_the_published_forms():
    con = screened(fixture_frame(), fixture_rules())
    tables = result_tables(con)
    assert sorted(tables) == [
        "area_criteria",
        "area_results",
        "eligible_municipalities",
        "municipality_results",
        "national_averages",
    ]
    assert "area_id" not in tables["area_results"].column_names
    assert tables["national_averages"]["numerator_total"].type == "int64"


@pytest.mark.parametrize(
    "ruleset_file",
    [
        "2018.toml",
        "2018-relative.toml",
        "2018-denmark-style.toml",
        "2018-delmos-style.toml",
        "2018-index-scb-style.toml",
        "statistical and rank thresholds",
    ],
)
@pytest.mark.parametrize("borderline_persons", [0, 3, 40])
def test_area_results_gather_every_borderline_row_however_wide_the_margin(
    ruleset_file: str, borderline_persons: int
) -> None:
    """40_area_results reads only the rows crossed, unknown or near their threshold: every row
    the full margin computation calls borderline must be among them, and the area masks must
    equal those recomputed from every row of area_criteria."""
    import dataclasses

    from areascreen.paths import DATA_DIR, DEFAULT_INPUT
    from areascreen.ruleset import load_ruleset

    rules = (
        statistical_ruleset()
        if ruleset_file == "statistical and rank thresholds"
        else load_ruleset(DATA_DIR / "rulesets" / ruleset_file)
    )
    rules = dataclasses.replace(
        rules,
        selection=dataclasses.replace(rules.selection, borderline_persons=borderline_persons),
    )
    con = screened(pd.read_parquet(DEFAULT_INPUT), rules)
    missed = con.execute(
        "SELECT count(*) FROM area_criteria WHERE borderline AND NOT near_threshold"
    ).fetchone()[0]
    assert missed == 0
    borderline_rows = con.execute("SELECT count(*) FROM area_criteria WHERE borderline").fetchone()[
        0
    ]
    if borderline_persons == 40 and rules.criteria:
        assert borderline_rows > 100  # the test would be empty otherwise
    recomputed = con.execute(
        """
        SELECT count(*) FROM area_results
        JOIN (
            SELECT area_id,
                sum(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE crossed) AS crossed,
                sum(CAST(1 AS BIGINT) << (criterion_id - 1)) FILTER (WHERE borderline) AS near
            FROM area_criteria GROUP BY area_id
        ) AS every_row USING (area_id)
        WHERE area_results.crossed_mask IS DISTINCT FROM coalesce(every_row.crossed, 0)
            OR area_results.criteria_crossed <> bit_count(coalesce(every_row.crossed, 0))
        """
    ).fetchone()[0]
    assert recomputed == 0


def statistical_ruleset() -> Ruleset:
    """The 2018 ruleset with standard-deviation thresholds (weighted and not) and a rank one."""
    import tomllib

    from areascreen.paths import ruleset_path
    from areascreen.ruleset import parse_ruleset

    document = tomllib.loads(ruleset_path(2018).read_text(encoding="utf-8"))
    thresholds = [
        {"kind": "standard_deviations", "value": 1.0, "weighted": False},
        {"kind": "standard_deviations", "value": 0.5, "weighted": True},
        {"kind": "rank_share_of_areas", "share": 10.0},
        {"kind": "standard_deviations", "value": 1.5, "weighted": False},
    ]
    for criterion, threshold in zip(document["criteria"], thresholds, strict=True):
        criterion["threshold"] = threshold
        criterion.pop("published_national_average", None)
    document["selection"]["criteria_required"] = 1
    return parse_ruleset(document, ruleset_path(2018))
