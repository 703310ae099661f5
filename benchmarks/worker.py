"""One benchmark task in its own process: `python -m benchmarks.worker TASK ... --payload FILE`.

The parent (`benchmarks.measure`) measures the process's wall time and peak resident set;
the task writes its own timings (and what is needed to compare results) to the payload file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PRELOAD: dict[str, tuple[str, ...]] = {
    "pipeline": ("areascreen.screening", "areascreen.ruleset"),
    "pipeline_mixed": ("areascreen.screening", "areascreen.ruleset"),
    "duckdb": ("benchmarks.baselines", "duckdb", "pyarrow.parquet"),
    "pandas": ("benchmarks.baselines", "pandas", "pyarrow.parquet"),
    "validate": ("great_expectations", "areascreen.load", "areascreen.validate"),
}


def preload(task: str) -> float:
    """Import what a task needs before any clock starts; return the resident set after (MB)."""
    from benchmarks.contenders import resident_mb

    for module in PRELOAD.get(task, ()):
        importlib.import_module(module)
    return resident_mb()


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    """Write a screening or validation input file."""
    from benchmarks import datasets

    started = time.perf_counter()
    result: dict[str, Any] = {"rows": args.rows, "areas": args.rows, "years": 1}
    if args.kind == "screening":
        datasets.screening_file(args.rows, args.path)
    else:
        layout = datasets.validation_file(args.rows, args.path)
        result.update(areas=layout.areas, years=layout.years)
    result["seconds"] = time.perf_counter() - started
    result["bytes"] = args.path.stat().st_size
    return result


def _screen(args: argparse.Namespace) -> dict[str, Any]:
    """Run one screening implementation and write its summary beside the payload."""
    from benchmarks.contenders import SCREENINGS, ruleset_for

    rss = preload(args.contender)
    ruleset = ruleset_for(args.contender)
    progress = args.payload.with_suffix(".progress.json")
    run = SCREENINGS[args.contender](args.path, ruleset, progress)
    args.summary.write_text(json.dumps(run.summary.to_json()), encoding="utf-8")
    return {
        "timings": run.timings,
        "cpu_seconds": run.cpu_seconds,
        "stage_peak_rss_mb": run.stage_peak_rss_mb,
        "ruleset": ruleset.name,
        **run.steps,
        "rss_after_imports_mb": rss,
    }


def _validate(args: argparse.Namespace) -> dict[str, Any]:
    """Read a file and run the input gate on it."""
    from benchmarks.contenders import run_validation, validation_ruleset

    rss = preload("validate")
    run = run_validation(args.path, validation_ruleset(), args.multiple_years)
    return {
        "timings": run.timings,
        "rows": run.rows,
        "passed": run.passed,
        "failures": run.failures[:5],
        "rss_after_imports_mb": rss,
    }


def _cli_probe(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line run in one process, timed in parts: imports, GX import, the rest."""
    started = time.perf_counter()
    from areascreen import cli, pipeline  # noqa: F401

    base = time.perf_counter()
    import great_expectations  # noqa: F401

    gx = time.perf_counter()
    status = cli.main(["-q", "run", "--engine", "plain", "--out", str(args.out)])
    finished = time.perf_counter()
    prefect_in_run = "prefect" in sys.modules
    import prefect  # noqa: F401

    return {
        "exit_status": status,
        "timings": {
            "import_areascreen": base - started,
            "import_great_expectations": gx - base,
            "run": finished - gx,
        },
        "prefect_imported_by_run": prefect_in_run,
        "import_prefect": time.perf_counter() - finished,
    }


def parser() -> argparse.ArgumentParser:
    """The worker's command line."""
    main = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    main.add_argument("--payload", type=Path, required=True, help="JSON file to write")
    tasks = main.add_subparsers(dest="task", required=True)
    generate = tasks.add_parser("generate")
    generate.add_argument("kind", choices=("screening", "validation"))
    generate.add_argument("rows", type=int)
    generate.add_argument("path", type=Path)
    generate.set_defaults(handler=_generate)
    screen = tasks.add_parser("screen")
    screen.add_argument("contender", choices=("pipeline", "duckdb", "pandas", "pipeline_mixed"))
    screen.add_argument("path", type=Path)
    screen.add_argument("summary", type=Path)
    screen.set_defaults(handler=_screen)
    validate = tasks.add_parser("validate")
    validate.add_argument("path", type=Path)
    validate.add_argument("--multiple-years", action="store_true")
    validate.set_defaults(handler=_validate)
    probe = tasks.add_parser("cli-probe")
    probe.add_argument("out", type=Path)
    probe.set_defaults(handler=_cli_probe)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run one task and write its payload."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = parser().parse_args(argv)
    payload = args.handler(args)
    args.payload.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
