"""publication.xlsx: every published table as a sheet, typed for Excel, plus sheets that explain it.

Codes and names are text (a code such as `0180` keeps its leading zero), counts are whole
numbers, booleans are `yes`/`no`, and text that a spreadsheet would run as a formula is stored
as text with Excel's quote prefix. The workbook is written with openpyxl in write-only mode, so
memory stays flat however long a table is, and with fixed timestamps, so a rerun writes the same
bytes. A table longer than a sheet can hold continues on further sheets; nothing is cut off.

openpyxl writes each sheet's frame (properties, column widths, frozen header, the bold header
row); the rows of a table are serialised column by column into the XML openpyxl would write for
the same cells, batch by batch, and streamed into the sheet's part of the archive between the
header and the tail as the workbook is saved. Text columns are dictionary-encoded, so each
distinct text is turned into XML once. The parts are deflated at a low level (see
`DEFLATE_LEVEL`): the sheet XML is repetitive, and zlib's default level takes twice the time.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter

from areascreen.errors import AreascreenError

WORKBOOK_NAME = "publication.xlsx"
# Excel's limits: rows per sheet (the header included), columns, characters in a cell.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CELL_TEXT = 32_767
SHEET_NAME_LENGTH = 31
SHEETS_SHEET = "sheets"
COLUMNS_SHEET = "columns"
# What a spreadsheet may take for the start of a formula (with the full-width forms).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Characters XML cannot hold, and text that Excel would read as such an escape.
_XML_ESCAPE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
# Integers beyond this lose digits as Excel numbers (15 significant digits); written as text.
EXACT_INTEGER_LIMIT = 10**15
# Zip entries carry this time, so the workbook's bytes depend on its content only.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
HEADER_FONT = Font(bold=True)
# Rows serialised and written at a time: enough to amortise the per-column work, few enough
# that the text held in memory stays small.
ROWS_PER_WRITE = 4_096
# zlib's level for every part of the archive (1 fastest, 9 smallest): 2 deflates the sheets
# about as fast as 1, a few per cent smaller; 6 (zlib's default) takes about twice the time for
# a file a fifth smaller.
DEFLATE_LEVEL = 2
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

Labels = Mapping[str, str]


class WorkbookError(AreascreenError):
    """A table cannot be written to the workbook as it is; the message says where and why."""


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet could take this text for a formula."""
    return text.startswith(FORMULA_STARTS)


def neutralise_formula(text: str) -> str:
    """Text safe to open in a spreadsheet: formula-like text gets a leading apostrophe."""
    return "'" + text if looks_like_formula(text) else text


def _xml_text(text: str) -> str:
    """Text as an Excel string: characters XML cannot hold written as Excel's `_xHHHH_`."""

    def escape(match: re.Match[str]) -> str:
        found = match.group(0)
        return "_x005F_" if found == "_" else f"_x{ord(found):04X}_"

    return _XML_ESCAPE.sub(escape, text)


def _sheet_name(workbook: Workbook, table: str, part: int) -> str:
    """The sheet for part `part` (1-based) of a table, within Excel's 31 characters."""
    suffix = "" if part == 1 else f" ({part})"
    name = _SHEET_NAME_FORBIDDEN.sub("_", table)[: SHEET_NAME_LENGTH - len(suffix)] + suffix
    if name.casefold() in (sheet.casefold() for sheet in workbook.sheetnames):
        raise WorkbookError(f"{WORKBOOK_NAME}: two sheets would be named {name!r}")
    return name


def _kind(field: pa.Field) -> str:
    """What a column holds, in words."""
    kind = field.type
    if pa.types.is_boolean(kind):
        return "yes / no"
    if pa.types.is_integer(kind):
        return "whole number"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "decimal number"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return "list of text, comma-separated"
    return "text"


class _Cells:
    """Turns a column's values into cells of one sheet."""

    def __init__(self, sheet: WriteOnlyWorksheet, table: str) -> None:
        self.sheet = sheet
        self.table = table

    def text(self, value: str, column: str, row: int) -> Any:
        """A text cell that Excel shows as written: never a formula, never cut short."""
        if len(value) > EXCEL_MAX_CELL_TEXT:
            _too_long(self.table, column, row, len(value))
        value = _xml_text(value)
        if not (looks_like_formula(value) or value in ERROR_CODES):
            return value
        return self.quoted_cell(value)

    def quoted_cell(self, value: str) -> Any:
        """A cell holding text Excel would take for a formula or an error, as text."""
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell


def _integer(value: int | None) -> int | str | None:
    """A whole number as an Excel number, or as text where Excel would lose digits."""
    if value is None or abs(value) < EXACT_INTEGER_LIMIT:
        return value
    return str(value)


def _header(sheet: WriteOnlyWorksheet, names: Sequence[str]) -> list[WriteOnlyCell]:
    """Bold header cells."""
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=_xml_text(name))
        cell.data_type = "s"
        cell.font = HEADER_FONT
        cells.append(cell)
    return cells


def _prepare(sheet: WriteOnlyWorksheet, headers: Sequence[str]) -> None:
    """Column widths from the headers and a frozen header row (set before any row is written)."""
    for index, header in enumerate(headers, 1):
        width = min(max(len(header) + 2, 10), 60)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"


def _parts(table: pa.Table, max_rows: int) -> Iterator[tuple[int, pa.Table]]:
    """The table in slices of at most max_rows rows, numbered from 1 (one empty part if empty)."""
    yield 1, table.slice(0, max_rows)
    for part, start in enumerate(range(max_rows, table.num_rows, max_rows), 2):
        yield part, table.slice(start, max_rows)


class _RowsXml:
    """A table's rows as the sheet XML openpyxl writes for them: `<row>` elements of inline
    strings and numbers, empty cells left out, quote-prefixed text with its cell style.

    A cell is `<c r="B7"` followed by what its value makes of it (its ending), so a column is
    turned into endings first, once per distinct text, and then into cells."""

    def __init__(self, cells: _Cells) -> None:
        self.cells = cells
        self.quoted_style: str | None = None

    def text_ending(self, value: str, column: str, row: int) -> str:
        """The ending of a text cell that Excel shows as written: never a formula, never cut
        short; `row` is the table row (1-based) named when the text is too long."""
        if len(value) > EXCEL_MAX_CELL_TEXT:
            _too_long(self.cells.table, column, row, len(value))
        value = _xml_text(value)
        if looks_like_formula(value) or value in ERROR_CODES:
            return f' s="{self.quoted_style_id()}"' + _string_ending(value)
        return _string_ending(value)

    def quoted_style_id(self) -> str:
        """The workbook's style of quote-prefixed text, registered on first use."""
        if self.quoted_style is None:
            self.quoted_style = str(self.cells.quoted_cell("=").style_id)
        return self.quoted_style

    def endings(self, column: pa.Array, name: str, table_row: int) -> pa.Array:
        """The ending of each value's cell, null for an empty cell; `table_row` is the table
        row (1-based) of the first value."""
        kind = column.type
        if pa.types.is_dictionary(kind):
            return self.dictionary_endings(column, name, table_row)
        if pa.types.is_integer(kind) and _all_exact(column):
            digits = pc.cast(column, pa.string())
            return pc.binary_join_element_wise(' t="n"><v>', digits, "</v></c>", "")
        if pa.types.is_boolean(kind):
            return pc.if_else(column, _string_ending("yes"), _string_ending("no"))
        if pa.types.is_floating(kind):
            return _float_endings(column)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return self.dictionary_endings(column, name, table_row)
        values = column.to_pylist()
        if pa.types.is_integer(kind):
            return pa.array([_number_ending(_integer(v)) for v in values], pa.string())
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            values = [None if v is None else ", ".join(map(str, v)) for v in values]
        seen: dict[str, str] = {}
        endings: list[str | None] = []
        for offset, value in enumerate(values):
            if value is None:
                endings.append(None)
                continue
            text = str(value)
            if text not in seen:
                seen[text] = self.text_ending(text, name, table_row + offset)
            endings.append(seen[text])
        return pa.array(endings, pa.string())

    def dictionary_endings(self, column: pa.Array, name: str, table_row: int) -> pa.Array:
        """The endings of a text or dictionary-encoded column: each distinct value's ending
        made once, then taken for every row (null where the row is null)."""
        column = own_dictionary(column)
        endings: list[str | None] = []
        for entry, value in enumerate(column.dictionary.to_pylist()):
            text = None if value is None else str(value)
            if text is not None and len(text) > EXCEL_MAX_CELL_TEXT:
                first = pc.index(column.indices, pa.scalar(entry, column.indices.type)).as_py()
                if first >= 0:
                    _too_long(self.cells.table, name, table_row + first, len(text))
                text = None  # no row holds it
            endings.append(None if text is None else self.text_ending(text, name, table_row))
        return pc.take(pa.array(endings, pa.string()), column.indices)

    def column(
        self, column: pa.Array, name: str, index: int, rows: pa.Array, table_row: int
    ) -> list[str | pa.Array]:
        """The cells of the index-th column (1-based) as the pieces of each row's XML, an
        empty cell left out; `rows` holds the sheet row numbers as text, `table_row` is the
        table row of the first value."""
        opening = f'<c r="{get_column_letter(index)}'
        endings = self.endings(column, name, table_row)
        if endings.null_count == 0:
            return [opening, rows, '"', endings]
        return [pc.binary_join_element_wise(opening, rows, '"', endings, "")]


# A sheet's rows: the serialiser, the slice of the table, the table row of its first row.
_SheetRows = tuple[_RowsXml, pa.Table, int]
# Sheets whose rows are still to be written, by the temporary file openpyxl wrote them to.
_Pending = dict[str, _SheetRows]


def own_dictionary(column: pa.Array) -> pa.DictionaryArray:
    """A text or dictionary column as a dictionary of the values its own rows hold (a slice of
    a long dictionary array otherwise keeps every value of the whole)."""
    if pa.types.is_dictionary(column.type):
        if len(column.dictionary) <= len(column):
            return column
        column = column.dictionary_decode()
    return pc.dictionary_encode(column)


def _all_exact(column: pa.Array) -> bool:
    """Whether every integer of a column is an Excel number written with all its digits."""
    limits = pc.min_max(column)
    low, high = limits["min"].as_py(), limits["max"].as_py()
    return low is None or (abs(low) < EXACT_INTEGER_LIMIT and abs(high) < EXACT_INTEGER_LIMIT)


def _string_ending(value: str) -> str:
    """The ending of a text cell as openpyxl writes it: empty text as an empty cell, outer
    whitespace kept."""
    if not value:
        return ' t="inlineStr" />'
    stripped = value.strip()
    space = ' xml:space="preserve"' if stripped and stripped != value else ""
    return f' t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def _number_ending(value: float | str | None) -> str | None:
    """The ending of a number cell (16 significant digits, as openpyxl writes them), of a text
    cell for a number written as text, or None for an empty cell."""
    if value is None:
        return None
    if isinstance(value, str):
        return _string_ending(value)
    return f' t="n"><v>{value:.16g}</v></c>'


def _float_endings(column: pa.Array) -> pa.Array:
    """The endings of a float column's cells: numbers with 16 significant digits, text for an
    infinity, null (an empty cell) for null and NaN."""
    values = pc.fill_null(pc.cast(column, pa.float64()), 0.0).to_numpy(zero_copy_only=False)
    digits = pa.array(map("%.16g".__mod__, values.tolist()), pa.string(), size=len(values))
    numbers = pc.binary_join_element_wise(' t="n"><v>', digits, "</v></c>", "")
    infinities = pc.if_else(pc.greater(column, 0), _string_ending("inf"), _string_ending("-inf"))
    others = pc.if_else(pc.is_inf(column), infinities, pa.scalar(None, pa.string()))
    return pc.if_else(pc.is_finite(column), numbers, others)


def _rows_xml(rows: _RowsXml, part: pa.Table, first_table_row: int) -> Iterator[bytes]:
    """The XML of a slice of a table below its header, UTF-8, one batch of rows at a time."""
    sheet_row, table_row = 2, first_table_row
    names = part.schema.names
    for batch in part.to_batches(max_chunksize=ROWS_PER_WRITE) if names else ():
        numbers = pc.cast(pa.array(range(sheet_row, sheet_row + batch.num_rows)), pa.string())
        cells = [
            piece
            for index, (column, name) in enumerate(zip(batch.columns, names, strict=True), 1)
            for piece in rows.column(column, name, index, numbers, table_row)
        ]
        xml = pc.binary_join_element_wise(
            '<row r="', numbers, '">', *cells, "</row>", "",
            null_handling="replace", null_replacement="",
        )  # fmt: skip
        yield string_bytes(xml)
        sheet_row += batch.num_rows
        table_row += batch.num_rows


def string_bytes(strings: pa.StringArray) -> memoryview:
    """The values of a string array without nulls, one after the other, as UTF-8 (a view of
    the array's data, not a copy)."""
    _, offsets, data = strings.buffers()
    if len(strings) == 0 or data is None:
        return memoryview(b"")
    bounds = memoryview(offsets).cast("q" if pa.types.is_large_string(strings.type) else "i")
    start, end = bounds[strings.offset], bounds[strings.offset + len(strings)]
    return memoryview(data)[start:end]


def _write_rows(
    sheet: WriteOnlyWorksheet, cells: _Cells, part: pa.Table, first_row: int, pending: _Pending
) -> None:
    """Close a sheet holding its header row; its table rows go into `pending`, to be put in
    after the header as the sheet is saved."""
    sheet.close()
    pending[str(sheet._writer.out)] = (_RowsXml(cells), part, first_row)


def _check_text_lengths(name: str, table: pa.Table) -> None:
    """Refuse, before anything is written, text longer than an Excel cell holds."""
    for field, column in zip(table.schema, table.columns, strict=True):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        too_long = pc.greater(pc.utf8_length(column), EXCEL_MAX_CELL_TEXT)
        if pc.any(too_long).as_py():
            row = pc.index(too_long, True).as_py() + 1
            _too_long(name, field.name, row, len(column[row - 1].as_py()))


def _too_long(table: str, column: str, row: int, length: int) -> None:
    """Raise the error for a cell too long for Excel."""
    raise WorkbookError(
        f"{WORKBOOK_NAME}: {table}.{column} row {row} holds {length:,} characters, more than "
        f"an Excel cell can hold ({EXCEL_MAX_CELL_TEXT:,}); the workbook would cut it short"
    )


def _add_table(
    workbook: Workbook,
    name: str,
    table: pa.Table,
    labels: Labels,
    max_rows: int,
    pending: _Pending,
) -> list[list[Any]]:
    """One table as one sheet or more, its rows left in `pending` for the save; return a row
    for the sheets sheet per sheet."""
    if table.num_columns > EXCEL_MAX_COLUMNS:
        raise WorkbookError(
            f"{WORKBOOK_NAME}: {name} has {table.num_columns:,} columns, more than an Excel "
            f"sheet can hold ({EXCEL_MAX_COLUMNS:,})"
        )
    _check_text_lengths(name, table)
    headers = [labels.get(column, column) for column in table.column_names]
    listed = []
    for part, rows in _parts(table, max_rows):
        sheet_name = _sheet_name(workbook, name, part)
        sheet = workbook.create_sheet(sheet_name)
        _prepare(sheet, headers)
        sheet.append(_header(sheet, headers))
        first_row = (part - 1) * max_rows + 1
        _write_rows(sheet, _Cells(sheet, name), rows, first_row, pending)
        last_row = first_row + rows.num_rows - 1
        listed.append([sheet_name, name, first_row, last_row, table.num_rows])
    return listed


def _abandon(workbook: Workbook) -> None:
    """Close the sheets of a workbook that will not be saved and remove their temporary files."""
    for sheet in workbook.worksheets:
        try:
            if not sheet.closed:
                sheet.close()
            sheet._writer.cleanup()
        except Exception:  # best effort on the way out of a failure
            continue


def _add_listing(
    workbook: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """A small explanatory sheet of plain text and numbers."""
    sheet = workbook.create_sheet(_sheet_name(workbook, title, 1))
    _prepare(sheet, headers)
    cells = _Cells(sheet, title)
    sheet.append(_header(sheet, headers))
    for number, row in enumerate(rows, 1):
        sheet.append(
            [
                cells.text(v, headers[i], number) if isinstance(v, str) else v
                for i, v in enumerate(row)
            ]
        )


def _column_rows(
    tables: Mapping[str, pa.Table], labels: Labels, descriptions: Labels
) -> list[list[Any]]:
    """One row per table and column for the columns sheet."""
    return [
        [
            name,
            field.name,
            labels.get(field.name, field.name),
            _kind(field),
            descriptions.get(f"{name}.{field.name}", descriptions.get(field.name, "")),
        ]
        for name, table in tables.items()
        for field in table.schema
    ]


class _FixedTimeZip(zipfile.ZipFile):
    """A zip archive whose entries all carry one fixed time and are deflated; a sheet file
    with rows pending gets them streamed in as it is copied into the archive."""

    def __init__(self, file: BinaryIO, pending: _Pending | None = None) -> None:
        super().__init__(file, "w", allowZip64=True)
        self.pending: _Pending = {} if pending is None else pending

    def _entry(self, name: str) -> zipfile.ZipInfo:
        entry = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry._compresslevel = DEFLATE_LEVEL  # type: ignore[attr-defined]
        entry.external_attr = 0o644 << 16
        return entry

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        name = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        super().writestr(self._entry(name), data)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        entry = self._entry(str(arcname or filename))
        rows = self.pending.pop(str(filename), None)
        with open(filename, "rb") as source, self.open(entry, "w", force_zip64=True) as target:
            if rows is None:
                shutil.copyfileobj(source, target, 1 << 20)
            else:
                _stream_sheet(source.read(), rows, target)


def _stream_sheet(frame: bytes, rows: _SheetRows, target: BinaryIO) -> None:
    """A sheet's XML: its frame as openpyxl wrote it, the table's rows after the header."""
    head, tail = frame.rsplit(b"</sheetData>", 1)
    target.write(head)
    for chunk in _rows_xml(*rows):
        target.write(chunk)
    target.write(b"</sheetData>" + tail)


def _save(workbook: Workbook, path: Path, pending: _Pending | None = None) -> None:
    """Save with fixed document and zip times, into a file this function owns; the rows in
    `pending` go into their sheets on the way."""
    fixed = datetime(*FIXED_ZIP_TIME)
    workbook.properties.created = workbook.properties.modified = fixed
    workbook.properties.creator = "areascreen"
    with path.open("wb") as handle, _FixedTimeZip(handle, pending) as archive:
        ExcelWriter(workbook, archive).write_data()


def write_xlsx(
    tables: Mapping[str, pa.Table],
    path: Path,
    labels: Labels | None = None,
    *,
    descriptions: Labels | None = None,
    max_rows: int = EXCEL_MAX_ROWS - 1,
) -> Path:
    """Write the tables to one workbook: a sheet per table, then `sheets` and `columns`.

    `labels` maps a column name to the header shown (default: the name); `descriptions` maps
    `table.column` or `column` to a sentence for the columns sheet. A table with more than
    `max_rows` rows continues on sheets named `<table> (2)`, `<table> (3)`, …, each with the
    header; the sheets sheet lists which rows each sheet holds.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    labels, descriptions = labels or {}, descriptions or {}
    workbook = Workbook(write_only=True)
    pending: _Pending = {}
    try:
        listed = []
        for name, table in tables.items():
            listed.extend(_add_table(workbook, name, table, labels, max_rows, pending))
        headers = ["sheet", "table", "first row", "last row", "rows in table"]
        _add_listing(workbook, SHEETS_SHEET, headers, listed)
        headers = ["table", "column", "label", "values", "description"]
        _add_listing(workbook, COLUMNS_SHEET, headers, _column_rows(tables, labels, descriptions))
        _save(workbook, path, pending)
    except BaseException:
        _abandon(workbook)
        raise
    return path
