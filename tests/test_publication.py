"""Atomic publication: killed runs, concurrent runs and leftovers, with real subprocesses."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from areascreen.cli import EXIT_LOCKED, main
from areascreen.pipeline import RunOptions, run_screening
from areascreen.publish import PublicationLocked, promote, restore_interrupted
from tests.conftest import REPOSITORY_ROOT
from tests.fixture_areas import fixture_frame, fixture_ruleset
from tests.helpers import snapshot_tree

pytestmark = pytest.mark.slow

STAGES = (
    "read_input",
    "validate_input_stage",
    "flag_stage",
    "roll_up_stage",
    "allocate_stage",
    "validate_output_stage",
    "publish_stage",
    "promote",
)


def start_paused(
    input_path: Path, ruleset: Path, reports: Path, stage: str, signal_file: Path
) -> subprocess.Popen:
    """Start a screening in a child process that stops at `stage`."""
    arguments = [input_path, ruleset, reports, stage, signal_file]
    command = [sys.executable, "-m", "tests.paused_run", *map(str, arguments)]
    return subprocess.Popen(command, cwd=REPOSITORY_ROOT, stderr=subprocess.PIPE)


def wait_for(process: subprocess.Popen, signal_file: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not signal_file.exists():
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the child never reached {signal_file.name}")
        time.sleep(0.05)


@pytest.fixture
def publication(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A published fixture year, its ruleset, and an input that would change the publication."""
    first = tmp_path / "first.parquet"
    fixture_frame().to_parquet(first, index=False)
    reports = tmp_path / "reports"
    rules = fixture_ruleset(tmp_path)
    run_screening(RunOptions(year=2018, input_path=first, ruleset_path=rules, reports_dir=reports))
    changed = fixture_frame()
    changed.loc[changed["area_code"] == "1280C1020", "voters"] = 900
    second = tmp_path / "second.parquet"
    changed.to_parquet(second, index=False)
    return reports, rules, second


def test_a_run_killed_at_any_stage_leaves_the_publication_byte_identical(publication, tmp_path):
    reports, rules, changed_input = publication
    before = snapshot_tree(reports / "2018")
    children = {}
    for stage in STAGES:
        copy = tmp_path / f"reports-{stage}"
        shutil.copytree(reports, copy)
        signal_file = tmp_path / f"{stage}.reached"
        children[stage] = (
            copy,
            signal_file,
            start_paused(changed_input, rules, copy, stage, signal_file),
        )
    for stage, (copy, signal_file, child) in children.items():
        wait_for(child, signal_file)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert snapshot_tree(copy / "2018") == before, stage
        visible = sorted(p.name for p in copy.iterdir() if not p.name.startswith("."))
        assert visible == ["2018"], stage
    # The next run after a kill finds the lock free, clears the leftovers and publishes.
    copy = children["promote"][0]
    run_screening(
        RunOptions(year=2018, input_path=changed_input, ruleset_path=rules, reports_dir=copy)
    )
    assert snapshot_tree(copy / "2018") != before
    assert not list(copy.glob(".staging-*"))


def test_a_second_run_for_the_same_year_is_refused(publication, tmp_path, capsys):
    reports, rules, changed_input = publication
    before = snapshot_tree(reports / "2018")
    signal_file = tmp_path / "flag.reached"
    child = start_paused(changed_input, rules, reports, "flag_stage", signal_file)
    try:
        wait_for(child, signal_file)
        with pytest.raises(PublicationLocked, match="another run is publishing 2018"):
            run_screening(
                RunOptions(
                    year=2018, input_path=changed_input, ruleset_path=rules, reports_dir=reports
                )
            )
        command = ["-q", "run", "--engine", "plain", "--input", str(changed_input)]
        assert main([*command, "--ruleset", str(rules), "--out", str(reports)]) == EXIT_LOCKED
        assert "another run is publishing 2018" in capsys.readouterr().err
    finally:
        child.kill()
        child.wait()
    assert snapshot_tree(reports / "2018") == before


def test_an_interrupted_swap_is_restored(tmp_path):
    # A run killed between the two renames of the fallback swap leaves the old folder aside.
    reports = tmp_path / "reports"
    (reports / ".2018.previous-123").mkdir(parents=True)
    (reports / ".2018.previous-123" / "summary.md").write_text("old", encoding="utf-8")
    restore_interrupted(reports, 2018)
    assert (reports / "2018" / "summary.md").read_text(encoding="utf-8") == "old"


def test_promote_replaces_the_whole_folder(tmp_path):
    target, staging = tmp_path / "2018", tmp_path / ".staging-2018-1"
    target.mkdir()
    (target / "old.csv").write_text("old", encoding="utf-8")
    staging.mkdir()
    (staging / "new.csv").write_text("new", encoding="utf-8")
    promote(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["new.csv"]
    assert not staging.exists()
