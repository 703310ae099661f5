"""Roll-up stage: areas to municipalities, and the list of eligible municipalities."""

from __future__ import annotations

import duckdb

from areascreen.db import run_step
from areascreen.ruleset import Ruleset


def roll_up(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> None:
    """Sum selected areas per municipality and apply the municipality rule."""
    rule = ruleset.municipality
    exact = rule.minimum_share_fraction
    run_step(
        con,
        "50_municipality_results",
        minimum_selected_areas=rule.minimum_selected_areas,
        minimum_population_in_selected_areas=rule.minimum_population_in_selected_areas,
        share_num=exact.numerator if exact is not None else None,
        share_den=exact.denominator if exact is not None else None,
        share_sd=rule.share_standard_deviations,
        spread_sd=rule.index_spread_standard_deviations,
        minimum_population=ruleset.selection.minimum_population,
    )
    run_step(con, "60_eligible_municipalities")
    run_step(con, "69_published_area_macros")
    run_step(con, "70_publication")
