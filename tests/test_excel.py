"""publication.xlsx: a typed sheet per table, labels, explanations, safe text, Excel's limits."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
from openpyxl.cell import WriteOnlyCell

from areascreen import excel
from areascreen.excel import (
    COLUMNS_SHEET,
    EXCEL_MAX_CELL_TEXT,
    EXCEL_MAX_ROWS,
    SHEETS_SHEET,
    WorkbookError,
)
from areascreen.pipeline import RunOptions, run_screening
from areascreen.publish import sha256_of, write_workbook
from tests.fixture_areas import fixture_frame, fixture_ruleset


def eligible_table() -> pa.Table:
    return pa.table(
        {
            "municipality_code": ["0180", "0127", "2380"],
            "municipality_name": ["Stockholm", "Botkyrka", "Östersund"],
            "selected_areas": pa.array([1054, None, 3], pa.int64()),
            "share": [1.5, 0.30000000000000004, None],
            "eligible": [True, False, None],
            "codes": [["0180C1010", "0180C1020"], [], None],
        }
    )


def rows_of(path: Path, sheet: str) -> list[tuple]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(workbook[sheet].iter_rows(values_only=True))
    finally:
        workbook.close()


def sheet_xml(path: Path, number: int) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"xl/worksheets/sheet{number}.xml").decode("utf-8")


def test_each_table_is_a_typed_sheet_with_labels_and_sheets_that_explain_it(tmp_path):
    tables = {
        "eligible_municipalities": eligible_table(),
        "national_averages": pa.table({"x": [1]}),
    }
    labels = {"municipality_code": "Municipality code", "share": "Share (%)"}
    descriptions = {"eligible_municipalities.share": "Share of residents in selected areas"}
    path = write_workbook(tables, tmp_path, labels, descriptions=descriptions)
    assert path == tmp_path / "publication.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == [
        "eligible_municipalities",
        "national_averages",
        SHEETS_SHEET,
        COLUMNS_SHEET,
    ]
    sheet = workbook["eligible_municipalities"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows == [
        [
            "Municipality code",
            "municipality_name",
            "selected_areas",
            "Share (%)",
            "eligible",
            "codes",
        ],
        ["0180", "Stockholm", 1054, 1.5, "yes", "0180C1010, 0180C1020"],
        ["0127", "Botkyrka", None, 0.3, "no", None],  # 16 significant digits
        ["2380", "Östersund", 3, None, None, None],
    ]
    assert sheet["A2"].data_type == "s" and sheet["C2"].data_type == "n"
    assert isinstance(sheet["C2"].value, int)
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"
    assert rows_of(path, SHEETS_SHEET) == [
        ("sheet", "table", "first row", "last row", "rows in table"),
        ("eligible_municipalities", "eligible_municipalities", 1, 3, 3),
        ("national_averages", "national_averages", 1, 1, 1),
    ]
    columns = rows_of(path, COLUMNS_SHEET)
    assert columns[0] == ("table", "column", "label", "values", "description")
    assert columns[1:7] == [
        ("eligible_municipalities", "municipality_code", "Municipality code", "text", None),
        ("eligible_municipalities", "municipality_name", "municipality_name", "text", None),
        ("eligible_municipalities", "selected_areas", "selected_areas", "whole number", None),
        (
            "eligible_municipalities",
            "share",
            "Share (%)",
            "decimal number",
            "Share of residents in selected areas",
        ),
        ("eligible_municipalities", "eligible", "eligible", "yes / no", None),
        ("eligible_municipalities", "codes", "codes", "list of text, comma-separated", None),
    ]


def test_formula_like_text_is_stored_as_text_with_the_quote_prefix(tmp_path):
    names = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1)", "\tx", "#N/A", "Ale-Kungälv"]
    path = write_workbook({"t": pa.table({"name": names})}, tmp_path)
    xml = sheet_xml(path, 1)
    assert "<f>" not in xml and "<f " not in xml
    assert xml.count('t="inlineStr"') == len(names) + 1
    sheet = openpyxl.load_workbook(path)["t"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in cells] == names
    assert [cell.quotePrefix for cell in cells] == [True, True, True, True, True, True, False]


def test_characters_xml_cannot_hold_are_written_as_excel_escapes(tmp_path):
    path = write_workbook({"t": pa.table({"name": ["a\x00b\x1fc", "x_x0041_y"]})}, tmp_path)
    xml = sheet_xml(path, 1)
    assert "<t>a_x0000_b_x001F_c</t>" in xml
    assert "<t>x_x005F_x0041_y</t>" in xml


def test_a_table_longer_than_a_sheet_continues_on_numbered_sheets(tmp_path):
    table = pa.table({"area_code": [f"A{n}" for n in range(8)], "n": list(range(8))})
    path = write_workbook({"area_criteria": table}, tmp_path, max_rows=3)
    parts = ["area_criteria", "area_criteria (2)", "area_criteria (3)"]
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == [
        *parts,
        SHEETS_SHEET,
        COLUMNS_SHEET,
    ]
    rows = [rows_of(path, part) for part in parts]
    assert all(part[0] == ("area_code", "n") for part in rows)
    assert [row for part in rows for row in part[1:]] == [(f"A{n}", n) for n in range(8)]
    assert rows_of(path, SHEETS_SHEET)[1:] == [
        ("area_criteria", "area_criteria", 1, 3, 8),
        ("area_criteria (2)", "area_criteria", 4, 6, 8),
        ("area_criteria (3)", "area_criteria", 7, 8, 8),
    ]


@pytest.mark.slow
def test_at_excels_row_limit_the_next_row_goes_to_a_second_sheet(tmp_path):
    rows = EXCEL_MAX_ROWS  # one more than a sheet holds below its header
    path = write_workbook({"t": pa.table({"n": pa.array(range(rows), pa.int32())})}, tmp_path)
    first, second = sheet_xml(path, 1), sheet_xml(path, 2)
    assert first.count("<row ") == EXCEL_MAX_ROWS
    assert f'<row r="{EXCEL_MAX_ROWS}"><c r="A{EXCEL_MAX_ROWS}" t="n"><v>{rows - 2}</v>' in first
    assert second.count("<row ") == 2
    assert f'<c r="A2" t="n"><v>{rows - 1}</v></c>' in second


def test_text_longer_than_a_cell_holds_is_refused_not_cut(tmp_path):
    longest = "x" * EXCEL_MAX_CELL_TEXT
    path = write_workbook({"t": pa.table({"name": [longest]})}, tmp_path)
    assert rows_of(path, "t")[1] == (longest,)
    with pytest.raises(WorkbookError, match=r"t\.name row 2 holds 32,768 characters"):
        write_workbook({"t": pa.table({"name": ["ok", longest + "x"]})}, tmp_path)


def test_integers_excel_would_round_are_written_as_text(tmp_path):
    values = [10**15 - 1, 10**15, -(10**16) - 3]
    path = write_workbook({"t": pa.table({"n": pa.array(values, pa.int64())})}, tmp_path)
    assert [row[0] for row in rows_of(path, "t")[1:]] == [
        10**15 - 1,
        "1000000000000000",
        "-10000000000000003",
    ]


def test_an_empty_table_is_a_sheet_with_its_header(tmp_path):
    empty = pa.table({"municipality_code": pa.array([], pa.string())})
    path = write_workbook({"municipality_changes": empty}, tmp_path)
    assert rows_of(path, "municipality_changes") == [("municipality_code",)]
    assert rows_of(path, SHEETS_SHEET)[1] == (
        "municipality_changes",
        "municipality_changes",
        1,
        0,
        0,
    )


def test_the_workbook_carries_no_time_of_writing(tmp_path):
    (tmp_path / "a").mkdir()
    first = write_workbook({"t": eligible_table()}, tmp_path / "a")
    with zipfile.ZipFile(first) as archive:
        assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert re.findall(r"<dcterms:\w+ [^>]*>([^<]+)<", core) == ["1980-01-01T00:00:00Z"] * 2
    (tmp_path / "b").mkdir()
    second = write_workbook({"t": eligible_table()}, tmp_path / "b")
    assert sha256_of(first) == sha256_of(second)


def test_a_screening_s_tables_all_fit_the_workbook(tmp_path):
    data = tmp_path / "areas.parquet"
    fixture_frame().to_parquet(data, index=False)
    options = RunOptions(
        year=2018,
        input_path=data,
        ruleset_path=fixture_ruleset(tmp_path),
        dry_run=True,
        reports_dir=tmp_path / "reports",
    )
    tables = run_screening(options).tables
    path = write_workbook(tables, tmp_path)
    listed = {row[0]: row[4] for row in rows_of(path, SHEETS_SHEET)[1:]}
    assert listed == {name: table.num_rows for name, table in tables.items()}
    eligible = rows_of(path, "eligible_municipalities")
    codes = tables["eligible_municipalities"]["municipality_code"].to_pylist()
    assert [row[0] for row in eligible[1:]] == codes
    assert all(isinstance(row[4], int) for row in eligible[1:])


def openpyxl_sheet_xml(path: Path, header: list[str], rows: list[list]) -> str:
    """The sheet openpyxl writes, cell by cell, for the header and values of one table."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("t")
    excel._prepare(sheet, header)
    sheet.append(excel._header(sheet, header))
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str) and (
                excel.looks_like_formula(value) or value in excel.ERROR_CODES
            ):
                value = WriteOnlyCell(sheet, value=value)
                value.data_type, value.quotePrefix = "s", True
            cells.append(value)
        sheet.append(cells)
    excel._save(workbook, path)
    return sheet_xml(path, 1)


def test_rows_are_the_xml_openpyxl_writes_for_the_same_cells(tmp_path):
    texts = ["=1+2", "#N/A", " lead", "trail ", "   ", "", "a&b<c>d\"e'", "line\nbreak", None]
    floats = [1.5, 0.30000000000000004, None, float("nan"), -0.0, 1e-300, 1e300, 2 / 3, 1e16]
    table = pa.table(
        {
            "text": texts,
            "n": pa.array([1, None, 10**15 - 1, 0, -1, 7, 8, 9, 10], pa.int64()),
            "f": floats,
            "b": [True, False, None] * 3,
            "l": [["a", "b"], [], None, ["=x"], ["1"], ["x"], None, ["a&b"], ["y"]],
        }
    )
    path = write_workbook({"t": table}, tmp_path)
    yes_no = {True: "yes", False: "no", None: None}
    expected_rows = [
        [
            text,
            n,
            None if f is None or f != f else f,
            yes_no[b],
            None if items is None else ", ".join(items),
        ]
        for text, n, f, b, items in zip(*table.to_pydict().values(), strict=True)
    ]
    reference = openpyxl_sheet_xml(tmp_path / "reference.xlsx", table.column_names, expected_rows)
    assert sheet_xml(path, 1) == reference


def test_rows_of_many_batches_and_dictionary_columns_are_the_xml_openpyxl_writes(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(excel, "ROWS_PER_WRITE", 3)
    kinds = pa.array(["a", "=b", None, "a", "#N/A", "a", "c"]).dictionary_encode()
    table = pa.table(
        {
            "kind": kinds,
            "code": ["0180", "0180", "0127", None, "0127", "2380", "0180"],
            "x": [1.5, None, float("inf"), 1e300, float("nan"), 2 / 3, -0.0],
        }
    )
    path = write_workbook({"t": table}, tmp_path)
    cells = {float("inf"): "inf"}
    expected_rows = [
        [kind, code, None if x is None or x != x else cells.get(x, x)]
        for kind, code, x in zip(*table.to_pydict().values(), strict=True)
    ]
    reference = openpyxl_sheet_xml(tmp_path / "reference.xlsx", table.column_names, expected_rows)
    assert sheet_xml(path, 1) == reference
    assert [row[:2] for row in rows_of(path, "t")[1:]] == [
        ("a", "0180"),
        ("=b", "0180"),
        (None, "0127"),
        ("a", None),
        ("#N/A", "0127"),
        ("a", "2380"),
        ("c", "0180"),
    ]


def test_a_joined_list_longer_than_a_cell_holds_names_its_row(tmp_path):
    long_item = "x" * (EXCEL_MAX_CELL_TEXT // 2 + 1)
    table = pa.table({"codes": [["a"], ["b"], [long_item, long_item]]})
    with pytest.raises(WorkbookError, match=r"t\.codes row 3 holds 32,770 characters"):
        write_workbook({"t": table}, tmp_path)
