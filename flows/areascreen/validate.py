"""Data-quality gates: the suites in `expectations/`, run through Great Expectations' own validation.

Each table has a `<table>.critical.json` suite (a failure blocks) and optionally a
`<table>.warning.json` suite (failures are reported only). Rules that Great Expectations cannot
state on the raw columns (code prefix equals municipality, one kind of area code, totals that
match the area results) are checked on derived columns added here, so the rule itself is still
a Great Expectations expectation. Great Expectations is imported lazily: importing areascreen
stays fast.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from areascreen import contract, paths
from areascreen.errors import AreascreenError, ValidationFailed
from areascreen.load import LoadedInput

SEVERITIES: tuple[str, ...] = ("critical", "warning")
MAX_EXAMPLES = 10
DOCS_SITE = "areascreen"
_ROW_COLUMN = "source_row"


@dataclass(frozen=True)
class TableCheck:
    """One table to validate against the suites named `<table>.<severity>.json`."""

    table: str
    label: str
    frame: pd.DataFrame
    key_column: str
    noun: tuple[str, str]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    row_label: str | None = None


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
    *,
    max_suppressed_share: float = 0.05,
    allow_multiple_years: bool = False,
    docs_dir: Path | None = None,
) -> ValidationReport:
    """Run the input suites on a loaded file; raises ValidationFailed on a critical failure."""
    parameters = {
        "max_suppressed_share": max_suppressed_share,
        "max_years_per_file": None if allow_multiple_years else 1,
        "municipality_codes": sorted(municipality_codes()),
    }
    check = TableCheck(
        table="area_statistics",
        label=loaded.path.name,
        frame=input_frame(loaded),
        key_column="area_code",
        noun=("area", "areas"),
        parameters=parameters,
        row_label=loaded.row_label,
    )
    report = replace(run_checks([check], docs_dir=docs_dir), notes=input_notes(loaded))
    report.raise_for_failures()
    return report


def input_notes(loaded: LoadedInput) -> tuple[str, ...]:
    """What reading the file found: format, encoding and the reader's notes, each naming it."""
    name = loaded.path.name
    found = f"{name}: {loaded.file_format} file"
    if loaded.encoding is not None:
        found += f", encoding {loaded.encoding}"
    return (found, *(f"{name}: {note}" for note in loaded.notes))


def validate_outputs(
    area_results: pd.DataFrame,
    municipalities: pd.DataFrame,
    *,
    docs_dir: Path | None = None,
) -> ValidationReport:
    """Run the output suites on area and municipality results; raises ValidationFailed on failure."""
    checks = [
        TableCheck(
            table="area_results",
            label="area_results",
            frame=area_results_frame(area_results),
            key_column="area_code",
            noun=("area", "areas"),
            parameters={"number_of_criteria": len(criteria_in(area_results))},
        ),
        TableCheck(
            table="municipality_results",
            label="municipality_results",
            frame=municipality_results_frame(municipalities, area_results),
            key_column="municipality_code",
            noun=("municipality", "municipalities"),
        ),
    ]
    report = run_checks(checks, docs_dir=docs_dir)
    report.raise_for_failures()
    return report


# --- derived columns --------------------------------------------------------------------------


def municipality_codes(path: Path = paths.MUNICIPALITIES_CSV) -> set[str]:
    """The municipality codes listed in data/municipalities.csv."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["municipality_code"] for row in csv.DictReader(handle)}


def input_frame(loaded: LoadedInput) -> pd.DataFrame:
    """The loaded frame plus the derived columns the input suite checks."""
    frame = loaded.frame.copy()
    frame["area_code_prefix"], frame["area_code_kind"] = code_parts(frame["area_code"])
    bad_cells = _parse_problem_cells(loaded)
    frame["unparsed_values"] = _unparsed_values(loaded, len(frame))
    for indicator in contract.INDICATORS.values():
        columns = [indicator.numerator, indicator.denominator]
        missing = frame[columns].isna().any(axis=1).to_numpy()
        unparsed = bad_cells[columns].any(axis=1).to_numpy()
        frame[f"{indicator.name}_suppressed"] = (missing & ~unparsed).astype("float64")
    frame[_ROW_COLUMN] = loaded.source_rows()
    return frame


def code_parts(codes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """An area code's leading four digits and its kind (DeSO for A/B/C, RegSO for R), if any."""
    codes = codes.astype("str")
    prefix = codes.str.slice(0, 4)
    has_prefix = prefix.str.fullmatch(r"\d{4}").fillna(False).astype(bool)
    letter = codes.str.slice(4, 5).where(has_prefix)
    kinds = letter.map({"A": "DeSO", "B": "DeSO", "C": "DeSO", "R": "RegSO"})
    return prefix.where(has_prefix).astype("str"), kinds.astype("str")


def _problem_positions(loaded: LoadedInput) -> np.ndarray:
    """Frame positions of the rows named in the parse problems."""
    rows = pd.Index(loaded.source_rows())
    return rows.get_indexer([p.row for p in loaded.parse_problems])


def _parse_problem_cells(loaded: LoadedInput) -> pd.DataFrame:
    """Boolean frame: True where a cell held a value that did not convert."""
    columns = list(contract.INPUT_COLUMNS)
    cells = np.zeros((len(loaded.frame), len(columns)), dtype=bool)
    where = [columns.index(p.column) for p in loaded.parse_problems]
    cells[_problem_positions(loaded), where] = True
    return pd.DataFrame(cells, columns=columns)


def _unparsed_values(loaded: LoadedInput, rows: int) -> pd.Series:
    """Per row, the values that did not convert (e.g. `employed '12,5'`), else missing."""
    described = pd.Series(
        [p.describe() for p in loaded.parse_problems],
        index=_problem_positions(loaded),
        dtype="object",
    )
    joined = described.groupby(level=0).agg("; ".join)
    return joined.reindex(range(rows)).astype("str")


def criteria_in(area_results: pd.DataFrame) -> list[str]:
    """The indicators screened in these results: those with a `<indicator>_crossed` column."""
    return [name for name in contract.INDICATORS if f"{name}_crossed" in area_results.columns]


def area_results_frame(area_results: pd.DataFrame) -> pd.DataFrame:
    """Area results plus the derived columns the area-results suite checks."""
    frame = area_results.reset_index(drop=True).copy()
    criteria = criteria_in(frame)
    if "area_code" in frame:
        frame["area_code_prefix"] = code_parts(frame["area_code"])[0]
    if "selection_status" in frame:
        frame["status_is_selected"] = frame["selection_status"].eq("selected")
    if {"criteria_evaluated", "criteria_suppressed"} <= set(frame.columns):
        frame["criteria_accounted"] = frame["criteria_evaluated"] + frame["criteria_suppressed"]
    flags = frame[[f"{name}_crossed" for name in criteria]].astype("boolean").fillna(False)
    frame["criteria_crossed_recounted"] = flags.astype("int64").sum(axis=1)
    rates = frame[[f"{name}_pct" for name in criteria if f"{name}_pct" in frame.columns]]
    frame["lowest_rate_pct"] = rates.astype("float64").min(axis=1)
    frame["highest_rate_pct"] = rates.astype("float64").max(axis=1)
    return frame


def municipality_results_frame(
    municipalities: pd.DataFrame, area_results: pd.DataFrame
) -> pd.DataFrame:
    """Municipality results joined with totals recomputed from the area results."""
    frame = municipalities.reset_index(drop=True).copy()
    needed = {"municipality_code", "selected", "population"}
    if "municipality_code" not in frame or not needed <= set(area_results.columns):
        return frame
    selected = area_results["selected"].astype("boolean").fillna(False).astype("int64")
    totals = (
        area_results.assign(selected_population=area_results["population"] * selected)
        .assign(selected_flag=selected)
        .groupby("municipality_code")
        .agg(
            areas=("population", "size"),
            population=("population", "sum"),
            selected_areas=("selected_flag", "sum"),
            population_in_selected_areas=("selected_population", "sum"),
        )
    )
    codes = frame["municipality_code"]
    for column in totals.columns:
        recomputed = codes.map(totals[column]).fillna(0).astype("int64")
        frame[f"{column}_in_area_results"] = recomputed
    return frame


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


def load_suite(table: str, severity: str):
    """A GX ExpectationSuite from `expectations/<table>.<severity>.json`, or None if absent."""
    path = suite_path(table, severity)
    if not path.is_file():
        return None
    gx = _gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    data = read_suite_file(path)
    expectations = []
    for number, item in enumerate(data["expectations"], start=1):
        try:
            config = ExpectationConfiguration(**{**item, "severity": severity})
            expectations.append(config.to_domain_obj())
        except Exception as exc:
            raise AreascreenError(f"{path.name}: expectation {number} is invalid: {exc}") from exc
    return gx.ExpectationSuite(
        name=data.get("name", path.stem), expectations=expectations, notes=data.get("notes")
    )


# --- the generic runner -----------------------------------------------------------------------


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
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
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


def run_checks(checks: Sequence[TableCheck], *, docs_dir: Path | None = None) -> ValidationReport:
    """Validate every table against its suites through one GX context; never raises on failure."""
    context = _context(docs_dir)
    outcomes: list[ExpectationOutcome] = []
    for check in checks:
        outcomes += _run_check(context, check, with_docs=docs_dir is not None)
    docs_index = (docs_dir / "index.html") if docs_dir is not None else None
    success = not any(o.blocking for o in outcomes)
    return ValidationReport(success=success, results=tuple(outcomes), docs_index=docs_index)


def _run_check(context, check: TableCheck, *, with_docs: bool) -> list[ExpectationOutcome]:
    """Run a table's suites in one checkpoint and turn the results into outcomes."""
    gx = _gx()
    asset = context.data_sources.add_pandas(check.table).add_dataframe_asset(check.label)
    batch = asset.add_batch_definition_whole_dataframe("whole table")
    definitions = []
    for severity in SEVERITIES:
        suite = load_suite(check.table, severity)
        if suite is None:
            continue
        suite = context.suites.add(suite)
        definition = gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
        definitions.append(context.validation_definitions.add(definition))
    if not definitions:
        raise AreascreenError(f"no expectation suite for {check.table} in {paths.EXPECTATIONS_DIR}")
    actions = [gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])]
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=check.table,
            validation_definitions=definitions,
            actions=actions if with_docs else [],
            result_format=_result_format(check),
        )
    )
    from great_expectations.core.run_identifier import RunIdentifier

    result = checkpoint.run(
        batch_parameters={"dataframe": check.frame},
        expectation_parameters=dict(check.parameters),
        run_id=RunIdentifier(run_name=check.label),
    )
    return _outcomes(check, definitions, result)


def _result_format(check: TableCheck) -> dict[str, Any]:
    """SUMMARY results naming up to MAX_EXAMPLES offending rows by key (and file row)."""
    index_columns = [check.key_column]
    if check.row_label is not None:
        index_columns.append(_ROW_COLUMN)
    return {
        "result_format": "SUMMARY",
        "unexpected_index_column_names": index_columns,
        "partial_unexpected_count": MAX_EXAMPLES,
    }


def _outcomes(check: TableCheck, definitions, checkpoint_result) -> list[ExpectationOutcome]:
    """Outcomes in suite order, from every validation result of the checkpoint."""
    outcomes: list[ExpectationOutcome] = []
    by_suite = {r.suite_name: r for r in checkpoint_result.run_results.values()}
    for definition in definitions:
        suite = definition.suite
        order = {e.id: n for n, e in enumerate(suite.expectations)}
        results = by_suite[suite.name].results
        for result in sorted(results, key=lambda r: order.get(r.expectation_config.id, 0)):
            outcomes.append(_outcome(check, suite.name, result))
    return outcomes


def _outcome(check: TableCheck, suite_name: str, result) -> ExpectationOutcome:
    """One expectation's outcome, with its message when it failed."""
    config = result.expectation_config
    details = result.result or {}
    raised = bool((result.exception_info or {}).get("raised_exception"))
    success = bool(result.success) and not raised
    examples = _examples(check, config, details)
    message = None
    if not success:
        message = _message(
            check, config, details, examples, result.exception_info if raised else None
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
    columns = _domain_columns(config.kwargs)
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
    where = f"{check.row_label} {row.get(_ROW_COLUMN)}" if check.row_label else None
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
        return _show(row.get(columns[0]))
    return ", ".join(f"{c} {_show(row.get(c))}" for c in columns)


def _is_missing(value: Any) -> bool:
    """Whether GX reported a missing value."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value in ("nan", "None", "<NA>")


def _show(value: Any) -> str:
    """A value for a message: quoted when blanks at its ends would otherwise be invisible."""
    if _is_missing(value):
        return "missing"
    text = str(value)
    return repr(text) if text != text.strip() or not text else text


def _message(check: TableCheck, config, details, examples, exception_info) -> str:
    """The message line for a failed expectation: `<label>: <what>: <examples>`."""
    if exception_info:
        reason = str(exception_info.get("exception_message", "")).strip().splitlines()
        reason_text = reason[-1] if reason else "unknown error"
        return f"{check.label}: could not check {config.description or config.type}: {reason_text}"
    count = details.get("unexpected_count")
    fields = _message_fields(check, config, details, count)
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


def _message_fields(check: TableCheck, config, details, count: int | None) -> dict[str, Any]:
    """Values a message template can use: kwargs, count, nouns, observed value, missing columns."""
    singular = count == 1
    mismatched = (details.get("details") or {}).get("mismatched") or {}
    fields: dict[str, Any] = dict(config.kwargs)
    fields.update(
        count=count,
        rows=check.noun[0] if singular else check.noun[1],
        have="has" if singular else "have",
        observed_value=details.get("observed_value"),
        missing=", ".join(mismatched.get("missing", [])),
        values=_value_counts(check, config.meta.get("list_values")),
    )
    return fields


def _value_counts(check: TableCheck, column: str | None) -> str:
    """`2018 (9 areas), 2019 (1 area)` for a column the message lists values of."""
    if not column or column not in check.frame:
        return ""
    counts = check.frame[column].dropna().value_counts().sort_index()
    return ", ".join(
        f"{value} ({n} {check.noun[0] if n == 1 else check.noun[1]})" for value, n in counts.items()
    )
