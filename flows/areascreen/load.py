"""Read a table of area statistics from CSV, Parquet or Excel into the input contract.

One reader path: the file is checked to be a regular file within the size limit, read once,
its format taken from its content (never its name), and it is then read whole or refused with
an `InputError` naming the file, the line, row or cell, and the problem. Messages never quote
file content beyond the header line of a file that looks like a table, and show control
characters escaped.

CSV is read the way Statistics Sweden exports it (`;` separator, decimal comma, `..` for
suppressed values), in UTF-8 with or without a byte-order mark, else in Windows-1252 / Latin-1;
any line ending (LF, CRLF, CR) is accepted, and Excel's `sep=;` first line declares the
separator. Column names in Swedish or English are mapped through `data/column_map.csv`. Values
are converted where they convert; values that do not (text in a count, `12,5` people, digits
other than ASCII 0-9, more than 15 digits) are kept as `ParseProblem`s for the validation to
report, never coerced. Identifiers (area and municipality codes) are taken exactly as written:
no stripping, no case folding, so the validation can reject them.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
MAX_COUNT_DIGITS = 15
MAX_COUNT = 10**MAX_COUNT_DIGITS - 1
_MIN_KNOWN_HEADER_COLUMNS = 2
_SNIFF_BYTES = 8_192
_SHOWN_CHARS = 120
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEP_LINE = re.compile(r"sep=(.)", re.IGNORECASE)
_BLANK_LINE = re.compile(r"[ \t]*")


@dataclass(frozen=True)
class ReadLimits:
    """How much one input may hold; each limit can be raised by its environment variable."""

    max_bytes: int = 1024 * 1024 * 1024
    max_rows: int = 10_000_000
    max_sheet_rows: int = 100_000
    max_cell_chars: int = 10_000
    max_xlsx_expansion: int = 100

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ReadLimits:
        """The defaults, overridden by `AREASCREEN_MAX_INPUT_BYTES` and the other variables."""
        environ = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for item in fields(cls):
            variable = LIMIT_VARIABLES[item.name]
            text = environ.get(variable)
            if text is None or not text.strip():
                continue
            if not re.fullmatch(r"[0-9]{1,18}", text.strip()) or int(text) < 1:
                raise AreascreenError(f"{variable} must be a positive whole number, not {text!r}")
            values[item.name] = int(text)
        return cls(**values)


LIMIT_VARIABLES: Mapping[str, str] = {
    "max_bytes": "AREASCREEN_MAX_INPUT_BYTES",
    "max_rows": "AREASCREEN_MAX_INPUT_ROWS",
    "max_sheet_rows": "AREASCREEN_MAX_SHEET_ROWS",
    "max_cell_chars": "AREASCREEN_MAX_CELL_CHARS",
    "max_xlsx_expansion": "AREASCREEN_MAX_XLSX_EXPANSION",
}


def _over_limit(name: str, what: str, limit_name: str, limit: int) -> InputError:
    """The error for an input beyond one of the read limits, saying how to raise it."""
    return InputError(
        f"{name}: {what}, more than the limit of {limit:,}; "
        f"set {LIMIT_VARIABLES[limit_name]} to read it anyway"
    )


def shown(text: object, limit: int = _SHOWN_CHARS) -> str:
    """Text quoted for a message: control characters escaped, long text cut with '…'."""
    value = str(text)
    if len(value) > limit:
        return repr(value[:limit]) + "…"
    return repr(value)


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
    """A table read into the input contract, with everything learned while reading it.

    `data` is the table as read: Arrow where the reader could keep it so (Parquet), else a
    pandas frame; `table` and `frame` give it in either form, converted once when asked.
    """

    data: pd.DataFrame | pa.Table
    path: Path
    file_format: str
    encoding: str | None
    column_map_used: dict[str, str]
    notes: tuple[str, ...] = ()
    parse_problems: tuple[ParseProblem, ...] = ()
    row_numbers: np.ndarray | None = field(default=None, repr=False)
    row_label: str = "row"
    columns: InputColumns = DEFAULT_COLUMNS
    # The file row of the first table row when row_numbers is None (the rows then follow on).
    first_row: int = 2

    @property
    def rows(self) -> int:
        """How many rows the table holds."""
        return self.data.num_rows if isinstance(self.data, pa.Table) else len(self.data)

    @property
    def column_names(self) -> list[str]:
        """The table's columns, in order."""
        return [
            str(c)
            for c in (
                self.data.column_names if isinstance(self.data, pa.Table) else self.data.columns
            )
        ]

    @cached_property
    def table(self) -> pa.Table:
        """The table as Arrow (counts as int64 with nulls, text as strings)."""
        if isinstance(self.data, pa.Table):
            return self.data
        return pa.Table.from_pandas(self.data, preserve_index=False)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The table as pandas: text as `str`, counts as nullable `Int64`."""
        if isinstance(self.data, pd.DataFrame):
            return self.data
        return self.data.to_pandas(types_mapper=_nullable_integer_dtype_or_none)

    def source_rows(self) -> np.ndarray:
        """Where each row is in the file: CSV line or sheet row (header = 1)."""
        if self.row_numbers is not None:
            return self.row_numbers
        return np.arange(self.first_row, self.first_row + self.rows, dtype=np.int64)

    def problem_cells(self) -> pd.DataFrame:
        """Boolean frame, one column per table column: True where a cell did not convert."""
        names = self.column_names
        cells = np.zeros((self.rows, len(names)), dtype=bool)
        if self.parse_problems:
            positions = pd.Index(self.source_rows()).get_indexer(
                [p.row for p in self.parse_problems]
            )
            where = [names.index(p.column) for p in self.parse_problems]
            cells[positions, where] = True
        return pd.DataFrame(cells, columns=names)


@dataclass(frozen=True)
class _RawTable:
    """Cells as read, before conversion: one Series per source column, in header order."""

    header: list[str]
    cells: list[pd.Series]
    row_numbers: np.ndarray
    row_label: str


def read_area_statistics(
    path: Path,
    *,
    sheet: str | int | None = None,
    decimal: str | None = None,
    columns: InputColumns | None = None,
    limits: ReadLimits | None = None,
) -> LoadedInput:
    """Read one file of area statistics; raises InputError naming the file when it cannot.

    The frame holds exactly `columns.text + columns.integers` (today's contract when None);
    `limits` defaults to `ReadLimits.from_environment()`.
    """
    path = Path(path)
    columns = columns or DEFAULT_COLUMNS
    limits = limits or ReadLimits.from_environment()
    data = read_input_bytes(path, limits)
    file_format = detect_format(path, data)
    if file_format == "csv":
        return _read_csv(path, data, decimal, columns, limits)
    if file_format == "parquet":
        return _read_parquet(path, data, decimal, columns, limits)
    return _read_xlsx(path, data, sheet, decimal, columns, limits)


def read_input_bytes(path: Path, limits: ReadLimits) -> bytes:
    """The bytes of a regular file within the byte limit; anything else is refused unopened."""
    name = path.name
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read: {exc.strerror or exc}") from exc
    _require_regular(name, info.st_mode)
    if info.st_size > limits.max_bytes:
        raise _over_limit(
            name, f"the file has {info.st_size:,} bytes", "max_bytes", limits.max_bytes
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"{name}: cannot be read: {exc.strerror or exc}") from exc
    with os.fdopen(descriptor, "rb") as handle:
        _require_regular(name, os.fstat(handle.fileno()).st_mode)
        try:
            data = handle.read(limits.max_bytes + 1)
        except OSError as exc:
            raise InputError(f"{name}: cannot be read: {exc.strerror or exc}") from exc
    if len(data) > limits.max_bytes:
        raise _over_limit(name, "the file grew while read", "max_bytes", limits.max_bytes)
    return data


def _require_regular(name: str, mode: int) -> None:
    """Refuse a folder, device, FIFO or socket: only regular files are read."""
    if stat.S_ISREG(mode):
        return
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a named pipe (FIFO)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    kind = next((k for test, k in kinds.items() if test(mode)), "not a regular file")
    raise InputError(f"{name}: {kind}, not a regular file; only regular files are read")


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
    _refuse_nul(name, data)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] == b"<":
        raise InputError(f"{name}: looks like HTML or XML, not a table (expected CSV)")
    if start[:1] in (b"{", b"["):
        raise InputError(f"{name}: looks like JSON, not a table (expected CSV)")
    return "csv"


def _refuse_nul(name: str, data: bytes) -> None:
    """Refuse text with a NUL byte anywhere: a damaged or binary file, never a table."""
    position = data.find(b"\x00")
    if position < 0:
        return
    line = len(_LINE_BREAK.findall(data[:position].decode("latin-1"))) + 1
    raise InputError(
        f"{name}: a NUL byte at line {line} (byte {position + 1:,}): a damaged or binary file, "
        "not a table"
    )


def _require_xlsx_zip(path: Path, data: bytes) -> None:
    """Raise unless a zip archive holds an Excel workbook (an `xl/` folder)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except Exception as exc:
        raise InputError(
            f"{path.name}: a damaged or unsupported zip archive, not a readable .xlsx: "
            f"{_library_problem(exc)}"
        ) from exc
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
    positions, ignored = _header_positions(name, header, columns)
    return {header[i]: c for c, i in positions.items()}, [header[i] for i in ignored]


def _header_positions(
    name: str, header: Sequence[str], columns: InputColumns
) -> tuple[dict[str, int], list[int]]:
    """Needed column -> its position in the header, and the positions read past."""
    used: dict[str, int] = {}
    ignored: list[int] = []
    for position, source in enumerate(header):
        target = _target(source, columns)
        if target is None or target not in columns.all:
            ignored.append(position)
            continue
        if target in used:
            first = header[used[target]]
            raise InputError(
                f"{name}: columns {shown(first)} and {shown(source)} both map to {target}"
            )
        used[target] = position
    missing = [c for c in columns.all if c not in used]
    if missing:
        raise InputError(f"{name}: {_missing_message(missing)}")
    return {c: used[c] for c in columns.all}, ignored


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
    names = ", ".join(shown(n) if n.strip() else "(unnamed)" for n in ignored)
    return (f"ignored columns not used by the ruleset: {names}",)


# --- CSV --------------------------------------------------------------------------------------


def decode_text(data: bytes, name: str = "input") -> tuple[str, str, tuple[str, ...]]:
    """Decode CSV bytes: UTF-8 (with or without BOM) when valid, else Windows-1252 / Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig", ("read as UTF-8 with a byte-order mark",)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8", ()
    except UnicodeDecodeError as exc:
        first_bad = exc.start + 1
    c1 = _C1_BYTES.search(data)
    if c1 is None:
        note = f"read as Latin-1 (ISO-8859-1): not valid UTF-8 (byte {first_bad:,})"
        return data.decode("latin-1"), "latin-1", (note,)
    undefined = next((i for i, b in enumerate(data) if b in _CP1252_UNDEFINED), None)
    if undefined is not None:
        line = len(_LINE_BREAK.findall(data[:undefined].decode("latin-1"))) + 1
        raise InputError(
            f"{name}: byte 0x{data[undefined]:02X} at line {line} is neither UTF-8 nor a "
            "Windows-1252 character; save the file as UTF-8"
        )
    text = data.decode("cp1252")
    example = data[c1.start() : c1.start() + 1].decode("cp1252")
    note = (
        f"read as Windows-1252: not valid UTF-8 (byte {first_bad:,}); bytes 0x80-0x9F are "
        f"read as Windows-1252 characters such as {example!r}"
    )
    return text, "cp1252", (note,)


@dataclass(frozen=True)
class _CsvLayout:
    """How a CSV text is laid out: its separator and whether a `sep=` line declared it."""

    delimiter: str
    declared: bool


def _lines(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(start offset, line) from `start`, each line cut at MAX_HEADER_CHARS + 1 characters."""
    position = start
    while position < len(text):
        window = text[position : position + MAX_HEADER_CHARS + 2]
        found = _LINE_BREAK.search(window)
        if found is None or found.start() > MAX_HEADER_CHARS:
            yield position, window[: MAX_HEADER_CHARS + 1]
            return
        yield position, window[: found.start()]
        position += found.end()


def _first_lines(name: str, text: str) -> tuple[str | None, str]:
    """(the `sep=` line if any, the header line): the first lines that are not blank."""
    found: list[str] = []
    for _, line in _lines(text.removeprefix("\ufeff")):
        if len(line) > MAX_HEADER_CHARS:
            raise InputError(
                f"{name}: the first line is longer than {MAX_HEADER_CHARS:,} characters, "
                "so it is no header line (line breaks missing?)"
            )
        if _BLANK_LINE.fullmatch(line):
            continue
        found.append(line)
        if not _SEP_LINE.fullmatch(found[0].strip(" ")) or len(found) == 2:
            break
    if not found or (len(found) == 1 and _SEP_LINE.fullmatch(found[0].strip(" "))):
        raise InputError(f"{name}: the file has no header line")
    if len(found) == 2:
        return found[0], found[1]
    return None, found[0]


def detect_delimiter(name: str, header_line: str, columns: InputColumns = DEFAULT_COLUMNS) -> str:
    """The separator (`;`, `,` or tab) that splits the header into the most known columns."""
    scores = {
        d: _known_count(next(csv.reader([header_line], delimiter=d)), columns) for d in DELIMITERS
    }
    best = max(scores, key=lambda d: scores[d])
    if scores[best] >= _MIN_KNOWN_HEADER_COLUMNS:
        return best
    message = (
        f"{name}: the header does not split into known column names with ';', ',' or tab "
        "(wrong separator, or not a table of area statistics?)"
    )
    if _looks_like_a_header(header_line, columns):
        message += f": {shown(header_line)}"
    raise InputError(message)


def _looks_like_a_header(line: str, columns: InputColumns) -> bool:
    """Whether a line names known columns whatever it is split by (then it may be quoted)."""
    parts = re.split(r"[^\w\s\-\u2010-\u2015\u2212]+", line)
    return _known_count(parts, columns) >= _MIN_KNOWN_HEADER_COLUMNS


def _csv_layout(name: str, text: str, columns: InputColumns) -> _CsvLayout:
    """The separator: declared by Excel's `sep=` first line, else detected from the header."""
    sep_line, header_line = _first_lines(name, text)
    if sep_line is None:
        return _CsvLayout(detect_delimiter(name, header_line, columns), declared=False)
    delimiter = _SEP_LINE.fullmatch(sep_line.strip(" ")).group(1)
    if delimiter in '"\r\n' or delimiter.isalnum():
        raise InputError(f"{name}: the first line declares an unusable separator {delimiter!r}")
    header = next(csv.reader([header_line], delimiter=delimiter))
    if _known_count(header, columns) < _MIN_KNOWN_HEADER_COLUMNS:
        raise InputError(
            f"{name}: the header does not split into known column names with the separator "
            f"{shown(delimiter)} its first line declares"
        )
    return _CsvLayout(delimiter, declared=True)


def _delimiter_name(delimiter: str) -> str:
    """How a separator is named in notes: `';'`, `','`, `tab`."""
    return DELIMITERS.get(delimiter, shown(delimiter))


def _read_csv(
    path: Path, data: bytes, decimal: str | None, columns: InputColumns, limits: ReadLimits
) -> LoadedInput:
    """Read CSV bytes into the contract."""
    name = path.name
    text, encoding, notes = decode_text(data, name)
    layout = _csv_layout(name, text, columns)
    raw = _csv_cells(name, text, layout, limits)
    decimal = decimal or ("." if layout.delimiter == "," else ",")
    described = f"separator {_delimiter_name(layout.delimiter)}, decimal {decimal!r}"
    if layout.declared:
        described += " (separator declared by the 'sep=' first line)"
    notes = (*notes, described)
    return _finish(path, "csv", encoding, raw, decimal, notes, columns)


def _is_blank_record(record: list[str]) -> bool:
    """A record of nothing but empty fields, spaces and tabs."""
    return all(_BLANK_LINE.fullmatch(value) is not None for value in record)


def _csv_records(
    name: str, text: str, delimiter: str, limits: ReadLimits
) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) for every non-blank record; csv errors become InputError."""
    if csv.field_size_limit() <= limits.max_cell_chars:
        csv.field_size_limit(limits.max_cell_chars + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous_end = 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if _is_blank_record(record):
                continue
            if max(map(len, record)) > limits.max_cell_chars:
                raise _long_field(name, start, limits)
            yield start, record
    except csv.Error as exc:
        if "field larger than" in str(exc):
            raise _long_field(name, previous_end + 1, limits) from exc
        raise InputError(f"{name}: line {previous_end + 1} cannot be read: {exc}") from exc


def _long_field(name: str, line: int, limits: ReadLimits) -> InputError:
    """The error for a field beyond the cell-length limit."""
    return InputError(
        f"{name}: line {line} cannot be read: field larger than the limit of "
        f"{limits.max_cell_chars:,} characters; set {LIMIT_VARIABLES['max_cell_chars']} "
        "to read it anyway"
    )


def _csv_cells(name: str, text: str, layout: _CsvLayout, limits: ReadLimits) -> _RawTable:
    """Split CSV text into header and cells, refusing records whose field count differs."""
    records = _csv_records(name, text, layout.delimiter, limits)
    if layout.declared:
        next(records)
    _, header = next(records)
    width = len(header)
    lines: list[int] = []
    rows: list[list[str]] = []
    wrong: list[tuple[int, int]] = []
    for line, record in records:
        if len(lines) + len(wrong) >= limits.max_rows:
            raise _over_limit(
                name,
                f"line {line} is beyond {limits.max_rows:,} data rows",
                "max_rows",
                limits.max_rows,
            )
        if len(record) != width:
            wrong.append((line, len(record)))
            continue
        lines.append(line)
        rows.append(record)
    if wrong:
        raise InputError(_field_count_message(name, width, wrong, layout.delimiter, last=lines))
    cells = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    series = [pd.Series(c, dtype="str") for c in cells]
    return _RawTable(header, series, np.asarray(lines, dtype=np.int64), "line")


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


# --- Parquet ---------------------------------------------------------------------------------


def _library_problem(exc: BaseException) -> str:
    """A library exception as a short, escaped phrase for a message."""
    text = str(exc).strip()
    kind = type(exc).__name__
    return f"{kind}: {shown(text, 200)}" if text else kind


def _read_parquet(
    path: Path, data: bytes, decimal: str | None, columns: InputColumns, limits: ReadLimits
) -> LoadedInput:
    """Read a Parquet file into the contract: its row count is checked before its data.

    Columns whose Parquet type already fits the contract (integers for counts, strings for
    text) stay in Arrow; any other column is converted cell by cell as from a spreadsheet.
    """
    import pyarrow.parquet as pq

    name = path.name
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        rows = parquet.metadata.num_rows
        header = list(parquet.schema_arrow.names)
    except Exception as exc:
        raise InputError(f"{name}: not a readable Parquet file: {_library_problem(exc)}") from exc
    if rows > limits.max_rows:
        raise _over_limit(name, f"the file has {rows:,} rows", "max_rows", limits.max_rows)
    positions, ignored = _header_positions(name, header, columns)
    try:
        table = parquet.read(
            columns=[header[positions[c]] for c in columns.all], use_pandas_metadata=False
        )
    except Exception as exc:
        raise InputError(f"{name}: not a readable Parquet file: {_library_problem(exc)}") from exc
    converted, problems, notes = convert_arrow_columns(
        dict(zip(columns.all, table.columns, strict=True)), decimal or ".", 1, columns
    )
    return LoadedInput(
        data=converted,
        path=path,
        file_format="parquet",
        encoding=None,
        column_map_used={header[i]: target for target, i in positions.items()},
        notes=_ignored_note([header[i] for i in ignored]) + notes,
        parse_problems=problems,
        row_label="row",
        columns=columns,
        first_row=1,
    )


def convert_arrow_columns(
    cells_by_name: Mapping[str, pa.ChunkedArray],
    decimal: str,
    first_row: int,
    columns: InputColumns = DEFAULT_COLUMNS,
) -> tuple[pa.Table, tuple[ParseProblem, ...], tuple[str, ...]]:
    """The needed columns from Arrow columns: (table, parse problems, notes). Row n (from 0)
    is file row `first_row` + n."""
    converted: dict[str, pa.ChunkedArray] = {}
    problems: list[ParseProblem] = []
    notes: list[str] = []
    order = columns.all
    for column in order:
        cells = plain_values(cells_by_name[column])
        kept = _arrow_text(cells) if column in columns.text else _arrow_counts(cells)
        if kept is not None:
            converted[column], bad = kept
            problems.extend(
                ParseProblem(first_row + int(i), column, str(cells[int(i)].as_py())) for i in bad
            )
            continue
        series = _arrow_to_series(cells)
        values, flagged, note = convert_cells(column, series, decimal, columns)
        converted[column] = pa.chunked_array([pa.Array.from_pandas(values)])
        notes.extend(note)
        rows = np.arange(first_row, first_row + len(series), dtype=np.int64)
        problems.extend(_problems(column, series, flagged, rows))
    problems.sort(key=lambda p: (p.row, order.index(p.column)))
    return pa.table(converted), tuple(problems), tuple(notes)


def plain_values(cells: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A dictionary-encoded column as its values; any other column as it is."""
    if pa.types.is_dictionary(cells.type):
        return cells.cast(cells.type.value_type)
    return cells


def _arrow_text(cells: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray] | None:
    """A string column as text, empty = missing; None for any other type."""
    kind = cells.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    empty = pc.equal(cells, "")
    if pc.any(empty).as_py():
        cells = pc.if_else(empty, pa.scalar(None, kind), cells)
    return cells, np.empty(0, dtype=np.int64)


def _arrow_counts(cells: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray] | None:
    """An integer column as int64 with the cells beyond 15 digits flagged and left missing;
    None for any other type."""
    kind = cells.type
    if not pa.types.is_integer(kind):
        return None
    if _within_count_limits(cells):
        return cells.cast(pa.int64(), safe=False), np.empty(0, dtype=np.int64)
    limit = pa.scalar(MAX_COUNT, pa.uint64() if kind == pa.uint64() else pa.int64())
    too_big = pc.greater(cells, limit)
    if pa.types.is_signed_integer(kind):
        too_big = pc.or_(too_big, pc.less(cells, -MAX_COUNT))
    too_big = pc.fill_null(too_big, False)
    bad = np.flatnonzero(too_big.to_numpy(zero_copy_only=False))
    if len(bad):
        cells = pc.if_else(too_big, pa.scalar(None, kind), cells)
    # Every value left has at most 15 digits, so the cast is exact; unchecked, it does not
    # look at the values under the cells just made missing.
    return cells.cast(pa.int64(), safe=False), bad


def _within_count_limits(cells: pa.ChunkedArray) -> bool:
    """Whether every value of an integer column has at most 15 digits (one pass: min and max)."""
    extremes = pc.min_max(cells)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    return low is None or (low >= -MAX_COUNT and high <= MAX_COUNT)


def _arrow_to_series(column: object) -> pd.Series:
    """One Arrow column (not dictionary-encoded) as pandas: integers as nullable integers, so no
    value passes a float."""
    kind = column.type
    if pa.types.is_integer(kind):
        return column.to_pandas(types_mapper=_nullable_integer_dtype).reset_index(drop=True)
    series = column.to_pandas()
    if not isinstance(series, pd.Series):
        series = pd.Series(series, dtype=object)
    return series.reset_index(drop=True)


def _nullable_integer_dtype(kind: object) -> object:
    """The pandas nullable integer dtype of an Arrow integer type."""
    return pd.api.types.pandas_dtype(str(kind).replace("u", "U").replace("int", "Int"))


def _nullable_integer_dtype_or_none(kind: pa.DataType) -> object:
    """The nullable pandas dtype of an Arrow integer type; None (the default) for others."""
    return _nullable_integer_dtype(kind) if pa.types.is_integer(kind) else None


# --- Excel -------------------------------------------------------------------------------------

_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


def _read_xlsx(
    path: Path,
    data: bytes,
    sheet: str | int | None,
    decimal: str | None,
    columns: InputColumns,
    limits: ReadLimits,
) -> LoadedInput:
    """Read one sheet of an .xlsx workbook (the first unless named) into the contract."""
    from openpyxl import load_workbook

    name = path.name
    _check_expansion(name, data, limits)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{name}: not a readable .xlsx workbook: {_library_problem(exc)}") from exc
    try:
        worksheet = _pick_sheet(name, workbook, sheet)
        label = f"{name} (sheet {shown(worksheet.title)})"
        _check_sheet_rows(label, worksheet, limits)
        raw = _sheet_cells(label, workbook, worksheet, limits)
        _check_sheet_header(label, raw, [w.title for w in workbook.worksheets], columns)
    finally:
        workbook.close()
    note = (f"sheet {shown(worksheet.title)}",)
    return _finish(path, "xlsx", None, raw, decimal or ".", note, columns, label=label)


def _check_expansion(name: str, data: bytes, limits: ReadLimits) -> None:
    """Refuse a workbook whose parts expand beyond the byte limit or the expansion ratio."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expanded = sum(info.file_size for info in archive.infolist())
    if expanded > limits.max_bytes:
        raise _over_limit(
            name, f"the workbook expands to {expanded:,} bytes", "max_bytes", limits.max_bytes
        )
    ratio = expanded / max(len(data), 1)
    if ratio > limits.max_xlsx_expansion:
        raise _over_limit(
            name,
            f"the workbook expands {ratio:,.0f} times its size ({expanded:,} bytes)",
            "max_xlsx_expansion",
            limits.max_xlsx_expansion,
        )


def _pick_sheet(name: str, workbook: object, sheet: str | int | None) -> object:
    """The worksheet asked for: by name, by 0-based position (also given as text), or the first."""
    sheets = list(workbook.worksheets)
    names = [w.title for w in sheets]
    if not sheets:
        raise InputError(f"{name}: the workbook has no worksheet to read")
    if sheet is None:
        return sheets[0]
    if isinstance(sheet, str) and sheet in names:
        return sheets[names.index(sheet)]
    position = _sheet_position(sheet)
    if position is not None and 0 <= position < len(sheets):
        return sheets[position]
    raise InputError(f"{name}: no sheet {shown(sheet)}; the workbook has {_sheet_list(names)}")


def _sheet_position(sheet: str | int) -> int | None:
    """A 0-based sheet position from an int or from text of ASCII digits."""
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        return sheet
    if isinstance(sheet, str) and re.fullmatch(r"[0-9]{1,6}", sheet.strip()):
        return int(sheet.strip())
    return None


def _sheet_list(names: Sequence[str]) -> str:
    """'sheets 'A', 'B'' for messages."""
    return "sheets " + ", ".join(shown(n) for n in names)


def _check_sheet_rows(label: str, worksheet: object, limits: ReadLimits) -> None:
    """Count the sheet's rows in its XML before parsing it; refuse beyond the row limit."""
    allowed = limits.max_sheet_rows + 1
    count = 0
    tail = b""
    try:
        with worksheet._get_source() as source:
            while chunk := source.read(1 << 20):
                block = tail + chunk
                cut = block.rfind(b"<")
                cut = len(block) if cut < 0 else cut
                count += len(_ROW_TAG.findall(block, 0, cut))
                tail = block[cut:]
                if count > allowed:
                    break
            count += len(_ROW_TAG.findall(tail))
    except Exception as exc:
        raise InputError(f"{label}: the sheet cannot be read: {_library_problem(exc)}") from exc
    if count > allowed:
        raise _over_limit(
            label,
            f"the sheet has more than {limits.max_sheet_rows:,} data rows",
            "max_sheet_rows",
            limits.max_sheet_rows,
        )


class UncachedFormula:
    """A formula cell saved without its computed value: nothing to read, so not a value."""

    def __str__(self) -> str:
        return "(formula without a computed value)"


def _sheet_parser() -> type:
    """openpyxl's sheet parser, marking formula cells that carry no computed value."""
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class SheetParser(WorkSheetParser):
        def parse_cell(self, element: object) -> dict:
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                cell["value"] = UncachedFormula()
            return cell

    return SheetParser


def _sheet_rows(label: str, workbook: object, worksheet: object) -> Iterator[tuple[int, list]]:
    """(row number, cell dicts) of every row in the sheet's XML, whatever its `<dimension>`."""
    with worksheet._get_source() as source:
        parser = _sheet_parser()(
            source,
            worksheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        previous = 0
        for number, cells in parser.parse():
            if number <= previous:
                raise InputError(
                    f"{label}: row {number} comes after row {previous}; the sheet's rows are "
                    "out of order or repeated"
                )
            previous = number
            yield number, cells


def _sheet_cells(label: str, workbook: object, worksheet: object, limits: ReadLimits) -> _RawTable:
    """Header (first non-empty row) and cells of a sheet, with their sheet row numbers."""
    header: list[str] | None = None
    numbers: list[int] = []
    data: list[list[object]] = []
    try:
        for number, cells in _sheet_rows(label, workbook, worksheet):
            values = _row_values(label, number, cells, limits)
            if all(_is_blank_cell(v) for v in values):
                continue
            if header is None:
                header = _header_from(values)
                continue
            numbers.append(number)
            data.append(_fit_row(label, number, values, len(header)))
    except AreascreenError:
        raise
    except Exception as exc:
        raise InputError(f"{label}: the sheet cannot be read: {_library_problem(exc)}") from exc
    if header is None:
        raise InputError(f"{label}: the sheet is empty")
    cells_by_column = list(zip(*data, strict=True)) if data else [() for _ in header]
    series = [pd.Series(c, dtype=object) for c in cells_by_column]
    return _RawTable(header, series, np.asarray(numbers, dtype=np.int64), "row")


def _row_values(label: str, number: int, cells: list[dict], limits: ReadLimits) -> list[object]:
    """A row's values by column (1 = A), refusing a cell given twice or too long."""
    values: dict[int, object] = {}
    for cell in cells:
        column = int(cell["column"])
        value = cell["value"]
        if column in values:
            raise InputError(f"{label}: cell {_cell_name(number, column)} is given twice")
        if isinstance(value, str) and len(value) > limits.max_cell_chars:
            raise _over_limit(
                label,
                f"cell {_cell_name(number, column)} holds {len(value):,} characters",
                "max_cell_chars",
                limits.max_cell_chars,
            )
        values[column] = value
    width = max(values, default=0)
    return [values.get(c) for c in range(1, width + 1)]


def _cell_name(row: int, column: int) -> str:
    """A cell's name such as 'C12'."""
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column)}{row}"


def _is_blank_cell(value: object) -> bool:
    """An empty cell, or text of nothing but whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def _header_from(values: list[object]) -> list[str]:
    """Header names from a row, without the empty cells at its end."""
    while values and _is_blank_cell(values[-1]):
        values = values[:-1]
    return ["" if v is None else str(v) for v in values]


def _fit_row(label: str, number: int, values: list[object], width: int) -> list[object]:
    """A data row padded to the header's width; a value right of the header is refused."""
    extra = next((i for i in range(width, len(values)) if not _is_blank_cell(values[i])), None)
    if extra is not None:
        raise InputError(
            f"{label}: cell {_cell_name(number, extra + 1)} holds a value in a column "
            "without a header"
        )
    return values[:width] + [None] * (width - len(values))


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
    positions, ignored = _header_positions(label or path.name, raw.header, columns)
    by_name = {target: raw.cells[i] for target, i in positions.items()}
    frame, problems, more_notes = convert_columns(by_name, decimal, raw.row_numbers, columns)
    return LoadedInput(
        data=frame,
        path=path,
        file_format=file_format,
        encoding=encoding,
        column_map_used={raw.header[i]: target for target, i in positions.items()},
        notes=notes + _ignored_note([raw.header[i] for i in ignored]) + more_notes,
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
        converted[column], bad, note = convert_cells(column, cells, decimal, columns)
        notes.extend(note)
        problems.extend(_problems(column, cells, bad, rows))
    problems.sort(key=lambda p: (p.row, order.index(p.column)))
    frame = pd.DataFrame(converted, columns=list(order), copy=False)
    return frame, tuple(problems), tuple(notes)


def convert_cells(
    column: str, cells: pd.Series, decimal: str, columns: InputColumns
) -> tuple[pd.Series, np.ndarray, tuple[str, ...]]:
    """One column's cells in the contract: (values, mask of cells that do not convert, notes)."""
    if column in columns.text:
        return _text_cells(column, cells)
    values, bad = to_integers(cells, decimal)
    return values, bad, ()


def _problems(
    column: str, cells: pd.Series, bad: np.ndarray, rows: np.ndarray
) -> list[ParseProblem]:
    """ParseProblems for the cells flagged bad."""
    return [ParseProblem(int(rows[i]), column, str(cells.iloc[i])) for i in np.flatnonzero(bad)]


def to_text(column: str, cells: pd.Series) -> tuple[pd.Series, tuple[str, ...]]:
    """Text column as written (empty = missing); numbers in a code column are noted."""
    text, _, note = _text_cells(column, cells)
    return text, note


def _text_cells(column: str, cells: pd.Series) -> tuple[pd.Series, np.ndarray, tuple[str, ...]]:
    """Text as written (empty = missing), a mask of cells that are not text, and notes.

    Numbers are taken as their digits (noted in a code column); other values, such as bytes,
    dates or true/false, are not text and are flagged.
    """
    note: tuple[str, ...] = ()
    bad = np.zeros(len(cells), dtype=bool)
    if not isinstance(cells.dtype, pd.StringDtype):
        values = cells.astype(object)
        present = values.notna().to_numpy(dtype=bool)
        numeric = values.map(_is_number).to_numpy(dtype=bool) & present
        textual = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        bad = present & ~numeric & ~textual
        if numeric.any() and column in CODE_COLUMNS:
            count = int(numeric.sum())
            note = (f"{column} is stored as numbers in {count} rows (leading zeros lost?)",)
        keep = pd.Series(present & ~bad, index=values.index)
        cells = values.where(keep).map(_cell_text, na_action="ignore").astype("str")
    return cells.where(cells.ne("")).astype("str"), bad, note


def _is_number(value: object) -> bool:
    """Whether a cell holds a finite number rather than text."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return False
    return bool(np.isfinite(value)) if isinstance(value, float | np.floating) else True


def _cell_text(value: object) -> str:
    """A text cell's string; whole numbers without a trailing '.0'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def to_integers(cells: pd.Series, decimal: str) -> tuple[pd.Series, np.ndarray]:
    """Whole numbers as Int64 (suppressed markers = NA) and a mask of cells that do not convert.

    A count has at most 15 digits; text holds ASCII digits only (no other script's digits).
    """
    dtype = cells.dtype
    if pd.api.types.is_bool_dtype(dtype):
        bad = cells.notna().to_numpy(dtype=bool)
        return pd.Series(pd.NA, index=cells.index, dtype="Int64"), bad
    if pd.api.types.is_integer_dtype(dtype):
        return _integers_from_integers(cells)
    if pd.api.types.is_float_dtype(dtype):
        return _integers_from_floats(cells)
    return _integers_from_objects(cells, decimal)


def _integers_from_integers(cells: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Integers of any width (unsigned 64-bit too) as Int64; beyond 15 digits flagged."""
    too_big = cells.gt(MAX_COUNT)
    if not pd.api.types.is_unsigned_integer_dtype(cells.dtype):
        too_big = too_big | cells.lt(-MAX_COUNT)
    bad = too_big.fillna(False).to_numpy(dtype=bool)
    kept = cells.astype("UInt64" if cells.dtype.kind == "u" else "Int64").mask(bad)
    return kept.astype("Int64"), bad


def _integers_from_floats(cells: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Floats that are whole numbers of at most 15 digits as Int64; others flagged."""
    values = cells.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) <= MAX_COUNT)
    bad = ~missing & ~whole
    kept = np.where(whole, values, np.nan)
    return pd.Series(kept, index=cells.index).astype("Int64"), bad


def _integers_from_objects(cells: pd.Series, decimal: str) -> tuple[pd.Series, np.ndarray]:
    """Mixed cells (text, numbers, None) as Int64; text needs digits, optionally `<decimal>0…`."""
    if not isinstance(cells.dtype, pd.StringDtype):
        cells = cells.astype(object).map(_number_text, na_action="ignore").astype("str")
    stripped = cells.str.strip(" \t")
    missing = (stripped.isna() | stripped.isin(SUPPRESSED_MARKERS)).to_numpy(dtype=bool)
    point = re.escape(decimal)
    pattern = rf"[+-]?[0-9]{{1,{MAX_COUNT_DIGITS}}}(?:{point}0*)?"
    matches = stripped.str.fullmatch(pattern).astype("boolean").fillna(False)
    matches = matches.to_numpy(dtype=bool) & ~missing
    whole = stripped.where(matches).str.replace(rf"{point}0*$", "", regex=True)
    values = pd.to_numeric(whole, errors="coerce", dtype_backend="numpy_nullable").astype("Int64")
    bad = ~missing & ~matches
    return values, bad


def _number_text(value: object) -> object:
    """A numeric cell as text in '.'-decimal form; text stays text; other values as text."""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def check_year(loaded: LoadedInput, year: int) -> None:
    """Refuse a file whose statistics are for another year than the one screened."""
    if "year" not in loaded.column_names:
        return
    years = sorted(y for y in pc.unique(loaded.table.column("year")).to_pylist() if y is not None)
    if years and years != [year]:
        found = ", ".join(str(y) for y in years)
        raise InputError(f"{loaded.path.name}: the file holds year {found}, but {year} is screened")
