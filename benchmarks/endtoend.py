"""The end-to-end command-line run on the default data, each time from a cold process.

`areascreen -q run --engine plain --out <fresh folder>` is run `repeat` times as its own
process (interpreter start, imports, input gate, screening, output gate, publication).
A probe then runs the same command inside one worker process, timing the imports of
areascreen (with pandas, pyarrow and DuckDB) and of Great Expectations separately from the
rest, and noting whether the run imported Prefect (and what importing it costs).
The yardstick is a cold process that only imports the libraries the run imports
(`IMPORTED_LIBRARIES`), run as many times.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.measure import Limits, Measurement, run_measured, run_worker

# The libraries a plain default run imports: the data stack, the gates on DuckDB (GX through
# SQLAlchemy and duckdb-engine), the templates and the workbook.
IMPORTED_LIBRARIES = (
    "pandas",
    "pyarrow.parquet",
    "duckdb",
    "jinja2",
    "openpyxl",
    "great_expectations",
    "duckdb_engine",
)


@dataclass
class EndToEnd:
    """The cold runs, the import-only processes and the probe of the command-line run."""

    runs: list[Measurement] = field(default_factory=list)
    probe: Measurement | None = None
    imports: list[Measurement] = field(default_factory=list)

    @property
    def import_median_seconds(self) -> float | None:
        """Median wall time of the import-only processes that finished normally."""
        walls = [m.wall_seconds for m in self.imports if m.ok]
        return statistics.median(walls) if walls else None

    @property
    def ratio_to_imports(self) -> float | None:
        """The run's median over the import-only median."""
        run, imports = self.median_seconds, self.import_median_seconds
        return run / imports if run is not None and imports else None

    @property
    def finished(self) -> list[float]:
        """Wall times of the runs that finished normally."""
        return [m.wall_seconds for m in self.runs if m.ok]

    @property
    def median_seconds(self) -> float | None:
        """Median wall time of the finished runs."""
        return statistics.median(self.finished) if self.finished else None

    @property
    def peak_rss_bytes(self) -> int:
        """Largest peak resident set of the runs."""
        return max((m.peak_rss_bytes for m in self.runs), default=0)


def command(out: Path) -> list[str]:
    """The console script `areascreen` of this interpreter's environment, running the default."""
    script = Path(sys.executable).parent / "areascreen"
    start = [str(script)] if script.is_file() else [sys.executable, "-m", "areascreen.cli"]
    return [*start, "-q", "run", "--engine", "plain", "--out", str(out)]


def import_only_command() -> list[str]:
    """This interpreter importing the run's libraries and nothing else."""
    return [sys.executable, "-c", "import " + ", ".join(IMPORTED_LIBRARIES)]


def measure(folder: Path, repeat: int, limits: Limits) -> EndToEnd:
    """Run the command and the import-only process `repeat` times each, cold and alternating,
    then the probe once."""
    result = EndToEnd()
    for run in range(1, repeat + 1):
        out = folder / f"cli-{run}"
        result.runs.append(
            run_measured(command(out), limits=limits, cwd=folder, log=folder / f"cli-{run}.log")
        )
        result.imports.append(
            run_measured(
                import_only_command(), limits=limits, cwd=folder, log=folder / f"imports-{run}.log"
            )
        )
    result.probe = run_worker(
        ["cli-probe", str(folder / "cli-probe")], limits=limits, folder=folder, name="cli-probe"
    )
    return result
