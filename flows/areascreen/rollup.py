"""Roll-up stage: areas to municipalities, and the list of eligible municipalities."""

from __future__ import annotations

from pathlib import Path

import duckdb

from areascreen.db import run_step
from areascreen.paths import MUNICIPALITIES_CSV
from areascreen.ruleset import Ruleset


def register_municipalities(
    con: duckdb.DuckDBPyConnection, path: Path = MUNICIPALITIES_CSV
) -> None:
    """Make the reference list of municipalities available as `municipalities`."""
    relation = con.read_csv(str(path), header=True, all_varchar=True)
    con.register("municipalities", relation)


def roll_up(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> None:
    """Sum selected areas per municipality and apply the municipality rule."""
    register_municipalities(con)
    run_step(
        con,
        "40_municipality_results",
        minimum_selected_areas=ruleset.minimum_selected_areas,
        minimum_population_in_selected_areas=ruleset.minimum_population_in_selected_areas,
    )
    run_step(con, "50_eligible_municipalities")
