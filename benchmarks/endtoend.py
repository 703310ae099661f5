"""The end-to-end command-line run on the default data, each time from a cold process.

`areascreen -q run --engine plain --out <fresh folder>` is run `repeat` times as its own
process (interpreter start, imports, input gate, screening, output gate, publication).
A probe then runs the same command inside one worker process, timing the imports of
areascreen (with pandas, pyarrow and DuckDB) and of Great Expectations separately from the
rest, and noting whether the run imported Prefect (and what importing it costs).
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.measure import Limits, Measurement, run_measured, run_worker


@dataclass
class EndToEnd:
    """The cold runs and the probe of the command-line run."""

    runs: list[Measurement] = field(default_factory=list)
    probe: Measurement | None = None

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


def measure(folder: Path, repeat: int, limits: Limits) -> EndToEnd:
    """Run the command `repeat` times cold, then the probe once."""
    result = EndToEnd()
    for run in range(1, repeat + 1):
        out = folder / f"cli-{run}"
        result.runs.append(
            run_measured(command(out), limits=limits, cwd=folder, log=folder / f"cli-{run}.log")
        )
    result.probe = run_worker(
        ["cli-probe", str(folder / "cli-probe")], limits=limits, folder=folder, name="cli-probe"
    )
    return result
