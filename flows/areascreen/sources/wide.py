"""PxWeb's wide CSV and xlsx exports, read back into the table's cells.

PxWeb writes a table "wide": the stub variables as leading columns, one data column per
combination of the heading variables (e.g. one per year or per content).

- CSV: an optional title line (one quoted field), then a header row with the stub variables
  (quoted; their codes, texts or `code - text`) and one quoted column per heading combination,
  whose text is the heading values joined by a space; then one row per stub combination with
  quoted stub values and unquoted cells. The separator is a comma, semicolon, tab or space;
  SCB's bulk zip holds a semicolon-separated Windows-1252 file.
- xlsx: one sheet; the title in A1, the heading variables' value texts from row 3 (one row per
  heading variable, each value written once above the columns it spans), the stub value texts
  in the leading columns (written once for the rows they span), the cells below the heading,
  and footnotes after a blank row.

Cells are numbers, `-` (a true zero), a run of dots (no figure) or blank (no figure). A wide
file carries texts rather than codes, so the table's metadata maps them to codes.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsonstat import Dataset, Dimension, is_nil_symbol, is_suppression_symbol

WIDE_SUFFIXES = (".csv", ".xlsx")
SEPARATORS = (";", ",", "\t")
SHOWN = 5


class WideFileError(ValueError):
    """A wide export cannot be read or does not fit the table; names the file and the problem."""


@dataclass(frozen=True)
class WideTable:
    """A wide export as read: stub headers and values per row, column texts, cell texts."""

    stub_headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[Any, ...], ...]
    first_row: int  # file row (1-based) of the first data row, for errors


# --- reading the file -------------------------------------------------------------------------


def read_wide(path: Path, meta: Dataset) -> tuple[Dataset, bytes]:
    """A wide CSV or xlsx (alone or the one such file in a zip) as a Dataset of the table."""
    path = Path(path)
    raw = path.read_bytes()
    name = path.name
    if path.suffix.lower() == ".zip":
        name, member = _member_in_zip(path, raw)
        context = f"{path} ({name})"
    else:
        member, context = raw, str(path)
    if name.lower().endswith(".xlsx"):
        table = read_xlsx(member, context)
    else:
        table = read_csv(member, context)
    return to_dataset(table, meta, context), raw


def _member_in_zip(path: Path, raw: bytes) -> tuple[str, bytes]:
    """The one CSV or xlsx member of a zip."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = [n for n in archive.namelist() if n.lower().endswith(WIDE_SUFFIXES)]
        if len(members) != 1:
            raise WideFileError(
                f"{path}: expected one .csv or .xlsx file in the zip, found {members or 'none'}"
            )
        return members[0], archive.read(members[0])


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("windows-1252")


def _separator(lines: Sequence[str]) -> str:
    """The separator of the header row: the most frequent of `;`, `,` and tab outside quotes."""
    header = next((line for line in lines if _unquoted(line).strip()), "")
    counts = {sep: _unquoted(header).count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _unquoted(line: str) -> str:
    """A line without its quoted parts."""
    return re.sub(r'"[^"]*"', "", line)


def read_csv(raw: bytes, context: str) -> WideTable:
    """A PxWeb CSV export: optional title line, header row, then one row per stub combination."""
    text = decode_text(raw)
    lines = text.splitlines()
    separator = _separator(lines[1:] or lines)
    records = list(csv.reader(lines, delimiter=separator))
    numbered = [(n + 1, r) for n, r in enumerate(records) if any(f.strip() for f in r)]
    if numbered and len(numbered[0][1]) == 1 and len(numbered) > 1 and len(numbered[1][1]) > 1:
        numbered = numbered[1:]  # the title line
    if len(numbered) < 2:
        raise WideFileError(f"{context}: no header row and data rows")
    header_row, header = numbered[0]
    data_lines = [lines[n - 1] for n, _ in numbered[1:]]
    stubs = _csv_stub_count(data_lines, separator, len(header), context)
    rows, cells = [], []
    for number, record in numbered[1:]:
        if len(record) != len(header):
            raise WideFileError(
                f"{context}: row {number} has {len(record)} fields, the header {len(header)}"
            )
        rows.append(tuple(f.strip() for f in record[:stubs]))
        cells.append(tuple(f.strip() for f in record[stubs:]))
    return WideTable(
        tuple(h.strip() for h in header[:stubs]),
        tuple(rows),
        tuple(h.strip() for h in header[stubs:]),
        tuple(cells),
        header_row + 1,
    )


def _csv_stub_count(lines: Sequence[str], separator: str, width: int, context: str) -> int:
    """PxWeb quotes the stub values and not the cells: the leading quoted fields of the data
    rows are the stub. A file without quotes (saved again by a spreadsheet) is read by content:
    the stub is the leading columns that hold something other than cells."""
    quoted = [_leading_quoted(line, separator) for line in lines if line.strip()]
    if quoted and min(quoted) > 0 and min(quoted) < width:
        return min(quoted)
    records = list(csv.reader(lines, delimiter=separator))
    for position in range(width):
        if all(_is_cell_text(r[position]) for r in records if position < len(r)):
            if position == 0:
                raise WideFileError(f"{context}: the first column holds cells, not stub values")
            return position
    raise WideFileError(f"{context}: no column holds cells (numbers, `-` or dots)")


def _leading_quoted(line: str, separator: str) -> int:
    """How many fields at the start of a line are quoted."""
    count, position = 0, 0
    while position < len(line) and line[position] == '"':
        end = line.find('"', position + 1)
        while end != -1 and line[end + 1 : end + 2] == '"':
            end = line.find('"', end + 2)
        if end == -1:
            break
        count += 1
        position = end + 1
        if line[position : position + 1] != separator:
            break
        position += 1
    return count


def _is_cell_text(text: str) -> bool:
    """A number, `-`, a run of dots or blank."""
    text = text.strip()
    return (
        text == ""
        or is_nil_symbol(text)
        or is_suppression_symbol(text)
        or _number(text) is not None
    )


def read_xlsx(raw: bytes, context: str) -> WideTable:
    """A PxWeb xlsx export: title in A1, heading rows from row 3, stubs and cells below."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise WideFileError(f"{context}: not a readable xlsx workbook ({exc})") from exc
    try:
        grid = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
    start = next((i for i in range(2, len(grid)) if _filled(grid[i][:1])), None)
    if start is None or start == 2:
        raise WideFileError(f"{context}: no heading rows from row 3 above the data")
    heading = [row for row in grid[2:start] if _filled(row)]
    stubs = min(next(i for i, v in enumerate(row) if _blankless(v)) for row in heading)
    data = list(itertools.takewhile(_filled, grid[start:]))
    width = max(len(row) for row in heading)
    columns = _xlsx_columns(heading, stubs, width)
    rows, cells, carried = [], [], [""] * stubs
    for row in data:
        row = [*row, *[None] * (width - len(row))]
        carried = [_text(v) if _blankless(v) else carried[i] for i, v in enumerate(row[:stubs])]
        rows.append(tuple(carried))
        cells.append(tuple(row[stubs:width]))
    return WideTable((), tuple(rows), columns, tuple(cells), start + 1)


def _filled(row: Iterable[Any]) -> bool:
    """Whether any cell of a row has content."""
    return any(_blankless(v) for v in row)


def _blankless(value: Any) -> bool:
    """A cell with content."""
    return value is not None and str(value).strip() != ""


def _text(value: Any) -> str:
    """A cell as text; integral numbers without a decimal part."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def _xlsx_columns(heading: Sequence[Sequence[Any]], stubs: int, width: int) -> tuple[str, ...]:
    """Each data column's text: the heading rows' values, each carried right over its span."""
    texts: list[list[str]] = [[] for _ in range(width - stubs)]
    for row in heading:
        current = ""
        for position in range(stubs, width):
            value = row[position] if position < len(row) else None
            current = _text(value) if _blankless(value) else current
            texts[position - stubs].append(current)
    return tuple(" ".join(t for t in parts if t) for parts in texts)


# --- mapping texts to the table's codes -------------------------------------------------------


def _normal(text: str) -> str:
    """Lower case, single spaces."""
    return " ".join(str(text).lower().split())


def _value_keys(dimension: Dimension, code: str) -> tuple[str, ...]:
    """How an export may write a value: code, text, or code and text."""
    label = dimension.labels.get(code, code)
    return tuple(
        dict.fromkeys(_normal(k) for k in (code, label, f"{code} - {label}", f"{code} {label}"))
    )


def _lookup(dimension: Dimension) -> dict[str, str]:
    """Text -> code for a dimension; a text shared by two codes is left out."""
    seen: dict[str, set[str]] = {}
    for code in dimension.codes:
        for key in _value_keys(dimension, code):
            seen.setdefault(key, set()).add(code)
    return {key: code for key, codes in seen.items() if (code := _unique(key, codes))}


def _unique(key: str, codes: set[str]) -> str | None:
    """The code of a text; of codes sharing a label (two vintages), the one the text starts with."""
    if len(codes) == 1:
        return next(iter(codes))
    first = key.split(" ")[0]
    starting = [c for c in codes if _normal(c) == first]
    return starting[0] if len(starting) == 1 else None


def _stub_dimensions(table: WideTable, meta: Dataset, context: str) -> list[str]:
    """The dimension of each stub column: by its header, else by the values it holds."""
    found: list[str] = []
    for position in range(len(table.rows[0]) if table.rows else 0):
        header = table.stub_headers[position] if table.stub_headers else ""
        values = {row[position] for row in table.rows}
        match = _dimension_by_header(header, meta) or _dimension_by_values(values, meta, found)

        if match is None or match in found:
            shown = ", ".join(sorted(values)[:SHOWN])
            raise WideFileError(
                f"{context}: stub column {position + 1} ({header or 'no header'}; values {shown}) "
                f"matches no variable of table {meta.table_id} ({', '.join(meta.ids)})"
            )
        found.append(match)
    return found


def _dimension_by_header(header: str, meta: Dataset) -> str | None:
    """A dimension named by its code, its label or both."""
    key = _normal(header)
    for dim_id, dim in meta.dimensions.items():
        if key and key in {_normal(dim_id), _normal(dim.label), _normal(f"{dim_id} - {dim.label}")}:
            return dim_id
    return None


def _dimension_by_values(values: set[str], meta: Dataset, taken: Sequence[str]) -> str | None:
    """The dimension that has every value of a column; when several have them (`totalt` of age
    and of sex), the first after the stub columns already matched, as PxWeb keeps their order."""
    after = max((meta.ids.index(t) for t in taken), default=-1)
    matches = [
        dim_id
        for position, (dim_id, dim) in enumerate(meta.dimensions.items())
        if dim_id not in taken
        and position > after
        and {_normal(v) for v in values} <= set(_lookup(dim))
    ]
    return matches[0] if matches else None


def _heading_map(
    heading: Sequence[str], meta: Dataset, columns: Sequence[str], context: str
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The heading variables' order and each column's codes, trying each order of the variables."""
    wanted = [_normal(c) for c in columns]
    for order in itertools.permutations(heading):
        texts: dict[str, tuple[str, ...]] = {}
        dims = [meta.dimensions[d] for d in order]
        for combo in itertools.product(*(d.codes for d in dims)):
            keys = itertools.product(*(_value_keys(d, c) for d, c in zip(dims, combo, strict=True)))
            for parts in keys:
                texts.setdefault(" ".join(parts), combo)
        if all(w in texts for w in wanted):
            return tuple(order), [texts[w] for w in wanted]
    unknown = columns[0] if columns else ""
    raise WideFileError(
        f"{context}: the column headers (e.g. {unknown!r}) are not combinations of the values "
        f"of {', '.join(heading)} in table {meta.table_id}"
    )


def _stub_codes(table: WideTable, stubs: Sequence[str], meta: Dataset) -> list[tuple[str, ...]]:
    """Each row's codes of the stub variables."""
    lookups = [_lookup(meta.dimensions[d]) for d in stubs]
    return [
        tuple(lookup[_normal(v)] for lookup, v in zip(lookups, row, strict=True))
        for row in table.rows
    ]


def _number(text: str) -> float | None:
    """A number as PxWeb writes it (`.` decimals; spaces as thousands separators tolerated)."""
    cleaned = text.replace("\u00a0", "").replace(" ", "")
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _cell(value: Any) -> tuple[float | None, str | None] | None:
    """(value, status) of a cell, or None when it is not a cell."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value), None
    text = _text(value)
    if is_nil_symbol(text):
        return 0.0, "-"
    if text == "" or is_suppression_symbol(text):
        return None, text or ".."
    number = _number(text)
    return None if number is None else (number, None)


def _grid(
    table: WideTable,
    stub_codes: Sequence[tuple[str, ...]],
    column_codes: Sequence[tuple[str, ...]],
    context: str,
) -> dict[tuple[str, ...], tuple[float | None, str | None]]:
    """Cells keyed by their codes (stub then heading); bad cells named by row and column."""
    cells: dict[tuple[str, ...], tuple[float | None, str | None]] = {}
    for n, (codes, row) in enumerate(zip(stub_codes, table.cells, strict=True)):
        for column, value in enumerate(row):
            parsed = _cell(value)
            if parsed is None:
                raise WideFileError(
                    f"{context}: row {table.first_row + n}, column {table.columns[column]!r}: "
                    f"{value!r} is not a number, `-` or dots"
                )
            key = codes + column_codes[column]
            if key in cells:
                raise WideFileError(f"{context}: row {table.first_row + n} repeats {key}")
            cells[key] = parsed
    return cells


def to_dataset(table: WideTable, meta: Dataset, context: str) -> Dataset:
    """The wide table as a Dataset in the metadata's variable order, holding the codes present."""
    if not table.rows:
        raise WideFileError(f"{context}: no data rows")
    stubs = _stub_dimensions(table, meta, context)
    unknown = [
        (position, row[position])
        for row in table.rows
        for position, lookup in enumerate(_lookup(meta.dimensions[d]) for d in stubs)
        if _normal(row[position]) not in lookup
    ]
    if unknown:
        raise WideFileError(f"{context}: stub value {unknown[0][1]!r} is not in the table")
    heading = [d for d in meta.ids if d not in stubs]
    order, column_codes = _heading_map(heading, meta, table.columns, context)
    cells = _grid(table, _stub_codes(table, stubs, meta), column_codes, context)
    positions = [(*stubs, *order).index(d) for d in meta.ids]
    by_meta = {tuple(key[p] for p in positions): cell for key, cell in cells.items()}
    return _dataset(meta, by_meta, context)


def _dataset(
    meta: Dataset, cells: Mapping[tuple[str, ...], tuple[float | None, str | None]], context: str
) -> Dataset:
    """A Dataset of the codes present, every combination required."""
    present = [set(key[i] for key in cells) for i in range(len(meta.ids))]
    dims = {d: _subset(meta.dimensions[d], present[i]) for i, d in enumerate(meta.ids)}
    values: list[float | None] = []
    status: dict[int, str] = {}
    for index, key in enumerate(itertools.product(*(dims[d].codes for d in meta.ids))):
        if key not in cells:
            raise WideFileError(f"{context}: no cell for {dict(zip(meta.ids, key, strict=True))}")
        value, symbol = cells[key]
        values.append(None if symbol == "-" else value)
        if symbol is not None:
            status[index] = symbol
    return Dataset(
        label=meta.label,
        updated=meta.updated,
        ids=meta.ids,
        sizes=tuple(len(dims[d].codes) for d in meta.ids),
        dimensions=dims,
        roles=meta.roles,
        table_id=meta.table_id,
        values=tuple(values),
        status=status,
    )


def _subset(dimension: Dimension, codes: set[str]) -> Dimension:
    """A dimension with only some of its codes, in its order."""
    kept = tuple(c for c in dimension.codes if c in codes)
    labels = {c: dimension.labels[c] for c in kept if c in dimension.labels}
    return Dimension(dimension.id, dimension.label, kept, labels, dimension.extension)
