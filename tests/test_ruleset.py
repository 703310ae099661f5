"""Ruleset files: the shipped 2018 ruleset, and clear errors naming the file and key for bad ones."""

from __future__ import annotations

import tomllib
from fractions import Fraction
from pathlib import Path

import pytest

from areascreen.errors import RulesetError
from areascreen.paths import ruleset_path
from areascreen.ruleset import load_catalogue, load_ruleset

RULESET_2018 = ruleset_path(2018)
CATALOGUE = (
    "employment_rate",
    "income_support_rate",
    "long_term_unemployment_rate",
    "low_economic_standard_rate",
    "low_education_rate",
    "low_income_rate",
    "open_unemployment_rate",
    "outside_labour_market_rate",
    "post_secondary_education_rate",
    "unemployment_programme_rate",
    "voter_turnout",
)
# The criterion the variants below rewrite: the first one, employment rate below 60 %.
FIRST_CRITERION = 'indicator = "employment_rate"\ndirection = "below"\nthreshold = 60.0'


def test_the_2018_ruleset_holds_the_published_criteria_and_budget():
    ruleset = load_ruleset(RULESET_2018)
    assert ruleset.division.name == "deso2018"
    assert [
        (c.name, c.indicator.name, c.direction, c.threshold.kind, c.threshold.value,
         c.threshold.exact, c.published_national_average, c.required)
        for c in ruleset.criteria
    ] == [
        ("employment_rate", "employment_rate", "below", "absolute", 60.0, Fraction(60), 77.9, False),
        ("long_term_unemployment_rate", "long_term_unemployment_rate", "above", "absolute", 10.0,
         Fraction(10), 4.3, False),
        ("low_education_rate", "low_education_rate", "above", "absolute", 28.0, Fraction(28), 14.2,
         False),
        ("voter_turnout", "voter_turnout", "below", "absolute", 75.0, Fraction(75), 85.8, False),
    ]  # fmt: skip
    assert [c.describe() for c in ruleset.criteria] == [
        "Employment rate below 60 %",
        "Long-term unemployment above 10 %",
        "Low education above 28 %",
        "Voter turnout below 75 %",
    ]
    assert ruleset.selection.method == "criteria" and ruleset.index is None
    assert ruleset.criteria_required == 4 and ruleset.rule_text == "all 4 criteria crossed"
    assert (ruleset.minimum_population, ruleset.selection.borderline_persons) == (200, 5)
    assert ruleset.budget_per_year[2018] == 425.0
    assert ruleset.budget_per_year[2019] == 1350.0
    assert {ruleset.budget_per_year[y] for y in range(2020, 2028)} == {2200.0}
    assert ruleset.max_suppressed_share == 0.05
    assert len(ruleset.sha256) == 64


def test_the_2018_ruleset_needs_the_key_columns_and_the_counts_of_its_four_indicators():
    columns = load_ruleset(RULESET_2018).input_columns
    assert columns.text == ("area_code", "area_name", "municipality_code")
    assert columns.integers == (
        "year", "population", "employed", "population_20_64", "long_term_unemployed",
        "population_16_64", "low_educated", "population_25_64", "voters", "eligible_voters",
    )  # fmt: skip


def test_the_catalogue_holds_the_four_2018_indicators_and_the_later_ones():
    catalogue = load_catalogue()
    assert tuple(sorted(catalogue)) == CATALOGUE
    turnout = catalogue["voter_turnout"]
    assert (turnout.numerator, turnout.denominator, turnout.unit) == (
        "voters",
        "eligible_voters",
        "percent",
    )
    assert (turnout.label("en"), turnout.label("sv")) == ("Voter turnout", "Valdeltagande")


def test_at_least_k_of_n_is_a_one_line_change(tmp_path):
    text = RULESET_2018.read_text(encoding="utf-8")
    changed = text.replace('criteria_required = "all"', "criteria_required = 3")
    assert sum(a != b for a, b in zip(text.splitlines(), changed.splitlines(), strict=True)) == 1
    path = tmp_path / "k.toml"
    path.write_text(changed, encoding="utf-8")
    ruleset = load_ruleset(path)
    assert ruleset.criteria_required == 3
    assert ruleset.rule_text == "at least 3 of 4 criteria crossed"


def write_variant(tmp_path: Path, *changes: tuple[str, str], extra: str = "") -> Path:
    """The 2018 ruleset with text replaced (each `old` must occur) and `extra` appended."""
    text = RULESET_2018.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "variant.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    """The error message of loading a ruleset that must be refused; it names the file."""
    with pytest.raises(RulesetError) as error:
        load_ruleset(path)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    return message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("minimum_population = 200", "minimum_populaton = 200", "unknown key selection.minimum_populaton"),
        ("minimum_population = 200", "minimum_population = \"200\"", "selection.minimum_population must be an integer"),
        ("minimum_population = 200", "minimum_population = -1", "selection.minimum_population must be 0 or more"),
        ("borderline_persons = 5", "borderline_persons = -5", "selection.borderline_persons must be 0 or more"),
        ('criteria_required = "all"', "criteria_required = 5", "selection.criteria_required must be \"all\" or a number from 0 to 4 (the criteria that are not required), got 5"),
        ('criteria_required = "all"', 'criteria_required = "most"', "selection.criteria_required must be \"all\" or a number from 0 to 4"),
        ("threshold = 60.0", "threshold = 160.0", "criteria[1].threshold.value (a rate in per cent) must be a percentage between 0 and 100, got 160.0"),
        ('direction = "below"', 'direction = "under"', "criteria[1].direction must be one of below, above"),
        ("published_national_average = 77.9", "published_national_average = 177.9", "criteria[1].published_national_average must be a percentage"),
        ("published_national_average = 77.9", "national_average = 77.9", "unknown key criteria[1].national_average"),
        ('indicator = "voter_turnout"', 'indicator = "employment_rate"', "criteria name repeated: employment_rate"),
        ("2019 = 1350.0", "2019 = -1350.0", "budget.per_year.2019 must be a number 0 or more"),
        ("2019 = 1350.0", "year2019 = 1350.0", "budget.per_year.year2019: the key must be a four-digit year"),
        ("base_share = 0.5", "base_share = 1.5", "allocation.base_share must be a share between 0 and 1"),
        ('method = "base_plus_population"', 'method = "fixed_shares"', "allocation.fixed_shares must be given"),
        ("max_suppressed_share = 0.05", "max_suppressed_share = true", "quality.max_suppressed_share must be"),
        ("schema_version = 2", "schema_version = 3", "schema_version must be one of 2, got 3"),
        ("minimum_selected_areas = 1", "minimum_selected_areas = 0", "municipality.minimum_selected_areas must be 1 or more"),
        ('division = "deso2018"', "", "missing key division"),
    ],
)  # fmt: skip
def test_bad_values_are_rejected_naming_the_key(tmp_path, old, new, message):
    assert message in refused(write_variant(tmp_path, (old, new)))


def test_schema_version_1_is_refused_pointing_to_version_2(tmp_path):
    message = refused(write_variant(tmp_path, ("schema_version = 2", "schema_version = 1")))
    assert "schema_version 1 is no longer read; write it as schema_version = 2" in message
    assert 'division = "deso2018"' in message


def test_an_unknown_division_is_named_with_the_known_ones(tmp_path):
    message = refused(write_variant(tmp_path, ('division = "deso2018"', 'division = "deso2030"')))
    assert message.endswith(
        "division: unknown area division 'deso2030'; known divisions: deso2018, deso2025, "
        "election_districts, regso2020, regso2025"
    )


def test_an_unknown_indicator_is_named_with_the_known_ones(tmp_path):
    path = write_variant(tmp_path, ('indicator = "voter_turnout"', 'indicator = "turnout"'))
    message = refused(path)
    assert message == (
        f"{path}: criteria[4].indicator 'turnout' is neither in the catalogue nor defined in "
        f"[indicators]; known indicators: {', '.join(CATALOGUE)}"
    )


@pytest.mark.parametrize(
    ("table", "kind", "number", "exact", "words"),
    [
        ('{ kind = "absolute", value = 59.5 }', "absolute", 59.5, Fraction(119, 2), "below 59.5 %"),
        ('{ kind = "national_ratio", ratio = 0.75 }', "national_ratio", 0.75, Fraction(3, 4),
         "below 0.75 × the national average"),
        ('{ kind = "national_difference", points = 15 }', "national_difference", 15.0,
         Fraction(15), "below the national average by more than 15 pp"),
        ('{ kind = "county_ratio", ratio = 0.8 }', "county_ratio", 0.8, Fraction(4, 5),
         "below 0.8 × the county's average"),
        ('{ kind = "county_difference", points = 12.5 }', "county_difference", 12.5,
         Fraction(25, 2), "below the county's average by more than 12.5 pp"),
        ('{ kind = "standard_deviations", value = 1.5, weighted = true }', "standard_deviations",
         1.5, Fraction(3, 2),
         "more than 1.5 standard deviations below the population-weighted mean over areas"),
        ('{ kind = "rank_share_of_areas", share = 10 }', "rank_share_of_areas", 10.0, Fraction(10),
         "among the worst 10 % of areas"),
        ('{ kind = "rank_population_share", share = 20 }', "rank_population_share", 20.0,
         Fraction(20), "among the worst areas holding 20 % of the population"),
    ],
)  # fmt: skip
def test_every_threshold_kind_is_read_from_a_table(tmp_path, table, kind, number, exact, words):
    path = write_variant(tmp_path, ("threshold = 60.0", f"threshold = {table}"))
    threshold = load_ruleset(path).criteria[0].threshold
    assert (threshold.kind, threshold.value, threshold.exact) == (kind, number, exact)
    assert threshold.weighted is (kind == "standard_deviations")
    assert threshold.describe("below") == words


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('{ kind = "relative", value = 2 }', "criteria[1].threshold.kind must be one of absolute, national_ratio, national_difference, county_ratio, county_difference, standard_deviations, rank_share_of_areas, rank_population_share, got 'relative'"),
        ("{ value = 60 }", "criteria[1].threshold.kind must be one of absolute"),
        ('{ kind = "national_ratio", value = 2 }', "unknown key criteria[1].threshold.value"),
        ('{ kind = "national_ratio" }', "missing key criteria[1].threshold.ratio"),
        ('{ kind = "national_ratio", ratio = 0 }', "criteria[1].threshold.ratio (times the national average) must be greater than 0, got 0"),
        ('{ kind = "county_ratio", ratio = -1.5 }', "criteria[1].threshold.ratio (times the county's average) must be greater than 0"),
        ('{ kind = "national_difference", points = 101 }', "criteria[1].threshold.points (percentage points beyond the national average) must be between -100 and 100, got 101"),
        ('{ kind = "county_difference", points = -100.5 }', "criteria[1].threshold.points (percentage points beyond the county's average) must be between -100 and 100"),
        ('{ kind = "standard_deviations", value = 1 }', "missing key criteria[1].threshold.weighted"),
        ('{ kind = "standard_deviations", value = 11, weighted = false }', "criteria[1].threshold.value (standard deviations beyond the mean over areas) must be between -10 and 10, got 11"),
        ('{ kind = "standard_deviations", value = 1, weighted = "yes" }', "criteria[1].threshold.weighted must be true or false"),
        ('{ kind = "rank_share_of_areas", share = 120 }', "criteria[1].threshold.share (per cent of screened areas, worst first) must be a percentage between 0 and 100"),
        ('{ kind = "rank_population_share", share = -1 }', "criteria[1].threshold.share (per cent of the screened population, worst areas first) must be a percentage"),
        ('{ kind = "absolute", value = "60" }', "criteria[1].threshold.value must be an integer or a number, got '60'"),
        ('"60"', "criteria[1].threshold must be an integer or a number or a table, got '60'"),
        ("nan", "criteria[1].threshold.value (a rate in per cent) must be a percentage"),
    ],
)  # fmt: skip
def test_threshold_tables_are_checked_for_their_kind(tmp_path, table, message):
    assert message in refused(write_variant(tmp_path, ("threshold = 60.0", f"threshold = {table}")))


def test_more_than_nine_decimals_are_refused_naming_the_key(tmp_path):
    path = write_variant(tmp_path, ("threshold = 10.0", "threshold = 10.0000000001"))
    assert refused(path) == (
        f"{path}: criteria[2].threshold.value has 10 decimals; at most 9 are compared exactly, "
        "got 10.0000000001"
    )
    table = '{ kind = "national_ratio", ratio = 1.1234567891 }'
    path = write_variant(tmp_path, ("threshold = 60.0", f"threshold = {table}"))
    assert "criteria[1].threshold.ratio has 10 decimals" in refused(path)


def test_a_threshold_is_kept_as_the_exact_decimal_written(tmp_path):
    path = write_variant(
        tmp_path,
        ("threshold = 60.0", "threshold = 33.33334"),
        ("threshold = 10.0", "threshold = 0.1"),
    )
    first, second, *_ = load_ruleset(path).criteria
    # Not the binary double nearest to 33.33334 (a fraction with a power of 2 below it).
    assert first.threshold.exact == Fraction("3333334/100000") == Fraction(1666667, 50000)
    assert first.threshold.exact != Fraction(33.33334)
    assert second.threshold.exact == Fraction(1, 10)
    path = write_variant(tmp_path, ("threshold = 60.0", "threshold = 33.333333333"))
    assert load_ruleset(path).criteria[0].threshold.exact == Fraction(33333333333, 10**9)


def test_required_criteria_and_at_least_k_of_the_rest(tmp_path):
    required = FIRST_CRITERION + "\nrequired = true"
    path = write_variant(
        tmp_path,
        (FIRST_CRITERION, required),
        ('criteria_required = "all"', "criteria_required = 2"),
    )
    ruleset = load_ruleset(path)
    assert [c.required for c in ruleset.criteria] == [True, False, False, False]
    assert ruleset.criteria_required == 2
    assert ruleset.rule_text == (
        "1 required criterion crossed and at least 2 of 3 other criteria crossed"
    )
    path = write_variant(tmp_path, (FIRST_CRITERION, required))
    ruleset = load_ruleset(path)
    assert ruleset.criteria_required == 3
    assert ruleset.rule_text == "1 required criterion crossed and all 3 other criteria crossed"
    # k counts the criteria that are not required: 3 here, so 4 is too many.
    path = write_variant(
        tmp_path,
        (FIRST_CRITERION, required),
        ('criteria_required = "all"', "criteria_required = 4"),
    )
    assert 'selection.criteria_required must be "all" or a number from 0 to 3' in refused(path)
    path = write_variant(tmp_path, (FIRST_CRITERION, FIRST_CRITERION + '\nrequired = "yes"'))
    assert "criteria[1].required must be true or false" in refused(path)


def test_selection_by_criteria_needs_criteria(tmp_path):
    text = RULESET_2018.read_text(encoding="utf-8")
    cut = text[: text.index("[[criteria]]")] + text[text.index("[budget]") :]
    path = tmp_path / "no-criteria.toml"
    path.write_text(cut, encoding="utf-8")
    assert "selection by criteria needs at least one [[criteria]]" in refused(path)


INDEX = """
[index]
class_cuts = [-1.0, 1.0]
components = [
    { indicator = "employment_rate", direction = "below" },
    { indicator = "voter_turnout", direction = "below", weight = 2.0 },
]
"""
BY_INDEX = ('criteria_required = "all"', 'method = "index"\nselected_classes = [3]')


def test_selection_by_index_needs_an_index_table(tmp_path):
    path = write_variant(tmp_path, BY_INDEX)
    assert refused(path).endswith('selection.method = "index" needs an [index] table')
    spread = "minimum_selected_areas = 1\nindex_spread_standard_deviations = 1.0"
    path = write_variant(tmp_path, ("minimum_selected_areas = 1", spread))
    assert "municipality.index_spread_standard_deviations needs an [index] table" in refused(path)


def test_an_index_with_two_cuts_has_three_classes(tmp_path):
    ruleset = load_ruleset(write_variant(tmp_path, BY_INDEX, extra=INDEX))
    assert ruleset.selection.method == "index"
    assert ruleset.index is not None and ruleset.index.classes == 3
    assert ruleset.index.class_labels == ("1", "2", "3")
    assert [(c.indicator.name, c.direction, c.weight) for c in ruleset.index.components] == [
        ("employment_rate", "below", 1.0),
        ("voter_turnout", "below", 2.0),
    ]
    assert ruleset.selection.selected_classes == (3,)
    assert ruleset.rule_text == "composite index in class 3 of 3"


@pytest.mark.parametrize(
    ("classes", "shown"),
    [("[4]", "[4]"), ("[0]", "[0]"), ("[]", "[]"), ("[true]", "[True]"), ('["3"]', "['3']")],
)  # fmt: skip
def test_selected_classes_must_be_classes_of_the_index(tmp_path, classes, shown):
    selection = ('criteria_required = "all"', f'method = "index"\nselected_classes = {classes}')
    message = refused(write_variant(tmp_path, selection, extra=INDEX))
    assert message.endswith(
        f"selection.selected_classes must list class numbers from 1 to 3, got {shown}"
    )
    selection = ('criteria_required = "all"', 'method = "index"\nselected_classes = 3')
    message = refused(write_variant(tmp_path, selection, extra=INDEX))
    assert message.endswith("selection.selected_classes must be a list, got 3")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("class_cuts = [-1.0, 1.0]", "class_cuts = [1.0, -1.0]", "index.class_cuts must be increasing numbers"),
        ("class_cuts = [-1.0, 1.0]", "class_cuts = [1.0, 1.0]", "index.class_cuts must be increasing numbers"),
        ("class_cuts = [-1.0, 1.0]", "class_cuts = []", "index.class_cuts must give at least one cut"),
        ("class_cuts = [-1.0, 1.0]", 'class_cuts = [-1.0, 1.0]\nclass_labels = ["low", "high"]', "index.class_labels must give 3 labels"),
        ("weight = 2.0", "weight = 0", "index.components[2].weight must be greater than 0"),
        ('indicator = "voter_turnout", direction', 'indicator = "turnout", direction', "index.components[2].indicator 'turnout' is neither in the catalogue"),
    ],
)  # fmt: skip
def test_index_tables_are_checked(tmp_path, old, new, message):
    assert old in INDEX
    path = write_variant(tmp_path, BY_INDEX, extra=INDEX.replace(old, new))
    assert message in refused(path)


OWN_INDICATOR = """
[indicators.foreign_born_rate]
label_en = "Born abroad"
label_sv = "Utrikes födda"
numerator = "foreign_born"
denominator = "population"
unit = "percent"
description = "Share of residents born abroad."
"""


def test_a_criterion_can_use_an_indicator_the_ruleset_defines(tmp_path):
    criterion = 'indicator = "foreign_born_rate"\ndirection = "above"\nthreshold = 40.0'
    path = write_variant(tmp_path, (FIRST_CRITERION, criterion), extra=OWN_INDICATOR)
    ruleset = load_ruleset(path)
    own = ruleset.criteria[0]
    assert (own.name, own.indicator.numerator, own.indicator.denominator) == (
        "foreign_born_rate",
        "foreign_born",
        "population",
    )
    assert own.describe() == "Born abroad above 40 %"
    assert [i.name for i in ruleset.indicators] == [
        "foreign_born_rate",
        "long_term_unemployment_rate",
        "low_education_rate",
        "voter_turnout",
    ]
    # The population column serves as a denominator too; it is needed once.
    assert ruleset.input_columns.integers == (
        "year", "population", "foreign_born", "long_term_unemployed", "population_16_64",
        "low_educated", "population_25_64", "voters", "eligible_voters",
    )  # fmt: skip


def test_a_ruleset_may_not_redefine_a_catalogue_indicator(tmp_path):
    extra = OWN_INDICATOR.replace("foreign_born_rate]", "employment_rate]")
    message = refused(write_variant(tmp_path, extra=extra))
    assert message.endswith(
        "indicators.employment_rate is already in the catalogue (indicators.toml); use it by "
        "name or give yours another name"
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('unit = "percent"', 'unit = "per mille"', "indicators.foreign_born_rate.unit must be one of percent"),
        ('numerator = "foreign_born"', 'numerator = "Foreign born"', "indicators.foreign_born_rate.numerator must be a column name"),
        ('description = "Share of residents born abroad."\n', "", "missing key indicators.foreign_born_rate.description"),
        ("[indicators.foreign_born_rate]", "[indicators.Foreign]", "indicators.Foreign: an indicator name must be like 'employment_rate'"),
    ],
)  # fmt: skip
def test_own_indicators_are_checked_naming_the_key(tmp_path, old, new, message):
    assert old in OWN_INDICATOR
    assert message in refused(write_variant(tmp_path, extra=OWN_INDICATOR.replace(old, new)))


def test_a_ruleset_of_one_criterion_needs_only_its_columns(tmp_path):
    ruleset = load_ruleset(ruleset_path(2018).parent / "2018-election-districts-turnout.toml")
    assert [c.name for c in ruleset.criteria] == ["voter_turnout"]
    assert ruleset.division.name == "election_districts"
    assert ruleset.input_columns.integers == ("year", "eligible_voters", "voters")


def test_a_missing_section_is_named(tmp_path):
    document = tomllib.loads(RULESET_2018.read_text(encoding="utf-8"))
    text = RULESET_2018.read_text(encoding="utf-8")
    cut = text[: text.index("[municipality]")] + text[text.index("[[criteria]]") :]
    path = tmp_path / "cut.toml"
    path.write_text(cut, encoding="utf-8")
    assert "municipality" in document
    assert refused(path) == f"{path}: missing key municipality"


def test_a_file_that_is_not_toml_is_rejected(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("criteria = [\n", encoding="utf-8")
    with pytest.raises(RulesetError, match="not a valid TOML file"):
        load_ruleset(path)
    with pytest.raises(RulesetError, match="cannot read the ruleset"):
        load_ruleset(tmp_path / "absent.toml")
