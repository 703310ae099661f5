"""Ruleset files: the shipped 2018 ruleset, and clear errors naming the key for bad ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from areascreen.errors import RulesetError
from areascreen.paths import ruleset_path
from areascreen.ruleset import load_ruleset

RULESET_2018 = ruleset_path(2018)


def test_the_2018_ruleset_holds_the_published_criteria_and_budget():
    ruleset = load_ruleset(RULESET_2018)
    assert [(c.indicator, c.direction, c.threshold, c.published_national_average) for c in ruleset.criteria] == [
        ("employment_rate", "below", 60.0, 77.9),
        ("long_term_unemployment_rate", "above", 10.0, 4.3),
        ("low_education_rate", "above", 28.0, 14.2),
        ("voter_turnout", "below", 75.0, 85.8),
    ]  # fmt: skip
    assert ruleset.criteria_required == 4 and ruleset.rule_text == "all 4 criteria crossed"
    assert ruleset.budget_per_year[2018] == 425.0
    assert ruleset.budget_per_year[2019] == 1350.0
    assert {ruleset.budget_per_year[y] for y in range(2020, 2028)} == {2200.0}
    assert len(ruleset.sha256) == 64


def test_at_least_k_of_n_is_a_one_line_change(tmp_path):
    text = RULESET_2018.read_text(encoding="utf-8")
    changed = text.replace('criteria_required = "all"', "criteria_required = 3")
    assert sum(a != b for a, b in zip(text.splitlines(), changed.splitlines(), strict=True)) == 1
    path = tmp_path / "k.toml"
    path.write_text(changed, encoding="utf-8")
    ruleset = load_ruleset(path)
    assert ruleset.criteria_required == 3
    assert ruleset.rule_text == "at least 3 of 4 criteria crossed"


def write_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = RULESET_2018.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("minimum_population = 200", "minimum_populaton = 200", "unknown key selection.minimum_populaton"),
        ("minimum_population = 200", "minimum_population = \"200\"", "selection.minimum_population must be an integer"),
        ("minimum_population = 200", "minimum_population = -1", "selection.minimum_population must be 0 or more"),
        ('criteria_required = "all"', "criteria_required = 5", "selection.criteria_required must be \"all\" or a number from 1 to 4"),
        ('criteria_required = "all"', 'criteria_required = "most"', "selection.criteria_required"),
        ("threshold = 60.0", "threshold = 160.0", "criteria[1].threshold must be a percentage"),
        ('direction = "below"', 'direction = "under"', "criteria[1].direction must be one of below, above"),
        ('indicator = "voter_turnout"', 'indicator = "turnout"', "criteria[4].indicator must be one of"),
        ('indicator = "voter_turnout"', 'indicator = "employment_rate"', "criteria.indicator repeated: employment_rate"),
        ("2019 = 1350.0", "2019 = -1350.0", "budget.per_year.2019 must be a number 0 or more"),
        ("2019 = 1350.0", "year2019 = 1350.0", "budget.per_year.year2019: the key must be a four-digit year"),
        ("base_share = 0.5", "base_share = 1.5", "allocation.base_share must be a share between 0 and 1"),
        ('method = "base_plus_population"', 'method = "fixed_shares"', "allocation.fixed_shares must be given"),
        ("max_suppressed_share = 0.05", "max_suppressed_share = true", "quality.max_suppressed_share must be"),
        ("schema_version = 1", "schema_version = 2", "schema_version must be one of 1"),
        ("minimum_selected_areas = 1", "minimum_selected_areas = 0", "municipality.minimum_selected_areas must be 1 or more"),
    ],
)  # fmt: skip
def test_bad_values_are_rejected_naming_the_key(tmp_path, old, new, message):
    path = write_variant(tmp_path, old, new)
    with pytest.raises(RulesetError) as error:
        load_ruleset(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_a_missing_section_is_named(tmp_path):
    document = tomllib.loads(RULESET_2018.read_text(encoding="utf-8"))
    text = RULESET_2018.read_text(encoding="utf-8")
    cut = text[: text.index("[municipality]")] + text[text.index("[[criteria]]") :]
    path = tmp_path / "cut.toml"
    path.write_text(cut, encoding="utf-8")
    assert "municipality" in document
    with pytest.raises(RulesetError, match="missing key municipality"):
        load_ruleset(path)


def test_a_file_that_is_not_toml_is_rejected(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("criteria = [\n", encoding="utf-8")
    with pytest.raises(RulesetError, match="not a valid TOML file"):
        load_ruleset(path)
    with pytest.raises(RulesetError, match="cannot read the ruleset"):
        load_ruleset(tmp_path / "absent.toml")
