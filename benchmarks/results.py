"""The figures of one benchmark run, and the targets of issue 14 judged against them."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks import MIXED_CONTENDER as MIXED
from benchmarks.datasets import ValidationLayout
from benchmarks.endtoend import EndToEnd
from benchmarks.measure import Measurement

GB = 10**9
MAX_SCREENING_RATIO_TO_DUCKDB = 1.5
MIN_SPEEDUP_OVER_PANDAS = 5.0
MAX_PEAK_RSS_BYTES = 2 * GB
MIN_VALIDATION_ROWS_PER_SECOND = 1_000_000
MAX_END_TO_END_RATIO = 1.5  # the default run over a process importing the same libraries


def work_seconds(measurement: Measurement) -> float:
    """Seconds of measured work inside the process (interpreter start and imports excluded)."""
    return sum(measurement.payload.get("timings", {}).values())


@dataclass
class SizeResult:
    """Every measurement made on one size of input."""

    areas: int
    layout: ValidationLayout
    screening: dict[str, list[Measurement]] = field(default_factory=dict)
    validation: list[Measurement] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    def best(self, contender: str) -> Measurement | None:
        """The fastest finished run of a contender, else its first run (None if never run)."""
        runs = self.screening.get(contender, []) if contender != "validation" else self.validation
        finished = [m for m in runs if m.ok]
        if finished:
            return min(finished, key=work_seconds)
        return runs[0] if runs else None

    def seconds(self, contender: str) -> float | None:
        """Work seconds of the fastest finished run (None when no run finished)."""
        best = self.best(contender)
        return work_seconds(best) if best is not None and best.ok else None

    def peak_rss_bytes(self, contender: str) -> int | None:
        """Largest peak resident set over a contender's runs."""
        runs = self.screening.get(contender, []) if contender != "validation" else self.validation
        return max((m.peak_rss_bytes for m in runs), default=None)

    def stage_peak_rss_bytes(self, contender: str) -> int | None:
        """Largest peak resident set over a contender's runs when its screening stage ended
        (None for the yardsticks, whose process is the stage alone)."""
        runs = self.screening.get(contender, [])
        peaks = [m.payload.get("stage_peak_rss_mb") for m in runs if m.ok]
        peaks = [p for p in peaks if p is not None]
        return int(max(peaks) * 1e6) if peaks else None

    def cpu_seconds(self, contender: str) -> float | None:
        """CPU seconds (all threads) of the measured work of the run `best` picks; for a
        process that does not report its own, user + system of the whole process."""
        best = self.best(contender)
        if best is None:
            return None
        return best.payload.get("cpu_seconds", best.cpu_seconds) if best.ok else None

    def mixed_ratios(self) -> tuple[float | None, float | None]:
        """(wall, CPU) of the pipeline on the mixed ruleset ÷ the pipeline on the 2018 one."""
        pairs = [
            (self.seconds(MIXED), self.seconds("pipeline")),
            (self.cpu_seconds(MIXED), self.cpu_seconds("pipeline")),
        ]
        wall, cpu = (a / b if a is not None and b else None for a, b in pairs)
        return wall, cpu

    def validation_rate(self) -> float | None:
        """Rows validated per second (validation alone, reading excluded)."""
        best = self.best("validation")
        if best is None or not best.ok:
            return None
        seconds = best.payload["timings"]["validate"]
        return best.payload["rows"] / seconds if seconds > 0 else None


@dataclass
class BenchmarkResults:
    """All sizes, the end-to-end run and the machine they ran on."""

    machine: dict[str, str]
    command: str
    sizes: list[SizeResult] = field(default_factory=list)
    end_to_end: EndToEnd | None = None
    total_seconds: float = 0.0

    @property
    def largest(self) -> SizeResult | None:
        """The largest size measured."""
        return max(self.sizes, key=lambda s: s.areas, default=None)

    def startup_seconds(self) -> float:
        """Least interpreter start plus imports seen in a finished screening run."""
        overheads = [
            m.wall_seconds - work_seconds(m)
            for size in self.sizes
            for runs in size.screening.values()
            for m in runs
            if m.ok
        ]
        return max(0.0, min(overheads, default=0.0))

    def lower_bound_seconds(self, size: SizeResult, contender: str) -> float | None:
        """For a run stopped at a limit, the work seconds it had already spent at least."""
        best = size.best(contender)
        if best is None or best.ok or best.status == "error":
            return None
        return max(0.0, best.wall_seconds - self.startup_seconds())

    def validation_rate_bound(self, size: SizeResult) -> float | None:
        """For a validation stopped at a limit, the rows per second it stayed below."""
        seconds = self.lower_bound_seconds(size, "validation")
        return size.areas / seconds if seconds else None


@dataclass(frozen=True)
class Target:
    """One target of issue 14 and how the run measured against it."""

    name: str
    measured: str
    met: bool | None


def _ratio_text(value: float | None, bound: str = "") -> str:
    """A ratio as `1.23×`, with `≥ ` or `≤ ` before it for a bound, or `n/a`."""
    if value is None:
        return "n/a"
    return f"{bound}{value:.2f}×"


def screening_ratios(
    results: BenchmarkResults, size: SizeResult
) -> tuple[float | None, float | None, bool]:
    """(pipeline ÷ DuckDB, pandas ÷ pipeline, whether the pipeline time is only a lower bound).

    When the pipeline was stopped, the first ratio is a lower bound and the second an upper one.
    """
    pipeline = size.seconds("pipeline")
    bound = pipeline is None
    if bound:
        pipeline = results.lower_bound_seconds(size, "pipeline")
    duckdb, pandas = size.seconds("duckdb"), size.seconds("pandas")
    to_duckdb = pipeline / duckdb if pipeline is not None and duckdb else None
    over_pandas = pandas / pipeline if pandas is not None and pipeline else None
    return to_duckdb, over_pandas, bound


def _speed_targets(results: BenchmarkResults, size: SizeResult) -> list[Target]:
    """The two screening-time targets."""
    to_duckdb, over_pandas, bound = screening_ratios(results, size)
    duckdb_met = None if to_duckdb is None else to_duckdb <= MAX_SCREENING_RATIO_TO_DUCKDB
    pandas_met = None if over_pandas is None else over_pandas >= MIN_SPEEDUP_OVER_PANDAS
    if bound and pandas_met:
        pandas_met = None
    return [
        Target(
            f"screening ≤ {MAX_SCREENING_RATIO_TO_DUCKDB}× the single DuckDB query",
            _ratio_text(to_duckdb, "≥ " if bound else ""),
            duckdb_met,
        ),
        Target(
            f"screening ≥ {MIN_SPEEDUP_OVER_PANDAS:g}× faster than pandas/numpy",
            _ratio_text(over_pandas, "≤ " if bound else "") + _below_the_query(size),
            pandas_met,
        ),
    ]


def _below_the_query(size: SizeResult) -> str:
    """Where ≥ 5× faster than pandas asks for less time than the single query itself takes,
    the two times, so the table shows that the target is out of reach of any screening."""
    pandas, duckdb = size.seconds("pandas"), size.seconds("duckdb")
    if pandas is None or duckdb is None or pandas / MIN_SPEEDUP_OVER_PANDAS >= duckdb:
        return ""
    return (
        f" (it needs ≤ {pandas / MIN_SPEEDUP_OVER_PANDAS:.3f} s; the single query itself takes "
        f"{duckdb:.3f} s)"
    )


def _memory_target(size: SizeResult) -> Target:
    """The peak resident set of the whole pipeline process: the screening stage and writing
    the per-area tables (the stage's own peak is given beside it)."""
    peak = size.peak_rss_bytes("pipeline")
    stage = size.stage_peak_rss_bytes("pipeline")
    finished = size.seconds("pipeline") is not None
    name = f"peak RSS ≤ {MAX_PEAK_RSS_BYTES / GB:g} GB (stage and per-area files)"
    if peak is None:
        return Target(name, "n/a", None)
    if not finished:
        return Target(name, f"> {peak / GB:.2f} GB (stopped at a limit)", False)
    stage_text = f"; the screening stage alone {stage / GB:.2f} GB" if stage else ""
    return Target(name, f"{peak / GB:.2f} GB{stage_text}", peak <= MAX_PEAK_RSS_BYTES)


def _validation_target(results: BenchmarkResults, size: SizeResult) -> Target:
    """Validation throughput, or its upper bound when the validation was stopped."""
    name = f"validation ≥ {MIN_VALIDATION_ROWS_PER_SECOND:,} rows/s"
    rate = size.validation_rate()
    if rate is not None:
        return Target(name, f"{rate:,.0f} rows/s", rate >= MIN_VALIDATION_ROWS_PER_SECOND)
    bound = results.validation_rate_bound(size)
    if bound is not None:
        missed = False if bound < MIN_VALIDATION_ROWS_PER_SECOND else None
        return Target(name, f"< {bound:,.0f} rows/s (stopped at a limit)", missed)
    if not size.validation:
        return Target(name, "not measured (`--with-validation`)", None)
    return Target(name, "n/a", None)


def targets(results: BenchmarkResults) -> list[Target]:
    """The five targets, judged at the largest size measured."""
    size = results.largest
    if size is None:
        return []
    return [
        *_speed_targets(results, size),
        _memory_target(size),
        _validation_target(results, size),
        _end_to_end_target(results.end_to_end),
    ]


def _end_to_end_target(end_to_end: EndToEnd | None) -> Target:
    """The default run against a cold process that only imports the same libraries."""
    name = f"default run end to end ≤ {MAX_END_TO_END_RATIO:g}× an import-only process"
    ratio = end_to_end.ratio_to_imports if end_to_end else None
    if end_to_end is None or ratio is None:
        return Target(name, "not measured", None)
    measured = (
        f"{ratio:.2f}× ({end_to_end.median_seconds:.2f} s against "
        f"{end_to_end.import_median_seconds:.2f} s, medians)"
    )
    return Target(name, measured, ratio <= MAX_END_TO_END_RATIO)
