"""What each benchmark process runs and times: the three screenings and the input validation.

Every function here runs inside a fresh worker process (`benchmarks.worker`) and returns its
timings in seconds, in the order the work happens, plus what is needed to compare results.
Imports of the heavy libraries happen before any clock starts.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from areascreen.ruleset import Ruleset, load_ruleset

SCREENING_YEAR = 2018
# The ruleset that mixes three threshold kinds (county ratio, national ratio, absolute).
MIXED_RULESET = "2018-denmark-style.toml"
Timings = dict[str, float]
# The step, timed apart from the stage's total, that writes the per-area tables as published.
PUBLISHED_AREA_STEP = "per_area_files"
# The columns of area_results the agreement check reads.
SUMMARY_COLUMNS = ["area_code", "selected"]


@dataclass(frozen=True)
class ScreeningSummary:
    """What the implementations must agree on: the selected areas and the eligible list."""

    selected_codes: list[str]
    eligible: list[tuple[str, int, int]]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScreeningSummary:
        """The summary from its JSON dict."""
        return cls(
            selected_codes=list(data["selected_codes"]),
            eligible=[(str(c), int(a), int(p)) for c, a, p in data["eligible"]],
        )


def summary_of(selected: list[str], codes: Any, areas: Any, population: Any) -> ScreeningSummary:
    """A summary from the selected codes and the eligible list's three columns."""
    rows = zip(codes, areas, population, strict=True)
    return ScreeningSummary(
        selected_codes=sorted(str(c) for c in selected),
        eligible=sorted((str(c), int(a), int(p)) for c, a, p in rows),
    )


@dataclass
class ScreeningRun:
    """Timings of one screening and its summary."""

    timings: Timings
    summary: ScreeningSummary
    steps: dict[str, Timings] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    # The process's peak resident set when the screening stage ended (before anything timed
    # apart from it), in MB; None for the yardsticks, whose whole process is the stage.
    stage_peak_rss_mb: float | None = None


class Stopwatch:
    """Named laps in seconds, measured with `time.perf_counter`."""

    def __init__(self) -> None:
        self.laps: Timings = {}
        self._last = time.perf_counter()
        self._cpu_started = time.process_time()

    def lap(self, name: str) -> None:
        """Record the time since the previous lap under `name`."""
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now

    def cpu(self) -> float:
        """CPU seconds of the whole process (all threads) since the watch started."""
        return time.process_time() - self._cpu_started


def ruleset_for(contender: str = "pipeline") -> Ruleset:
    """The ruleset a contender screens with: data/rulesets/2018.toml, or the mixed one."""
    from areascreen.paths import ruleset_path

    path = ruleset_path(SCREENING_YEAR)
    if contender == "pipeline_mixed":
        path = path.with_name(MIXED_RULESET)
    return load_ruleset(path)


def summary_from_arrow(tables: dict[str, pa.Table]) -> ScreeningSummary:
    """The summary of the pipeline's result tables."""
    areas = tables["area_results"]
    selected = areas.filter(pc.fill_null(areas["selected"], False))["area_code"].to_pylist()
    eligible = tables["eligible_municipalities"]
    return summary_of(
        selected,
        eligible["municipality_code"].to_pylist(),
        eligible["selected_areas"].to_pylist(),
        eligible["population_in_selected_areas"].to_pylist(),
    )


def peak_resident_mb() -> float:
    """This process's peak resident set so far in MB (`ru_maxrss`)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def resident_mb() -> float:
    """This process's current resident set in MB, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return 0.0


@dataclass
class StepLog:
    """Seconds and resident set after each SQL step, also written to `progress` as they come.

    The file lets the parent report how far a run got when it is stopped at a limit.
    """

    progress: Path | None = None
    seconds: Timings = field(default_factory=dict)
    rss_mb: Timings = field(default_factory=dict)

    def record(self, step: str, seconds: float) -> None:
        """Add one step's time and the resident set after it."""
        self.seconds[step] = self.seconds.get(step, 0.0) + seconds
        self.rss_mb[step] = resident_mb()
        if self.progress is not None:
            self.progress.write_text(json.dumps(self.to_json()), encoding="utf-8")

    def to_json(self) -> dict[str, Timings]:
        """The steps so far as a JSON-ready dict."""
        return {"steps": self.seconds, "step_rss_mb": self.rss_mb}


@contextmanager
def timed_sql_steps(log: StepLog) -> Iterator[None]:
    """Record every SQL step the flag and roll-up stages run, by step name."""
    from areascreen import flag, rollup

    original: Callable[..., None] = flag.run_step

    def run_step(con: Any, step: str, **parameters: Any) -> None:
        started = time.perf_counter()
        original(con, step, **parameters)
        log.record(step, time.perf_counter() - started)

    flag.run_step = rollup.run_step = run_step
    try:
        yield
    finally:
        flag.run_step = rollup.run_step = original


def run_pipeline(path: Path, ruleset: Ruleset, progress: Path | None = None) -> ScreeningRun:
    """The screening stage: `read_input`, `screen_into` and the result tables but the per-area
    ones (the eligible list, the municipalities, the national averages); no gate. The
    per-area tables are then written as a publication writes them (Parquet and CSV, slice
    after slice, in area code order, with every area's smallest margin) and timed apart, as a
    publication cost outside the stage's total."""
    from areascreen.db import connect
    from areascreen.per_area import per_area_tables
    from areascreen.publish import write_table
    from areascreen.screening import read_input, result_tables, screen_into

    log = StepLog(progress)
    watch = Stopwatch()
    with timed_sql_steps(log):
        data = read_input(path, ruleset, year=ruleset.year)
        watch.lap("read")
        log.record("read", watch.laps["read"])
        con = connect()
        screen_into(con, data, ruleset)
        watch.lap("screen")
        sql = sum(t for step, t in log.seconds.items() if step != "read")
        log.record("arrow_and_register", watch.laps["screen"] - sql)
        tables = result_tables(con, with_areas=False)
        watch.lap("fetch_tables")
        log.record("fetch_tables", watch.laps["fetch_tables"])
    cpu = watch.cpu()
    stage_peak = peak_resident_mb()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="areascreen-bench-") as folder:
        files = [
            write_table(table, Path(folder), name) for name, table in per_area_tables(con).items()
        ]
        tables["area_results"] = pq.read_table(files[0][0], columns=SUMMARY_COLUMNS)
    log.record(PUBLISHED_AREA_STEP, time.perf_counter() - started)
    return ScreeningRun(watch.laps, summary_from_arrow(tables), log.to_json(), cpu, stage_peak)


def run_duckdb(path: Path, ruleset: Ruleset, progress: Path | None = None) -> ScreeningRun:
    """One DuckDB query from the file to the eligible list."""
    from benchmarks.baselines import duckdb_eligible, duckdb_selected_codes, rule_of

    rule = rule_of(ruleset)
    watch = Stopwatch()
    eligible = duckdb_eligible(path, rule)
    watch.lap("query")
    cpu = watch.cpu()
    summary = summary_of(
        duckdb_selected_codes(path, rule),
        eligible["municipality_code"].to_pylist(),
        eligible["selected_areas"].to_pylist(),
        eligible["population_in_selected_areas"].to_pylist(),
    )
    return ScreeningRun(watch.laps, summary, cpu_seconds=cpu)


def run_pandas(path: Path, ruleset: Ruleset, progress: Path | None = None) -> ScreeningRun:
    """The rule in pandas/numpy on the file."""
    from benchmarks.baselines import area_codes_at, pandas_eligible, rule_of

    rule = rule_of(ruleset)
    watch = Stopwatch()
    eligible, rows = pandas_eligible(path, rule)
    watch.lap("screen")
    cpu = watch.cpu()
    summary = summary_of(
        area_codes_at(path, rows),
        eligible["municipality_code"],
        eligible["selected_areas"],
        eligible["population_in_selected_areas"],
    )
    return ScreeningRun(watch.laps, summary, cpu_seconds=cpu)


SCREENINGS: dict[str, Callable[[Path, Ruleset, Path | None], ScreeningRun]] = {
    "pipeline": run_pipeline,
    "duckdb": run_duckdb,
    "pandas": run_pandas,
    "pipeline_mixed": run_pipeline,
}


@dataclass
class ValidationRun:
    """Timings of reading and validating one file, and whether it passed the gate."""

    timings: Timings
    rows: int
    passed: bool
    failures: list[str]


def validation_ruleset() -> Ruleset:
    """The 2018 ruleset with its division's code list left out: the synthetic files' codes
    have the DeSO form, but most are not real DeSO codes (see `benchmarks.datasets`)."""
    ruleset = ruleset_for()
    return replace(ruleset, division=replace(ruleset.division, codes_file=None))


def run_validation(path: Path, ruleset: Ruleset, multiple_years: bool) -> ValidationRun:
    """Read the file into a LoadedInput, then run the real input gate on it."""
    import great_expectations  # noqa: F401  (its import time belongs to the end-to-end figures)

    from areascreen.errors import ValidationFailed
    from areascreen.load import read_area_statistics
    from areascreen.validate import validate_input

    watch = Stopwatch()
    loaded = read_area_statistics(path, columns=ruleset.input_columns)
    watch.lap("read")
    failures: list[str] = []
    try:
        validate_input(loaded, ruleset, allow_multiple_years=multiple_years)
    except ValidationFailed as failed:
        failures = list(failed.failures)
    watch.lap("validate")
    return ValidationRun(watch.laps, loaded.rows, not failures, failures)
