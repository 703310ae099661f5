"""Threshold sensitivity on the hand-made fixture, checked against expectations worked out by hand.

The fixture's rates (tests/fixture_areas.py; every denominator 1,000) and the 2018 thresholds
(employment < 60, long-term unemployment > 10, low education > 28, turnout < 75; all four
required; at least 200 residents; a municipality needs one selected area):

| area | emp | ltu | edu | vote | baseline |
|---|---|---|---|---|---|
| 0180C1010 Stockholm | 50 | 15 | 35 | 60 | selected; every margin ≥ 5 pp, so selected in every variant |
| 0180C1020 | 60 | 15 | 35 | 60 | not: employment exactly at 60 |
| 1280C1010 Malmö | 55 | 10 | 28 | 75 | not: three criteria exactly at the threshold |
| 1280C1020 | 59.9 | 10.1 | 28.1 | 74.9 | selected, every criterion by only 0.1 pp |
| 1280C1030 (150 residents) | 40 | 20 | 40 | 50 | never: below the minimum population |
| 1880C1010 Örebro | 45 | .. | 40 | 55 | never: suppressed counts as not crossed |
| 1880C1020 | 52 | 5 | 30 | 70 | never: long-term unemployment 5 is far from 8-12 |
| 0127C1010 Botkyrka | 48 | 12 | 33 | 62 | selected; long-term unemployment 2 pp beyond |
| 0127C1020 | 51 | 11 | 31 | 68 | selected; long-term unemployment 1 pp beyond |
| 2380C1010 Östersund | .. | 14 | 32 | 80 | never: employment suppressed |
(0180C1030, 1880C1030, 0127C1030, 2380C1020, 2380A0010 cross at most two criteria, none
within 2 pp of a third and fourth.)

Baseline: Botkyrka (0127), Stockholm (0180) and Malmö (1280) are eligible.

- Moving one threshold in the adverse direction (employment -d, long-term unemployment +d, low
  education +d, turnout -d) drops 1280C1020 (0.1 pp beyond each), and Malmö has no other
  selected area: Malmö leaves in all four adverse single-criterion variants and both all-adverse
  variants, for d = 1 and d = 2: 10 of 20 variants, stability 0.5.
- Long-term unemployment +1 (11 %): 0127C1020 (11 %) is exactly at it and drops; 0127C1010 (12 %)
  stays, so Botkyrka stays with one area. +2 (12 %): 0127C1010 is exactly at it too, so Botkyrka
  leaves, in that variant and in all-adverse d = 2: 18 of 20, stability 0.9.
- Employment +1 (61 %) makes 0180C1020 (60 %) cross employment, so Stockholm gains an area but
  stays; it is eligible in every variant: stability 1.0.
- All-favourable d = 1 (61, 9, 27, 76) also selects 1280C1010 (55, 10, 28, 75), so Malmö has two
  areas; nobody enters because Örebro and Östersund have no area within reach.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from areascreen import db, paths
from areascreen.errors import InputError, RulesetError
from areascreen.ruleset import Ruleset, load_ruleset, parse_ruleset
from areascreen.screening import read_input, screen_into
from areascreen.sensitivity import (
    SensitivityResult,
    build_variants,
    movable,
    run_sensitivity,
    screen_sensitivity,
)
from tests.fixture_areas import criterion, fixture_document, fixture_frame, fixture_rules, screened

DELTAS = (1, 2)
LABELS = [
    "baseline",
    "employment_rate +1 pp (61 %)",
    "employment_rate -1 pp (59 %)",
    "long_term_unemployment_rate +1 pp (11 %)",
    "long_term_unemployment_rate -1 pp (9 %)",
    "low_education_rate +1 pp (29 %)",
    "low_education_rate -1 pp (27 %)",
    "voter_turnout +1 pp (76 %)",
    "voter_turnout -1 pp (74 %)",
    "all criteria 1 pp adverse (stricter)",
    "all criteria 1 pp favourable (looser)",
    "employment_rate +2 pp (62 %)",
    "employment_rate -2 pp (58 %)",
    "long_term_unemployment_rate +2 pp (12 %)",
    "long_term_unemployment_rate -2 pp (8 %)",
    "low_education_rate +2 pp (30 %)",
    "low_education_rate -2 pp (26 %)",
    "voter_turnout +2 pp (77 %)",
    "voter_turnout -2 pp (73 %)",
    "all criteria 2 pp adverse (stricter)",
    "all criteria 2 pp favourable (looser)",
]
BASELINE = ["0127", "0180", "1280"]
WITHOUT_MALMO = ["0127", "0180"]
# Per variant (in LABELS order): (selected areas, eligible municipalities), by hand.
# Baseline 4 areas: 0180C1010, 1280C1020, 0127C1010, 0127C1020.
EXPECTED_DEFAULT = [
    (4, BASELINE),
    (5, BASELINE),  # emp 61: + 0180C1020
    (3, WITHOUT_MALMO),  # emp 59: - 1280C1020 (59.9)
    (2, WITHOUT_MALMO),  # ltu 11: - 1280C1020, - 0127C1020 (11 is not above 11)
    (4, BASELINE),  # ltu 9: 1280C1010 crosses ltu but not edu/vote (exactly at them)
    (3, WITHOUT_MALMO),  # edu 29: - 1280C1020
    (4, BASELINE),
    (4, BASELINE),
    (3, WITHOUT_MALMO),  # vote 74: - 1280C1020
    (2, WITHOUT_MALMO),  # all stricter: 0180C1010 and 0127C1010 only
    (6, BASELINE),  # all looser: + 0180C1020, + 1280C1010
    (5, BASELINE),
    (3, WITHOUT_MALMO),
    (1, ["0180"]),  # ltu 12: 0127C1010 (12) and 0127C1020 (11) drop: Botkyrka leaves
    (4, BASELINE),
    (3, WITHOUT_MALMO),  # edu 30: 0127C1010 (33) and 0127C1020 (31) still cross
    (4, BASELINE),
    (4, BASELINE),  # vote 77: 2380C1010 (80) still does not cross
    (3, WITHOUT_MALMO),  # vote 73: 0127C1010 (62) and 0127C1020 (68) still cross
    (1, ["0180"]),
    (6, BASELINE),
]


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(paths.ruleset_path(2018))


def sensitivity_of(ruleset: Ruleset, deltas=DELTAS) -> SensitivityResult:
    """Screen the fixture and run the sensitivity analysis on it."""
    result = run_sensitivity(screened(fixture_frame(), ruleset), ruleset, deltas)
    assert result is not None
    return result


def column(table: pa.Table, name: str) -> list:
    return table[name].to_pylist()


@pytest.fixture(scope="module")
def default(ruleset: Ruleset) -> SensitivityResult:
    return sensitivity_of(ruleset)


def test_variants_are_each_criterion_both_ways_and_all_together(default):
    assert column(default.variants, "variant") == LABELS
    assert column(default.variants, "variant_id") == list(range(21))
    all_stricter = default.variants.to_pylist()[9]
    assert all_stricter["thresholds"] == (
        "employment_rate < 59 %, long_term_unemployment_rate > 11 %, "
        "low_education_rate > 29 %, voter_turnout < 74 %"
    )
    assert (all_stricter["shift"], all_stricter["effect"]) == ("adverse", "stricter")
    employment_up = default.variants.to_pylist()[1]
    assert (employment_up["shift"], employment_up["effect"]) == ("favourable", "looser")
    assert employment_up["changed_thresholds"] == "employment_rate < 61 %"


def test_selected_areas_and_eligible_list_per_variant_match_the_hand_count(default):
    got = list(
        zip(
            column(default.variants, "selected_areas"),
            column(default.variants, "eligible_codes"),
            strict=True,
        )
    )
    assert got == EXPECTED_DEFAULT


def test_who_leaves_in_which_variant(default):
    changes = default.variant_changes.to_pylist()
    assert {r["change"] for r in changes} == {"left"}
    left = {(r["variant"], r["municipality_code"]) for r in changes}
    malmo = {
        label
        for label, (_, codes) in zip(LABELS, EXPECTED_DEFAULT, strict=True)
        if "1280" not in codes
    }
    assert {v for v, code in left if code == "1280"} == malmo
    assert len(malmo) == 10
    assert {v for v, code in left if code == "0127"} == {
        "long_term_unemployment_rate +2 pp (12 %)",
        "all criteria 2 pp adverse (stricter)",
    }
    assert "0180" not in {code for _, code in left}
    botkyrka = next(r for r in changes if r["municipality_code"] == "0127")
    assert (botkyrka["selected_areas_baseline"], botkyrka["selected_areas"]) == (2, 0)


def test_stockholm_gains_an_area_at_61_percent_employment_but_nothing_changes(default):
    rows = default.variant_municipalities.to_pylist()
    stockholm = {r["variant_id"]: r for r in rows if r["municipality_code"] == "0180"}
    assert (stockholm[0]["selected_areas"], stockholm[1]["selected_areas"]) == (1, 2)
    assert stockholm[1]["population_in_selected_areas"] == 2100 + 1900
    assert stockholm[1]["change"] == "stayed"
    assert default.variants.to_pylist()[1]["entered"] == 0


def test_stability_is_the_share_of_variants_in_which_a_municipality_is_eligible(default):
    stability = {r["municipality_code"]: r for r in default.municipality_stability.to_pylist()}
    # Örebro and Östersund are never eligible, so they are not listed.
    assert sorted(stability) == BASELINE
    assert {code: r["stability"] for code, r in stability.items()} == {
        "0127": 0.9,
        "0180": 1.0,
        "1280": 0.5,
    }
    assert stability["1280"]["variants_eligible"] == 10
    assert stability["1280"]["variants"] == 20
    assert stability["1280"]["municipality_name"] == "Malmö"
    assert stability["0180"]["differs_in"] == ""


def test_the_baseline_variant_is_the_screening_itself(ruleset):
    con = screened(fixture_frame(), ruleset)
    result = run_sensitivity(con, ruleset, [1])
    assert result is not None
    baseline = [r for r in result.variant_municipalities.to_pylist() if r["variant_id"] == 0]
    published = db.fetch_table(con, "municipality_results").to_pylist()
    assert [(r["municipality_code"], r["selected_areas"], r["eligible"]) for r in baseline] == [
        (r["municipality_code"], r["selected_areas"], r["eligible"]) for r in published
    ]


def test_municipalities_enter_when_two_selected_areas_are_required(ruleset):
    """With two selected areas required, only Botkyrka (2) is eligible at baseline.

    Employment 61/62 gives Stockholm 0180C1020 as second area: Stockholm enters. All-favourable
    gives Stockholm that area and Malmö 1280C1010 beside 1280C1020 (1280C1030 has 150 residents
    and never counts): both enter. Long-term unemployment +1 or +2 and all-adverse drop 0127C1020
    (11 %): Botkyrka leaves. Stability: Botkyrka 16/20, Stockholm 4/20, Malmö 2/20.
    """
    result = sensitivity_of(fixture_rules(municipality={"minimum_selected_areas": 2}))
    entered = {
        (r["variant"], r["municipality_code"])
        for r in result.variant_changes.to_pylist()
        if r["change"] == "entered"
    }
    looser = ["all criteria 1 pp favourable (looser)", "all criteria 2 pp favourable (looser)"]
    employment = ["employment_rate +1 pp (61 %)", "employment_rate +2 pp (62 %)"]
    assert entered == {(v, "0180") for v in employment + looser} | {(v, "1280") for v in looser}
    left = {r["variant"] for r in result.variant_changes.to_pylist() if r["change"] == "left"}
    assert left == {
        "long_term_unemployment_rate +1 pp (11 %)",
        "long_term_unemployment_rate +2 pp (12 %)",
        "all criteria 1 pp adverse (stricter)",
        "all criteria 2 pp adverse (stricter)",
    }
    stability = {
        r["municipality_code"]: r["stability"] for r in result.municipality_stability.to_pylist()
    }
    assert stability == {"0127": 0.8, "0180": 0.2, "1280": 0.1}
    looser_row = result.variants.to_pylist()[10]
    assert looser_row["entered_municipalities"] == "0180 Stockholm, 1280 Malmö"
    assert looser_row["eligible_codes"] == ["0127", "0180", "1280"]


def test_a_rate_exactly_at_a_moved_threshold_does_not_cross(ruleset):
    # Moved by 0.1 pp in the adverse direction, every threshold lands exactly on 1280C1020's
    # rate (59.9, 10.1, 28.1, 74.9): compared exactly on counts, none is crossed, so Malmö
    # leaves in the four adverse variants and all-adverse. (10.0 + 0.1 in binary floating point
    # is just below 10.1, which would wrongly let 101 of 1,000 cross.)
    result = sensitivity_of(ruleset, [0.1])
    left = [r["variant"] for r in result.variant_changes.to_pylist()]
    assert left == [
        "employment_rate -0.1 pp (59.9 %)",
        "long_term_unemployment_rate +0.1 pp (10.1 %)",
        "low_education_rate +0.1 pp (28.1 %)",
        "voter_turnout -0.1 pp (74.9 %)",
        "all criteria 0.1 pp adverse (stricter)",
    ]
    assert result.deltas == (0.1,)


def test_at_least_three_of_four_changes_the_baseline_and_the_stability(ruleset):
    # At least 3 of 4: Örebro is eligible at baseline with 1880C1010 (3 + suppressed) and
    # 1880C1020 (emp, edu, vote). Employment -d does not touch them (45, 52); education +2 (30)
    # drops 1880C1020 (30 is not above 30) but 1880C1010 (40) keeps Örebro eligible.
    result = sensitivity_of(fixture_rules(selection={"criteria_required": 3}))
    assert column(result.variants, "eligible_codes")[0] == ["0127", "0180", "1280", "1880"]
    stability = {
        r["municipality_code"]: r["stability"] for r in result.municipality_stability.to_pylist()
    }
    assert stability["1880"] == 1.0


@pytest.mark.parametrize("deltas", [[], [0], [-1], [float("nan")], [0.00001]])
def test_deltas_must_be_positive_numbers(ruleset, deltas):
    with pytest.raises(ValueError, match="delta"):
        build_variants(ruleset, deltas)


def test_repeated_deltas_are_screened_once(ruleset):
    assert len(build_variants(ruleset, [2, 1, 1.0])) == 21


def test_screen_sensitivity_reads_a_file_of_the_input_contract(tmp_path: Path):
    path = tmp_path / "areas.parquet"
    fixture_frame().to_parquet(path)
    result = screen_sensitivity(path, 2018, paths.ruleset_path(2018), [1, 2])
    assert (
        list(
            zip(
                column(result.variants, "selected_areas"),
                column(result.variants, "eligible_codes"),
                strict=True,
            )
        )
        == EXPECTED_DEFAULT
    )
    with pytest.raises(RulesetError, match="ruleset is for 2018"):
        screen_sensitivity(path, 2019, paths.ruleset_path(2018), [1])
    ruleset_2019 = tmp_path / "2019.toml"
    text = paths.ruleset_path(2018).read_text(encoding="utf-8")
    ruleset_2019.write_text(text.replace("year = 2018", "year = 2019"), encoding="utf-8")
    with pytest.raises(InputError, match="holds year 2018, but 2019 is screened"):
        screen_sensitivity(path, 2019, ruleset_2019, [1])


def test_screen_sensitivity_on_the_synthetic_default_agrees_with_the_screening():
    result = screen_sensitivity(paths.DEFAULT_INPUT, 2018, paths.ruleset_path(2018), [1, 2])
    ruleset = load_ruleset(paths.ruleset_path(2018))
    con = db.connect()
    screen_into(con, read_input(paths.DEFAULT_INPUT, ruleset), ruleset)
    eligible = db.fetch_table(con, "eligible_municipalities")
    assert column(result.variants, "eligible_codes")[0] == column(eligible, "municipality_code")
    assert result.variants.num_rows == 21
    # Stricter variants never add a municipality, looser ones never remove one.
    for row in result.variants.to_pylist()[1:]:
        moved_the_wrong_way = row["entered"] if row["effect"] == "stricter" else row["left"]
        assert moved_the_wrong_way == 0, row["variant"]


def test_only_absolute_thresholds_are_moved():
    """Employment below 60 % (absolute) and turnout below 0.9 × the national average.

    The fixture's national turnout is 10,339 of 14,100 eligible voters (73.33 %; no count is
    suppressed), and 0.9 of it is 65.99 %: 0180C1010 (60), 0180C1020 (60), 1880C1010 (55) and
    0127C1010 (62) are below it among the screened areas (0127C1020 at 68 and 1880C1020 at 70
    are not). Of those, employment is below 60 in 0180C1010 (50), 1880C1010 (45) and 0127C1010
    (48): three selected areas. Employment 61 adds 0180C1020 (60); at 59 all three stay.
    """
    relative = criterion("voter_turnout", "below", {"kind": "national_ratio", "ratio": 0.9})
    ruleset = fixture_rules(criteria=[fixture_document()["criteria"][0], relative])
    assert [c.name for c in movable(ruleset)] == ["employment_rate"]
    result = sensitivity_of(ruleset, [1])
    assert column(result.variants, "variant") == [
        "baseline",
        "employment_rate +1 pp (61 %)",
        "employment_rate -1 pp (59 %)",
        "all criteria 1 pp adverse (stricter)",
        "all criteria 1 pp favourable (looser)",
    ]
    assert column(result.variants, "thresholds")[3] == "employment_rate < 59 %"
    assert column(result.variants, "selected_areas") == [3, 4, 3, 3, 4]
    assert column(result.variants, "eligible_codes")[0] == ["0127", "0180", "1880"]


def test_no_absolute_threshold_means_no_sensitivity_analysis(tmp_path: Path):
    relative = criterion("voter_turnout", "below", {"kind": "national_ratio", "ratio": 0.9})
    ruleset = fixture_rules(criteria=[relative])
    assert run_sensitivity(screened(fixture_frame(), ruleset), ruleset, [1]) is None
    index_path = paths.ruleset_path(2018).parent / "2018-index-scb-style.toml"
    index = load_ruleset(index_path)
    assert run_sensitivity(screened(fixture_frame(), index), index, [1]) is None
    path = tmp_path / "areas.parquet"
    fixture_frame().to_parquet(path)
    with pytest.raises(RulesetError, match="no absolute threshold to move") as error:
        screen_sensitivity(path, 2018, index_path, [1])
    assert str(index_path) in str(error.value)


def test_a_ruleset_other_than_the_screened_one_is_refused():
    con = screened(fixture_frame(), fixture_rules())
    other = fixture_rules(selection={"criteria_required": 3})
    assert run_sensitivity(con, other, [1.0]) is not None  # same criteria, other selection
    document = fixture_document()
    document["criteria"][0]["threshold"] = 61.0
    moved = parse_ruleset(document, Path("moved.toml"))
    with pytest.raises(RulesetError, match="screened with other criteria"):
        run_sensitivity(con, moved, [1.0])
