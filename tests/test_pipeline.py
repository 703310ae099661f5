"""The whole pipeline as plain functions: publication, reruns, failures, dry runs and changes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from areascreen.errors import RulesetError, ValidationFailed
from areascreen.paths import ruleset_path
from areascreen.pipeline import PUBLISHED_TABLES, RunOptions, run_screening
from tests.fixture_areas import SELECTED_ALL_FOUR, fixture_frame, fixture_ruleset
from tests.helpers import snapshot_tree

DATA_FILES = [
    *(f"{name}.{suffix}" for name in PUBLISHED_TABLES for suffix in ("parquet", "csv")),
    "eligible_municipalities.json",
]
# Documents that carry the run's time in their provenance, beside the data files.
DOCUMENTS = ["summary.md", "report.html", "publication.xlsx"]


def write_input(folder: Path, frame: pd.DataFrame, name: str = "areas_2018.parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture
def published(tmp_path: Path):
    """The fixture screened and published under tmp_path/reports."""
    options = RunOptions(
        year=2018,
        input_path=write_input(tmp_path / "in", fixture_frame()),
        ruleset_path=fixture_ruleset(tmp_path / "rules"),
        reports_dir=tmp_path / "reports",
    )
    return options, run_screening(options)


def test_a_run_publishes_every_output(published):
    options, result = published
    folder = options.reports_dir / "2018"
    assert result.publication_dir == folder
    for name in [*DATA_FILES, *DOCUMENTS, "manifest.json"]:
        assert (folder / name).is_file(), name
    assert (folder / "validation" / "input" / "index.html").is_file()
    assert (folder / "validation" / "output" / "index.html").is_file()
    eligible = pd.read_csv(folder / "eligible_municipalities.csv", dtype={"municipality_code": str})
    assert eligible["municipality_code"].tolist() == ["0127", "0180", "1280"]
    listed = json.loads((folder / "eligible_municipalities.json").read_text(encoding="utf-8"))
    assert [row["municipality_name"] for row in listed] == ["Botkyrka", "Stockholm", "Malmö"]
    areas = pd.read_parquet(folder / "area_results.parquet")
    assert sorted(areas.loc[areas["selected"], "area_code"]) == SELECTED_ALL_FOUR
    allocation = pd.read_csv(folder / "allocation.csv")
    assert allocation["amount"].sum() == pytest.approx(425.0)


def test_summary_and_manifest_explain_the_run(published):
    options, _ = published
    folder = options.reports_dir / "2018"
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "Employment rate below 60 %" in summary
    assert "77.9" in summary
    assert "Botkyrka" in summary and "4 900" in summary
    assert "validation/input/index.html" in summary
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input"]["rows"] == 15
    assert manifest["ruleset"]["name"] == "segregation-grant-2018"
    assert manifest["row_counts"]["eligible_municipalities"] == 3
    assert set(manifest["files_sha256"]) >= {"area_results.parquet", "summary.md"}


def test_a_rerun_writes_byte_identical_data_files(published):
    options, _ = published
    folder = options.reports_dir / "2018"
    first = {name: (folder / name).read_bytes() for name in DATA_FILES}
    first_manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    run_screening(options)
    assert {name: (folder / name).read_bytes() for name in DATA_FILES} == first
    second_manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name in DATA_FILES:
        assert second_manifest["files_sha256"][name] == first_manifest["files_sha256"][name]


def test_a_failed_run_publishes_nothing_and_keeps_its_data_docs(published, tmp_path):
    options, _ = published
    before = snapshot_tree(options.reports_dir / "2018")
    bad = fixture_frame()
    bad.loc[0, "employed"] = 5000  # more employed than residents aged 20-64
    bad_options = RunOptions(
        year=2018,
        input_path=write_input(tmp_path / "bad", bad, "area_statistics_2018.parquet"),
        ruleset_path=options.ruleset_path,
        reports_dir=options.reports_dir,
    )
    with pytest.raises(ValidationFailed, match="0180C1010") as failure:
        run_screening(bad_options)
    # The message points at the Data Docs where they are kept, under reports/failed/.
    assert failure.value.docs_index.is_file()
    assert failure.value.docs_index.is_relative_to(options.reports_dir / "failed")
    assert snapshot_tree(options.reports_dir / "2018") == before
    failed = list((options.reports_dir / "failed").iterdir())
    assert len(failed) == 1 and (failed[0] / "validation" / "input" / "index.html").is_file()
    assert not list(options.reports_dir.glob(".staging-*"))


def test_a_dry_run_publishes_nothing_and_reports_the_changes(published, tmp_path):
    options, _ = published
    before = snapshot_tree(options.reports_dir)
    path = fixture_ruleset(
        tmp_path / "three", **{'criteria_required = "all"': "criteria_required = 3"}
    )
    result = run_screening(
        RunOptions(
            year=2018,
            input_path=options.input_path,
            ruleset_path=path,
            reports_dir=options.reports_dir,
            dry_run=True,
        )
    )
    assert result.publication_dir is None
    after = snapshot_tree(options.reports_dir)
    assert {k: v for k, v in after.items() if not k.startswith("dry-runs")} == before
    assert result.dry_run_dir == options.reports_dir / "dry-runs" / "2018"
    assert (result.dry_run_dir / "report.html").is_file()
    assert "## Entered (1)" in result.documents["changes.md"]
    assert "| 1880 | Örebro | 0 | 2 |" in result.documents["changes.md"]


def test_the_next_year_reports_entries_exits_and_changed_area_codes(published, tmp_path):
    options, _ = published
    frame = fixture_frame(year=2019)
    frame.loc[frame["area_code"] == "1880C1020", "long_term_unemployed"] = 150  # now crosses all
    frame.loc[frame["area_code"] == "1280C1020", "voters"] = 800  # turnout 80 %: leaves
    frame.loc[frame["area_code"] == "0180C1030", "area_code"] = "0180C1040"  # new code
    result = run_screening(
        RunOptions(
            year=2019,
            input_path=write_input(tmp_path / "in2019", frame, "areas_2019.parquet"),
            ruleset_path=fixture_ruleset(tmp_path / "rules2019", year=2019),
            reports_dir=options.reports_dir,
        )
    )
    changes = result.tables["municipality_changes"].to_pandas().set_index("municipality_code")
    assert changes["change"].to_dict() == {
        "0127": "stayed",
        "0180": "stayed",
        "1280": "left",
        "1880": "entered",
    }
    assert changes.loc["1280", "area_changes"] == (
        "1280C1020: no longer selected: too_few_criteria_crossed "
        "(crosses employment_rate, long_term_unemployment_rate, low_education_rate)"
    )
    assert changes.loc["1880", "area_changes"].startswith("1880C1020: newly selected")
    codes = result.tables["area_code_changes"].to_pandas().set_index("side")
    assert codes.loc["only_in_new", "examples"] == "0180C1040"
    assert codes.loc["only_in_previous", "examples"] == "0180C1030"
    report = (options.reports_dir / "2019" / "changes.md").read_text(encoding="utf-8")
    assert "# Changes 2018 → 2019" in report and "1 only in previous: 0180C1030" in report


def test_a_ruleset_for_another_year_is_refused(tmp_path):
    options = RunOptions(
        year=2019,
        input_path=write_input(tmp_path, fixture_frame(year=2019)),
        ruleset_path=ruleset_path(2018),
        reports_dir=tmp_path / "reports",
    )
    with pytest.raises(RulesetError, match="the ruleset is for 2018, but 2019 is screened"):
        run_screening(options)
    assert not (tmp_path / "reports" / "2019").exists()
