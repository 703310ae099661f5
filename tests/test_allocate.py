"""Allocation: exact sums, the largest-remainder method, and deterministic ties."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from areascreen.allocate import (
    AllocationError,
    Recipient,
    allocate_year,
    allocate_years,
    largest_remainder,
)
from areascreen.paths import ruleset_path
from areascreen.ruleset import Allocation, load_ruleset

HALF_AND_HALF = Allocation(method="base_plus_population", base_share=0.5, rounding_unit=0.1)
BY_POPULATION = Allocation(method="base_plus_population", base_share=0.0, rounding_unit=0.1)


def amounts(grants) -> dict[str, Fraction]:
    return {g.municipality_code: g.amount for g in grants}


def test_hand_computed_example():
    # Budget 10.0 = 100 units of 0.1. Weights: 1/6 + 1/2 * population share.
    # 1,000 and 1,000 of 4,000: 7/24 each -> 29.17 units; 2,000: 10/24 -> 41.67 units.
    # Floors 29 + 29 + 41 = 99; the one unit left goes to the largest remainder (0.67).
    recipients = [Recipient("0180", "Stockholm", 2000), Recipient("1280", "Malmö", 1000),
                  Recipient("1880", "Örebro", 1000)]  # fmt: skip
    grants = allocate_year(recipients, 10.0, 2018, HALF_AND_HALF)
    assert amounts(grants) == {
        "0180": Fraction(42, 10),
        "1280": Fraction(29, 10),
        "1880": Fraction(29, 10),
    }
    assert [g.share for g in grants] == [Fraction(10, 24), Fraction(7, 24), Fraction(7, 24)]


def test_equal_remainders_go_to_the_larger_population_then_the_lower_code():
    equal = [Recipient("0117", "C", 500), Recipient("0114", "A", 500), Recipient("0115", "B", 500)]
    grants = allocate_year(equal, 1.0, 2018, BY_POPULATION)
    assert amounts(grants) == {
        "0114": Fraction(4, 10),
        "0115": Fraction(3, 10),
        "0117": Fraction(3, 10),
    }
    reordered = allocate_year(list(reversed(equal)), 1.0, 2018, BY_POPULATION)
    assert amounts(reordered) == amounts(grants)
    bigger_last = [*equal[:2], Recipient("0115", "B", 501)]
    assert amounts(allocate_year(bigger_last, 0.1, 2018, BY_POPULATION)) == {
        "0114": 0, "0115": Fraction(1, 10), "0117": 0,
    }  # fmt: skip


def test_largest_remainder_adds_up_for_thousands_of_recipients_and_every_budget():
    rng = random.Random(20180301)
    recipients = [
        Recipient(f"{i:04d}", f"M{i}", rng.choice([0, 1, 1, 7, 1000, rng.randrange(10**6)]))
        for i in range(3000)
    ]
    ruleset = load_ruleset(ruleset_path(2018))
    for key in (HALF_AND_HALF, BY_POPULATION, ruleset.allocation):
        grants = allocate_years(recipients, ruleset.budget_per_year, range(2018, 2028), key)
        for year, budget in ruleset.budget_per_year.items():
            year_amounts = [g.amount for g in grants if g.year == year]
            assert sum(year_amounts) == Fraction(str(budget))
            assert all((a / Fraction(1, 10)).denominator == 1 for a in year_amounts)
            assert sum(g.share for g in grants if g.year == year) == 1


def test_one_municipality_gets_everything():
    grants = allocate_year([Recipient("1880", "Örebro", 12)], 2200.0, 2020, HALF_AND_HALF)
    assert [(g.amount, g.share) for g in grants] == [(2200, 1)]


def test_no_population_in_selected_areas_falls_back_to_equal_shares():
    grants = allocate_year(
        [Recipient("0114", "A", 0), Recipient("0115", "B", 0)], 425.0, 2018, BY_POPULATION
    )
    assert amounts(grants) == {"0114": Fraction(2125, 10), "0115": Fraction(2125, 10)}


def test_fixed_shares_must_match_the_eligible_list():
    fixed = Allocation(method="fixed_shares", base_share=0.0, rounding_unit=0.1,
                       fixed_shares={"0180": 0.75, "1280": 0.25})  # fmt: skip
    grants = allocate_year(
        [Recipient("0180", "S", 1), Recipient("1280", "M", 1)], 425.0, 2018, fixed
    )
    # 318.75 and 106.25 are half a unit off: the tie on remainders goes to the lower code.
    assert amounts(grants) == {"0180": Fraction(3188, 10), "1280": Fraction(1062, 10)}
    with pytest.raises(AllocationError, match="without a share: 1880; not eligible: 1280"):
        allocate_year([Recipient("0180", "S", 1), Recipient("1880", "O", 1)], 425.0, 2018, fixed)


def test_budget_must_be_a_whole_number_of_units_and_exist_for_the_year():
    with pytest.raises(AllocationError, match="not a whole number of rounding units"):
        allocate_year([Recipient("0180", "S", 1)], 10.05, 2018, HALF_AND_HALF)
    with pytest.raises(AllocationError, match="no budget for 2030"):
        allocate_years([Recipient("0180", "S", 1)], {2018: 425.0}, [2030], HALF_AND_HALF)


def test_largest_remainder_on_exact_quotas():
    quotas = {"a": Fraction(5, 2), "b": Fraction(5, 2)}
    assert largest_remainder(quotas, 5, ["b", "a"]) == {"a": 2, "b": 3}
