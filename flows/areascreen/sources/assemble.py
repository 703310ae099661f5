"""Join the fetched sources into one table of the input contract, with clear errors."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from areascreen.contract import COUNT_COLUMNS, INPUT_COLUMNS

if TYPE_CHECKING:
    from .config import ColumnSpec, SourcesConfig

# Tables published on the 2025 area division carry a suffix on every region code,
# e.g. `0180C3750_DeSO2025`; the code itself is the part before it.
VINTAGE_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<vintage>(?:DeSO|RegSO)\d{4})$")
LEVEL_PATTERNS: dict[str, re.Pattern[str]] = {
    "DeSO": re.compile(r"^\d{4}[A-C]\d{4}$"),
    "RegSO": re.compile(r"^\d{4}R\d{3}$"),
}
AREA = "area"
YEAR = "year"
MEASURE = "measure"
VALUE = "value"
STATUS = "status"
SHOWN_AREAS = 10


class AssemblyError(ValueError):
    """The sources do not fit together into one table of the input contract."""


def split_vintage(code: str) -> tuple[str, str | None]:
    """Split `0114A0010_DeSO2025` into (`0114A0010`, `DeSO2025`); unsuffixed codes give None."""
    match = VINTAGE_SUFFIX.match(code)
    if match is None:
        return code, None
    return match["base"], match["vintage"]


@dataclass(frozen=True)
class SourceFrame:
    """One source's cells in long form: `area` (raw code), `year`, variables, `value`, `status`."""

    name: str
    table: str
    vintage: str
    frame: pd.DataFrame
    area_labels: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """How errors name the source: its name and table."""
        return f"{self.name} ({self.table})"


@dataclass(frozen=True)
class AssemblyReport:
    """What assembling found: the area vintage, suppressed cells, the row count."""

    area_vintage: str
    suppressed: dict[str, dict[str, Any]]
    rows: int


def _areas(codes: Sequence[str]) -> str:
    """A short, sorted list of area codes for an error message."""
    ordered = sorted(codes)
    shown = ", ".join(ordered[:SHOWN_AREAS])
    more = len(ordered) - SHOWN_AREAS
    return shown + (f" and {more} more" if more > 0 else "")


# --- area codes and vintages ------------------------------------------------------------------


def normalise_areas(source: SourceFrame, area_level: str) -> tuple[pd.DataFrame, str]:
    """Strip vintage suffixes into `area_code`; fail on mixed vintages or foreign codes."""
    frame = source.frame.copy()
    split = [split_vintage(str(code)) for code in frame[AREA]]
    frame["area_code"] = [base for base, _ in split]
    vintages = pd.Series([v or source.vintage for _, v in split], index=frame.index)
    found = sorted(vintages.unique())
    if len(found) > 1:
        examples = "; ".join(
            f"{v}: {_areas(frame.loc[vintages == v, AREA].unique().tolist())}" for v in found
        )
        raise AssemblyError(f"Mixed area vintages in {source.describe()}: {examples}")
    vintage = found[0] if found else source.vintage
    if vintage != source.vintage:
        raise AssemblyError(
            f"{source.describe()} carries {vintage} area codes but is configured as "
            f"{source.vintage}: {_areas(frame[AREA].unique().tolist())}"
        )
    _check_level(source, frame["area_code"], area_level)
    return frame, vintage


def _check_level(source: SourceFrame, codes: pd.Series, area_level: str) -> None:
    """Every code must be an area code of the configured level."""
    pattern = LEVEL_PATTERNS[area_level]
    wrong = sorted({c for c in codes.unique() if not pattern.match(str(c))})
    if wrong:
        raise AssemblyError(
            f"{source.describe()} has {len(wrong)} code(s) that are not {area_level} codes: "
            f"{_areas(wrong)}"
        )


def check_vintages(vintages: Mapping[str, str], sources: Mapping[str, SourceFrame]) -> str:
    """All sources must use one area vintage; return it."""
    distinct = sorted(set(vintages.values()))
    if len(distinct) > 1:
        detail = ", ".join(f"{sources[n].describe()} {v}" for n, v in sorted(vintages.items()))
        raise AssemblyError(f"Mixed area vintages across sources: {detail}")
    return distinct[0]


def check_coverage(areas: Mapping[str, set[str]], sources: Mapping[str, SourceFrame]) -> None:
    """All sources must cover the same areas; name each one present in one and absent in another."""
    problems = []
    names = sorted(areas)
    for name in names:
        for other in names:
            if name == other:
                continue
            missing = areas[name] - areas[other]
            if missing:
                problems.append(
                    f"{len(missing)} area(s) in {sources[name].describe()} are absent from "
                    f"{sources[other].describe()}: {_areas(list(missing))}"
                )
    if problems:
        raise AssemblyError("Area coverage differs between sources:\n  " + "\n  ".join(problems))


# --- columns ----------------------------------------------------------------------------------


def _cells(spec: ColumnSpec, frame: pd.DataFrame) -> Mapping[str, Sequence[str]]:
    """The cells a column sums: its configured filter, or its own measure in a file source."""
    if MEASURE in frame.columns and not spec.cells:
        return {MEASURE: (spec.column,)}
    return spec.cells


def column_values(
    spec: ColumnSpec, frame: pd.DataFrame, source: SourceFrame
) -> tuple[pd.Series, pd.DataFrame]:
    """Sum a column's cells per area (NULL if any is suppressed), and return the suppressed ones."""
    mask = pd.Series(True, index=frame.index)
    for var, values in _cells(spec, frame).items():
        mask &= frame[var].astype(str).isin(values)
    picked = frame.loc[mask]
    if picked.empty:
        raise AssemblyError(
            f"{source.describe()}: no cells for column {spec.column!r} (cells {dict(spec.cells)})"
        )
    totals = picked.groupby("area_code", sort=True)[VALUE].sum(min_count=1)
    totals[picked[VALUE].isna().groupby(picked["area_code"], sort=True).any()] = pd.NA
    _check_integral(spec, totals, source)
    return totals.astype("Int64").rename(spec.column), picked.loc[picked[VALUE].isna()]


def _check_integral(spec: ColumnSpec, totals: pd.Series, source: SourceFrame) -> None:
    """Counts must be whole numbers."""
    present = totals.dropna()
    fractional = present[(present - present.round()).abs() > 1e-9]
    if not fractional.empty:
        raise AssemblyError(
            f"{source.describe()}: column {spec.column!r} has non-integer counts for "
            f"{_areas(fractional.index.astype(str).tolist())}"
        )


def _suppressed_entry(source: SourceFrame, cells: pd.DataFrame) -> dict[str, Any]:
    """Report of suppressed cells for one column."""
    statuses = cells[STATUS].fillna("null").astype(str).value_counts().sort_index()
    return {
        "source": source.name,
        "table": source.table,
        "cells": len(cells),
        "areas": sorted(cells["area_code"].unique().tolist()),
        "statuses": {str(k): int(v) for k, v in statuses.items()},
    }


def _suppressed_message(suppressed: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per column with suppressed cells."""
    lines = [
        f"{column} from {entry['source']} ({entry['table']}): {entry['cells']} cell(s) in "
        f"{len(entry['areas'])} area(s): {_areas(entry['areas'])}"
        for column, entry in suppressed.items()
    ]
    return 'Suppressed cells (set on_suppressed = "null" to keep them as NULL):\n  ' + (
        "\n  ".join(lines)
    )


# --- the table --------------------------------------------------------------------------------


def _check_year(source: SourceFrame, frame: pd.DataFrame, year: int) -> pd.DataFrame:
    """Keep the screening year; fail if a source has none of it."""
    years = pd.to_numeric(frame[YEAR], errors="coerce")
    kept = frame.loc[years == year]
    if kept.empty:
        found = sorted({str(y) for y in frame[YEAR].unique()})
        raise AssemblyError(f"{source.describe()} has no cells for {year} (found {found})")
    return kept


def _identifiers(names: SourceFrame, frame: pd.DataFrame, year: int) -> pd.DataFrame:
    """area_code, area_name, municipality_code and year for every area, sorted by code."""
    first_raw = frame.drop_duplicates("area_code").set_index("area_code")[AREA]
    codes = sorted(first_raw.index)
    labels = [str(names.area_labels.get(first_raw[c], c)) for c in codes]
    return pd.DataFrame(
        {
            "area_code": pd.array(codes, dtype="string"),
            "area_name": pd.array(labels, dtype="string"),
            "municipality_code": pd.array([c[:4] for c in codes], dtype="string"),
            "year": pd.array([year] * len(codes), dtype="int64"),
        }
    )


def assemble(
    config: SourcesConfig, sources: Mapping[str, SourceFrame]
) -> tuple[pd.DataFrame, AssemblyReport]:
    """One row per area: identifiers and every count column, in the contract's column order."""
    frames: dict[str, pd.DataFrame] = {}
    vintages: dict[str, str] = {}
    for name, source in sources.items():
        normalised, vintages[name] = normalise_areas(source, config.area_level)
        frames[name] = _check_year(source, normalised, config.year)
    vintage = check_vintages(vintages, sources)
    check_coverage({n: set(f["area_code"].unique()) for n, f in frames.items()}, sources)
    table = _identifiers(sources[config.names_from], frames[config.names_from], config.year)
    suppressed: dict[str, dict[str, Any]] = {}
    for spec in config.columns:
        values, cells = column_values(spec, frames[spec.source], sources[spec.source])
        table[spec.column] = values.reindex(table["area_code"].to_numpy()).to_numpy()
        if not cells.empty:
            suppressed[spec.column] = _suppressed_entry(sources[spec.source], cells)
    if suppressed and config.on_suppressed == "error":
        raise AssemblyError(_suppressed_message(suppressed))
    for column in COUNT_COLUMNS:
        table[column] = table[column].astype("Int64")
    table = table.loc[:, list(INPUT_COLUMNS)].reset_index(drop=True)
    return table, AssemblyReport(vintage, suppressed, len(table))
