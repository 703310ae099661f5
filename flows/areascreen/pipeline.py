"""The screening as one straight line: load → validate input → flag → roll up → allocate →
compare with the previous publication → validate output → report → publish.

`run_screening` is plain Python. The Prefect flow in `areascreen.flow` runs the very same line
with each stage as a Prefect task, by passing a different `stage` runner.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from areascreen import __version__, paths
from areascreen.allocate import allocate_years, grants_table, recipients_from
from areascreen.area_facts import AreaFacts, area_facts
from areascreen.changes import (
    compare_with,
    find_previous_publication,
    moves_text,
    render_changes,
)
from areascreen.db import connect
from areascreen.errors import ValidationFailed
from areascreen.excel import EXCEL_MAX_ROWS
from areascreen.load import check_year
from areascreen.per_area import PerAreaTable, per_area_tables
from areascreen.publish import (
    new_staging_dir,
    promote,
    publication_lock,
    restore_interrupted,
    set_aside_failed,
    sha256_of,
    utc_now,
    write_manifest,
    write_table,
    write_workbook,
)
from areascreen.ruleset import Ruleset, load_ruleset
from areascreen.screening import (
    RESULT_SOURCES,
    ScreeningInput,
    read_input,
    result_tables,
    screen_into,
)
from areascreen.sensitivity import run_sensitivity
from areascreen.summary import render_summary
from areascreen.synthetic import mark_synthetic_table

T = TypeVar("T")
# A result table: in memory, or a per-area table left in DuckDB until it is written.
ResultTable = pa.Table | PerAreaTable
StageRunner = Callable[..., Any]
# Thresholds moved by ±1 and ±2 percentage points in the report's sensitivity section.
SENSITIVITY_DELTAS = (1.0, 2.0)
DRY_RUNS_DIR = "dry-runs"
# The tables every publication holds, each as Parquet and CSV (and in publication.xlsx).
PUBLISHED_TABLES = (
    "eligible_municipalities",
    "municipality_results",
    "area_results",
    "area_criteria",
    "national_averages",
    "allocation",
)


def call_directly(stage: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a stage as a plain function call."""
    return stage(*args, **kwargs)


def logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """Prefect's run logger inside a flow run, the `areascreen` logger elsewhere."""
    if "prefect" in sys.modules:
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            pass
    return logging.getLogger("areascreen")


@dataclass(frozen=True)
class RunOptions:
    """What to screen, with which rules, and where to publish."""

    year: int = 2018
    input_path: Path | None = None
    ruleset_path: Path | None = None
    reports_dir: Path = field(default_factory=paths.reports_dir)
    sheet: str | None = None
    dry_run: bool = False
    language: str = "en"
    # "standard" (comma, decimal point) or "swedish" (semicolon, decimal comma, byte-order mark).
    csv_style: str = "standard"
    # The folder name of the publication under reports_dir; by default the year for the year's
    # own ruleset, and `<year>-<ruleset name>` for any other ruleset, so a variant never
    # overwrites the official publication.
    publication: str | None = None

    @property
    def input_file(self) -> Path:
        """The input given, or the embedded synthetic default."""
        return self.input_path or paths.DEFAULT_INPUT

    @property
    def ruleset_file(self) -> Path:
        """The ruleset given, or the one shipped for the year."""
        return self.ruleset_path or paths.ruleset_path(self.year)

    @property
    def publication_name(self) -> str:
        """The publication's folder name under reports_dir."""
        return self.publication or str(self.year)

    def for_ruleset(self, ruleset: Ruleset) -> RunOptions:
        """These options with the publication folder named for the ruleset when it is a variant:
        a ruleset named otherwise than the year's shipped ruleset is another method."""
        if self.publication is not None:
            return self
        official = paths.ruleset_path(self.year)
        if not official.is_file() or ruleset.name == load_ruleset(official).name:
            return self
        return replace(self, publication=f"{self.year}-{ruleset.name}")


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    year: int
    publication_dir: Path | None
    # The tables published, but for the per-area ones: those are read from the files.
    tables: dict[str, pa.Table]
    documents: dict[str, str]
    manifest: dict[str, Any]
    dry_run_dir: Path | None = None

    @property
    def eligible_codes(self) -> list[str]:
        """Codes of the eligible municipalities, in order."""
        return self.tables["eligible_municipalities"]["municipality_code"].to_pylist()

    def read_table(self, name: str) -> pa.Table:
        """A published table (per-area ones included) read from its Parquet file."""
        folder = self.publication_dir or self.dry_run_dir
        if folder is None:
            raise ValueError("the run wrote no publication")
        return pq.read_table(folder / f"{name}.parquet")


def read_stage(path: Path, ruleset: Ruleset, sheet: str | None, year: int) -> ScreeningInput:
    """Load stage: read the columns the ruleset needs (CSV, Parquet, .xlsx, election results)."""
    if path.is_file():
        logger().info("Reading %s (%.1f MB)", path, path.stat().st_size / 1e6)
    data = read_input(path, ruleset, sheet=sheet, year=year)
    logger().info("Loaded %s areas from %s (%s)", data.rows, path, data.loaded.file_format)
    for note in data.loaded.notes:
        logger().info("%s: %s", path.name, note)
    return data


def validate_input_stage(
    con: duckdb.DuckDBPyConnection,
    data: ScreeningInput,
    ruleset: Ruleset,
    year: int,
    docs_dir: Path,
) -> Path | None:
    """Input gate: the Great Expectations input suite, then the year; raise on any failure."""
    from areascreen.validate import validate_input

    report = validate_input(data.loaded, ruleset, docs_dir=docs_dir, con=con)
    check_year(data.loaded, year)
    logger().info(
        "Input gate passed: %s (%s expectations)", data.loaded.path.name, len(report.results)
    )
    return report.docs_index


def screen_stage(
    con: duckdb.DuckDBPyConnection, data: ScreeningInput, ruleset: Ruleset
) -> dict[str, ResultTable]:
    """Flag and roll-up stages: every area against the rules, then municipalities, in DuckDB.
    The per-area tables stay there until they are written."""
    screen_into(con, data, ruleset)
    small = result_tables(con, with_areas=False)
    per_area = per_area_tables(con)
    tables: dict[str, ResultTable] = {
        name: per_area[name] if name in per_area else small[name] for name in RESULT_SOURCES
    }
    logger().info(
        "Screened %s areas (%s): %s selected; %s eligible municipalities",
        data.rows,
        ruleset.rule_text,
        pc.sum(tables["municipality_results"]["selected_areas"]).as_py() or 0,
        tables["eligible_municipalities"].num_rows,
    )
    return tables


def allocate_stage(eligible: pa.Table, ruleset: Ruleset, year: int) -> pa.Table:
    """Allocate stage: the year's budget shared among the eligible municipalities."""
    grants = allocate_years(
        recipients_from(eligible), ruleset.budget_per_year, [year], ruleset.allocation
    )
    return grants_table(grants)


def compare_stage(
    con: duckdb.DuckDBPyConnection, previous: Path, year: int
) -> tuple[str, dict[str, pa.Table]]:
    """Compare stage: what changed since the previous publication."""
    changes = compare_with(con, previous)
    logger().info("Compared with %s: %s", previous, moves_text(changes["municipality_changes"]))
    return render_changes(previous, year, changes), changes


def validate_output_stage(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, docs_dir: Path
) -> Path | None:
    """Output gate: run the Great Expectations output suites; raise on any critical failure."""
    from areascreen.validate import validate_outputs

    report = validate_outputs(con, ruleset, docs_dir=docs_dir)
    logger().info("Output gate passed (%s expectations)", len(report.results))
    return report.docs_index


def git_commit() -> str | None:
    """The checkout's commit, with `-dirty` when it has uncommitted changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(paths.ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(paths.ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def flow_run_id() -> str | None:
    """The Prefect flow-run id when running inside a flow."""
    if "prefect" not in sys.modules:
        return None
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def library_versions() -> dict[str, str]:
    """Versions of the libraries that compute and check the numbers."""
    from importlib.metadata import PackageNotFoundError, version

    names = ("duckdb", "pyarrow", "pandas", "great-expectations", "prefect", "openpyxl")
    versions = {"python": sys.version.split()[0]}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class Build:
    """The code that runs: the checkout's commit (None outside git) and the library versions,
    looked up once per run."""

    commit: str | None
    libraries: dict[str, str]

    @classmethod
    def current(cls) -> Build:
        """The commit and versions of this process."""
        return cls(git_commit(), library_versions())


def provenance(
    options: RunOptions, ruleset: Ruleset, data: ScreeningInput, started: str, build: Build
) -> dict:
    """Where the numbers come from: versions, commit, ruleset and input with their checksums."""
    return {
        "package_version": __version__,
        "git_commit": build.commit or "not a git checkout",
        "ruleset": ruleset.name,
        "ruleset_path": str(ruleset.path),
        "ruleset_sha256": ruleset.sha256,
        "input": data.loaded.path.name,
        "input_sha256": sha256_of(data.loaded.path) if data.loaded.path.is_file() else "",
        "started_at": started,
        "libraries": ", ".join(f"{k} {v}" for k, v in build.libraries.items()),
    }


def build_manifest(
    options: RunOptions,
    ruleset: Ruleset,
    data: ScreeningInput,
    tables: Mapping[str, ResultTable],
    started: str,
    input_sha256: str,
    build: Build,
) -> dict[str, Any]:
    """Everything needed to reproduce and audit a publication (timestamps live only here)."""
    loaded = data.loaded
    return {
        "year": options.year,
        "package_version": __version__,
        "git_commit": build.commit,
        "prefect_flow_run_id": flow_run_id(),
        "started_at": started,
        "synthetic": data.synthetic_note,
        "libraries": build.libraries,
        "input": {
            "path": str(loaded.path),
            "sha256": input_sha256,
            "format": loaded.file_format,
            "encoding": loaded.encoding,
            "rows": loaded.rows,
            "rows_counted_nationally_only": data.national_only_rows,
            "notes": list(loaded.notes),
        },
        "ruleset": {
            "name": ruleset.name,
            "path": str(ruleset.path),
            "sha256": ruleset.sha256,
            "division": ruleset.division.name,
            "rule": ruleset.rule_text,
        },
        "row_counts": {name: table.num_rows for name, table in tables.items()},
    }


def too_long_for_workbook(tables: Mapping[str, ResultTable]) -> list[str]:
    """Tables longer than one Excel sheet: published as Parquet and CSV only."""
    return sorted(name for name, table in tables.items() if table.num_rows >= EXCEL_MAX_ROWS)


def workbook_tables(
    tables: Mapping[str, ResultTable], folder: Path, note: str | None
) -> dict[str, pa.Table]:
    """The tables that go into publication.xlsx: those that fit one Excel sheet, marked when
    synthetic, a per-area table read back from its Parquet file in `folder`; the log says which
    do not fit (the manifest lists them too)."""
    left_out = too_long_for_workbook(tables)
    fits = {
        name: pq.read_table(folder / f"{name}.parquet")
        if isinstance(table, PerAreaTable)
        else mark_synthetic_table(table, note)
        for name, table in tables.items()
        if name not in left_out
    }
    for name in left_out:
        logger().info(
            "%s has %s rows, more than an Excel sheet holds: it is in %s.parquet and %s.csv, "
            "not in publication.xlsx",
            name, tables[name].num_rows, name, name,
        )  # fmt: skip
    return fits


def column_labels(tables: Mapping[str, pa.Table]) -> dict[str, str]:
    """Readable column headings for the workbook: `population_in_selected_areas` becomes
    'Population in selected areas'."""
    columns = {column for table in tables.values() for column in table.column_names}
    return {column: column.replace("_", " ").capitalize() for column in sorted(columns)}


def publish_stage(
    staging: Path,
    target: Path,
    tables: Mapping[str, ResultTable],
    documents: dict[str, str],
    manifest: dict[str, Any],
    dry_run: bool,
    csv_style: str = "standard",
) -> Path:
    """Publish stage: write every file to staging, then swap it into place.

    Tables made from synthetic input say so in their first column and in the Parquet files'
    metadata. A dry run swaps it into `dry-runs/<year>/` beside the publications instead, so
    its report is kept where the run says, and the publication itself is left alone.
    """
    note = manifest.get("synthetic")
    for name, table in tables.items():
        write_table(table, staging, name, csv_style=csv_style, note=note)  # type: ignore[arg-type]
    in_workbook = workbook_tables(tables, staging, note)
    write_workbook(in_workbook, staging, column_labels(in_workbook))
    for name, text in documents.items():
        (staging / name).write_text(text, encoding="utf-8")
    write_manifest(staging, manifest)
    if dry_run:
        target = target.parent / DRY_RUNS_DIR / target.name
        target.parent.mkdir(exist_ok=True)
    promote(staging, target)
    logger().info("%s %s", "Dry run written to" if dry_run else "Published", target)
    return target


def previous_publication(options: RunOptions) -> Path | None:
    """What to compare with: on a dry run the year's current publication, else an earlier year."""
    current = options.reports_dir / options.publication_name
    if options.dry_run and (current / "area_results.parquet").is_file():
        return current
    return find_previous_publication(options.reports_dir, options.year)


def in_memory(tables: Mapping[str, ResultTable]) -> dict[str, pa.Table]:
    """The result tables held in memory: all but the per-area ones."""
    return {name: table for name, table in tables.items() if isinstance(table, pa.Table)}


def report_stage(
    con: duckdb.DuckDBPyConnection,
    ruleset: Ruleset,
    tables: Mapping[str, ResultTable],
    context: dict[str, Any],
) -> tuple[str, AreaFacts, dict[str, pa.Table]]:
    """Report stage: the facts of the areas and the threshold sensitivity, each from DuckDB,
    then the report."""
    from areascreen.report import render_report

    areas = area_facts(con, ruleset)
    sensitivity = run_sensitivity(con, ruleset, SENSITIVITY_DELTAS)
    html = render_report(
        year=ruleset.year,
        ruleset=ruleset,
        tables=in_memory(tables),
        areas=areas,
        sensitivity=sensitivity,
        **context,
    )
    if sensitivity is None:
        return html, areas, {}
    logger().info("Report written with %s sensitivity variants", sensitivity.variants.num_rows)
    return (
        html,
        areas,
        {
            "sensitivity_variants": sensitivity.variants,
            "sensitivity_stability": sensitivity.municipality_stability,
        },
    )


PUBLISHED_FILES = (
    "summary.md",
    "report.html",
    "publication.xlsx",
    "manifest.json",
    "validation/input/index.html",
    "validation/output/index.html",
)


def screen_and_publish(
    options: RunOptions, ruleset: Ruleset, staging: Path, stage: StageRunner, started: str
) -> RunResult:
    """Every stage after the ruleset, writing into the staging folder."""
    data = stage(read_stage, options.input_file, ruleset, options.sheet, options.year)
    con = connect()
    input_docs = stage(
        validate_input_stage, con, data, ruleset, options.year, staging / "validation" / "input"
    )
    tables = stage(screen_stage, con, data, ruleset)
    tables["allocation"] = stage(
        allocate_stage, tables["eligible_municipalities"], ruleset, options.year
    )
    documents: dict[str, str] = {}
    previous = previous_publication(options)
    if previous is not None:
        documents["changes.md"], changes = stage(compare_stage, con, previous, options.year)
        tables |= changes
    output_docs = stage(validate_output_stage, con, ruleset, staging / "validation" / "output")
    notes = [data.synthetic_note] if data.synthetic_note else []
    notes += [f"{data.loaded.path.name}: {note}" for note in data.loaded.notes]
    build = Build.current()
    facts = provenance(options, ruleset, data, started, build)
    links = [*(f"{name}.csv" for name in tables), *PUBLISHED_FILES]
    context = {
        "input_name": options.input_file.name,
        "notes": notes,
        "provenance": facts,
        "links": links,
        "language": options.language,
    }
    documents["report.html"], areas, sensitivity = stage(
        report_stage, con, ruleset, tables, context
    )
    tables |= sensitivity
    documents["summary.md"] = render_summary(
        year=options.year,
        ruleset=ruleset,
        input_name=options.input_file.name,
        tables=in_memory(tables),
        areas=areas,
        validation_links=[p.relative_to(staging) for p in (input_docs, output_docs) if p],
        notes=notes,
        provenance=facts,
        language=options.language,
    )
    manifest = build_manifest(options, ruleset, data, tables, started, facts["input_sha256"], build)
    target = options.reports_dir / options.publication_name
    manifest["not_in_workbook"] = too_long_for_workbook(tables)
    manifest["csv_style"] = options.csv_style
    published = stage(
        publish_stage, staging, target, tables, documents, manifest, options.dry_run,
        options.csv_style,
    )  # fmt: skip
    return RunResult(
        options.year, None if options.dry_run else published, in_memory(tables),
        documents, manifest, dry_run_dir=published if options.dry_run else None,
    )  # fmt: skip


def run_screening(options: RunOptions, stage: StageRunner = call_directly) -> RunResult:
    """Screen one year and publish its results; nothing is published unless every gate passes."""
    started = utc_now()
    ruleset = stage(load_ruleset, options.ruleset_file)
    ruleset.require_year(options.year)
    options = options.for_ruleset(ruleset)
    if options.input_path is None and ruleset.default_input is not None:
        options = replace(options, input_path=ruleset.default_input)
    workspace = options.reports_dir
    with publication_lock(workspace, options.year):
        restore_interrupted(workspace, options.year)
        staging = new_staging_dir(workspace, options.year)
        try:
            return screen_and_publish(options, ruleset, staging, stage, started)
        except BaseException as error:
            kept = set_aside_failed(staging, workspace, options.year, error=error)
            if kept is None:
                logger().error("Nothing published; nothing of this run was kept")
            else:
                logger().error("Nothing published; this run's files are in %s", kept)
            if isinstance(error, ValidationFailed) and kept is not None:
                raise error.moved(staging, kept) from error
            raise
