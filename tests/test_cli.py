"""The command line, run in-process, on the embedded default data and on the fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from areascreen.cli import EXIT_DATA_PROBLEM, build_parser, main
from areascreen.contract import INDICATORS
from areascreen.paths import DEFAULT_INPUT
from tests.fixture_areas import fixture_frame, fixture_ruleset
from tests.helpers import snapshot_tree


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in ("--year", "--input", "--ruleset", "--out", "--dry-run", "--engine", "--sheet"):
        assert option in text
    commands = build_parser().format_help()
    for command in ("run", "validate", "allocate", "serve"):
        assert command in commands


def test_run_on_the_default_data_writes_every_output(tmp_path: Path, capsys):
    assert main(["-q", "run", "--engine", "plain", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "2018"
    printed = capsys.readouterr().out
    eligible = pd.read_parquet(folder / "eligible_municipalities.parquet")
    first, second = printed.splitlines()[:2]
    assert first.startswith("SYNTHETIC DEMO DATA")
    assert second == f"{len(eligible)} eligible municipalities for 2018:"
    assert len(eligible) > 0
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "SYNTHETIC demo data" in summary
    averages = pd.read_csv(folder / "national_averages.csv").set_index("indicator")
    assert list(averages.index) == list(INDICATORS)
    assert averages["difference_from_published_pp"].abs().max() < 0.5
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input"]["path"] == str(DEFAULT_INPUT)
    assert manifest["row_counts"]["area_results"] == manifest["input"]["rows"]


def test_a_bad_file_exits_non_zero_with_the_message(tmp_path: Path, capsys):
    bad = fixture_frame()
    bad.loc[bad["area_code"] == "1880C1030", "low_educated"] = 1200
    path = tmp_path / "area_statistics_2018.parquet"
    bad.to_parquet(path, index=False)
    reports = tmp_path / "reports"
    rules = str(fixture_ruleset(tmp_path))
    command = ["-q", "run", "--engine", "plain", "--input", str(path), "--ruleset", rules]
    assert main([*command, "--out", str(reports)]) == EXIT_DATA_PROBLEM
    error = capsys.readouterr().err
    assert "area_statistics_2018.parquet" in error and "1880C1030" in error
    assert not (reports / "2018").exists()


def test_validate_runs_the_input_gate_alone(tmp_path: Path, capsys):
    path = tmp_path / "areas.parquet"
    fixture_frame().to_parquet(path, index=False)
    rules = str(fixture_ruleset(tmp_path))
    assert (
        main(["-q", "validate", str(path), "--ruleset", rules, "--docs", str(tmp_path / "docs")])
        == 0
    )
    assert "15 areas pass the input gate" in capsys.readouterr().out
    assert (tmp_path / "docs" / "index.html").is_file()


def test_allocate_writes_every_requested_year(tmp_path: Path):
    path = tmp_path / "areas.parquet"
    fixture_frame().to_parquet(path, index=False)
    reports = tmp_path / "reports"
    rules = str(fixture_ruleset(tmp_path))
    main(
        [
            "-q",
            "run",
            "--engine",
            "plain",
            "--input",
            str(path),
            "--ruleset",
            rules,
            "--out",
            str(reports),
        ]
    )
    before = snapshot_tree(reports / "2018")
    command = ["-q", "allocate", "--years", "2018-2027", "--ruleset", rules, "--out", str(reports)]
    assert main(command) == 0
    table = pd.read_csv(reports / "allocation_2018_list_2018-2027.csv")
    assert "data_note" not in table.columns  # the fixture areas are not synthetic
    totals = table.groupby("year")["amount"].sum().round(6).to_dict()
    assert totals == {2018: 425.0, 2019: 1350.0, **{year: 2200.0 for year in range(2020, 2028)}}
    # The same share every year, as in the published 2018 decision.
    assert table.groupby("municipality_code")["share"].nunique().max() == 1
    assert snapshot_tree(reports / "2018") == before


def test_version_and_exit_codes_are_in_the_help(capsys):
    from areascreen import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"areascreen {__version__}"
    text = build_parser().format_help()
    for line in (
        "0  done",
        "2  a wrong command line",
        "3  another run is publishing the same year",
    ):
        assert line in text
    assert "--project DIR" in text and "init" in text


def test_sheet_help_says_a_position_works(capsys):
    for command in ("run", "validate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "0-based position" in " ".join(capsys.readouterr().out.split())


def test_a_wrong_command_line_exits_with_2(capsys):
    with pytest.raises(SystemExit) as done:
        main(["run", "--year", "last"])
    assert done.value.code == 2
    assert "invalid int value: 'last'" in capsys.readouterr().err


def test_the_log_file_holds_the_run(tmp_path: Path, capsys):
    log = tmp_path / "run.log"
    command = ["--log-file", str(log), "run", "--engine", "plain", "--out", str(tmp_path)]
    assert main(command) == 0
    text = log.read_text(encoding="utf-8")
    assert "Loaded 5984 areas" in text and "Published" in text
    assert f"Published {tmp_path / '2018'}" in text


LOADED_LIBRARIES = """
import sys
from areascreen.cli import main
code = main(sys.argv[1:])
print(code, *(name in sys.modules for name in ("great_expectations", "prefect")))
"""


def libraries_loaded(tmp_path: Path, *arguments: str) -> tuple[str, ...]:
    """Exit code of a command in a fresh interpreter, and whether it loaded GX and Prefect."""
    import os
    import subprocess
    import sys

    environment = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    environment.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", LOADED_LIBRARIES, "-q", *arguments],
        capture_output=True, text=True, cwd=tmp_path, env=environment, check=True, timeout=300,
    )  # fmt: skip
    return tuple(done.stdout.split()[-3:])


@pytest.mark.slow
def test_gx_is_loaded_only_to_validate_and_prefect_only_by_its_engine(tmp_path: Path):
    out = str(tmp_path / "reports")
    assert libraries_loaded(tmp_path, "sensitivity", "--delta", "1") == ("0", "False", "False")
    assert libraries_loaded(tmp_path, "validate", str(DEFAULT_INPUT)) == ("0", "True", "False")
    run = ("run", "--engine", "plain", "--out", out)
    assert libraries_loaded(tmp_path, *run) == ("0", "True", "False")
    assert libraries_loaded(tmp_path, "allocate", "--out", out) == ("0", "False", "False")


def test_the_prefect_engine_without_a_server_says_one_is_started(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import areascreen.flow

    class NoServer(Exception):
        """Raised instead of starting a server."""

    def screening(**parameters: object) -> None:
        raise NoServer

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(areascreen.flow, "screening", screening)
    with pytest.raises(NoServer):
        main(["run", "--engine", "prefect", "--dry-run"])
    (note,) = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert "PREFECT_API_URL is not set: starting a temporary Prefect server" in note
    assert "start one with `prefect server start`" in note


@pytest.mark.slow
def test_the_command_ends_its_process_with_the_exit_code_and_every_line_written(tmp_path):
    import subprocess
    import sys

    bad = fixture_frame()
    bad.loc[bad["area_code"] == "1880C1030", "low_educated"] = 1200
    path = tmp_path / "area_statistics_2018.parquet"
    bad.to_parquet(path, index=False)
    log = tmp_path / "run.log"
    command = [
        sys.executable, "-m", "areascreen.cli", "--log-file", str(log), "run", "--engine",
        "plain", "--input", str(path), "--ruleset", str(fixture_ruleset(tmp_path)),
        "--out", str(tmp_path / "reports"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_DATA_PROBLEM
    assert "areascreen: error:" in done.stderr and "1880C1030" in done.stderr
    assert "Nothing published" in log.read_text(encoding="utf-8")
