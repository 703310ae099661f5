"""Data-quality gates: the suites in `expectations/`, run by Great Expectations on DuckDB.

Each table has a `<table>.critical.json` suite (a failure blocks) and optionally a
`<table>.warning.json` suite (failures are reported only). A suite is written once as a
template: sections marked `for_each` are expanded from the ruleset at run time (one copy per
count column, per indicator, per denominator, ...), and `{name}` placeholders take the ruleset's
values (its division's code pattern, its population column, ...).

The table is validated by GX's SQL datasource on DuckDB (`areascreen.gx_duckdb`). The input is
read where it is: its gate table is a view over the Arrow table (in file order, so examples are
stable) registered on every cursor GX uses. The columns derived by row position (file row, rows
per area and year, listed codes, code prefixes) are added to the Arrow table once, code lookups
once per distinct code; the others are computed in SQL as GX reads the view. The pipeline's
result tables are copied once into gate tables of the run's database (ordered by key), with
their derived columns. Gate views and tables are dropped afterwards.
The gate runs in two passes: every expectation pass/fail only (BOOLEAN_ONLY), then the failed
ones again with counts and up to MAX_EXAMPLES offending rows (SUMMARY). Data Docs get the merged
results, with every value from the data HTML-escaped, and load their scripts, stylesheets and
fonts from local files (`areascreen.datadocs`). Great Expectations is imported lazily.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import logging
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from areascreen import datadocs, gx_duckdb, paths
from areascreen.errors import AreascreenError, ValidationFailed
from areascreen.load import LoadedInput, plain_values, shown

SEVERITIES: tuple[str, ...] = ("critical", "warning")
MAX_EXAMPLES = 10
MAX_COUNT = 1_000_000_000
DOCS_SITE = "areascreen"
DOCS_PARENT = "validation"
ROW_COLUMN = "source_row"
_POSITION = "position"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Derived:
    """A derived column: its SQL expression over `src` and the source columns it needs.
    Of several with one name, the first whose columns and tables are present is used."""

    name: str
    expression: str
    needs: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


AREA_CODE = "CAST(src.area_code AS VARCHAR)"
# Whether an area code has its division's form; the pattern is bound as $code_pattern when a
# gate table is built.
AREA_CODE_HAS_FORM = f"regexp_full_match({AREA_CODE}, $code_pattern)"

# Suppression as DOUBLE 1 or 0: GX averages it in double precision.
ONE, ZERO = "CAST(1 AS DOUBLE)", "CAST(0 AS DOUBLE)"
# A column added to the input by row position that only the derived columns read.
UNPARSED_COLUMNS = "unparsed_columns"
HIDDEN_INPUT_COLUMNS = (UNPARSED_COLUMNS,)

AREA_YEAR_ROWS = Derived(
    "area_year_rows",
    "count(*) OVER (PARTITION BY src.area_code, src.year)",
    ("area_code", "year"),
)


@dataclass(frozen=True)
class TableCheck:
    """One table to validate against the suites named `<table>.<severity>.json`."""

    table: str
    label: str
    source: str
    key_column: str
    noun: tuple[str, str]
    derived: tuple[Derived, ...] = ()
    sections: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    substitutions: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    row_label: str | None = None
    register: Mapping[str, pa.Table] = field(default_factory=dict)
    # Values the derived columns' SQL binds as $name parameters (in a gate table; a gate view,
    # read by GX's own queries, can bind none).
    sql_parameters: Mapping[str, Any] = field(default_factory=dict)
    # A view over the registered source (read where it is) rather than a copy.
    as_view: bool = False
    # Source columns the derived columns read that the gate leaves out.
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation, reduced to what a person needs to read."""

    table: str
    suite: str
    severity: str
    name: str
    description: str
    success: bool
    unexpected_count: int | None
    examples: tuple[str, ...]
    observed_value: Any
    message: str | None
    precondition: bool = False

    @property
    def blocking(self) -> bool:
        """A failed critical expectation stops the screening."""
        return not self.success and self.severity == "critical"


@dataclass(frozen=True)
class ValidationReport:
    """All outcomes of one validation run and where its Data Docs are."""

    success: bool
    results: tuple[ExpectationOutcome, ...]
    docs_index: Path | None
    notes: tuple[str, ...] = ()

    def failures(self, severity: str = "critical") -> list[str]:
        """Message lines of the failed expectations of one severity.

        When a table fails a precondition (no rows, columns missing), its other failures
        follow from that one and are left out of the lines (they stay in `results`).
        """
        broken = {r.table for r in self.results if r.precondition and not r.success}
        return [
            r.message
            for r in self.results
            if not r.success
            and r.severity == severity
            and (r.precondition or r.table not in broken)
        ]

    def summary_lines(self) -> list[str]:
        """Lines for the run summary: notes, counts per table and severity, failures, Data Docs."""
        lines = [f"NOTE {note}" for note in self.notes]
        for table, severity in dict.fromkeys((r.table, r.severity) for r in self.results):
            group = [r for r in self.results if r.table == table and r.severity == severity]
            passed = sum(r.success for r in group)
            lines.append(f"{table}: {passed} of {len(group)} {severity} expectations passed")
        lines += [f"FAILED {m}" for m in self.failures("critical")]
        lines += [f"WARNING {m}" for m in self.failures("warning")]
        if self.docs_index is not None:
            lines.append(f"Data Docs: {self.docs_index}")
        return lines

    def raise_for_failures(self) -> None:
        """Raise ValidationFailed when a critical expectation failed."""
        if not self.success:
            raise ValidationFailed(self.failures("critical"), self.docs_index, self.notes)


# --- public gates -----------------------------------------------------------------------------


def validate_input(
    loaded: LoadedInput,
    ruleset: Any,
    *,
    docs_dir: Path | None = None,
    allow_multiple_years: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> ValidationReport:
    """Run the input suites on a loaded file; raises ValidationFailed on a critical failure.

    The gate table is built in `con` (the run's database) when given, else in a database of
    its own; either way it is dropped before returning.
    """
    check = input_check(loaded, ruleset, allow_multiple_years=allow_multiple_years)
    own = con is None
    database = duckdb.connect() if own else con
    try:
        report = run_checks(database, [check], docs_dir=docs_dir)
    finally:
        if own:
            database.close()
    report = replace(report, notes=input_notes(loaded))
    report.raise_for_failures()
    return report


def validate_outputs(
    con: duckdb.DuckDBPyConnection, ruleset: Any, *, docs_dir: Path | None = None
) -> ValidationReport:
    """Run the output suites on `area_results` and `municipality_results` in `con`."""
    report = run_checks(con, output_checks(con, ruleset), docs_dir=docs_dir)
    report.raise_for_failures()
    return report


def input_notes(loaded: LoadedInput) -> tuple[str, ...]:
    """What reading the file found: format, encoding and the reader's notes, each naming it."""
    name = _label(loaded.path.name)
    found = f"{name}: {loaded.file_format} file"
    if loaded.encoding is not None:
        found += f", encoding {loaded.encoding}"
    return (found, *(f"{name}: {note}" for note in loaded.notes))


# --- the input check --------------------------------------------------------------------------


def municipality_codes(path: Path = paths.MUNICIPALITIES_CSV) -> set[str]:
    """The municipality codes listed in data/municipalities.csv."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["municipality_code"] for row in csv.DictReader(handle)}


def count_columns(ruleset: Any) -> tuple[str, ...]:
    """The ruleset's count columns: its input integers other than the year."""
    return tuple(c for c in ruleset.input_columns.integers if c != "year")


def input_sections(ruleset: Any) -> dict[str, list[dict[str, Any]]]:
    """What each `for_each` section of the input suites is expanded over."""
    population = ruleset.population_column
    indicators = [
        {
            "indicator": i.name,
            "numerator": i.numerator,
            "denominator": i.denominator,
            "label": i.label_en,
        }
        for i in ruleset.indicators
    ]
    denominators = dict.fromkeys(
        i.denominator for i in ruleset.indicators if i.denominator != population
    )
    division = ruleset.division
    return {
        "text_column": [{"column": c} for c in ruleset.input_columns.text],
        "integer_column": [{"column": c} for c in ruleset.input_columns.integers],
        "count_column": [{"column": c} for c in count_columns(ruleset)],
        "required_count": [{"column": "year"}, {"column": population}],
        "indicator": indicators,
        "denominator": [{"column": c} for c in denominators],
        "division_code_list": [{}] if division.known_codes() is not None else [],
    }


def input_substitutions(ruleset: Any) -> dict[str, Any]:
    """The ruleset's values the input suites' `{name}` placeholders take."""
    division = ruleset.division
    return {
        "input_columns": list(ruleset.input_columns.all),
        "population": ruleset.population_column,
        "division_label": division.label,
        "code_pattern": division.code_pattern,
        "code_example": division.example,
        "municipality_code_length": division.municipality_code_length,
        "max_count": MAX_COUNT,
        "max_count_text": f"{MAX_COUNT:,}",
    }


def input_check(
    loaded: LoadedInput, ruleset: Any, *, allow_multiple_years: bool = False
) -> TableCheck:
    """The input table, its derived columns and the ruleset's values for its suites."""
    division = ruleset.division
    return TableCheck(
        table="area_statistics",
        label=_label(loaded.path.name),
        source="gate_input",
        key_column="area_code",
        noun=("area", "areas"),
        derived=input_derived(ruleset),
        hidden=HIDDEN_INPUT_COLUMNS,
        sections=input_sections(ruleset),
        substitutions=input_substitutions(ruleset),
        parameters={
            "max_suppressed_share": ruleset.max_suppressed_share,
            "max_years_per_file": None if allow_multiple_years else 1,
        },
        row_label=loaded.row_label,
        register={"gate_input": input_arrow(loaded, division)},
        as_view=True,
    )


def input_arrow(loaded: LoadedInput, division: Any) -> pa.Table:
    """The loaded table as Arrow with the columns the gate adds by row position (the file is
    read once, in order; the rest is derived in SQL as GX reads the gate view):

    - `source_row`: each row's place in the file;
    - `unparsed_values` and `unparsed_columns`: the values of the row that did not convert,
      when some did not (else `unparsed_values` is NULL in SQL);
    - `area_year_rows`: the rows with the same area code and year, when some pair repeats
      (else it is 1 in SQL);
    - `municipality_code_listed`: whether the municipality code is in data/municipalities.csv;
    - `area_code_prefix` and `area_code_listed` (see `code_columns`), computed once per
      distinct area code, not once per row.
    """
    try:
        table = loaded.table
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise AreascreenError(
            f"{_label(loaded.path.name)}: the table read from the file cannot be checked: {exc}"
        ) from exc
    source_rows = loaded.source_rows()
    added: dict[str, pa.Array | pa.ChunkedArray] = {ROW_COLUMN: pa.array(source_rows, pa.int64())}
    if loaded.parse_problems:
        added.update(unparsed_arrays(loaded, source_rows))
    names = set(table.column_names)
    if "area_code" in names:
        codes = Distinct.of(table["area_code"])
        per_code = code_columns(codes.text, division)
        for name in per_code.column_names:
            added[name] = codes.per_row(per_code[name].combine_chunks())
        if "year" in names:
            rows = rows_per_key(codes.indices, value_numbers(table["year"]))
            if rows is not None:
                added[AREA_YEAR_ROWS.name] = pa.array(rows, pa.int64())
    if "municipality_code" in names:
        added["municipality_code_listed"] = listed(table["municipality_code"], municipality_codes())
    for name, values in added.items():
        if name not in names:
            table = table.append_column(name, values)
    return table


@dataclass(frozen=True)
class Distinct:
    """A column's distinct values and, per row, the number of its value (missing: the last)."""

    values: pa.Array
    indices: np.ndarray

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> Distinct:
        """The distinct values of a column, in order of first appearance."""
        encoded = pc.dictionary_encode(plain_values(column).combine_chunks())
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        missing = len(encoded.dictionary)
        indices = encoded.indices.fill_null(missing).to_numpy(zero_copy_only=False)
        return cls(encoded.dictionary, indices)

    @property
    def text(self) -> pa.Array:
        """The distinct values as text."""
        values = self.values
        return values if pa.types.is_string(values.type) else values.cast(pa.string())

    def per_row(self, per_value: pa.Array) -> pa.Array:
        """A value per distinct value given to each row (as a dictionary array, which holds
        each distinct value once); missing for a missing value."""
        with_missing = pa.concat_arrays([per_value, pa.nulls(1, per_value.type)])
        return pa.DictionaryArray.from_arrays(pa.array(self.indices), with_missing)


def code_columns(codes: pa.Array, division: Any) -> pa.Table:
    """Per distinct area code, in SQL: its first `municipality_code_length` characters when it
    has the division's form, and, when the division has a code list, whether it is listed."""
    known = division.known_codes()
    listed_code = "value IN (SELECT area_code FROM gate_known_codes)"
    columns = ["CASE WHEN has_form THEN left(value, $length) END AS area_code_prefix"]
    if known is not None:
        columns.append(f"CASE WHEN has_form THEN {listed_code} END AS area_code_listed")
    query = (
        f"SELECT {', '.join(columns)} FROM (SELECT position, value, "
        "regexp_full_match(value, $pattern) AS has_form FROM gate_values) ORDER BY position"
    )
    with duckdb.connect() as con:
        con.register("gate_values", pa.table({"position": np.arange(len(codes)), "value": codes}))
        if known is not None:
            con.register("gate_known_codes", pa.table({"area_code": sorted(known)}))
        parameters = {
            "pattern": division.code_pattern,
            "length": int(division.municipality_code_length),
        }
        return con.sql(query, params=parameters).to_arrow_table()


def unparsed_arrays(loaded: LoadedInput, source_rows: np.ndarray) -> dict[str, pa.Array]:
    """Per row, the values that did not convert (`employed '12,5'; ...`) and their columns."""
    texts: dict[int, list[str]] = {}
    columns: dict[int, list[str]] = {}
    for problem in loaded.parse_problems:
        texts.setdefault(int(problem.row), []).append(problem.describe())
        columns.setdefault(int(problem.row), []).append(problem.column)
    rows = list(texts)
    positions = pd.Index(source_rows).get_indexer(rows) if rows else np.array([], np.int64)
    # Row i takes entry picks[i] of [missing, problem 1, problem 2, ...].
    picks = np.zeros(len(source_rows), np.int64)
    found = positions >= 0
    picks[positions[found]] = np.arange(1, len(rows) + 1)[found]
    take = pa.array(picks)
    text_values = pa.array([None, *("; ".join(texts[r]) for r in rows)], pa.string())
    column_values = pa.array([None, *(columns[r] for r in rows)], pa.list_(pa.string()))
    return {
        "unparsed_values": text_values.take(take),
        UNPARSED_COLUMNS: column_values.take(take),
    }


def value_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Per row a number that is the same for equal values (missing: a number of its own)."""
    if not pa.types.is_integer(column.type):
        return Distinct.of(column).indices
    extremes = pc.min_max(column).as_py()
    lowest, highest = extremes["min"], extremes["max"]
    if lowest is None:
        return np.zeros(len(column), np.int64)
    if highest - lowest > 4 * len(column) + 1024 or abs(lowest) > 2**62:
        return Distinct.of(column).indices
    filled = column if column.null_count == 0 else pc.fill_null(column, lowest - 1)
    numbers = filled.cast(pa.int64()).to_numpy().copy()
    numbers -= lowest - 1
    return numbers


def listed(values: pa.Array | pa.ChunkedArray, codes: Iterable[str]) -> pa.Array:
    """Whether each value, as text, is one of `codes`; missing where the value is."""
    values = plain_values(values)
    text = values.type if pa.types.is_large_string(values.type) else pa.string()
    if values.type != text:
        values = values.cast(text)
    found = pc.is_in(values, value_set=pa.array(sorted(codes), text))
    return pc.if_else(pc.is_valid(values), found, pa.scalar(None, pa.bool_()))


def rows_per_key(first: np.ndarray, second: np.ndarray) -> np.ndarray | None:
    """Per row, how many rows have the same pair of value numbers (see `Distinct`), as
    `count(*) OVER (PARTITION BY first, second)`, without sorting the table; None when
    every pair is unique."""
    key = np.multiply(first, int(second.max(initial=0)) + 1, dtype=np.int64)
    key += second
    if key.size and int(key.max()) <= 4 * key.size + 1024:
        seen = np.zeros(int(key.max()) + 1, np.bool_)
        seen[key] = True
        if int(np.count_nonzero(seen)) == key.size:
            return None
        counts = np.bincount(key)
    else:
        key, counts = np.unique(key, return_inverse=True, return_counts=True)[1:]
        if counts.max(initial=0) <= 1:
            return None
    return counts[key]


def input_derived(ruleset: Any) -> tuple[Derived, ...]:
    """The input's derived columns computed in SQL as GX reads them: suppression, and the
    columns that are the same on every row when `input_arrow` did not add them (every value
    converted: no unparsed values; every area and year once: one row each)."""
    derived = [
        Derived("unparsed_values", "CAST(NULL AS VARCHAR)"),
        Derived(AREA_YEAR_ROWS.name, "CAST(1 AS BIGINT)", AREA_YEAR_ROWS.needs),
    ]
    for indicator in ruleset.indicators:
        num, den = _quoted(indicator.numerator), _quoted(indicator.denominator)
        unparsed = (
            f"coalesce(list_has_any(src.{UNPARSED_COLUMNS}, "
            f"[{_sql_text(indicator.numerator)}, {_sql_text(indicator.denominator)}]), false)"
        )
        missing = f"(src.{num} IS NULL OR src.{den} IS NULL OR src.{den} = 0)"
        name = f"{indicator.name}_suppressed"
        counts = (indicator.numerator, indicator.denominator)
        derived += [
            Derived(
                name,
                f"CASE WHEN {missing} AND NOT {unparsed} THEN {ONE} ELSE {ZERO} END",
                (*counts, UNPARSED_COLUMNS),
            ),
            # Without unparsed values, the same rule.
            Derived(name, f"CASE WHEN {missing} THEN {ONE} ELSE {ZERO} END", counts),
        ]
    return tuple(derived)


# --- the output checks ------------------------------------------------------------------------


def output_checks(con: duckdb.DuckDBPyConnection, ruleset: Any) -> list[TableCheck]:
    """The checks of `area_results` and `municipality_results` for a ruleset."""
    length = int(ruleset.division.municipality_code_length)
    code, matches = AREA_CODE, AREA_CODE_HAS_FORM
    per_area = "FROM area_criteria AS c WHERE c.area_id = src.area_id"
    areas = TableCheck(
        table="area_results",
        label="area_results",
        source="area_results",
        key_column="area_code",
        noun=("area", "areas"),
        derived=(
            Derived(
                "area_code_prefix",
                f"CASE WHEN {matches} THEN left({code}, {length}) END",
                ("area_code",),
            ),
            AREA_YEAR_ROWS,
            Derived(
                "status_is_selected", "src.selection_status = 'selected'", ("selection_status",)
            ),
            Derived(
                "criteria_accounted",
                "src.criteria_evaluated + src.criteria_suppressed",
                ("criteria_evaluated", "criteria_suppressed"),
            ),
            Derived(
                "criteria_crossed_recounted",
                f"(SELECT count(*) FILTER (WHERE c.crossed) {per_area})",
                ("area_id",),
                ("area_criteria",),
            ),
            Derived(
                "lowest_rate", f"(SELECT min(c.rate) {per_area})", ("area_id",), ("area_criteria",)
            ),
            Derived(
                "highest_rate", f"(SELECT max(c.rate) {per_area})", ("area_id",), ("area_criteria",)
            ),
        ),
        sql_parameters={"code_pattern": ruleset.division.code_pattern},
        substitutions={"municipality_code_length": length},
        parameters={
            "number_of_criteria": len(ruleset.criteria),
            "minimum_population": ruleset.selection.minimum_population,
        },
    )
    in_municipality = "FROM area_results AS a WHERE a.municipality_code = src.municipality_code"
    totals = {
        "areas": "count(*)",
        "population": "coalesce(sum(a.population), 0)",
        "selected_areas": "count(*) FILTER (WHERE a.selected)",
        "population_in_selected_areas": "coalesce(sum(a.population) FILTER (WHERE a.selected), 0)",
    }
    municipalities = TableCheck(
        table="municipality_results",
        label="municipality_results",
        source="municipality_results",
        key_column="municipality_code",
        noun=("municipality", "municipalities"),
        derived=tuple(
            Derived(
                f"{name}_in_area_results",
                f"(SELECT {total} {in_municipality})",
                ("municipality_code",),
                ("area_results",),
            )
            for name, total in totals.items()
        ),
        parameters={
            "minimum_selected_areas": ruleset.municipality.minimum_selected_areas,
            "minimum_population_in_selected_areas": (
                ruleset.municipality.minimum_population_in_selected_areas
            ),
        },
    )
    return [areas, municipalities]


# --- suites -----------------------------------------------------------------------------------


def suite_path(table: str, severity: str) -> Path:
    """Where the suite of a table and severity is kept."""
    return paths.EXPECTATIONS_DIR / f"{table}.{severity}.json"


def read_suite_file(path: Path) -> dict[str, Any]:
    """The JSON of one suite file, checked for the keys a suite needs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AreascreenError(f"{path.name}: not a readable expectation suite: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise AreascreenError(f"{path.name}: an expectation suite needs a list 'expectations'")
    return data


def expand_items(
    items: Sequence[Any],
    sections: Mapping[str, Sequence[Mapping[str, Any]]],
    substitutions: Mapping[str, Any],
    where: str,
) -> list[dict[str, Any]]:
    """The suite's expectations with every `for_each` section expanded and placeholders filled."""
    expanded: list[dict[str, Any]] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise AreascreenError(f"{where}: item {number} is not an expectation")
        if "for_each" not in item:
            expanded.append(_fill(item, substitutions))
            continue
        name = item["for_each"]
        if name not in sections or not isinstance(item.get("expectations"), list):
            known = ", ".join(sorted(sections)) or "none"
            raise AreascreenError(
                f"{where}: item {number} repeats over unknown {name!r} (known: {known}) "
                "or has no list 'expectations'"
            )
        for values in sections[name]:
            scope = {**substitutions, **values}
            expanded += [_fill(inner, scope) for inner in item["expectations"]]
    return expanded


def _fill(value: Any, scope: Mapping[str, Any], *, in_message: bool = False) -> Any:
    """A JSON value with `{name}` placeholders replaced; a whole-string placeholder keeps its type.

    In message templates the inserted text has its braces doubled, so the message's own
    placeholders (`{count}`, ...) still format and a pattern's `{4}` stays literal.
    """
    if isinstance(value, dict):
        return {
            k: _fill(v, scope, in_message=in_message or k == "message") for k, v in value.items()
        }
    if isinstance(value, list):
        return [_fill(v, scope, in_message=in_message) for v in value]
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"\{([a-z_]+)\}", value)
    if whole and whole.group(1) in scope and not in_message:
        return scope[whole.group(1)]

    def insert(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in scope:
            return match.group(0)
        text = str(scope[name])
        return text.replace("{", "{{").replace("}", "}}") if in_message else text

    return re.sub(r"\{([a-z_]+)\}", insert, value)


def load_suite(
    table: str,
    severity: str,
    sections: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    substitutions: Mapping[str, Any] | None = None,
):
    """A GX ExpectationSuite from `expectations/<table>.<severity>.json`, or None if absent."""
    path = suite_path(table, severity)
    if not path.is_file():
        return None
    gx = _gx()
    data = read_suite_file(path)
    items = expand_items(data["expectations"], sections or {}, substitutions or {}, path.name)
    expectations = [_expectation(item, severity, n, path) for n, item in enumerate(items)]
    return gx.ExpectationSuite(
        name=data.get("name", path.stem), expectations=expectations, notes=data.get("notes")
    )


def _expectation(item: Mapping[str, Any], severity: str, position: int, path: Path):
    """One GX expectation from its JSON, marked with its place in the suite."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    meta = {**(item.get("meta") or {}), _POSITION: position}
    try:
        config = ExpectationConfiguration(**{**item, "meta": meta, "severity": severity})
        return config.to_domain_obj()
    except Exception as exc:
        raise AreascreenError(f"{path.name}: expectation {position + 1} is invalid: {exc}") from exc


# --- the runner -------------------------------------------------------------------------------


def _gx():
    """Great Expectations, imported on first use: no usage statistics, only its warnings logged."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)
    import great_expectations

    return great_expectations


def _context(docs_dir: Path | None):
    """An ephemeral GX context; its only Data Docs site is a folder docs_dir, when given."""
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "view": datadocs.view_settings("CachedJinjaIndexPageView"),
            },
            "site_section_builders": {
                section: {"view": datadocs.view_settings("CachedJinjaPageView")}
                for section in ("expectations", "validations", "profiling")
            },
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_checks(
    con: duckdb.DuckDBPyConnection, checks: Sequence[TableCheck], *, docs_dir: Path | None = None
) -> ValidationReport:
    """Validate every table against its suites through one GX context; never raises on failure."""
    context = _context(docs_dir)
    prefix = f"areascreen_gate_{uuid.uuid4().hex[:12]}"
    session = GateSession.of(checks)
    cursor = con.cursor()
    session.open(cursor)
    outcomes: list[ExpectationOutcome] = []
    try:
        session.open(con)
        try:
            for check in checks:
                build_gate(con, prefix, check)
        finally:
            session.close(con)
        datasource = gx_duckdb.add_datasource(context, "areascreen", con, session.open)
        try:
            for check in checks:
                outcomes += _run_check(context, datasource, cursor, prefix, check)
        finally:
            gx_duckdb.close_datasource(datasource)
    finally:
        for check in checks:
            kind = "VIEW" if check.as_view else "TABLE"
            cursor.execute(f"DROP {kind} IF EXISTS {prefix}_{check.table}")
        cursor.close()
    docs_index = None
    if docs_dir is not None:
        docs_index = write_data_docs(context, docs_dir)
    success = not any(o.blocking for o in outcomes)
    return ValidationReport(success=success, results=tuple(outcomes), docs_index=docs_index)


def assets_dir_for(docs_dir: Path) -> Path:
    """Where a Data Docs site's local assets go: shared by the sites of a publication.

    A site in `<publication>/validation/<gate>/` uses `<publication>/validation/assets/`;
    any other site keeps its assets in its own `assets/` folder.
    """
    if docs_dir.resolve().parent.name == DOCS_PARENT:
        return docs_dir.resolve().parent / datadocs.ASSETS_FOLDER
    return docs_dir / datadocs.ASSETS_FOLDER


def write_data_docs(context, docs_dir: Path) -> Path:
    """Build the site's pages, make them load local assets only; the index page."""
    context.build_data_docs(site_names=[DOCS_SITE])
    datadocs.make_offline(docs_dir, assets_dir_for(docs_dir))
    return docs_dir / "index.html"


def table_columns(cursor: duckdb.DuckDBPyConnection, relation: str) -> list[str] | None:
    """The columns of a table or view, or None when it does not exist."""
    try:
        return list(cursor.table(relation).columns)
    except duckdb.CatalogException:
        return None


@dataclass(frozen=True)
class GateSession:
    """What a DuckDB connection needs to read the gates: the registered Arrow tables (private
    to a connection, so every cursor the gate or GX uses is opened with them)."""

    tables: Mapping[str, pa.Table]

    @classmethod
    def of(cls, checks: Sequence[TableCheck]) -> GateSession:
        """The tables of every check."""
        return cls({n: t for c in checks for n, t in c.register.items()})

    def open(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Register the tables on a connection."""
        for name, table in self.tables.items():
            cursor.register(name, table)

    def close(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """Unregister the tables on a connection that stays open."""
        for name in self.tables:
            cursor.unregister(name)


def build_gate(cursor: duckdb.DuckDBPyConnection, prefix: str, check: TableCheck) -> None:
    """The checked table with the derived columns its inputs allow: a view over the registered
    source (in its order) or a copy ordered by key.
    Built on the run's own connection: the screening's views read Arrow tables registered on
    it, which GX's cursor does not see; a gate table is visible to every cursor, a gate view
    to every cursor opened with the gate's session."""
    kind = "VIEW" if check.as_view else "TABLE"
    columns = table_columns(cursor, check.source)
    if columns is None:
        cursor.execute(
            f"CREATE {kind} {prefix}_{check.table} AS "
            "SELECT CAST(NULL AS BOOLEAN) AS missing_table LIMIT 0"
        )
        return
    present = set(columns)
    chosen: dict[str, str] = {}
    for d in check.derived:
        if (
            set(d.needs) <= present
            and d.name not in present
            and d.name not in chosen
            and all(table_columns(cursor, t) is not None for t in d.tables)
        ):
            chosen[d.name] = d.expression
    expressions = [f"{expression} AS {_quoted(name)}" for name, expression in chosen.items()]
    hidden = ", ".join(_quoted(c) for c in check.hidden if c in present)
    every = f"src.* EXCLUDE ({hidden})" if hidden else "src.*"
    selected = f"SELECT {', '.join([every, *expressions])} FROM {check.source} AS src"
    if check.as_view:
        cursor.execute(f"CREATE VIEW {prefix}_{check.table} AS {selected}")
        return
    order = ROW_COLUMN if ROW_COLUMN in present else f"src.{_quoted(check.key_column)}"
    if check.key_column not in present and ROW_COLUMN not in present:
        order = "ALL"
    query = f"CREATE TABLE {prefix}_{check.table} AS {selected} ORDER BY {order}"
    bound = {k: v for k, v in check.sql_parameters.items() if f"${k}" in query}
    cursor.execute(query, bound or None)


def _run_check(
    context, datasource, cursor, prefix: str, check: TableCheck
) -> list[ExpectationOutcome]:
    """Run a table's suites in two passes and turn the results into outcomes."""
    from great_expectations.core.run_identifier import RunIdentifier

    asset = datasource.add_table_asset(check.table, table_name=f"{prefix}_{check.table}")
    batch = asset.add_batch_definition_whole_table("whole table").get_batch()
    run_id = RunIdentifier(run_name=_SAFE_NAME.sub("_", check.label))
    outcomes: list[ExpectationOutcome] = []
    found = False
    for severity in SEVERITIES:
        suite = load_suite(check.table, severity, check.sections, check.substitutions)
        if suite is None:
            continue
        found = True
        suite = context.suites.add(suite)
        first, results = _two_passes(batch, suite, check)
        _store_for_docs(context, suite, batch, run_id, first, results)
        outcomes += [_outcome(check, cursor, prefix, suite.name, r) for r in results]
    if not found:
        raise AreascreenError(f"no expectation suite for {check.table} in {paths.EXPECTATIONS_DIR}")
    return outcomes


def _two_passes(batch, suite, check: TableCheck) -> tuple[Any, list[Any]]:
    """The suite's result and its expectation results in suite order: all pass/fail only
    first, then the failed ones again with counts and examples."""
    gx = _gx()
    parameters = dict(check.parameters)
    first = batch.validate(suite, result_format="BOOLEAN_ONLY", expectation_parameters=parameters)
    results = {_position(r): r for r in first.results}
    failed = [e for e in suite.expectations if not _succeeded(results[e.meta[_POSITION]])]
    if failed:
        again = gx.ExpectationSuite(
            name=f"{suite.name}.examples", expectations=[_copy_of(e) for e in failed]
        )
        second = batch.validate(
            again, result_format=_result_format(check, failed), expectation_parameters=parameters
        )
        results.update({_position(r): r for r in second.results})
    return first, [results[n] for n in sorted(results)]


def _copy_of(expectation):
    """An expectation that belongs to no suite yet, for the second pass."""
    clone = copy.copy(expectation)
    clone.id = None
    return clone


def _position(result) -> int:
    """Where an expectation result's expectation is in its suite."""
    return int(result.expectation_config.meta[_POSITION])


def _succeeded(result) -> bool:
    """Whether an expectation passed without raising."""
    raised = bool((result.exception_info or {}).get("raised_exception"))
    return bool(result.success) and not raised


def _result_format(check: TableCheck, expectations: Sequence[Any] = ()) -> dict[str, Any]:
    """SUMMARY results naming up to MAX_EXAMPLES offending rows by key (and file row), with the
    columns whose values the expectations' messages show (`meta.value_columns`)."""
    index_columns = [check.key_column]
    if check.row_label is not None:
        index_columns.append(ROW_COLUMN)
    for expectation in expectations:
        for column in (expectation.meta or {}).get("value_columns") or ():
            if column not in index_columns:
                index_columns.append(column)
    return {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": index_columns,
        "partial_unexpected_count": MAX_EXAMPLES,
    }


def _store_for_docs(context, suite, batch, run_id, first, results: list[Any]) -> None:
    """Keep the merged results, values HTML-escaped, in the store Data Docs are built from."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    merged = copy.copy(first)
    merged.results = [escaped_result(r) for r in results]
    merged.success = all(_succeeded(r) for r in merged.results)
    identifier = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=run_id,
        batch_identifier=_SAFE_NAME.sub("_", str(batch.id)),
    )
    context.validation_results_store.set(identifier, merged)


def escaped_result(result):
    """A copy of an expectation result whose values from the data are HTML-escaped."""
    safe = copy.deepcopy(result)
    safe.result = _escape_values(safe.result or {})
    if safe.exception_info:
        safe.exception_info = _escape_values(safe.exception_info)
    return safe


def _escape_values(value: Any) -> Any:
    """Every string inside a JSON-like value HTML-escaped, keys included."""
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if isinstance(value, Mapping):
        return {_escape_values(k): _escape_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_escape_values(v) for v in value)
    return value


def _outcome(check: TableCheck, cursor, prefix: str, suite_name: str, result) -> ExpectationOutcome:
    """One expectation's outcome, with its message when it failed."""
    config = result.expectation_config
    details = result.result or {}
    raised = bool((result.exception_info or {}).get("raised_exception"))
    success = _succeeded(result)
    examples = _examples(check, config, details)
    message = None
    if not success:
        values = _value_counts(check, cursor, prefix, config.meta.get("list_values"))
        message = _message(
            check, config, details, examples, result.exception_info if raised else None, values
        )
    return ExpectationOutcome(
        table=check.label,
        suite=suite_name,
        severity=str(getattr(config.severity, "value", config.severity)),
        name=config.type,
        description=config.description or config.type,
        success=success,
        unexpected_count=details.get("unexpected_count"),
        examples=examples,
        observed_value=details.get("observed_value"),
        message=message,
        precondition=bool(config.meta.get("precondition")),
    )


# --- messages ---------------------------------------------------------------------------------


def _examples(check: TableCheck, config, details: Mapping[str, Any]) -> tuple[str, ...]:
    """Up to MAX_EXAMPLES offending rows: key, and file row or value where the suite asks."""
    rows = details.get("partial_unexpected_index_list") or []
    columns = config.meta.get("value_columns") or _domain_columns(config.kwargs)
    return tuple(_example(check, config.meta, row, columns) for row in rows[:MAX_EXAMPLES])


def _domain_columns(kwargs: Mapping[str, Any]) -> list[str]:
    """The columns an expectation is about."""
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def _example(check: TableCheck, meta: Mapping[str, Any], row: Mapping[str, Any], columns) -> str:
    """One offending row as text, e.g. `0180C1010 (line 3: employed '12,5')`."""
    key = row.get(check.key_column)
    where = f"{check.row_label} {row.get(ROW_COLUMN)}" if check.row_label else None
    extras = []
    if meta.get("show_row") and where:
        extras.append(where)
    if meta.get("show_value"):
        extras.append(_values(row, [c for c in columns if c != check.key_column]))
    extras = [e for e in extras if e]
    if _is_missing(key):
        head, extras = (where or "row ?"), [e for e in extras if e != where]
    else:
        head = _show(key)
    return f"{head} ({': '.join(extras)})" if extras else head


def _values(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    """The offending values: bare for one column, `name value` pairs for several."""
    if len(columns) == 1:
        return _show(row.get(columns[0]), quote_text=columns[0] == "unparsed_values")
    return ", ".join(f"{c} {_show(row.get(c))}" for c in columns)


def _is_missing(value: Any) -> bool:
    """Whether GX reported a missing value."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value in ("nan", "None", "<NA>")


def _show(value: Any, *, quote_text: bool = False) -> str:
    """A value for a message: quoted, control characters escaped, when it is not plain text.

    `quote_text` is for text the gate composed itself (e.g. `employed '12,5'`): it is shown
    as is when printable.
    """
    if _is_missing(value):
        return "missing"
    text = str(value)
    if not text.isprintable():
        return shown(text)
    if quote_text:
        return text
    return repr(text) if text != text.strip() or not text else text


def _label(name: str) -> str:
    """A file name for a message, escaped when it holds control characters."""
    return name if name.isprintable() else shown(name)


def _message(check: TableCheck, config, details, examples, exception_info, values: str) -> str:
    """The message line for a failed expectation: `<label>: <what>: <examples>`."""
    if exception_info:
        reason = str(exception_info.get("exception_message", "")).strip().splitlines()
        reason_text = _show(reason[-1]) if reason else "unknown error"
        return f"{check.label}: could not check {config.description or config.type}: {reason_text}"
    count = details.get("unexpected_count")
    fields = _message_fields(check, config, details, count, values)
    template = config.meta.get("message") or config.description or config.type
    try:
        text = template.format_map(fields)
    except (KeyError, ValueError, TypeError):
        text = config.description or config.type
    line = f"{check.label}: {text}"
    if examples:
        more = ", …" if (count or 0) > len(examples) else ""
        line += ": " + ", ".join(examples) + more
    return line


def _message_fields(
    check: TableCheck, config, details, count: int | None, values: str
) -> dict[str, Any]:
    """Values a message template can use: kwargs, count, nouns, observed value, missing columns."""
    singular = count == 1
    mismatched = (details.get("details") or {}).get("mismatched") or {}
    fields: dict[str, Any] = {k: _whole(v) for k, v in config.kwargs.items()}
    fields.update(
        count=count,
        rows=check.noun[0] if singular else check.noun[1],
        have="has" if singular else "have",
        observed_value=details.get("observed_value"),
        missing=", ".join(mismatched.get("missing", [])),
        values=values,
    )
    return fields


def _whole(value: Any) -> Any:
    """A float that is a whole number as an int (GX turns suite parameters into floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _value_counts(check: TableCheck, cursor, prefix: str, column: str | None) -> str:
    """`2018 (9 areas), 2019 (1 area)` for a column the message lists values of."""
    if not column:
        return ""
    query = (
        f"SELECT {_quoted(column)} AS value, count(*) FROM {prefix}_{check.table} "
        f"WHERE {_quoted(column)} IS NOT NULL GROUP BY ALL ORDER BY value LIMIT $limit"
    )
    try:
        counts = cursor.execute(query, {"limit": MAX_EXAMPLES + 1}).fetchall()
    except duckdb.Error:
        return ""
    shown_counts = [
        f"{_show(value)} ({n} {check.noun[0] if n == 1 else check.noun[1]})"
        for value, n in counts[:MAX_EXAMPLES]
    ]
    return ", ".join(shown_counts) + (", …" if len(counts) > MAX_EXAMPLES else "")


# --- SQL text ---------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    """An SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
