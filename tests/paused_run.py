"""Run a screening in a child process that pauses at one stage, so a test can kill it there.

Usage: python -m tests.paused_run INPUT RULESET REPORTS_DIR STAGE SIGNAL_FILE
STAGE is a stage function's name, or `promote` to pause inside the publish stage after every
file is written and just before the publication is swapped into place.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from areascreen import pipeline
from areascreen.pipeline import RunOptions, run_screening


def pause(signal_file: Path, where: str) -> None:
    """Tell the test where we are, then wait to be killed."""
    signal_file.write_text(where, encoding="utf-8")
    time.sleep(600)


def main(
    input_path: str, ruleset_path: str, reports_dir: str, stage_name: str, signal_file: str
) -> None:
    signal = Path(signal_file)

    def stage(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if function.__name__ == stage_name:
            pause(signal, stage_name)
        return function(*args, **kwargs)

    if stage_name == "promote":
        pipeline.promote = lambda staging, target: pause(signal, "promote")
    options = RunOptions(
        year=2018,
        input_path=Path(input_path),
        ruleset_path=Path(ruleset_path),
        reports_dir=Path(reports_dir),
    )
    run_screening(options, stage=stage)


if __name__ == "__main__":
    main(*sys.argv[1:6])
