"""The per-area tables written slice after slice: the same rows, in the same order, in the same
files as the whole table would give."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from areascreen import paths, per_area
from areascreen.db import connect
from areascreen.per_area import PerAreaExtent, PerAreaTable, per_area_tables
from areascreen.publish import write_csv, write_table
from areascreen.ruleset import Ruleset, load_ruleset
from areascreen.screening import from_frame, read_input, result_tables, screen_into
from areascreen.synthetic import DATA_NOTE_COLUMN, SYNTHETIC_KEY, SYNTHETIC_NOTE
from tests.fixture_areas import fixture_frame


def screened(ruleset: Ruleset, path: Path = paths.DEFAULT_INPUT) -> duckdb.DuckDBPyConnection:
    """A connection that screened `path` under `ruleset`."""
    con = connect()
    screen_into(con, read_input(path, ruleset, year=ruleset.year), ruleset)
    return con


@pytest.fixture(scope="module", params=["2018.toml", "2018-index-scb-style.toml"])
def connection(request: pytest.FixtureRequest) -> duckdb.DuckDBPyConnection:
    return screened(load_ruleset(paths.ruleset_path(2018).parent / request.param))


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> int:
    """Slices of 1,000 rows: the default data then spans several of them."""
    monkeypatch.setattr(per_area, "SLICE_ROWS", 1_000)
    return 1_000


def test_the_slices_join_into_the_whole_table_in_area_code_order(connection, small_slices):
    whole = result_tables(connection)
    for name, table in per_area_tables(connection).items():
        slices = list(table.slices())
        assert len(slices) > 5
        assert max(piece.num_rows for piece in slices) <= small_slices
        assert pa.concat_tables(slices).equals(whole[name])
        assert table.num_rows == whole[name].num_rows
        codes = whole[name]["area_code"].to_pylist()
        assert codes == sorted(codes)


def test_area_criteria_has_a_row_per_area_and_criterion(connection):
    tables = per_area_tables(connection)
    assert tables["area_results"].extent is tables["area_criteria"].extent
    criteria = pc.count_distinct(result_tables(connection)["area_criteria"]["criterion"]).as_py()
    assert tables["area_results"].num_rows == 5984
    assert tables["area_criteria"].num_rows == 5984 * criteria


@pytest.mark.parametrize("style", ["standard", "swedish"])
def test_a_per_area_table_is_written_as_the_whole_table_would_be(
    connection, small_slices, tmp_path, style
):
    whole = result_tables(connection)["area_criteria"]
    table = per_area_tables(connection)["area_criteria"]
    written = write_table(table, tmp_path, "area_criteria", csv_style=style, note=SYNTHETIC_NOTE)
    assert [path.name for path in written] == ["area_criteria.parquet", "area_criteria.csv"]
    read = pq.read_table(written[0])
    assert read.column_names == [DATA_NOTE_COLUMN, *whole.column_names]
    assert read.schema.metadata[SYNTHETIC_KEY] == b"true"
    assert read.drop_columns([DATA_NOTE_COLUMN]).equals(whole)
    assert pq.ParquetFile(written[0]).num_row_groups > 5
    expected = write_csv(read, tmp_path / "whole.csv", style)
    assert written[1].read_bytes() == expected.read_bytes()


def test_a_per_area_table_of_real_input_has_no_note(connection, tmp_path):
    table = per_area_tables(connection)["area_results"]
    parquet, _ = write_table(table, tmp_path, "area_results")
    read = pq.read_table(parquet)
    assert DATA_NOTE_COLUMN not in read.column_names
    assert SYNTHETIC_KEY not in (read.schema.metadata or {})
    assert read.num_rows == 5984


def test_a_table_of_no_areas_is_written_with_its_columns(tmp_path):
    ruleset = load_ruleset(paths.ruleset_path(2018))
    con = connect()
    screen_into(con, from_frame(fixture_frame().iloc[0:0], ruleset, "empty"), ruleset)
    table = per_area_tables(con)["area_results"]
    assert table.num_rows == 0
    parquet, csv = write_table(table, tmp_path, "area_results")
    read = pq.read_table(parquet)
    assert read.num_rows == 0
    assert "smallest_margin_persons" in read.column_names
    assert csv.read_text(encoding="utf-8").splitlines() == [",".join(read.column_names)]


def test_an_unknown_per_area_table_is_refused():
    with pytest.raises(ValueError, match="no per-area table 'areas'"):
        PerAreaTable(PerAreaExtent(connect()), "areas")
