"""The Public Employment Service's (Arbetsförmedlingen) job-seeker statistics per small area.

Statistics Sweden delivers them as an ordered table package ("Arbetssökandestatistik för
delområden"): per DeSO or RegSO and reference date (31 March and 31 October), persons aged 18-64
who are openly unemployed and who are in programmes with activity support, given apart, and the
population aged 18-64 as their own denominator. Small counts are suppressed.

The delivery is read from CSV (semicolon or comma; UTF-8 or Windows-1252) or xlsx, one row per
area and reference date. The header names are those of `DEFAULT_COLUMNS` unless a column map is
given. Suppressed cells (`..`, a run of dots, blank) become NULL; `-` is a true zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pandas as pd

from areascreen.errors import InputError

from .jsonstat import is_nil_symbol, is_suppression_symbol

DEFAULT_COLUMNS: Mapping[str, str] = {
    "area_code": "Område",
    "reference_date": "Referensdatum",
    "age": "Ålder",
    "openly_unemployed": "Öppet arbetslösa",
    "in_programmes": "Sökande i program",
    "population_18_64": "Befolkning",
}
COUNTS = ("openly_unemployed", "in_programmes", "population_18_64")
AGE_BAND = "18-64"
REFERENCE_DATES = ("03-31", "10-31")
REFERENCES = (*REFERENCE_DATES, "mean")
SHOWN = 5


@dataclass(frozen=True)
class JobSeekers:
    """Counts per area for one reference (a date or the mean of the two), and what was done."""

    frame: pd.DataFrame  # area_code, year, openly_unemployed, in_programmes, population_18_64
    reference: str
    path: Path
    notes: tuple[str, ...]


def read_job_seekers(
    path: Path,
    *,
    year: int,
    reference: str = "mean",
    columns: Mapping[str, str] = DEFAULT_COLUMNS,
    sheet: str | int = 0,
) -> JobSeekers:
    """Read a delivery and keep one reference: `03-31`, `10-31` or `mean` of the two dates.

    The mean is taken per area and count; it is NULL when either date is suppressed there.
    """
    path = Path(path)
    if reference not in REFERENCES:
        raise InputError(
            f"{path}: reference must be one of {', '.join(REFERENCES)}, not {reference!r}"
        )
    table = _read(path, sheet)
    _require(table, columns, path)
    table = _age_band(table, columns, path)
    dates = _dates(table[columns["reference_date"]], year, path)
    counts = {c: _counts(table[columns[c]], c, columns[c], path) for c in COUNTS}
    long = pd.DataFrame(
        {"area_code": table[columns["area_code"]].astype(str).str.strip(), "date": dates, **counts}
    )
    _check_unique(long, path)
    picked = _pick(long, reference, path)
    picked.insert(1, "year", pd.Series(year, index=picked.index, dtype="int64"))
    suppressed = {c: int(picked[c].isna().sum()) for c in COUNTS}
    notes = (
        f"reference {reference} of {year}, ages {AGE_BAND}",
        "suppressed (NULL) per count: " + ", ".join(f"{k} {v}" for k, v in suppressed.items()),
    )
    return JobSeekers(picked.reset_index(drop=True), reference, path, notes)


def _read(path: Path, sheet: str | int) -> pd.DataFrame:
    """All cells as text."""
    if not path.is_file():
        raise InputError(f"No Public Employment Service file at {path}")
    try:
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("windows-1252")
        first = text.splitlines()[0] if text else ""
        separator = ";" if first.count(";") >= first.count(",") else ","
        return pd.read_csv(StringIO(text), sep=separator, dtype=str, keep_default_na=False)
    except ValueError as exc:
        raise InputError(f"{path}: cannot read the delivery ({exc})") from exc


def _require(table: pd.DataFrame, columns: Mapping[str, str], path: Path) -> None:
    """Every mapped column must be in the header."""
    missing = [f"{v!r} ({k})" for k, v in columns.items() if v not in table.columns]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(missing)}; the header has "
            f"{', '.join(map(repr, table.columns))}"
        )


def _age_band(table: pd.DataFrame, columns: Mapping[str, str], path: Path) -> pd.DataFrame:
    """Only the 18-64 rows (an age column must say 18-64)."""
    ages = table[columns["age"]].astype(str).str.replace(" ", "").str.replace("år", "")
    kept = table.loc[ages == AGE_BAND]
    if kept.empty:
        found = sorted(set(table[columns["age"]]))[:SHOWN]
        raise InputError(
            f"{path}: no rows for ages {AGE_BAND} in {columns['age']!r}; found {found}"
        )
    return kept  # the index keeps the file's row numbers for errors


def _dates(column: pd.Series, year: int, path: Path) -> pd.Series:
    """`YYYY-03-31` or `YYYY-10-31` as `03-31`/`10-31`; another date or year is an error."""
    text = column.astype(str).str.strip()
    wanted = {f"{year}-{d}": d for d in REFERENCE_DATES}
    bad = text[~text.isin(wanted)]
    if not bad.empty:
        rows = ", ".join(f"row {i + 2} ({v!r})" for i, v in bad.head(SHOWN).items())
        raise InputError(
            f"{path}: reference dates must be {year}-03-31 or {year}-10-31; not so in {rows}"
        )
    return text.map(wanted)


def _counts(column: pd.Series, field: str, name: str, path: Path) -> pd.Series:
    """Whole counts; suppressed cells NULL, `-` zero, anything else named by row."""
    text = column.astype(str).str.strip().str.replace("\u00a0", "").str.replace(" ", "")
    nil = text.map(is_nil_symbol).astype(bool)
    blank = (text == "") | text.map(is_suppression_symbol).astype(bool)
    numbers = pd.to_numeric(text.where(~blank & ~nil), errors="coerce")
    bad = text[numbers.isna() & ~blank & ~nil]
    bad = pd.concat([bad, text[numbers.notna() & ((numbers % 1 != 0) | (numbers < 0))]])
    if not bad.empty:
        rows = ", ".join(f"row {i + 2} ({v!r})" for i, v in bad.head(SHOWN).items())
        raise InputError(
            f"{path}: column {name!r} ({field}) must hold whole counts; not so in {rows}"
        )
    return numbers.where(~nil, 0).astype("Int64")


def _check_unique(long: pd.DataFrame, path: Path) -> None:
    """One row per area and reference date."""
    repeated = long.loc[long.duplicated(["area_code", "date"], keep=False)]
    if not repeated.empty:
        shown = ", ".join(
            f"{r.area_code} {r.date} (row {i + 2})" for i, r in repeated.head(SHOWN).iterrows()
        )
        raise InputError(f"{path}: area and reference date repeated: {shown}")


def _pick(long: pd.DataFrame, reference: str, path: Path) -> pd.DataFrame:
    """The rows of one date, or the mean of both dates per area (rounded half up)."""
    if reference != "mean":
        picked = long.loc[long["date"] == reference].drop(columns="date")
        if picked.empty:
            raise InputError(f"{path}: no rows for reference date {reference}")
        return picked.sort_values("area_code")
    wide = long.pivot(index="area_code", columns="date", values=list(COUNTS))
    absent = [d for d in REFERENCE_DATES if d not in set(long["date"])]
    if absent:
        raise InputError(f"{path}: the mean needs both reference dates; {', '.join(absent)} absent")
    per_area = long.groupby("area_code")["date"].nunique()
    one_date = per_area.index[per_area < 2].tolist()
    if one_date:
        raise InputError(
            f"{path}: area(s) with only one reference date: {', '.join(one_date[:SHOWN])}"
        )
    out = pd.DataFrame(index=wide.index)
    for count in COUNTS:
        both = wide[(count, "03-31")] + wide[(count, "10-31")]
        out[count] = ((both + 1) // 2).astype("Int64")
    return out.reset_index()
