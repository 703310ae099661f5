"""Benchmarks of the screening: pipeline, hand-written DuckDB query and pandas side by side.

`python -m benchmarks` generates synthetic areas of several sizes, screens each file with the
three implementations (each in a fresh process, so peak memory is per implementation), checks
that they agree, times the input validation and the end-to-end command line run, and writes
`docs/benchmarks.md`.
"""

from __future__ import annotations

from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000, 10_000_000)
DEFAULT_REPORT = REPOSITORY_ROOT / "docs" / "benchmarks.md"
SCREENING_CONTENDERS: tuple[str, ...] = ("pipeline", "duckdb", "pandas")
