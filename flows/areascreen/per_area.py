"""The per-area result tables of a publication, left in DuckDB until they are written.

`area_results` has a row per area and `area_criteria` a row per area and criterion: at ten
million areas, tens of millions of rows. They are never fetched whole: the publication reads
them in slices of areas, each sorted by area code on its own (the table macros of
`sql/69_published_area_macros.sql`), and writes slice after slice, so that memory holds one slice at a
time and the files come out in area code order.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa

from areascreen.db import fetch_table, run_step

# Rows read at a time: a slice holds this many rows (at least one area's).
SLICE_ROWS = 500_000
# The query for one slice of each per-area table, areas first_area <= area_id < end_area.
SLICE_QUERIES = {
    "area_results": "FROM published_area_results_between($first_area, $end_area)",
    "area_criteria": "FROM published_area_criteria_between($first_area, $end_area)",
}


class PerAreaExtent:
    """How far the per-area tables of a screened connection reach (`sql/72_per_area_extent`):
    the first and last area id, the number of areas and of area × criterion rows; counted once,
    when first asked for, for both tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._counts: dict[str, int] | None = None

    @property
    def counts(self) -> dict[str, int]:
        """`first_area`, `last_area`, `areas` and `criterion_rows`."""
        if self._counts is None:
            run_step(self.con, "72_per_area_extent")
            row = fetch_table(self.con, "per_area_extent").to_pylist()[0]
            self._counts = {key: int(value or 0) for key, value in row.items()}
        return self._counts


class PerAreaTable:
    """One per-area table of a screened connection: its name, its number of rows and its
    slices of areas, in area code order."""

    def __init__(self, extent: PerAreaExtent, name: str) -> None:
        if name not in SLICE_QUERIES:
            raise ValueError(f"no per-area table {name!r}; choose one of {sorted(SLICE_QUERIES)}")
        self.con = extent.con
        self.name = name
        self.extent = extent

    def __repr__(self) -> str:
        return f"PerAreaTable({self.name!r})"

    @property
    def num_rows(self) -> int:
        """How many rows the table has."""
        counts = self.extent.counts
        return counts["areas"] if self.name == "area_results" else counts["criterion_rows"]

    def areas_per_slice(self) -> int:
        """How many areas a slice holds: about SLICE_ROWS rows."""
        areas = self.extent.counts["areas"]
        rows_per_area = self.num_rows / areas if areas else 1
        return max(1, int(SLICE_ROWS / max(rows_per_area, 1)))

    def read(self, first_area: int, end_area: int) -> pa.Table:
        """The rows of the areas first_area <= area_id < end_area, in area code order."""
        parameters = {"first_area": first_area, "end_area": end_area}
        return self.con.sql(SLICE_QUERIES[self.name], params=parameters).to_arrow_table()

    def slices(self) -> Iterator[pa.Table]:
        """The whole table, slice after slice; a table without areas gives one empty slice,
        which still has the columns."""
        counts = self.extent.counts
        if not counts["areas"]:
            yield self.read(0, 0)
            return
        step = self.areas_per_slice()
        for first in range(counts["first_area"], counts["last_area"] + 1, step):
            yield self.read(first, first + step)


def per_area_tables(con: duckdb.DuckDBPyConnection) -> dict[str, PerAreaTable]:
    """The per-area tables of a screened connection, sharing one extent."""
    extent = PerAreaExtent(con)
    return {name: PerAreaTable(extent, name) for name in SLICE_QUERIES}
