"""Flag stage: the ruleset's indicators and criteria as tables, joined with the areas in DuckDB.

The rules are rows, not columns: one row per indicator, per criterion and per index component.
The input's count columns are turned into one long table (area, indicator, numerator,
denominator) in Arrow without copying the counts, so the SQL steps never name a criterion.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from areascreen.db import run_step
from areascreen.paths import MUNICIPALITIES_CSV
from areascreen.ruleset import Ruleset


def indicators_table(ruleset: Ruleset) -> pa.Table:
    """One row per indicator the ruleset uses, with its published national average if given."""
    published = {
        c.indicator.name: c.published_national_average
        for c in ruleset.criteria
        if c.published_national_average is not None
    }
    indicators = ruleset.indicators
    return pa.table(
        {
            "indicator_id": pa.array(range(1, len(indicators) + 1), pa.int16()),
            "indicator": [i.name for i in indicators],
            "label": [i.label_en for i in indicators],
            "numerator_column": [i.numerator for i in indicators],
            "denominator_column": [i.denominator for i in indicators],
            "published_national_average": pa.array(
                [published.get(i.name) for i in indicators], pa.float64()
            ),
        }
    )


def _indicator_ids(ruleset: Ruleset) -> dict[str, int]:
    return {i.name: n for n, i in enumerate(ruleset.indicators, start=1)}


def criteria_table(ruleset: Ruleset) -> pa.Table:
    """One row per criterion: its indicator, direction and threshold (number and exact fraction)."""
    ids = _indicator_ids(ruleset)
    criteria = ruleset.criteria
    return pa.table(
        {
            "criterion_id": pa.array(range(1, len(criteria) + 1), pa.int16()),
            "criterion": pa.array([c.name for c in criteria], pa.string()),
            "indicator_id": pa.array([ids[c.indicator.name] for c in criteria], pa.int16()),
            "direction": pa.array([c.direction for c in criteria], pa.string()),
            "kind": pa.array([c.threshold.kind for c in criteria], pa.string()),
            "value": pa.array([c.threshold.value for c in criteria], pa.float64()),
            "value_num": pa.array([c.threshold.exact.numerator for c in criteria], pa.int64()),
            "value_den": pa.array([c.threshold.exact.denominator for c in criteria], pa.int64()),
            "weighted": pa.array([c.threshold.weighted for c in criteria], pa.bool_()),
            "required": pa.array([c.required for c in criteria], pa.bool_()),
            "borderline_persons": pa.array(
                [ruleset.selection.borderline_persons] * len(criteria), pa.int64()
            ),
        }
    )


def index_components_table(ruleset: Ruleset) -> pa.Table:
    """One row per component of the composite index (none when the ruleset has no index)."""
    ids = _indicator_ids(ruleset)
    components = ruleset.index.components if ruleset.index else ()
    return pa.table(
        {
            "indicator_id": pa.array([ids[c.indicator.name] for c in components], pa.int16()),
            "weight": pa.array([c.weight for c in components], pa.float64()),
            "worse": pa.array([1 if c.direction == "above" else -1 for c in components], pa.int8()),
        }
    )


def _as_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    return pa.Table.from_pandas(frame, preserve_index=False)


LONG_SCHEMA = pa.schema(
    [
        ("area_id", pa.int32()),
        ("indicator_id", pa.int16()),
        ("municipality_id", pa.int16()),
        ("population", pa.int64()),
        ("numerator", pa.int64()),
        ("denominator", pa.int64()),
        ("known", pa.bool_()),
    ]
)


def known_counts(numerator: pa.ChunkedArray, denominator: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether an area's counts are known: neither suppressed and the denominator above 0."""
    valid = pc.and_(pc.is_valid(numerator), pc.is_valid(denominator))
    return pc.and_(valid, pc.fill_null(pc.greater(denominator, 0), False))


def long_counts(
    table: pa.Table, ruleset: Ruleset, area_ids: pa.Array, municipality_ids: pa.Array
) -> pa.Table:
    """One row per area and indicator, the counts referenced, not copied, from the input."""
    rows = table.num_rows
    population = table.column(ruleset.population_column).cast(pa.int64())
    pieces = []
    for indicator_id, indicator in enumerate(ruleset.indicators, start=1):
        numerator = table.column(indicator.numerator).cast(pa.int64())
        denominator = table.column(indicator.denominator).cast(pa.int64())
        columns = {
            "area_id": area_ids,
            "indicator_id": pa.array(np.full(rows, indicator_id, dtype=np.int16)),
            "municipality_id": municipality_ids,
            "population": population,
            "numerator": numerator,
            "denominator": denominator,
            "known": known_counts(numerator, denominator),
        }
        pieces.append(pa.table(columns, schema=LONG_SCHEMA))
    if not pieces:
        return LONG_SCHEMA.empty_table()
    return in_batches(pa.concat_tables(pieces))


# Rows per Arrow batch handed to DuckDB: its scans share work out batch by batch, so a few
# batches of millions of rows would keep all but one thread idle. (Slices: no copy.)
BATCH_ROWS = 122_880


def in_batches(table: pa.Table) -> pa.Table:
    """The same table in batches of at most BATCH_ROWS rows, without copying."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=BATCH_ROWS), table.schema)


def municipality_keys(codes: pa.ChunkedArray) -> tuple[pa.Array, pa.Table]:
    """A small integer per municipality code (for joins), and the table of the codes."""
    encoded = pc.dictionary_encode(codes.combine_chunks()) if codes.num_chunks else None
    if encoded is None or len(encoded) == 0:
        empty = pa.table({"municipality_id": pa.array([], pa.int16()), "municipality_code": []})
        return pa.array([], pa.int16()), empty
    ids = encoded.indices.cast(pa.int16())
    keys = pa.table(
        {
            "municipality_id": pa.array(range(len(encoded.dictionary)), pa.int16()),
            "municipality_code": encoded.dictionary.cast(pa.string()),
        }
    )
    return ids, keys


def area_ids_in_code_order(codes: pa.ChunkedArray) -> pa.Array:
    """Each area's id: its place in area code order (equal codes in file order, missing codes
    last), so that ordering by id orders by code without comparing text. A file already in
    code order, the usual case, is checked in one pass and numbered as it stands."""
    rows = len(codes)
    in_file_order = np.arange(rows, dtype=np.int32)
    if rows < 2:
        return pa.array(in_file_order)
    if codes.null_count == 0:
        descending = pc.less(codes.slice(1), codes.slice(0, rows - 1))
        if not pc.any(descending).as_py():
            return pa.array(in_file_order)
    order = pc.sort_indices(codes).to_numpy()  # stable; missing values last
    ids = np.empty(rows, dtype=np.int32)
    ids[order] = in_file_order
    return pa.array(ids)


def register_municipalities(con: duckdb.DuckDBPyConnection) -> None:
    """Make the reference list of municipalities available to step 00 as `municipality_list`."""
    relation = con.read_csv(str(MUNICIPALITIES_CSV), header=True, all_varchar=True)
    con.register("municipality_list", relation)


def load_areas(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame | pa.Table,
    ruleset: Ruleset,
    national_only: pd.DataFrame | pa.Table | None = None,
) -> None:
    """Register the validated input as Arrow and define the views `areas` and `area_indicators`
    over it: the input and its long form stay registered, read where they are, never copied."""
    table = _as_arrow(frame)
    area_ids = area_ids_in_code_order(table.column("area_code"))
    municipality_ids, keys = municipality_keys(table.column("municipality_code"))
    areas = pa.table(
        {
            "area_id": area_ids,
            "municipality_id": municipality_ids,
            "area_code": table.column("area_code"),
            "area_name": table.column("area_name"),
            "municipality_code": table.column("municipality_code"),
            "year": table.column("year"),
            "population": table.column(ruleset.population_column),
        }
    )
    extra = _as_arrow(national_only) if national_only is not None else table.slice(0, 0)
    extra_counts = long_counts(
        extra,
        ruleset,
        pa.array(np.arange(extra.num_rows, dtype=np.int32)),
        pa.array(np.full(extra.num_rows, -1, dtype=np.int16)),
    )
    register_municipalities(con)
    con.register("input_areas", in_batches(areas))
    con.register("area_municipalities", keys)
    con.register("indicator_counts", long_counts(table, ruleset, area_ids, municipality_ids))
    con.register("national_only_counts", extra_counts)
    con.register("indicator_rows", indicators_table(ruleset))
    con.register("criterion_rows", criteria_table(ruleset))
    con.register("index_component_rows", index_components_table(ruleset))
    run_step(con, "00_areas")
    for name in (
        "area_municipalities",
        "indicator_rows",
        "criterion_rows",
        "index_component_rows",
        "municipality_list",
    ):
        con.unregister(name)


def selection_parameters(ruleset: Ruleset) -> dict[str, Any]:
    """The selection rule as the SQL steps take it: the method, how many criteria that are not
    required an area must cross, and the selected index classes (a list never empty)."""
    selection = ruleset.selection
    return {
        "method": selection.method,
        "criteria_required": selection.criteria_required,
        "selected_classes": list(selection.selected_classes) or [0],
    }


def flag_areas(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> None:
    """National and county averages, every area's criteria, its index, and its selection."""
    selection = ruleset.selection
    run_step(con, "05_macros")
    run_step(con, "10_national_averages", minimum_population=selection.minimum_population)
    run_step(con, "15_criterion_thresholds")
    run_step(con, "18_criterion_ranks", minimum_population=selection.minimum_population)
    run_step(con, "20_area_criteria")
    index = ruleset.index
    run_step(
        con,
        "30_area_index",
        minimum_population=selection.minimum_population,
        index_weighted=bool(index and index.weighted),
        class_cuts=list(index.class_cuts) if index else [],
    )
    run_step(
        con,
        "40_area_results",
        minimum_population=selection.minimum_population,
        **selection_parameters(ruleset),
    )
