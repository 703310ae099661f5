"""Hostile and broken input: every file is read whole with the clean values, or refused by name."""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from areascreen.errors import AreascreenError, InputError
from areascreen.load import LIMIT_VARIABLES, ParseProblem, ReadLimits, read_area_statistics

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
VALID_CSV = (CORPUS / "valid_scb.csv").read_bytes()
VALID_XLSX = (CORPUS / "valid.xlsx").read_bytes()
SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    """The corpus table as the clean CSV gives it."""
    return read_area_statistics(CORPUS / "valid_scb.csv").frame


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    """A file holding exactly these bytes."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rewrite_xlsx(change: Callable[[str, bytes], bytes], source: bytes = VALID_XLSX) -> bytes:
    """The workbook with every part passed through `change(part name, bytes)`."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(source)) as old,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for item in old.infolist():
            new.writestr(item.filename, change(item.filename, old.read(item.filename)))
    return buffer.getvalue()


def in_sheet(edit: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    """A part change that edits the worksheet only."""
    return lambda name, data: edit(data) if name == SHEET else data


def message(path: Path, **options: object) -> str:
    """The InputError's message for a file that must be refused."""
    with pytest.raises(InputError) as caught:
        read_area_statistics(path, **options)
    text = str(caught.value)
    assert text.startswith(path.name), text
    return text


# --- 1: an xlsx is read whole whatever its <dimension> says ----------------------------------


def test_xlsx_whose_dimension_understates_the_range_is_read_whole(
    tmp_path: Path, clean: pd.DataFrame
) -> None:
    understated = rewrite_xlsx(
        in_sheet(lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:C5"', xml))
    )
    assert b'ref="A1:C5"' in zipfile.ZipFile(io.BytesIO(understated)).read(SHEET)
    loaded = read_area_statistics(write(tmp_path, "dimension.xlsx", understated))
    assert len(loaded.frame) == 10
    pd.testing.assert_frame_equal(loaded.frame, clean)


def test_xlsx_rows_out_of_order_are_refused_not_dropped(tmp_path: Path) -> None:
    def swap(xml: bytes) -> bytes:
        return xml.replace(b'<row r="3"', b'<row r="99"').replace(b'r="A3"', b'r="A99"')

    text = message(write(tmp_path, "order.xlsx", rewrite_xlsx(in_sheet(swap))))
    assert "row 4 comes after row 99" in text


# --- 2 and 8: digits are ASCII, at most 15 of them --------------------------------------------


@pytest.mark.parametrize(
    "digits", ["\u0664\u0665\u0660", "\uff14\uff15\uff10", "\u09ea\u09eb\u09e6"]
)
def test_non_ascii_digits_in_a_count_are_parse_problems(tmp_path: Path, digits: str) -> None:
    text = VALID_CSV.decode("utf-8").replace(";912;", f";{digits};", 1)
    loaded = read_area_statistics(write(tmp_path, "digits.csv", text.encode("utf-8")))
    assert loaded.parse_problems == (ParseProblem(2, "employed", digits),)
    assert loaded.frame["employed"].iloc[0] is pd.NA


def test_counts_beyond_15_digits_are_parse_problems(tmp_path: Path) -> None:
    text = VALID_CSV.decode("utf-8").replace(";1843;", ";1234567890123456;", 1)
    text = text.replace(";2210;", ";999999999999999;", 1)
    loaded = read_area_statistics(write(tmp_path, "huge.csv", text.encode("utf-8")))
    assert loaded.parse_problems == (ParseProblem(2, "population", "1234567890123456"),)
    assert loaded.frame["population"].iloc[1] == 999_999_999_999_999


# --- 5 and 13: line endings, blank first line, sep= line ------------------------------------


@pytest.mark.parametrize("ending", [b"\r", b"\r\n", b"\n\r\n"])
def test_any_line_ending_gives_the_clean_table(
    tmp_path: Path, clean: pd.DataFrame, ending: bytes
) -> None:
    path = write(tmp_path, "endings.csv", VALID_CSV.replace(b"\n", ending))
    pd.testing.assert_frame_equal(read_area_statistics(path).frame, clean)


def test_a_large_cr_only_file_is_read_whole(tmp_path: Path) -> None:
    lines = VALID_CSV.split(b"\n")
    body = [lines[1].replace(b"0180C4050", f"0180C{n:04d}".encode()) for n in range(3000)]
    data = b"\r".join([lines[0], *body]) + b"\r"
    assert len(data) > 65_536 and b"\n" not in data
    loaded = read_area_statistics(write(tmp_path, "large_cr.csv", data))
    assert len(loaded.frame) == 3000
    assert loaded.frame["area_code"].iloc[-1] == "0180C2999"
    assert loaded.source_rows()[-1] == 3001


def test_a_whitespace_only_first_line_is_skipped(tmp_path: Path, clean: pd.DataFrame) -> None:
    loaded = read_area_statistics(write(tmp_path, "blank.csv", b"  \t \n" + VALID_CSV))
    pd.testing.assert_frame_equal(loaded.frame, clean)
    assert loaded.source_rows()[0] == 3


@pytest.mark.parametrize("separator", [";", ",", "|"])
def test_excels_sep_line_declares_the_separator(
    tmp_path: Path, clean: pd.DataFrame, separator: str
) -> None:
    body = VALID_CSV.decode("utf-8").replace(";", separator)
    data = f"sep={separator}\r\n{body}".encode()
    loaded = read_area_statistics(write(tmp_path, "sep.csv", data), decimal=",")
    pd.testing.assert_frame_equal(loaded.frame, clean)
    assert any("declared by the 'sep=' first line" in note for note in loaded.notes)


# --- 8: Parquet types and broken workbooks ------------------------------------------------------


def replace_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """The table with one column's values replaced."""
    return table.set_column(table.schema.get_field_index(name), name, values)


def test_uint64_parquet_counts_read_and_overflow_is_a_problem(
    tmp_path: Path, clean: pd.DataFrame
) -> None:
    table = pq.read_table(CORPUS / "valid.parquet")
    people = clean["population"].astype("int64").tolist()
    path = tmp_path / "uint64.parquet"
    pq.write_table(replace_column(table, "population", pa.array(people, pa.uint64())), path)
    pd.testing.assert_frame_equal(read_area_statistics(path).frame, clean)
    people[3] = 2**64 - 1
    pq.write_table(replace_column(table, "population", pa.array(people, pa.uint64())), path)
    loaded = read_area_statistics(path)
    assert loaded.parse_problems == (ParseProblem(4, "population", str(2**64 - 1)),)
    assert loaded.frame["population"].iloc[2] == clean["population"].iloc[2]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.null()])
def test_an_all_null_text_column_reads_as_missing(
    tmp_path: Path, clean: pd.DataFrame, kind: pa.DataType
) -> None:
    table = pq.read_table(CORPUS / "valid.parquet")
    path = tmp_path / "null_names.parquet"
    pq.write_table(replace_column(table, "area_name", pa.nulls(10, kind)), path)
    frame = read_area_statistics(path).frame
    assert frame["area_name"].isna().all()
    assert pd.api.types.is_string_dtype(frame["area_name"].dtype)
    pd.testing.assert_frame_equal(frame.drop(columns="area_name"), clean.drop(columns="area_name"))


def test_non_text_in_a_parquet_text_column_is_a_problem(tmp_path: Path) -> None:
    table = pq.read_table(CORPUS / "valid.parquet")
    names = pa.array([b"Abrahamsberg"] * 10, pa.binary())
    path = tmp_path / "binary_names.parquet"
    pq.write_table(replace_column(table, "area_name", names), path)
    loaded = read_area_statistics(path)
    assert len(loaded.parse_problems) == 10
    assert loaded.parse_problems[0] == ParseProblem(1, "area_name", "b'Abrahamsberg'")


def test_malformed_sheet_xml_is_named(tmp_path: Path) -> None:
    broken = rewrite_xlsx(in_sheet(lambda xml: xml[: len(xml) // 2]))
    text = message(write(tmp_path, "broken.xlsx", broken))
    assert text.startswith("broken.xlsx (sheet 'Data'): the sheet cannot be read: ParseError")


def test_a_workbook_without_a_worksheet_is_named(tmp_path: Path) -> None:
    def no_sheets(name: str, data: bytes) -> bytes:
        if name == "xl/workbook.xml":
            return re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data, flags=re.S)
        return data

    text = message(write(tmp_path, "empty_book.xlsx", rewrite_xlsx(no_sheets)))
    assert text == "empty_book.xlsx: the workbook has no worksheet to read"


def test_a_workbook_missing_its_parts_is_named(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    text = message(write(tmp_path, "parts.xlsx", buffer.getvalue()))
    assert text.startswith("parts.xlsx: not a readable .xlsx workbook: ")


# --- 11: what is not a regular file, and the limits ----------------------------------------


def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    assert message(link) == (
        "zero.csv: a character device, not a regular file; only regular files are read"
    )


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert message(fifo) == (
        "pipe.csv: a named pipe (FIFO), not a regular file; only regular files are read"
    )


def test_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    assert "folder.csv: a folder, not a regular file" in message(tmp_path / "folder.csv")


def test_the_byte_limit_names_its_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", VALID_CSV)
    text = message(path, limits=ReadLimits(max_bytes=100))
    assert text == (
        f"big.csv: the file has {len(VALID_CSV):,} bytes, more than the limit of 100; "
        "set AREASCREEN_MAX_INPUT_BYTES to read it anyway"
    )


def test_limits_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "rows.csv", VALID_CSV)
    monkeypatch.setenv("AREASCREEN_MAX_INPUT_ROWS", "5")
    assert ReadLimits.from_environment().max_rows == 5
    text = message(path)
    assert "line 7 is beyond 5 data rows, more than the limit of 5" in text
    assert "AREASCREEN_MAX_INPUT_ROWS" in text
    monkeypatch.setenv("AREASCREEN_MAX_INPUT_ROWS", "10")
    assert len(read_area_statistics(path).frame) == 10
    monkeypatch.setenv("AREASCREEN_MAX_INPUT_ROWS", "ten")
    with pytest.raises(AreascreenError, match="AREASCREEN_MAX_INPUT_ROWS must be a positive"):
        read_area_statistics(path)


def test_every_limit_has_a_variable() -> None:
    assert set(LIMIT_VARIABLES) == set(ReadLimits.__dataclass_fields__)
    assert all(v.startswith("AREASCREEN_MAX_") for v in LIMIT_VARIABLES.values())


def test_the_parquet_row_limit_is_checked(tmp_path: Path) -> None:
    text = message(CORPUS / "valid.parquet", limits=ReadLimits(max_rows=9))
    assert text.startswith("valid.parquet: the file has 10 rows, more than the limit of 9")


def test_a_long_cell_is_refused_in_every_format(tmp_path: Path) -> None:
    limits = ReadLimits(max_cell_chars=40)
    long_name = VALID_CSV.replace(b"Akalla", b"A" * 41, 1)
    text = message(write(tmp_path, "long.csv", long_name), limits=limits)
    assert text.startswith("long.csv: line 4 cannot be read: field larger than the limit of 40")
    workbook = rewrite_xlsx(in_sheet(lambda xml: xml.replace(b"Akalla", b"A" * 41, 1)))
    if b"A" * 41 not in zipfile.ZipFile(io.BytesIO(workbook)).read(SHEET):
        workbook = rewrite_xlsx(
            lambda name, data: (
                data.replace(b"Akalla", b"A" * 41, 1) if name == "xl/sharedStrings.xml" else data
            )
        )
    text = message(write(tmp_path, "long.xlsx", workbook), limits=limits)
    assert "holds 41 characters, more than the limit of 40" in text
    assert "AREASCREEN_MAX_CELL_CHARS" in text


def test_a_workbook_that_expands_too_much_is_refused(tmp_path: Path) -> None:
    bomb = rewrite_xlsx(in_sheet(lambda xml: xml + b" " * 5_000_000))
    text = message(write(tmp_path, "bomb.xlsx", bomb))
    assert "the workbook expands" in text
    assert "AREASCREEN_MAX_XLSX_EXPANSION" in text


def million_row_sheet(rows: int) -> bytes:
    """A workbook whose sheet has a header and `rows` one-cell data rows."""
    body = "".join(f'<row r="{n}"><c r="A{n}"><v>1</v></c></row>' for n in range(2, rows + 2))

    def grow(xml: bytes) -> bytes:
        return re.sub(rb"</sheetData>", body.encode() + b"</sheetData>", xml, count=1)

    return rewrite_xlsx(in_sheet(grow))


def test_a_sheet_beyond_the_row_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.xlsx", million_row_sheet(300))
    text = message(path, limits=ReadLimits(max_sheet_rows=200))
    assert text == (
        "rows.xlsx (sheet 'Data'): the sheet has more than 200 data rows, more than the limit "
        "of 200; set AREASCREEN_MAX_SHEET_ROWS to read it anyway"
    )


# --- 12: encodings, sheets, NUL, what messages show ----------------------------------------


def test_windows_1252_characters_are_decoded_and_noted(tmp_path: Path) -> None:
    data = (CORPUS / "valid_latin1.csv").read_bytes().replace(b"norr-Lind", b"norr\x96Lind")
    loaded = read_area_statistics(write(tmp_path, "cp1252.csv", data))
    assert loaded.encoding == "cp1252"
    assert loaded.frame["area_name"].iloc[4] == "Almvik norr\u2013Lindängen norr"
    assert any("read as Windows-1252" in note and "'–'" in note for note in loaded.notes)


def test_a_byte_undefined_in_windows_1252_is_refused(tmp_path: Path) -> None:
    data = (CORPUS / "valid_latin1.csv").read_bytes().replace(b"Akalla", b"Ak\x81lla", 1)
    text = message(write(tmp_path, "undefined.csv", data))
    assert text == (
        "undefined.csv: byte 0x81 at line 4 is neither UTF-8 nor a Windows-1252 character; "
        "save the file as UTF-8"
    )


def test_a_sheet_position_given_as_text_picks_the_sheet() -> None:
    by_text = read_area_statistics(CORPUS / "second_sheet.xlsx", sheet="1")
    by_name = read_area_statistics(CORPUS / "second_sheet.xlsx", sheet="Data")
    pd.testing.assert_frame_equal(by_text.frame, by_name.frame)
    assert "no sheet '7'" in message(CORPUS / "second_sheet.xlsx", sheet="7")


def test_a_nul_byte_after_the_first_8_kib_is_refused(tmp_path: Path) -> None:
    data = VALID_CSV + b"0180C9999;" + b"x" * 9000 + b"\x00;0180\n"
    text = message(write(tmp_path, "late_nul.csv", data))
    assert text == (
        f"late_nul.csv: a NUL byte at line 12 (byte {len(VALID_CSV) + 9011:,}): "
        "a damaged or binary file, not a table"
    )


def test_the_first_line_of_a_file_that_is_no_table_is_not_quoted(tmp_path: Path) -> None:
    text = message(write(tmp_path, "secret.csv", b"DB_PASSWORD=hunter2\nrest\n"))
    assert "hunter2" not in text
    assert "DB_PASSWORD" not in text
    assert text.startswith("secret.csv: the header does not split into known column names")


def test_control_characters_in_a_quoted_header_are_escaped(tmp_path: Path) -> None:
    text = message(write(tmp_path, "escape.csv", b"\x1b[31mRegionkod|Namn|Kommun\x07\n"))
    assert "\x1b" not in text and "\x07" not in text
    assert "'\\x1b[31mRegionkod|Namn|Kommun\\x07'" in text


def test_control_characters_in_a_sheet_name_are_escaped(tmp_path: Path) -> None:
    renamed = rewrite_xlsx(
        lambda name, data: (
            data.replace(b'name="Data"', b'name="D&#9;ata"') if name == "xl/workbook.xml" else data
        )
    )
    path = write(tmp_path, "sheetname.xlsx", renamed)
    text = message(path, sheet="missing")
    assert "\t" not in text
    assert "'D\\tata'" in text


def test_a_formula_without_a_computed_value_is_a_problem_not_suppressed(tmp_path: Path) -> None:
    def formula(xml: bytes) -> bytes:
        return re.sub(rb'(<c r="E2"[^>]*?)(?: t="n")?>.*?</c>', rb"\1><f>SUM(A1)</f></c>", xml)

    workbook = rewrite_xlsx(in_sheet(formula))
    assert b"<f>SUM(A1)</f>" in zipfile.ZipFile(io.BytesIO(workbook)).read(SHEET)
    loaded = read_area_statistics(write(tmp_path, "formula.xlsx", workbook))
    assert loaded.parse_problems == (
        ParseProblem(2, "population", "(formula without a computed value)"),
    )


def test_a_zip_needing_an_unsupported_version_is_named(tmp_path: Path) -> None:
    data = bytearray(VALID_XLSX)
    for found in re.finditer(rb"PK\x01\x02", VALID_XLSX):
        data[found.start() + 6 : found.start() + 8] = (249).to_bytes(2, "little")
    text = message(write(tmp_path, "version.xlsx", bytes(data)))
    assert text == (
        "version.xlsx: a damaged or unsupported zip archive, not a readable .xlsx: "
        "NotImplementedError: 'zip file version 24.9'"
    )
