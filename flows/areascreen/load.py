"""Read a table of area statistics from CSV, Parquet or Excel into the input contract.

The format is taken from the file's content, never its name. CSV is read the way Statistics
Sweden exports it (`;` separator, decimal comma, `..` for suppressed values), in UTF-8 with or
without a byte-order mark, or in Latin-1 when the bytes are not valid UTF-8. Column names in
Swedish or English are mapped through `data/column_map.csv`. Values are converted where they
convert; values that do not (text in a count, `12,5` people) are kept as `ParseProblem`s for
the validation to report, never coerced. Identifiers (area and municipality codes) are taken
exactly as written: no stripping, no case folding, so the validation can reject them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from areascreen import contract, paths
from areascreen.errors import AreascreenError, InputError

COLUMN_MAP_CSV = paths.DATA_DIR / "column_map.csv"
SUPPRESSED_MARKERS: frozenset[str] = frozenset({"..", ".", "-", ""})
TEXT_COLUMNS: tuple[str, ...] = ("area_code", "area_name", "municipality_code")
INTEGER_COLUMNS: tuple[str, ...] = ("year", *contract.COUNT_COLUMNS)
CANONICAL_NAME = re.compile(r"[a-z][a-z0-9_]*")
CODE_COLUMNS: tuple[str, ...] = ("area_code", "municipality_code")
DELIMITERS: Mapping[str, str] = {";": "';'", ",": "','", "\t": "tab"}
MAX_HEADER_CHARS = 65_536
MAX_LISTED = 10
_MIN_KNOWN_HEADER_COLUMNS = 2
_SNIFF_BYTES = 8_192


@dataclass(frozen=True)
class InputColumns:
    """Which columns a run needs: text identifiers and whole-number counts."""

    text: tuple[str, ...] = TEXT_COLUMNS
    integers: tuple[str, ...] = INTEGER_COLUMNS

    def __post_init__(self) -> None:
        names = self.all
        bad = [n for n in names if not CANONICAL_NAME.fullmatch(n)]
        if bad:
            raise AreascreenError(f"column names must match [a-z][a-z0-9_]*: {bad}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise AreascreenError(f"columns needed more than once: {', '.join(twice)}")

    @property
    def all(self) -> tuple[str, ...]:
        """Every needed column, text first, in frame order."""
        return (*self.text, *self.integers)


DEFAULT_COLUMNS = InputColumns()


@dataclass(frozen=True)
class ParseProblem:
    """A value that does not convert to its contract type, where it is in the file."""

    row: int
    column: str
    raw: str

    def describe(self) -> str:
        """Short text naming the column and the raw value, e.g. `employed '12,5'`."""
        return f"{self.column} {self.raw!r}"


@dataclass(frozen=True)
class LoadedInput:
    """A table read into the input contract, with everything learned while reading it."""

    frame: pd.DataFrame
    path: Path
    file_format: str
    encoding: str | None
    column_map_used: dict[str, str]
    notes: tuple[str, ...] = ()
    parse_problems: tuple[ParseProblem, ...] = ()
    row_numbers: np.ndarray | None = field(default=None, repr=False)
    row_label: str = "row"
    columns: InputColumns = DEFAULT_COLUMNS

    def source_rows(self) -> np.ndarray:
        """Where each frame row is in the file: CSV line or sheet row (header = 1)."""
        if self.row_numbers is not None:
            return self.row_numbers
        return np.arange(2, len(self.frame) + 2, dtype=np.int64)

    def problem_cells(self) -> pd.DataFrame:
        """Boolean frame, one column per frame column: True where a cell did not convert."""
        names = [str(c) for c in self.frame.columns]
        cells = np.zeros((len(self.frame), len(names)), dtype=bool)
        if self.parse_problems:
            positions = pd.Index(self.source_rows()).get_indexer(
                [p.row for p in self.parse_problems]
            )
            where = [names.index(p.column) for p in self.parse_problems]
            cells[positions, where] = True
        return pd.DataFrame(cells, columns=names)


@dataclass(frozen=True)
class _RawTable:
    """Cells as read, before conversion: one Series per source column."""

    header: list[str]
    columns: dict[str, pd.Series]
    row_numbers: np.ndarray
    row_label: str


def read_area_statistics(
    path: Path,
    *,
    sheet: str | int | None = None,
    decimal: str | None = None,
    columns: InputColumns | None = None,
) -> LoadedInput:
    """Read one file of area statistics; raises InputError naming the file when it cannot.

    The frame holds exactly `columns.text + columns.integers` (today's contract when None).
    """
    path = Path(path)
    columns = columns or DEFAULT_COLUMNS
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path.name}: cannot be read: {exc.strerror or exc}") from exc
    file_format = detect_format(path, data)
    if file_format == "csv":
        return _read_csv(path, data, decimal, columns)
    if file_format == "parquet":
        return _read_parquet(path, decimal, columns)
    return _read_xlsx(path, sheet, decimal, columns)


def detect_format(path: Path, data: bytes) -> str:
    """The table format from the file's first bytes: 'csv', 'parquet' or 'xlsx'."""
    name = path.name
    head = data[:_SNIFF_BYTES]
    if not data:
        raise InputError(f"{name}: the file is empty")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        _require_xlsx_zip(path, data)
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise InputError(
            f"{name}: an old-style Excel .xls (OLE2) workbook, which is not read; "
            "save it as .xlsx or as CSV"
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: UTF-16 text, which is not read; save it as UTF-8 CSV")
    if b"\x00" in head:
        raise InputError(f"{name}: a binary file, not a table (expected CSV, Parquet or .xlsx)")
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] == b"<":
        raise InputError(f"{name}: looks like HTML or XML, not a table (expected CSV)")
    if start[:1] in (b"{", b"["):
        raise InputError(f"{name}: looks like JSON, not a table (expected CSV)")
    return "csv"


def _require_xlsx_zip(path: Path, data: bytes) -> None:
    """Raise unless a zip archive holds an Excel workbook (an `xl/` folder)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path.name}: a damaged zip archive, not a readable .xlsx") from exc
    if not any(n.startswith("xl/") for n in names):
        raise InputError(f"{path.name}: a zip archive but not an Excel .xlsx workbook")


# --- column names -------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """Column name as matched against the map: trimmed, case-folded, dashes and spaces unified."""
    text = str(name).replace("\ufeff", "").strip().casefold()
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    return re.sub(r"\s+", " ", text)


@lru_cache(maxsize=1)
def column_map() -> dict[str, str]:
    """Normalised source name -> canonical name, from data/column_map.csv plus the contract's own."""
    mapping = {normalise_name(c): c for c in contract.INPUT_COLUMNS}
    with COLUMN_MAP_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            target = row["contract_name"].strip()
            if not CANONICAL_NAME.fullmatch(target):
                raise AreascreenError(
                    f"{COLUMN_MAP_CSV.name}: {row['source_name']!r} maps to {target!r}, "
                    "which is not a column name ([a-z][a-z0-9_]*)"
                )
            mapping[normalise_name(row["source_name"])] = target
    return mapping


def _target(source: str, columns: InputColumns) -> str | None:
    """The canonical name a source column maps to; a needed canonical name maps to itself."""
    normalised = normalise_name(source)
    if normalised in columns.all:
        return normalised
    return column_map().get(normalised)


def accepted_names(canonical: str) -> list[str]:
    """Every column name (normalised) that maps to one canonical column, itself included."""
    return sorted({canonical, *(s for s, c in column_map().items() if c == canonical)})


def map_header(
    name: str, header: Sequence[str], columns: InputColumns = DEFAULT_COLUMNS
) -> tuple[dict[str, str], list[str]]:
    """Map a header to the needed columns: (source -> canonical, source names read past)."""
    used: dict[str, str] = {}
    ignored: list[str] = []
    for source in header:
        target = _target(source, columns)
        if target is None or target not in columns.all:
            ignored.append(source)
            continue
        clash = next((s for s, c in used.items() if c == target), None)
        if clash is not None:
            raise InputError(f"{name}: columns {clash!r} and {source!r} both map to {target}")
        used[source] = target
    missing = [c for c in columns.all if c not in used.values()]
    if missing:
        raise InputError(f"{name}: {_missing_message(missing)}")
    return used, ignored


def _missing_message(missing: Sequence[str]) -> str:
    """'missing required column(s) …' with the names each one is accepted under."""
    parts = [f"{c} (accepted names: {', '.join(accepted_names(c))})" for c in missing]
    noun = "column" if len(missing) == 1 else "columns"
    return f"missing required {noun}: " + "; ".join(parts)


def _known_count(header: Iterable[str], columns: InputColumns = DEFAULT_COLUMNS) -> int:
    """How many distinct known columns (mapped or needed) a header names."""
    return len({t for t in (_target(h, columns) for h in header) if t is not None})


def _ignored_note(ignored: Sequence[str]) -> tuple[str, ...]:
    """A note listing the columns present but not needed, which are read past."""
    if not ignored:
        return ()
    names = ", ".join(repr(n) if n.strip() else "(unnamed)" for n in ignored)
    return (f"ignored columns not used by the ruleset: {names}",)


# --- CSV --------------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str, tuple[str, ...]]:
    """Decode CSV bytes: UTF-8 (with or without BOM) when valid, else Latin-1, and say which."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig", ("read as UTF-8 with a byte-order mark",)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8", ()
    except UnicodeDecodeError as exc:
        note = f"read as Latin-1 (ISO-8859-1): not valid UTF-8 (byte {exc.start + 1})"
        return data.decode("latin-1"), "latin-1", (note,)


def _header_line(name: str, text: str) -> str:
    """The first non-empty line; refuses a 'line' too long to be a header."""
    stripped = text.lstrip("\r\n")
    end = stripped.find("\n", 0, MAX_HEADER_CHARS + 1)
    if end < 0 and len(stripped) > MAX_HEADER_CHARS:
        raise InputError(
            f"{name}: the first line is longer than {MAX_HEADER_CHARS:,} characters, "
            "so it is no header line (line breaks missing?)"
        )
    line = stripped if end < 0 else stripped[:end]
    if not line.strip():
        raise InputError(f"{name}: the file has no header line")
    return line.rstrip("\r")


def detect_delimiter(name: str, header_line: str, columns: InputColumns = DEFAULT_COLUMNS) -> str:
    """The separator (`;`, `,` or tab) that splits the header into the most known columns."""
    scores = {
        d: _known_count(next(csv.reader([header_line], delimiter=d)), columns) for d in DELIMITERS
    }
    best = max(scores, key=lambda d: scores[d])
    if scores[best] < _MIN_KNOWN_HEADER_COLUMNS:
        shown = header_line if len(header_line) <= 120 else header_line[:120] + "…"
        raise InputError(
            f"{name}: the header does not split into known column names with ';', ',' or tab "
            f"(wrong separator, or not a table of area statistics?): {shown!r}"
        )
    return best


def _read_csv(path: Path, data: bytes, decimal: str | None, columns: InputColumns) -> LoadedInput:
    """Read CSV bytes into the contract."""
    name = path.name
    text, encoding, notes = decode_text(data)
    delimiter = detect_delimiter(name, _header_line(name, text), columns)
    raw = _csv_cells(name, text, delimiter)
    decimal = decimal or ("." if delimiter == "," else ",")
    notes = (*notes, f"separator {DELIMITERS[delimiter]}, decimal {decimal!r}")
    return _finish(path, "csv", encoding, raw, decimal, notes, columns)


def _csv_records(name: str, text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) for every non-blank record; csv errors become InputError."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous_end = 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if any(record):
                yield start, record
    except csv.Error as exc:
        raise InputError(f"{name}: line {previous_end + 1} cannot be read: {exc}") from exc


def _csv_cells(name: str, text: str, delimiter: str) -> _RawTable:
    """Split CSV text into header and cells, refusing records whose field count differs."""
    records = _csv_records(name, text, delimiter)
    _, header = next(records)
    width = len(header)
    lines: list[int] = []
    rows: list[list[str]] = []
    wrong: list[tuple[int, int]] = []
    for line, record in records:
        if len(record) != width:
            wrong.append((line, len(record)))
            continue
        lines.append(line)
        rows.append(record)
    if wrong:
        raise InputError(_field_count_message(name, width, wrong, delimiter, last=lines))
    cells = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    columns = {h: pd.Series(c, dtype="str") for h, c in zip(header, cells, strict=True)}
    return _RawTable(header, columns, np.asarray(lines, dtype=np.int64), "line")


def _field_count_message(
    name: str, width: int, wrong: Sequence[tuple[int, int]], delimiter: str, last: Sequence[int]
) -> str:
    """Explain records whose field count differs from the header's."""
    listed = ", ".join(f"line {line} has {n}" for line, n in wrong[:MAX_LISTED])
    more = ", …" if len(wrong) > MAX_LISTED else ""
    noun = "line has" if len(wrong) == 1 else "lines have"
    message = (
        f"{name}: {len(wrong)} {noun} a different number of fields than the header "
        f"({width}): {listed}{more}"
    )
    line, count = wrong[-1]
    if count < width and (not last or line > last[-1]):
        message += "; the last line looks truncated"
    if delimiter == "," and any(n > width for _, n in wrong):
        message += "; values with decimal commas in a comma-separated file?"
    return message


# --- Parquet and Excel -----------------------------------------------------------------------


def _read_parquet(path: Path, decimal: str | None, columns: InputColumns) -> LoadedInput:
    """Read a Parquet file into the contract."""
    try:
        table = pd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"{path.name}: not a readable Parquet file: {exc}") from exc
    header = [str(c) for c in table.columns]
    cells = {str(c): table[c].reset_index(drop=True) for c in table.columns}
    rows = np.arange(1, len(table) + 1, dtype=np.int64)
    raw = _RawTable(header, cells, rows, "row")
    return _finish(path, "parquet", None, raw, decimal or ".", (), columns)


def _read_xlsx(
    path: Path, sheet: str | int | None, decimal: str | None, columns: InputColumns
) -> LoadedInput:
    """Read one sheet of an .xlsx workbook (the first unless named) into the contract."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{path.name}: not a readable .xlsx workbook: {exc}") from exc
    try:
        worksheet = _pick_sheet(path.name, workbook, sheet)
        label = f"{path.name} (sheet {worksheet.title!r})"
        raw = _sheet_cells(label, worksheet.iter_rows(min_row=1, values_only=True))
        _check_sheet_header(label, raw, workbook.sheetnames, columns)
    finally:
        workbook.close()
    note = (f"sheet {worksheet.title!r}",)
    return _finish(path, "xlsx", None, raw, decimal or ".", note, columns, label=label)


def _pick_sheet(name: str, workbook, sheet: str | int | None):
    """The worksheet asked for: by name, by 0-based position, or the first."""
    names = workbook.sheetnames
    if sheet is None:
        return workbook.worksheets[0]
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return workbook.worksheets[sheet]
    elif sheet in names:
        return workbook[sheet]
    raise InputError(f"{name}: no sheet {sheet!r}; the workbook has {_sheet_list(names)}")


def _sheet_list(names: Sequence[str]) -> str:
    """'sheets 'A', 'B'' for messages."""
    return "sheets " + ", ".join(repr(n) for n in names)


def _sheet_cells(label: str, rows: Iterable[tuple]) -> _RawTable:
    """Header (first non-empty row) and cells of a sheet, with their sheet row numbers."""
    header: list[str] | None = None
    numbers: list[int] = []
    data: list[tuple] = []
    for number, values in enumerate(rows, start=1):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if header is None:
            header = ["" if v is None else str(v) for v in values]
            continue
        numbers.append(number)
        data.append(tuple(values) + (None,) * (len(header) - len(values)))
    if header is None:
        raise InputError(f"{label}: the sheet is empty")
    cells = list(zip(*data, strict=False)) if data else [() for _ in header]
    columns = {h: pd.Series(c, dtype=object) for h, c in zip(header, cells, strict=False)}
    return _RawTable(header, columns, np.asarray(numbers, dtype=np.int64), "row")


def _check_sheet_header(
    label: str, raw: _RawTable, sheet_names: Sequence[str], columns: InputColumns
) -> None:
    """Refuse a sheet whose first row names no known columns, pointing at the other sheets."""
    if _known_count(raw.header, columns) >= _MIN_KNOWN_HEADER_COLUMNS:
        return
    others = f"; the workbook has {_sheet_list(sheet_names)}" if len(sheet_names) > 1 else ""
    raise InputError(
        f"{label}: the first row holds no known column names, so this sheet is not a table "
        f"of area statistics{others}; name the sheet to read"
    )


# --- conversion to the contract -------------------------------------------------------------


def _finish(
    path: Path,
    file_format: str,
    encoding: str | None,
    raw: _RawTable,
    decimal: str,
    notes: tuple[str, ...],
    columns: InputColumns,
    *,
    label: str | None = None,
) -> LoadedInput:
    """Map the columns, convert the cells and assemble the LoadedInput."""
    used, ignored = map_header(label or path.name, raw.header, columns)
    by_name = {target: raw.columns[source] for source, target in used.items()}
    frame, problems, more_notes = convert_columns(by_name, decimal, raw.row_numbers, columns)
    return LoadedInput(
        frame=frame,
        path=path,
        file_format=file_format,
        encoding=encoding,
        column_map_used=dict(used),
        notes=notes + _ignored_note(ignored) + more_notes,
        parse_problems=problems,
        row_numbers=raw.row_numbers,
        row_label=raw.row_label,
        columns=columns,
    )


def convert_columns(
    cells_by_name: Mapping[str, pd.Series],
    decimal: str,
    rows: np.ndarray,
    columns: InputColumns = DEFAULT_COLUMNS,
) -> tuple[pd.DataFrame, tuple[ParseProblem, ...], tuple[str, ...]]:
    """The needed columns from raw cells: (frame, parse problems, notes)."""
    converted: dict[str, pd.Series] = {}
    problems: list[ParseProblem] = []
    notes: list[str] = []
    order = columns.all
    for column in order:
        cells = cells_by_name[column].reset_index(drop=True)
        if column in columns.text:
            converted[column], note = to_text(column, cells)
            notes.extend(note)
        else:
            converted[column], bad = to_integers(cells, decimal)
            problems.extend(_problems(column, cells, bad, rows))
    problems.sort(key=lambda p: (p.row, order.index(p.column)))
    frame = pd.DataFrame(converted, columns=list(order))
    return frame, tuple(problems), tuple(notes)


def _problems(
    column: str, cells: pd.Series, bad: np.ndarray, rows: np.ndarray
) -> list[ParseProblem]:
    """ParseProblems for the cells flagged bad."""
    return [ParseProblem(int(rows[i]), column, str(cells.iloc[i])) for i in np.flatnonzero(bad)]


def to_text(column: str, cells: pd.Series) -> tuple[pd.Series, tuple[str, ...]]:
    """Text column as written (empty = missing); numbers in a code column are noted."""
    note: tuple[str, ...] = ()
    if not isinstance(cells.dtype, pd.StringDtype):
        numeric = cells.map(_is_number, na_action="ignore").fillna(False).astype(bool)
        if numeric.any() and column in CODE_COLUMNS:
            count = int(numeric.sum())
            note = (f"{column} is stored as numbers in {count} rows (leading zeros lost?)",)
        cells = cells.map(_cell_text, na_action="ignore").astype("str")
    return cells.where(cells.ne("")).astype("str"), note


def _is_number(value: object) -> bool:
    """Whether a cell holds a number rather than text."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _cell_text(value: object) -> str:
    """A text cell's string; whole numbers without a trailing '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_integers(cells: pd.Series, decimal: str) -> tuple[pd.Series, np.ndarray]:
    """Whole numbers as Int64 (suppressed markers = NA) and a mask of cells that do not convert."""
    if pd.api.types.is_bool_dtype(cells.dtype):
        return pd.Series(pd.NA, index=cells.index, dtype="Int64"), cells.notna().to_numpy()
    if pd.api.types.is_integer_dtype(cells.dtype):
        return cells.astype("Int64"), np.zeros(len(cells), dtype=bool)
    if pd.api.types.is_float_dtype(cells.dtype):
        return _integers_from_floats(cells)
    return _integers_from_objects(cells, decimal)


def _integers_from_floats(cells: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Floats that are whole numbers as Int64; others flagged."""
    values = cells.astype("Float64")
    bad = (values.notna() & ((values % 1 != 0) | values.abs().gt(2**53))).fillna(False)
    return values.where(~bad).round().astype("Int64"), bad.to_numpy(dtype=bool)


def _integers_from_objects(cells: pd.Series, decimal: str) -> tuple[pd.Series, np.ndarray]:
    """Mixed cells (text, numbers, None) as Int64; text needs digits, optionally `<decimal>0…`."""
    if not isinstance(cells.dtype, pd.StringDtype):
        cells = cells.map(_number_text, na_action="ignore").astype("str")
    stripped = cells.str.strip()
    missing = stripped.isna() | stripped.isin(SUPPRESSED_MARKERS)
    pattern = rf"[+-]?\d{{1,15}}(?:{re.escape(decimal)}0*)?"
    matches = stripped.str.fullmatch(pattern).astype("boolean").fillna(False)
    whole = stripped.where(matches & ~missing).str.replace(
        rf"{re.escape(decimal)}0*$", "", regex=True
    )
    values = pd.to_numeric(whole, errors="coerce", dtype_backend="numpy_nullable").astype("Int64")
    bad = (~missing & ~matches).to_numpy(dtype=bool)
    return values, bad


def _number_text(value: object) -> object:
    """A numeric cell as text in '.'-decimal form; text stays text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else (str(int(value)) if value.is_integer() else repr(value))
    return str(value)


def check_year(loaded: LoadedInput, year: int) -> None:
    """Refuse a file whose statistics are for another year than the one screened."""
    if "year" not in loaded.frame.columns:
        return
    years = sorted(set(loaded.frame["year"].dropna().astype(int)))
    if years and years != [year]:
        found = ", ".join(str(y) for y in years)
        raise InputError(f"{loaded.path.name}: the file holds year {found}, but {year} is screened")
