"""Publication: killed runs, concurrent runs and leftovers (real subprocesses); the files written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from areascreen.cli import EXIT_LOCKED, main
from areascreen.pipeline import RunOptions, run_screening
from areascreen.publish import (
    PublicationLocked,
    promote,
    restore_interrupted,
    sha256_of,
    write_csv,
    write_manifest,
    write_table,
    write_workbook,
)
from tests.conftest import REPOSITORY_ROOT
from tests.fixture_areas import fixture_frame, fixture_ruleset
from tests.helpers import snapshot_tree

pytestmark = pytest.mark.slow

STAGES = (
    "read_stage",
    "validate_input_stage",
    "screen_stage",
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
    child = start_paused(changed_input, rules, reports, "screen_stage", signal_file)
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


def mixed_table(names: list[str]) -> pa.Table:
    """A small table with every kind of published column."""
    rows = len(names)
    return pa.table(
        {
            "municipality_code": pa.array(["0180", "0127", "2380", "0114"][:rows]),
            "municipality_name": pa.array(names),
            "selected_areas": pa.array([1054, None, 3, 0][:rows], pa.int64()),
            "share": pa.array([1.5, 0.1 + 0.2, None, -24.156570363466912][:rows]),
            "eligible": pa.array([True, False, None, True][:rows]),
            "codes": pa.array([["0180", "0127"], [], None, ["2380"]][:rows]),
        }
    )


def test_csv_counts_are_integers_and_floats_keep_full_precision(tmp_path):
    write_table(
        mixed_table(["Stockholm", "Botkyrka", "Östersund", "Upplands Väsby"]), tmp_path, "t"
    )
    assert (tmp_path / "t.csv").read_text(encoding="utf-8") == (
        "municipality_code,municipality_name,selected_areas,share,eligible,codes\n"
        '0180,Stockholm,1054,1.5,true,"0180, 0127"\n'
        "0127,Botkyrka,,0.30000000000000004,false,\n"
        "2380,Östersund,3,,,\n"
        "0114,Upplands Väsby,0,-24.156570363466912,true,2380\n"
    )


def test_swedish_csv_has_semicolons_decimal_commas_and_a_byte_order_mark(tmp_path):
    table = mixed_table(["Stockholm", "Botkyrka", "Östersund", "Upplands Väsby"])
    write_table(table, tmp_path, "t", csv_style="swedish")
    raw = (tmp_path / "t.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfmunicipality_code;municipality_name;selected_areas;")
    assert raw.decode("utf-8-sig").splitlines()[1] == "0180;Stockholm;1054;1,5;true;0180, 0127"
    back = pd.read_csv(
        tmp_path / "t.csv",
        sep=";",
        decimal=",",
        encoding="utf-8-sig",
        dtype={"municipality_code": str},
    )
    assert back["municipality_code"].tolist() == ["0180", "0127", "2380", "0114"]
    assert back["selected_areas"].tolist()[0] == 1054
    assert back["share"].tolist()[3] == -24.156570363466912
    with pytest.raises(ValueError, match="unknown CSV style 'excel'"):
        write_csv(table, tmp_path / "x.csv", csv_style="excel")


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn", "\uff1d1"]


def test_formula_like_text_is_neutralised_in_the_csv_and_exact_in_parquet_and_json(tmp_path):
    names = [*FORMULAS, "Ale-Kungälv", "Malmö"]
    table = pa.table(
        {
            "municipality_code": [f"{n:04d}" for n in range(len(names))],
            "municipality_name": names,
            "margin_pp": [-1.5] * len(names),
        }
    )
    write_table(table, tmp_path, "eligible_municipalities")
    written = pd.read_csv(
        tmp_path / "eligible_municipalities.csv", dtype=str, keep_default_na=False
    )
    assert written["municipality_name"].tolist() == [
        *("'" + f for f in FORMULAS),
        "Ale-Kungälv",
        "Malmö",
    ]
    assert written["margin_pp"].tolist() == ["-1.5"] * len(names)
    assert pq.read_table(tmp_path / "eligible_municipalities.parquet").equals(table)
    records = json.loads((tmp_path / "eligible_municipalities.json").read_text(encoding="utf-8"))
    assert [r["municipality_name"] for r in records] == names
    # A carriage return inside a cell is quoted, so no reader takes it for a line break.
    assert b'"\'\rReturn"' in (tmp_path / "eligible_municipalities.csv").read_bytes()


def test_json_keeps_integers_and_full_precision(tmp_path):
    write_table(mixed_table(["a", "b", "c", "d"]), tmp_path, "eligible_municipalities")
    records = json.loads((tmp_path / "eligible_municipalities.json").read_text(encoding="utf-8"))
    assert [r["selected_areas"] for r in records] == [1054, None, 3, 0]
    assert records[1]["share"] == 0.30000000000000004
    assert records[0]["codes"] == ["0180", "0127"]


def test_the_manifest_checksums_the_workbook_and_the_report(tmp_path):
    (tmp_path / "report.html").write_text("<p>report</p>", encoding="utf-8")
    workbook = write_workbook({"t": mixed_table(["a"])}, tmp_path)
    (tmp_path / "validation").mkdir()
    manifest = json.loads(write_manifest(tmp_path, {"year": 2018}).read_text(encoding="utf-8"))
    assert sorted(manifest["files_sha256"]) == ["publication.xlsx", "report.html"]
    assert manifest["files_sha256"]["publication.xlsx"] == sha256_of(workbook)


def test_the_previous_publication_is_read_by_its_exact_path_not_as_a_glob(tmp_path):
    # DuckDB would read 'pub[1]/2018/*.parquet' as a pattern matching 'pub1/2018/...'.
    rules = fixture_ruleset(tmp_path / "rules")
    same = tmp_path / "same.parquet"
    fixture_frame().to_parquet(same, index=False)
    changed = fixture_frame()
    changed.loc[changed["area_code"] == "1280C1020", "voters"] = 800  # 1280 is no longer eligible
    other = tmp_path / "other.parquet"
    changed.to_parquet(other, index=False)
    bracketed, plain = tmp_path / "pub[1]", tmp_path / "pub1"
    for folder, data in ((bracketed, same), (plain, other)):
        run_screening(
            RunOptions(year=2018, input_path=data, ruleset_path=rules, reports_dir=folder)
        )
    next_year = tmp_path / "2019.parquet"
    fixture_frame(year=2019).to_parquet(next_year, index=False)
    result = run_screening(
        RunOptions(
            year=2019,
            input_path=next_year,
            ruleset_path=fixture_ruleset(tmp_path / "rules2019", year=2019),
            reports_dir=bracketed,
        )
    )
    changes = result.tables["municipality_changes"].to_pylist()
    assert {row["municipality_code"]: row["change"] for row in changes} == {
        "0127": "stayed",
        "0180": "stayed",
        "1280": "stayed",
    }
    assert f"Compared with `{bracketed / '2018'}`." in result.documents["changes.md"]


def test_csv_batches_join_into_the_same_lines_as_one_batch(tmp_path, monkeypatch):
    names = ["Stockholm", "=1+1", 'Say "hi"', "a,b", None, "Stockholm", "Malmö"]
    table = pa.table(
        {
            "name": names,
            "n": pa.array([1, None, 3, -4, 5, 6, 7], pa.int64()),
            "x": [1.5, float("nan"), None, 1e16, -0.0, 1e-05, 0.1 + 0.2],
            "ok": [True, None, False, True, True, False, None],
            "kind": pa.array(["a", "b", "a", None, "a", "=b", "a"]).dictionary_encode(),
        }
    )
    expected = (
        "name;n;x;ok;kind\n"
        "Stockholm;1;1,5;true;a\n"
        "'=1+1;;;;b\n"
        '"Say ""hi""";3;;false;a\n'
        "a,b;-4;1e+16;true;\n"
        ";5;-0,0;true;a\n"
        "Stockholm;6;1e-05;false;'=b\n"
        "Malmö;7;0,30000000000000004;;a\n"
    )
    write_csv(table, tmp_path / "one.csv", csv_style="swedish")
    monkeypatch.setattr("areascreen.publish.CSV_BATCH_ROWS", 2)
    write_csv(table, tmp_path / "batches.csv", csv_style="swedish")
    for name in ("one.csv", "batches.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8-sig") == expected
    write_csv(pa.table({}), tmp_path / "no_columns.csv")
    assert (tmp_path / "no_columns.csv").read_bytes() == b"\n"


def test_csv_floats_are_written_as_python_writes_them(tmp_path):
    import numpy as np

    rng = np.random.default_rng(14)
    scaled = rng.random(20_000) * 10.0 ** rng.integers(-8, 20, 20_000)
    rates = 100.0 * rng.integers(0, 5000, 5_000) / rng.integers(1, 5000, 5_000)
    bits = rng.integers(0, 2**63, 5_000, dtype=np.uint64).view(np.float64)
    special = [0.0, -0.0, 1e-4, 9.9e-5, 1e16, 9999999999999998.0, 1.0, -2.0, 0.1 + 0.2]
    values = [*scaled.tolist(), *(-rates).tolist(), *bits.tolist(), *special]
    values += [float("inf"), float("-inf"), float("nan")]
    write_csv(pa.table({"x": pa.array(values, pa.float64())}), tmp_path / "x.csv")
    lines = (tmp_path / "x.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert lines == ["" if v != v else repr(v) for v in values]
