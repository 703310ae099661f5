"""`python -m benchmarks`: measure the screening, the input gate and the end-to-end run.

Every measurement runs in a fresh process; inputs are generated deterministically into a
temporary folder. The three screening implementations must agree on every size, or the run
stops with an error. Prints the tables and writes `docs/benchmarks.md` (unless --no-write).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import (
    DEFAULT_REPORT,
    DEFAULT_SIZES,
    MIXED_CONTENDER,
    SCREENING_CONTENDERS,
    endtoend,
    machine,
)
from benchmarks.agreement import Disagreement, check_agreement, load_summary
from benchmarks.datasets import validation_layout
from benchmarks.measure import Limits, Measurement, available_memory_bytes, run_worker
from benchmarks.report import render, write_document
from benchmarks.results import GB, BenchmarkResults, SizeResult, work_seconds

DEFAULT_CAP_GB = 16.0
DEFAULT_TIME_LIMIT = 600.0
_SUFFIXES = {"k": 10**3, "m": 10**6}


class BenchmarkError(RuntimeError):
    """A measured process failed (not a limit: a crash or an exception)."""


def parse_sizes(text: str) -> list[int]:
    """`10000,100k,1M` as a sorted list of area counts."""
    sizes = []
    for part in text.replace("_", "").split(","):
        part = part.strip().lower()
        factor = _SUFFIXES.get(part[-1:], 1)
        number = part[:-1] if factor > 1 else part
        if not number.isdigit() or int(number) * factor < 1:
            raise argparse.ArgumentTypeError(f"not a number of areas: {part!r}")
        sizes.append(int(number) * factor)
    return sorted(set(sizes))


def default_cap_gb() -> float:
    """16 GB, or less when less than that is free: 80 % of the memory available now."""
    available = available_memory_bytes() / GB
    return min(DEFAULT_CAP_GB, 0.8 * available) if available else DEFAULT_CAP_GB


def parser() -> argparse.ArgumentParser:
    """The command line."""
    sizes = ",".join(str(s) for s in DEFAULT_SIZES)
    main = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    main.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help=f"numbers of areas (default {sizes}; 10k and 1M forms accepted)",
    )
    main.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each screening and validation per size; the fastest counts (default 1)",
    )
    main.add_argument("--cli-repeat", type=int, default=3, help="cold end-to-end runs (default 3)")
    main.add_argument("--skip-cli", action="store_true", help="do not measure the end-to-end run")
    main.add_argument(
        "--with-validation",
        action="store_true",
        help="also time the input gate (the 2018 suite with the codes' form checked and the "
        "DeSO code list left out: the synthetic codes beyond 5,984 areas are not in it)",
    )
    main.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_REPORT,
        help="markdown file to write (default docs/benchmarks.md)",
    )
    main.add_argument("--no-write", action="store_true", help="print the tables only")
    main.add_argument(
        "--memory-cap-gb",
        type=float,
        default=None,
        help="stop a process whose resident set passes this (default: 16, or 80 %% of the free memory if less)",
    )
    main.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        help="stop a process running longer than this many seconds (default 600)",
    )
    main.add_argument(
        "--workdir",
        type=Path,
        help="keep the generated files and logs here instead of a temporary folder",
    )
    return main


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def describe(measurement: Measurement) -> str:
    """`1.23 s of work, peak 456 MB` or the reason a process stopped."""
    peak = f"peak {measurement.peak_rss_bytes / 1e6:,.0f} MB"
    if not measurement.ok:
        return f"{measurement.status} after {measurement.wall_seconds:.1f} s, {peak}"
    return f"{work_seconds(measurement):.2f} s of work, {peak}"


def require(measurement: Measurement, what: str) -> Measurement:
    """The measurement, unless its process failed: then a BenchmarkError with its output."""
    if measurement.status == "error":
        raise BenchmarkError(f"{what} failed:\n{measurement.log_tail()}")
    return measurement


def generate(kind: str, rows: int, path: Path, folder: Path, limits: Limits) -> None:
    """Write one input file in a worker process."""
    name = f"generate-{kind}-{rows}"
    measurement = run_worker(
        ["generate", kind, str(rows), str(path)], limits=limits, folder=folder, name=name
    )
    if not measurement.ok:
        raise BenchmarkError(f"{name} {measurement.status}:\n{measurement.log_tail()}")
    progress(
        f"  {kind} input: {path.stat().st_size / 1e6:,.1f} MB in {measurement.wall_seconds:.1f} s"
    )


def screen(size: SizeResult, path: Path, folder: Path, limits: Limits, run: int) -> None:
    """One run of each screening implementation on the file, then the mixed-ruleset pipeline."""
    for contender in (*SCREENING_CONTENDERS, MIXED_CONTENDER):
        summary = folder / f"summary-{contender}-{run}.json"
        task = ["screen", contender, str(path), str(summary)]
        measurement = run_worker(task, limits=limits, folder=folder, name=f"{contender}-{run}")
        require(measurement, f"{contender} on {size.areas:,} areas")
        size.screening.setdefault(contender, []).append(measurement)
        progress(f"  {contender}: {describe(measurement)}")


def compare(size: SizeResult, folder: Path) -> None:
    """Check that every implementation that finished agrees with the others."""
    summaries = {}
    for contender in SCREENING_CONTENDERS:
        for run, measurement in enumerate(size.screening.get(contender, []), start=1):
            if measurement.ok:
                summaries[contender] = load_summary(folder / f"summary-{contender}-{run}.json")
                break
    check_agreement(summaries, f"{size.areas:,} areas")
    size.compared = list(summaries)
    progress(f"  results agree: {', '.join(summaries)}")


def validate(size: SizeResult, path: Path, folder: Path, limits: Limits, run: int) -> None:
    """One run of the input gate on the file."""
    task = ["validate", str(path)] + (["--multiple-years"] if size.layout.multiple_years else [])
    measurement = run_worker(task, limits=limits, folder=folder, name=f"validate-{run}")
    require(measurement, f"validation of {size.areas:,} rows")
    size.validation.append(measurement)
    progress(f"  validation: {describe(measurement)}")


def measure_size(
    areas: int, folder: Path, limits: Limits, repeat: int, validation: bool = True
) -> SizeResult:
    """Generate the inputs of one size, screen, compare and validate them."""
    folder.mkdir(parents=True, exist_ok=True)
    size = SizeResult(areas=areas, layout=validation_layout(areas))
    screening_input = folder / f"areas-{areas}.parquet"
    generate("screening", areas, screening_input, folder, limits)
    for run in range(1, repeat + 1):
        screen(size, screening_input, folder, limits, run)
    compare(size, folder)
    if not validation:
        screening_input.unlink(missing_ok=True)
        return size
    validation_input = screening_input
    if size.layout.multiple_years:
        validation_input = folder / f"history-{areas}.parquet"
        generate("validation", areas, validation_input, folder, limits)
    for run in range(1, repeat + 1):
        validate(size, validation_input, folder, limits, run)
    for path in {screening_input, validation_input}:
        path.unlink(missing_ok=True)
    return size


def run_benchmark(args: argparse.Namespace, folder: Path, command: str) -> BenchmarkResults:
    """Every measurement the options ask for."""
    cap = args.memory_cap_gb if args.memory_cap_gb is not None else default_cap_gb()
    limits = Limits(memory_bytes=int(cap * GB), seconds=args.time_limit)
    results = BenchmarkResults(machine=machine.describe(), command=command)
    started = time.perf_counter()
    progress(
        f"memory cap {cap:.1f} GB, time limit {args.time_limit:.0f} s per process; files in {folder}"
    )
    for areas in args.sizes:
        progress(f"{areas:,} areas")
        results.sizes.append(
            measure_size(areas, folder / str(areas), limits, args.repeat, args.with_validation)
        )
    if not args.skip_cli:
        progress("end-to-end run")
        results.end_to_end = endtoend.measure(folder / "cli", args.cli_repeat, limits)
        if results.end_to_end.probe is not None:
            require(results.end_to_end.probe, "the end-to-end probe")
        for measurement in results.end_to_end.runs:
            require(measurement, "the end-to-end run")
    results.total_seconds = time.perf_counter() - started
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the document; 1 on a failure or disagreement."""
    args = parser().parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)])
    try:
        if args.workdir is not None:
            results = run_benchmark(args, args.workdir.resolve(), command)
        else:
            with tempfile.TemporaryDirectory(prefix="areascreen-benchmarks-") as folder:
                results = run_benchmark(args, Path(folder), command)
    except (BenchmarkError, Disagreement) as error:
        print(f"benchmarks: FAILED: {error}", file=sys.stderr)
        return 1
    generated = render(results)
    print(generated)
    if not args.no_write:
        write_document(args.out, generated)
        progress(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
