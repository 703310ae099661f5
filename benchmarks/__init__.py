"""Benchmarks of the screening: the pipeline against a single DuckDB query and pandas/numpy.

`python -m benchmarks` generates synthetic areas of several sizes, screens each file with the
pipeline and the two yardsticks under the 2018 ruleset (each in a fresh process, so peak memory
is per implementation), checks that the three agree, screens it with the pipeline under a
ruleset that mixes three threshold kinds, times the input validation and the end-to-end command
line run, and writes `docs/benchmarks.md`.
"""

from __future__ import annotations

from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000, 10_000_000)
DEFAULT_REPORT = REPOSITORY_ROOT / "docs" / "benchmarks.md"
SCREENING_CONTENDERS: tuple[str, ...] = ("pipeline", "duckdb", "pandas")
# The pipeline under data/rulesets/2018-denmark-style.toml (no yardstick covers that ruleset).
MIXED_CONTENDER = "pipeline_mixed"
