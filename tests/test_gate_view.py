"""The input gate reads the input where it is: a view over the Arrow table, with the columns
added by row position (rows per area and year, listed codes, code prefixes) equal to what SQL
computes, and examples in file order however the table is chunked."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from areascreen import paths
from areascreen.errors import ValidationFailed
from areascreen.load import LoadedInput, read_area_statistics
from areascreen.ruleset import Ruleset, load_ruleset
from areascreen.validate import (
    Distinct,
    GateSession,
    build_gate,
    code_columns,
    input_arrow,
    input_check,
    rows_per_key,
    validate_input,
    value_numbers,
)

YEARS = 50


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    """The 2018 ruleset: DeSO 2018 areas, with their code list."""
    return load_ruleset(paths.DATA_DIR / "rulesets" / "2018.toml")


@pytest.fixture(scope="module")
def history(ruleset: Ruleset) -> LoadedInput:
    """The synthetic areas over YEARS years (one Arrow chunk per year), a file that passes."""
    path = paths.DATA_DIR / "synthetic" / "synthetic_areas_2018.parquet"
    loaded = read_area_statistics(path, columns=ruleset.input_columns)
    base = loaded.table.combine_chunks()
    year = base.schema.get_field_index("year")
    chunks = [
        base.set_column(year, "year", pa.array(np.full(base.num_rows, 2000 + n, np.int64)))
        for n in range(YEARS)
    ]
    return replace(loaded, data=pa.concat_tables(chunks), row_numbers=None)


def window_counts(first: list, second: list) -> list[int]:
    """`count(*) OVER (PARTITION BY first, second)` by DuckDB, in row order."""
    table = pa.table({"position": range(len(first)), "a": first, "b": second})
    con = duckdb.connect()
    con.register("t", table)
    query = "SELECT count(*) OVER (PARTITION BY a, b) FROM t ORDER BY position"
    return [n for (n,) in con.execute(query).fetchall()]


def keyed(first: list, second: list) -> list[int] | None:
    """rows_per_key on two columns, as the gate computes it."""
    a = Distinct.of(pa.chunked_array([pa.array(first, pa.string())])).indices
    b = value_numbers(pa.chunked_array([pa.array(second, pa.int64())]))
    counts = rows_per_key(a, b)
    return None if counts is None else counts.tolist()


@pytest.mark.parametrize(
    "years",
    [
        [2018, 2018, 2018, 2018, None, None, 2019],
        [2018, 9_000_000_000_000_000_000, 2018, 2018, None, None, 2018],
        [-5, 2018, -5, 2018, None, 7, 7],
    ],
    ids=["dense years", "far apart years", "negative years"],
)
def test_rows_per_key_counts_like_the_window_missing_equal_to_missing(years: list) -> None:
    codes = ["a", "b", "a", None, None, "a", None]
    assert keyed(codes, years) == window_counts(codes, years)


def test_rows_per_key_on_unique_pairs_is_none_and_the_view_says_one(
    history: LoadedInput, ruleset: Ruleset
) -> None:
    assert keyed(["a", "b", "c", "a"], [1, 1, 1, 2]) is None
    assert keyed(["a", "b", None], [None, None, None]) is None
    small = replace(history, data=history.table.slice(0, 10), row_numbers=None)
    added = input_arrow(small, ruleset.division)
    assert "area_year_rows" not in added.column_names
    assert "unparsed_values" not in added.column_names
    con = duckdb.connect()
    check = input_check(small, ruleset)
    GateSession.of([check]).open(con)
    build_gate(con, "gate", check)
    rows = con.sql("SELECT area_year_rows, unparsed_values FROM gate_area_statistics").fetchall()
    assert rows == [(1, None)] * 10


def test_code_columns_give_the_prefix_of_codes_of_the_form_only(ruleset: Ruleset) -> None:
    codes = pa.array(
        ["0180C1010", "0180C9999", " 0180C1010", "0180c1010", "\u0661\u0662\u0663\u0664A5678"]
    )
    columns = code_columns(codes, ruleset.division).to_pydict()
    assert columns == {
        "area_code_prefix": ["0180", "0180", None, None, None],
        "area_code_listed": [True, False, None, None, None],
    }


def test_added_columns_keep_missing_codes_missing(history: LoadedInput, ruleset: Ruleset) -> None:
    table = history.table.slice(0, 4)
    codes = table["area_code"].to_pylist()
    changed = table.set_column(
        table.schema.get_field_index("area_code"),
        "area_code",
        pa.array([None, codes[1], codes[1], codes[3]], pa.string()),
    )
    added = input_arrow(replace(history, data=changed, row_numbers=None), ruleset.division)
    assert added["area_year_rows"].to_pylist() == [1, 2, 2, 1]
    assert added["area_code_prefix"].to_pylist() == [None, codes[1][:4], codes[1][:4], codes[3][:4]]
    assert added["area_code_listed"].to_pylist() == [None, True, True, True]
    assert added["municipality_code_listed"].to_pylist() == [True] * 4


def test_a_history_of_many_chunks_passes(history: LoadedInput, ruleset: Ruleset) -> None:
    report = validate_input(history, ruleset, allow_multiple_years=True)
    assert report.success
    assert all(r.success for r in report.results)


def test_examples_are_the_first_offending_rows_in_file_order(
    history: LoadedInput, ruleset: Ruleset
) -> None:
    table = history.table
    rows = table.num_rows
    wrong = list(range(1000, rows, rows // 15))[:15]
    municipality = table["municipality_code"].to_pylist()
    for position in wrong:
        municipality[position] = "9999"
    column = table.schema.get_field_index("municipality_code")
    changed = table.set_column(column, "municipality_code", pa.array(municipality, pa.string()))
    loaded = replace(history, data=changed, row_numbers=None)
    with pytest.raises(ValidationFailed) as caught:
        validate_input(loaded, ruleset, allow_multiple_years=True)
    codes = changed["area_code"].to_pylist()
    shown = ", ".join(f"{codes[p]} (9999)" for p in wrong[:10])
    assert (
        f"synthetic_areas_2018.parquet: {len(wrong)} areas have a municipality_code not in "
        f"municipalities.csv: {shown}, …"
    ) in caught.value.failures


def test_duplicates_are_found_across_chunks_and_named_by_file_row(
    history: LoadedInput, ruleset: Ruleset
) -> None:
    table = history.table
    last = table.num_rows - 1
    years = table["year"].to_pylist()
    codes = table["area_code"].to_pylist()
    first = codes.index(codes[last])
    years[last] = years[first]
    changed = table.set_column(table.schema.get_field_index("year"), "year", pa.array(years))
    loaded = replace(history, data=changed, row_numbers=None)
    with pytest.raises(ValidationFailed) as caught:
        validate_input(loaded, ruleset, allow_multiple_years=True)
    row = loaded.source_rows()
    assert caught.value.failures == (
        "synthetic_areas_2018.parquet: 2 rows have an area_code and year that appear more than "
        f"once: {codes[first]} (row {row[first]}), {codes[last]} (row {row[last]})",
    )


def test_the_run_connection_keeps_no_gate_table_or_view(
    history: LoadedInput, ruleset: Ruleset
) -> None:
    con = duckdb.connect()
    small = replace(history, data=history.table.slice(0, 100), row_numbers=None)
    assert validate_input(small, ruleset, con=con).success
    assert con.sql("SELECT table_name FROM information_schema.tables").fetchall() == []
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT count(*) FROM gate_input")


@pytest.mark.parametrize("encoding", ["dictionary", "large_string"])
def test_added_columns_read_dictionary_and_large_text_columns(
    history: LoadedInput, ruleset: Ruleset, encoding: str
) -> None:
    table = history.table.slice(0, 4)
    codes = table["area_code"].to_pylist()
    municipalities = table["municipality_code"].to_pylist()
    values = {
        "area_code": [codes[0], codes[1], codes[0], None],
        "municipality_code": municipalities,
    }
    for name, column in values.items():
        if encoding == "dictionary":
            # Two chunks with dictionaries of their own.
            text = pa.chunked_array([pa.array(column[:2]), pa.array(column[2:])])
            typed = pa.chunked_array([chunk.dictionary_encode() for chunk in text.chunks])
        else:
            typed = pa.chunked_array([pa.array(column, pa.large_string())])
        table = table.set_column(table.schema.get_field_index(name), name, typed)
    added = input_arrow(replace(history, data=table, row_numbers=None), ruleset.division)
    assert added["area_year_rows"].to_pylist() == [2, 1, 2, 1]
    assert added["area_code_listed"].to_pylist() == [True, True, True, None]
    assert added["municipality_code_listed"].to_pylist() == [True] * 4
