"""The screening without publication: read an input for a ruleset, flag and roll up in DuckDB,
and hand back the result tables. The pipeline, the comparison of rulesets, the sensitivity
analysis and the notebook API `areascreen.screen` all screen through here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from areascreen.db import connect, fetch_table
from areascreen.errors import InputError
from areascreen.flag import flag_areas, load_areas
from areascreen.load import LoadedInput, read_area_statistics
from areascreen.rollup import roll_up
from areascreen.ruleset import Ruleset, load_ruleset, parse_ruleset

# What the screening hands on, and the DuckDB view or table each is read from.
RESULT_SOURCES: Mapping[str, str] = {
    "eligible_municipalities": "eligible_municipalities",
    "municipality_results": "municipality_results",
    "area_results": "published_area_results",
    "area_criteria": "published_area_criteria",
    "national_averages": "published_national_averages",
}
PER_AREA_RESULTS: tuple[str, ...] = ("area_results", "area_criteria")


@dataclass(frozen=True)
class ScreeningInput:
    """A loaded input, the rows that count only nationally, and its synthetic mark if any."""

    loaded: LoadedInput
    national_only: pa.Table | pd.DataFrame | None = None
    synthetic_note: str | None = None

    @property
    def rows(self) -> int:
        """How many areas the input holds."""
        return self.loaded.rows

    @property
    def national_only_rows(self) -> int:
        """How many rows count in the national totals only."""
        if self.national_only is None:
            return 0
        return len(self.national_only)


def read_input(
    path: Path, ruleset: Ruleset, *, sheet: str | None = None, year: int | None = None
) -> ScreeningInput:
    """Read the columns the ruleset needs from a file (CSV, Parquet, xlsx or an Election
    Authority results file); raises InputError naming the file when it cannot."""
    from areascreen.sources.election import is_election_authority_file
    from areascreen.synthetic import synthetic_note

    path = Path(path)
    if is_election_authority_file(path):
        return read_election_input(path, ruleset, year=year)
    loaded = read_area_statistics(path, sheet=sheet, columns=ruleset.input_columns)
    return split_national_only(ScreeningInput(loaded, synthetic_note=synthetic_note(path)), ruleset)


def split_national_only(data: ScreeningInput, ruleset: Ruleset) -> ScreeningInput:
    """Set apart the rows the division counts nationally only (e.g. collection districts)."""
    column = ruleset.division.national_only_when_zero
    if column is None or column not in data.loaded.column_names:
        return data
    table = data.loaded.table
    national = pc.fill_null(pc.equal(table.column(column), 0), False)
    count = pc.sum(national).as_py() or 0
    if not count:
        return data
    keep = ~national.to_numpy(zero_copy_only=False)
    rows = data.loaded.source_rows()
    kept = set(rows[keep].tolist())
    loaded = replace(
        data.loaded,
        data=table.filter(pc.invert(national)),
        row_numbers=rows[keep],
        parse_problems=tuple(p for p in data.loaded.parse_problems if p.row in kept),
        notes=(
            *data.loaded.notes,
            f"{count} rows with 0 {column} are no areas of the "
            f"{ruleset.division.label} division; they count in the national totals only",
        ),
    )
    return replace(data, loaded=loaded, national_only=table.filter(national))


def read_election_input(path: Path, ruleset: Ruleset, *, year: int | None) -> ScreeningInput:
    """The Election Authority's per-district file as areas, its collection districts national-only."""
    from areascreen.sources.election import read_election_districts

    result = read_election_districts(path, year=year)
    columns = ruleset.input_columns
    missing = [c for c in columns.all if c not in result.districts.columns]
    if missing:
        raise InputError(
            f"{path.name}: an Election Authority results file holds voters and eligible voters "
            f"per election district, not {', '.join(missing)}; use a ruleset that needs only "
            "voter turnout (e.g. data/rulesets/2018-election-districts-turnout.toml)"
        )
    frame = _typed(result.districts, columns.text, columns.integers)
    national = _typed(result.national_only, columns.text, columns.integers)
    loaded = LoadedInput(
        data=frame,
        path=path,
        file_format="election_authority_xlsx",
        encoding=None,
        column_map_used={},
        notes=(f"sheet {result.sheet!r}", *result.notes),
        columns=columns,
    )
    return ScreeningInput(loaded, national_only=national)


def _typed(frame: pd.DataFrame, text: tuple[str, ...], integers: tuple[str, ...]) -> pd.DataFrame:
    """The columns of a run, text as str and counts as Int64, in the run's order."""
    columns = {c: frame[c].astype("str") for c in text}
    columns |= {c: frame[c].astype("Int64") for c in integers}
    return pd.DataFrame(columns).reset_index(drop=True)


def from_frame(data: pd.DataFrame | pa.Table, ruleset: Ruleset, name: str) -> ScreeningInput:
    """A table given in memory (a notebook's DataFrame or Arrow table) as a screening input."""
    frame = data.to_pandas() if isinstance(data, pa.Table) else data
    columns = ruleset.input_columns
    missing = [c for c in columns.all if c not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing required columns: {', '.join(missing)}")
    loaded = LoadedInput(
        data=_typed(frame, columns.text, columns.integers),
        path=Path(name),
        file_format="table",
        encoding=None,
        column_map_used={},
        columns=columns,
    )
    return ScreeningInput(loaded)


def screen_into(con: duckdb.DuckDBPyConnection, data: ScreeningInput, ruleset: Ruleset) -> None:
    """Flag every area and roll up to municipalities, leaving the tables in `con`."""
    load_areas(con, data.loaded.table, ruleset, data.national_only)
    flag_areas(con, ruleset)
    roll_up(con, ruleset)


def result_tables(
    con: duckdb.DuckDBPyConnection, *, with_criteria: bool = True, with_areas: bool = True
) -> dict[str, pa.Table]:
    """The screening's result tables, in their published form. The per-area tables are the
    large ones: `area_results` (sorted by area code, with each area's smallest margin) is left
    out without `with_areas`, the long table of every area and criterion (`area_criteria`,
    computed when read) without `with_criteria`."""
    left_out = set()
    if not with_areas:
        left_out |= set(PER_AREA_RESULTS)
    if not with_criteria:
        left_out.add("area_criteria")
    return {
        name: fetch_table(con, source)
        for name, source in RESULT_SOURCES.items()
        if name not in left_out
    }


def as_ruleset(ruleset: Ruleset | Mapping[str, Any] | Path | str) -> Ruleset:
    """A ruleset object, a parsed TOML document (dict) or a path to a ruleset file."""
    if isinstance(ruleset, Ruleset):
        return ruleset
    if isinstance(ruleset, Mapping):
        return parse_ruleset(ruleset, Path("<ruleset given as a dict>"))
    return load_ruleset(Path(ruleset))


def screen(
    data: pd.DataFrame | pa.Table | Path | str,
    ruleset: Ruleset | Mapping[str, Any] | Path | str,
    *,
    validate: bool = True,
    sheet: str | None = None,
) -> dict[str, pa.Table]:
    """Screen a table (DataFrame, Arrow table or file path) under a ruleset (object, dict or
    path) and return the result tables; nothing is published. With `validate`, the input gate
    runs first and raises ValidationFailed on bad input."""
    rules = as_ruleset(ruleset)
    if isinstance(data, (pd.DataFrame, pa.Table)):
        given = from_frame(data, rules, "<table given in memory>")
    else:
        given = read_input(Path(data), rules, sheet=sheet, year=rules.year)
    con = connect()
    if validate:
        from areascreen.validate import validate_input

        validate_input(given.loaded, rules, con=con)
    screen_into(con, given, rules)
    return result_tables(con)


def with_notes(data: ScreeningInput, *notes: str) -> ScreeningInput:
    """The same input with notes added to what the reader found."""
    return replace(data, loaded=replace(data.loaded, notes=(*data.loaded.notes, *notes)))
