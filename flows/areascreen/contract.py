"""The input data contract: one row per area and year, with counts for every indicator."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    """A rate computed as numerator / denominator, in per cent."""

    name: str
    numerator: str
    denominator: str
    description: str


INDICATORS: dict[str, Indicator] = {
    i.name: i
    for i in (
        Indicator(
            "employment_rate",
            "employed",
            "population_20_64",
            "Share of residents aged 20-64 who are gainfully employed",
        ),
        Indicator(
            "long_term_unemployment_rate",
            "long_term_unemployed",
            "population_16_64",
            "Share of residents aged 16-64 registered as unemployed for more than a year",
        ),
        Indicator(
            "low_education_rate",
            "low_educated",
            "population_25_64",
            "Share of residents aged 25-64 with at most compulsory schooling",
        ),
        Indicator(
            "voter_turnout",
            "voters",
            "eligible_voters",
            "Share of eligible voters who voted in the general election",
        ),
    )
}

IDENTIFIER_COLUMNS: tuple[str, ...] = ("area_code", "area_name", "municipality_code", "year")
COUNT_COLUMNS: tuple[str, ...] = (
    "population",
    *(column for i in INDICATORS.values() for column in (i.numerator, i.denominator)),
)
INPUT_COLUMNS: tuple[str, ...] = IDENTIFIER_COLUMNS + COUNT_COLUMNS
