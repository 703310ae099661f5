"""File-system faults: a full disk, a read-only or file `--out`, symbolic links where a
publication or its lock should be. Each ends in a clear message, with nothing published or lost.

A full disk is a real small tmpfs where the machine lets the tests mount one (as root); a
fault-injecting Parquet writer covers the same path everywhere else.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from areascreen.cli import EXIT_DATA_PROBLEM, main
from areascreen.pipeline import RunOptions, run_screening
from areascreen.publish import (
    FAILED_DIR,
    DiskFull,
    PublicationError,
    promote,
    publication_lock,
    restore_interrupted,
    set_aside_failed,
    write_csv,
    write_workbook,
)
from tests.fixture_areas import fixture_frame, fixture_ruleset
from tests.helpers import snapshot_tree

pytestmark = pytest.mark.slow


def _mount(folder: Path, options: str) -> bool:
    """Mount a tmpfs on folder; False where this machine does not allow it."""
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    try:
        return subprocess.run(command, capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True, check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB file system of its own (tmpfs), unmounted afterwards."""
    mount_point = tmp_path / "disk"
    if not _mount(mount_point, "size=24m,mode=0755"):
        pytest.skip("cannot mount a tmpfs here; the fault-injecting writer test covers this")
    yield mount_point
    _unmount(mount_point)


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture areas as Parquet and their 2018 ruleset."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    data = folder / "areas_2018.parquet"
    fixture_frame().to_parquet(data, index=False)
    return data, fixture_ruleset(folder)


def run_cli(inputs: tuple[Path, Path], out: Path, capsys) -> tuple[int, str]:
    """`areascreen run` on the fixture into `out`; the exit code and what went to stderr."""
    data, rules = inputs
    capsys.readouterr()
    command = ["-q", "run", "--engine", "plain", "--input", str(data), "--ruleset", str(rules)]
    code = main([*command, "--out", str(out)])
    return code, capsys.readouterr().err


def error_line(stderr: str) -> str:
    """The one line the CLI prints for a failed run."""
    lines = [line for line in stderr.splitlines() if line.startswith("areascreen: error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def fill(disk: Path, leave: int) -> Path:
    """Take all but about `leave` bytes of the disk with one file."""
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with ballast.open("wb") as handle:
        handle.truncate(0)
        os.posix_fallocate(handle.fileno(), 0, max(free - leave, 0))
    return ballast


def tree_bytes(folder: Path) -> int:
    """The bytes of every file under folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("fraction", [0.02, 0.25, 0.8])
def test_a_full_disk_is_said_plainly_and_nothing_is_kept(small_disk, inputs, capsys, fraction):
    reports = small_disk / "reports"
    assert run_cli(inputs, reports, capsys)[0] == 0
    before = snapshot_tree(reports / "2018")
    # Room for a part of a second publication of the same size: the run fails early or late.
    ballast = fill(small_disk, int(fraction * tree_bytes(reports / "2018")))
    free_before = shutil.disk_usage(small_disk).free
    code, stderr = run_cli(inputs, reports, capsys)
    assert code == EXIT_DATA_PROBLEM
    line = error_line(stderr)
    assert line.startswith(
        f"areascreen: error: disk full: no space left on the device holding {reports}"
    )
    assert "nothing was published" in line
    assert snapshot_tree(reports / "2018") == before
    # Nothing of the failed run stays behind to keep the disk full.
    assert sorted(p.name for p in reports.iterdir()) == [".2018.lock", "2018"]
    assert shutil.disk_usage(small_disk).free >= free_before
    # Once there is room again, the next run publishes.
    ballast.unlink()
    assert run_cli(inputs, reports, capsys)[0] == 0
    assert not (reports / FAILED_DIR).exists()


def test_a_full_disk_while_writing_the_tables_is_a_disk_full_error(inputs, tmp_path, monkeypatch):
    data, rules = inputs
    options = RunOptions(year=2018, input_path=data, ruleset_path=rules, reports_dir=tmp_path / "r")
    run_screening(options)
    before = snapshot_tree(tmp_path / "r" / "2018")

    def no_space(table, where, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space")

    monkeypatch.setattr("areascreen.publish.pq.write_table", no_space)
    with pytest.raises(DiskFull, match=r"^disk full: no space left on the device holding "):
        run_screening(options)
    assert snapshot_tree(tmp_path / "r" / "2018") == before
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [".2018.lock", "2018"]


@pytest.fixture
def read_only_reports(tmp_path: Path, inputs) -> Iterator[Path]:
    """A folder holding a 2018 publication, then made read-only (a read-only mount as root)."""
    reports = tmp_path / "ro"
    mounted = os.geteuid() == 0 and _mount(reports, "size=24m")
    if os.geteuid() == 0 and not mounted:
        pytest.skip("root ignores permissions and no read-only mount is possible here")
    try:
        run_screening(
            RunOptions(year=2018, input_path=inputs[0], ruleset_path=inputs[1], reports_dir=reports)
        )
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(reports)], check=True)
        else:
            reports.chmod(0o555)
        yield reports
    finally:
        if mounted:
            _unmount(reports)
        elif reports.exists():
            reports.chmod(0o755)


def test_a_read_only_out_is_a_clear_error(read_only_reports, inputs, capsys):
    before = snapshot_tree(read_only_reports)
    code, stderr = run_cli(inputs, read_only_reports, capsys)
    assert code == EXIT_DATA_PROBLEM
    line = error_line(stderr)
    if os.geteuid() == 0:
        lock = read_only_reports / ".2018.lock"
        assert (
            line
            == f"areascreen: error: cannot open the lock file {lock}: the file system is read-only"
        )
    else:
        assert line.startswith(f"areascreen: error: cannot create the folder {read_only_reports}/")
        assert line.endswith(": permission denied")
    assert snapshot_tree(read_only_reports) == before


def test_out_naming_a_file_is_a_clear_error(inputs, tmp_path, capsys):
    not_a_folder = tmp_path / "reports.txt"
    not_a_folder.write_text("keep me", encoding="utf-8")
    code, stderr = run_cli(inputs, not_a_folder, capsys)
    assert code == EXIT_DATA_PROBLEM
    assert error_line(stderr) == (
        f"areascreen: error: cannot publish to {not_a_folder}: it is a file, not a folder; "
        "give --out a folder (it is created if missing)"
    )
    code, stderr = run_cli(inputs, not_a_folder / "reports", capsys)
    assert code == EXIT_DATA_PROBLEM
    assert error_line(stderr) == (
        f"areascreen: error: cannot create the folder {not_a_folder / 'reports'}: "
        "a file stands where a folder is needed"
    )
    assert not_a_folder.read_text(encoding="utf-8") == "keep me"


@pytest.fixture
def linked_year(tmp_path: Path, inputs) -> tuple[Path, Path]:
    """reports/2018 as a symbolic link to a folder holding an earlier publication."""
    elsewhere = tmp_path / "elsewhere"
    run_screening(
        RunOptions(year=2018, input_path=inputs[0], ruleset_path=inputs[1], reports_dir=elsewhere)
    )
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "2018").symlink_to(elsewhere / "2018")
    return reports, elsewhere / "2018"


def test_a_symlinked_publication_is_refused_before_anything_is_written(linked_year, inputs, capsys):
    reports, real = linked_year
    before = snapshot_tree(real)
    code, stderr = run_cli(inputs, reports, capsys)
    assert code == EXIT_DATA_PROBLEM
    assert error_line(stderr).startswith(
        f"areascreen: error: cannot publish to {reports / '2018'}: it is a symbolic link (to {real})"
    )
    assert "Published" not in stderr and "Nothing published" not in stderr
    assert (reports / "2018").is_symlink() and os.readlink(reports / "2018") == str(real)
    assert snapshot_tree(real) == before
    assert sorted(p.name for p in reports.iterdir()) == [".2018.lock", "2018"]


def test_a_link_that_appears_before_the_swap_is_not_replaced(linked_year, tmp_path):
    reports, _ = linked_year
    staging = reports / ".staging-2018-1"
    staging.mkdir()
    (staging / "summary.md").write_text("new", encoding="utf-8")
    with pytest.raises(PublicationError, match="it is a symbolic link"):
        promote(staging, reports / "2018")
    assert (reports / "2018").is_symlink()
    assert (staging / "summary.md").read_text(encoding="utf-8") == "new"


def test_a_file_in_place_of_the_year_folder_is_refused(inputs, tmp_path, capsys):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "2018").write_text("not a publication", encoding="utf-8")
    code, stderr = run_cli(inputs, reports, capsys)
    assert code == EXIT_DATA_PROBLEM
    assert error_line(stderr) == (
        f"areascreen: error: cannot publish to {reports / '2018'}: a file of that name is in "
        "the way; move it aside"
    )
    assert (reports / "2018").read_text(encoding="utf-8") == "not a publication"


def test_a_symlinked_leftover_is_not_restored_as_the_publication(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (tmp_path / "outside").mkdir()
    (reports / ".2018.previous-99").symlink_to(tmp_path / "outside")
    restore_interrupted(reports, 2018)
    assert not os.path.lexists(reports / "2018")
    assert not os.path.lexists(reports / ".2018.previous-99")
    assert (tmp_path / "outside").is_dir()


def test_the_lock_file_does_not_follow_a_symbolic_link(inputs, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / ".2018.lock").symlink_to(victim)
    code, stderr = run_cli(inputs, reports, capsys)
    assert code == EXIT_DATA_PROBLEM
    assert error_line(stderr) == (
        f"areascreen: error: refusing the lock file {reports / '.2018.lock'}: it is a symbolic "
        f"link (to {victim}); remove it and run again"
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert not (reports / "2018").exists()


def test_the_lock_file_is_refused_as_a_hard_link_or_a_fifo(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    reports = tmp_path / "reports"
    reports.mkdir()
    os.link(victim, reports / ".2018.lock")
    with (
        pytest.raises(PublicationError, match=r"\.2018\.lock: it is a hard link"),
        publication_lock(reports, 2018),
    ):
        pass
    assert victim.read_text(encoding="utf-8") == "precious\n"
    os.mkfifo(reports / ".2019.lock")
    with (
        pytest.raises(PublicationError, match=r"\.2019\.lock: it is not a regular file"),
        publication_lock(reports, 2019),
    ):
        pass


def staged(reports: Path, number: int) -> Path:
    """A staging folder with one file in it."""
    folder = reports / f".staging-2018-{number}"
    folder.mkdir(parents=True)
    (folder / "summary.md").write_text(f"run {number}", encoding="utf-8")
    return folder


def test_reports_failed_keeps_only_the_newest_runs(tmp_path):
    reports = tmp_path / "reports"
    (reports / FAILED_DIR).mkdir(parents=True)
    (reports / FAILED_DIR / "notes.txt").write_text("someone's notes", encoding="utf-8")
    kept = [set_aside_failed(staged(reports, n), reports, 2018, keep=3) for n in range(7)]
    remaining = sorted(
        (p / "summary.md").read_text(encoding="utf-8")
        for p in (reports / FAILED_DIR).iterdir()
        if p.is_dir()
    )
    assert remaining == ["run 4", "run 5", "run 6"]
    assert all(path is not None for path in kept)
    assert sorted(p.name for p in (reports / FAILED_DIR).iterdir() if p.is_dir()) == sorted(
        p.name for p in kept[-3:]
    )
    assert (reports / FAILED_DIR / "notes.txt").read_text(encoding="utf-8") == "someone's notes"
    assert not list(reports.glob(".staging-*"))


def test_a_disk_full_failure_keeps_nothing(tmp_path):
    reports = tmp_path / "reports"
    error = OSError(errno.ENOSPC, "No space left on device")
    assert set_aside_failed(staged(reports, 1), reports, 2018, error=error) is None
    assert sorted(p.name for p in reports.iterdir()) == []
    assert set_aside_failed(staged(reports, 2), reports, 2018, keep=0) is None
    assert sorted(p.name for p in reports.iterdir()) == []


def test_a_failed_run_that_cannot_be_moved_stays_where_it_is(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / FAILED_DIR).write_text("a file where the folder should be", encoding="utf-8")
    staging = staged(reports, 1)
    assert set_aside_failed(staging, reports, 2018) == staging
    assert (staging / "summary.md").read_text(encoding="utf-8") == "run 1"


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_full_disk_while_writing_the_workbook_or_a_csv_is_a_disk_full_error(small_disk):
    table = pa.table({"area_code": [f"0180C{n:04d}" for n in range(20_000)], "n": range(20_000)})
    fill(small_disk, 16_384)
    with pytest.raises(DiskFull, match=f"holding {small_disk}"):
        write_workbook({"area_criteria": table}, small_disk)
    with pytest.raises(DiskFull, match=f"holding {small_disk}"):
        write_csv(table, small_disk / "area_criteria.csv")
