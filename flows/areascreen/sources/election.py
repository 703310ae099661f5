"""The Election Authority's (Valmyndigheten) results per election district, as published.

The 2018 file (`2018_R_per_valdistrikt.xlsx`) has a title sheet and the sheets `R antal` (counts)
and `R procent` (shares). `R antal` has one row per district with the codes stored as integers:
`LÄNSKOD` (county), `KOMMUNKOD` (municipality within the county), `VALDISTRIKTSKOD` (district
within the municipality), names, votes per party, `RÖSTANDE` (voters) and `RÖSTBERÄTTIGADE`
(eligible voters). County 1, municipality 14, district 101 is area code `01140101`.

Collection districts (`Uppsamlingsdistrikt`, 321 in 2018) have 0 eligible voters and hold late
and early votes that could not be assigned to a district. They are not an error: they are kept
apart as `national_only` rows, whose voters count in national totals but in no area.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from areascreen.errors import InputError

DEFAULT_SHEET = "R antal"
COLUMNS = ("area_code", "area_name", "municipality_code", "year", "voters", "eligible_voters")
# What each field is called in the file's header row.
HEADERS: Mapping[str, str] = {
    "county": "LÄNSKOD",
    "municipality": "KOMMUNKOD",
    "district": "VALDISTRIKTSKOD",
    "name": "VALDISTRIKTSNAMN",
    "voters": "RÖSTANDE",
    "eligible_voters": "RÖSTBERÄTTIGADE",
}
LIMITS: Mapping[str, int] = {"county": 99, "municipality": 99, "district": 9999}
YEAR_PATTERN = re.compile(r"val(?:et)?\s+(\d{4})\b", re.IGNORECASE)
TITLE_ROWS = 20
SHOWN = 5


@dataclass(frozen=True)
class ElectionDistricts:
    """Voters and eligible voters per election district, and the national-only rows."""

    districts: pd.DataFrame
    national_only: pd.DataFrame
    path: Path
    sheet: str
    notes: tuple[str, ...]


def is_election_authority_file(path: Path) -> bool:
    """True for an xlsx with a sheet `R antal` whose first row has the expected headers."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx" or not zipfile.is_zipfile(path):
        return False
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        try:
            if DEFAULT_SHEET not in book.sheetnames:
                return False
            first = next(book[DEFAULT_SHEET].iter_rows(max_row=1, values_only=True), ())
        finally:
            book.close()
    except Exception:  # any unreadable file is simply not this format
        return False
    headers = {_header(cell) for cell in first}
    return set(HEADERS.values()) <= headers


def read_election_districts(
    path: Path, *, year: int | None = None, sheet: str = DEFAULT_SHEET
) -> ElectionDistricts:
    """Read a results file per election district; errors name the file, sheet, row and column."""
    path = Path(path)
    where = f"{path}, sheet {sheet!r}"
    book = _open(path)
    if sheet not in book.sheet_names:
        raise InputError(
            f"{path}: no sheet {sheet!r}; the file has {', '.join(map(repr, book.sheet_names))}"
        )
    election_year, year_note = _year(path, book, sheet, year)
    raw = pd.read_excel(book, sheet_name=sheet, dtype=object)
    columns = _columns(raw, where)
    fields = {field: _integers(raw[columns[field]], where, columns[field]) for field in LIMITS}
    counts = {
        f: _integers(raw[columns[f]], where, columns[f]) for f in ("voters", "eligible_voters")
    }
    _check_ranges(fields, where, columns)
    frame = _frame(raw, columns, fields, counts, election_year)
    _check_unique(frame, where)
    _check_voters(frame, where)
    frame.attrs.clear()
    collection = frame["eligible_voters"] == 0
    districts = frame.loc[~collection].reset_index(drop=True)
    national = frame.loc[collection].reset_index(drop=True)
    notes = (
        year_note,
        f"{len(districts)} election districts with eligible voters",
        f"{len(national)} collection districts with 0 eligible voters and "
        f"{int(national['voters'].sum())} voters, kept as national-only rows",
    )
    return ElectionDistricts(districts, national, path, sheet, notes)


def national_turnout(result: ElectionDistricts, *, with_collection: bool = True) -> float:
    """Voters over eligible voters in percent, with or without the collection districts."""
    voters = int(result.districts["voters"].sum())
    if with_collection:
        voters += int(result.national_only["voters"].sum())
    return 100.0 * voters / int(result.districts["eligible_voters"].sum())


def _open(path: Path) -> pd.ExcelFile:
    """The workbook, or a clear error."""
    if not path.is_file():
        raise InputError(f"No Election Authority file at {path}")
    try:
        return pd.ExcelFile(path, engine="openpyxl")
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable xlsx workbook ({exc})") from exc


def _header(cell: Any) -> str:
    """A header cell as compared: trimmed, upper case."""
    return str(cell).strip().upper() if cell is not None else ""


def _columns(raw: pd.DataFrame, where: str) -> dict[str, Any]:
    """The file's column for each field; a missing header is named with what the sheet has."""
    by_header = {_header(c): c for c in raw.columns}
    missing = [h for h in HEADERS.values() if h not in by_header]
    if missing:
        shown = ", ".join(str(c) for c in raw.columns[:12])
        raise InputError(
            f"{where}: no column {', '.join(map(repr, missing))} in the header row (row 1); "
            f"its columns start {shown}"
        )
    return {field: by_header[header] for field, header in HEADERS.items()}


def _integers(column: pd.Series, where: str, name: str) -> pd.Series:
    """Whole, non-negative numbers; anything else is named by its Excel row."""
    bad: list[str] = []
    values: list[int] = []
    for position, cell in enumerate(column.tolist()):
        number = _as_integer(cell)
        if number is None:
            bad.append(f"row {position + 2} ({cell!r})")
            values.append(0)
        else:
            values.append(number)
    if bad:
        more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        raise InputError(
            f"{where}: column {name!r} must hold whole non-negative numbers; "
            f"not so in {', '.join(bad[:SHOWN])}{more}"
        )
    return pd.Series(values, index=column.index, dtype="int64")


def _as_integer(cell: Any) -> int | None:
    """An integer from an int, an integral float or a digit string; else None."""
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, int):
        return cell if cell >= 0 else None
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() and cell >= 0 else None
    text = str(cell).strip().replace("\u00a0", "").replace(" ", "")
    return int(text) if text.isdigit() else None


def _check_ranges(fields: Mapping[str, pd.Series], where: str, columns: Mapping[str, Any]) -> None:
    """Codes must fit their digits (2 for county and municipality, 4 for district)."""
    for field, limit in LIMITS.items():
        over = fields[field][fields[field] > limit]
        if field == "county":
            over = fields[field][(fields[field] < 1) | (fields[field] > limit)]
        if not over.empty:
            rows = ", ".join(f"row {i + 2} ({v})" for i, v in over.head(SHOWN).items())
            raise InputError(f"{where}: column {columns[field]!r} out of range in {rows}")


def _frame(
    raw: pd.DataFrame,
    columns: Mapping[str, Any],
    fields: Mapping[str, pd.Series],
    counts: Mapping[str, pd.Series],
    year: int,
) -> pd.DataFrame:
    """The districts in the contract's shape, in file order, with the Excel row kept aside."""
    municipality = fields["county"].map("{:02d}".format) + fields["municipality"].map(
        "{:02d}".format
    )
    code = municipality + fields["district"].map("{:04d}".format)
    names = raw[columns["name"]].map(lambda v: "" if pd.isna(v) else str(v).strip())
    frame = pd.DataFrame(
        {
            "area_code": code.astype(str),
            "area_name": names.astype(str),
            "municipality_code": municipality.astype(str),
            "year": pd.Series(year, index=raw.index, dtype="int64"),
            "voters": counts["voters"],
            "eligible_voters": counts["eligible_voters"],
        }
    )
    frame.attrs["rows"] = (raw.index + 2).tolist()
    return frame


def _check_unique(frame: pd.DataFrame, where: str) -> None:
    """One row per district."""
    repeated = frame.loc[frame["area_code"].duplicated(keep=False)]
    if not repeated.empty:
        rows = frame.attrs["rows"]
        shown = ", ".join(
            f"{c} (row {rows[i]})" for i, c in repeated["area_code"].head(SHOWN).items()
        )
        raise InputError(f"{where}: districts repeated: {shown}")


def _check_voters(frame: pd.DataFrame, where: str) -> None:
    """A district with eligible voters cannot have more voters than that."""
    over = frame.loc[(frame["eligible_voters"] > 0) & (frame["voters"] > frame["eligible_voters"])]
    if not over.empty:
        rows = frame.attrs["rows"]
        shown = ", ".join(
            f"{r.area_code} (row {rows[i]}: {r.voters} voters, {r.eligible_voters} eligible)"
            for i, r in over.head(SHOWN).iterrows()
        )
        raise InputError(f"{where}: more voters than eligible voters in {shown}")


def _year(path: Path, book: pd.ExcelFile, sheet: str, given: int | None) -> tuple[int, str]:
    """The election year: from the file's title sheet if it says, else the argument."""
    found = _year_in_titles(book, sheet)
    if found is not None:
        title_sheet, year = found
        if given is not None and given != year:
            raise InputError(
                f"{path}: the file is for the {year} election (sheet {title_sheet!r}), not {given}"
            )
        return year, f"election year {year} from sheet {title_sheet!r}"
    if given is None:
        raise InputError(
            f"{path}: the file does not say its election year; give the year it is for"
        )
    return given, f"election year {given} as given (the file does not say)"


def _year_in_titles(book: pd.ExcelFile, data_sheet: str) -> tuple[str, int] | None:
    """The first `…valet YYYY` in the first rows of a sheet other than the data sheets."""
    for name in book.sheet_names:
        if name == data_sheet or name.startswith(("R ", "L ", "K ")):
            continue
        top = pd.read_excel(book, sheet_name=name, header=None, nrows=TITLE_ROWS, dtype=object)
        for cell in top.to_numpy().ravel():
            match = YEAR_PATTERN.search(str(cell)) if isinstance(cell, str) else None
            if match:
                return name, int(match[1])
    return None
