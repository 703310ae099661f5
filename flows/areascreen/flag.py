"""Flag stage: rate, deviation and threshold crossing per area and criterion, then selection."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from areascreen.db import run_step
from areascreen.ruleset import Ruleset


def criteria_table(ruleset: Ruleset) -> pa.Table:
    """The ruleset's criteria as a table, in the ruleset's order."""
    return pa.table(
        {
            "position": pa.array(range(1, len(ruleset.criteria) + 1), pa.int32()),
            "indicator": [c.indicator for c in ruleset.criteria],
            "direction": [c.direction for c in ruleset.criteria],
            "threshold": pa.array([c.threshold for c in ruleset.criteria], pa.float64()),
            "published_national_average": pa.array(
                [c.published_national_average for c in ruleset.criteria], pa.float64()
            ),
        }
    )


def load_areas(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame | pa.Table) -> None:
    """Put the validated input into the database as the typed `areas` table."""
    con.register("input_areas", frame)
    run_step(con, "00_areas")
    con.unregister("input_areas")


def flag_areas(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> None:
    """Compute national averages, per-criterion results and the selection of every area."""
    con.register("criteria", criteria_table(ruleset))
    run_step(con, "05_macros")
    run_step(con, "10_national_averages")
    run_step(
        con,
        "20_area_results",
        minimum_population=ruleset.minimum_population,
        criteria_required=ruleset.criteria_required,
    )
    run_step(con, "30_area_criteria")
