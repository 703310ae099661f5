"""The input and output gates: real Great Expectations suites, readable messages, Data Docs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from areascreen import contract, validate
from areascreen.errors import AreascreenError, ValidationFailed
from areascreen.load import LoadedInput, read_area_statistics
from areascreen.validate import (
    SEVERITIES,
    input_frame,
    load_suite,
    suite_path,
    validate_input,
    validate_outputs,
)

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
EXPECTATIONS = Path(validate.paths.EXPECTATIONS_DIR)
SUITE_FILES = sorted(EXPECTATIONS.glob("*.json"))


@pytest.fixture(scope="module")
def valid() -> LoadedInput:
    """The corpus's valid table."""
    return read_area_statistics(CORPUS / "valid_scb.csv")


def with_frame(loaded: LoadedInput, frame: pd.DataFrame) -> LoadedInput:
    """The same input with another frame."""
    return LoadedInput(
        frame=frame,
        path=loaded.path,
        file_format=loaded.file_format,
        encoding=loaded.encoding,
        column_map_used=loaded.column_map_used,
        row_numbers=loaded.row_numbers,
        row_label=loaded.row_label,
    )


# --- suites -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.name)
def test_suite_files_load_into_gx_suites_with_every_expectation(path: Path) -> None:
    table, severity = path.stem.split(".")
    data = json.loads(path.read_text("utf-8"))
    suite = load_suite(table, severity)
    assert suite.name == path.stem
    assert len(suite.expectations) == len(data["expectations"])
    assert {str(e.severity.value) for e in suite.expectations} == {severity}
    for item in data["expectations"]:
        assert item["description"] and item["meta"]["message"], item


def test_every_table_has_a_critical_suite() -> None:
    names = {p.stem for p in SUITE_FILES}
    for table in ("area_statistics", "area_results", "municipality_results"):
        assert f"{table}.critical" in names
    assert {p.stem.split(".")[1] for p in SUITE_FILES} <= set(SEVERITIES)


def test_an_invalid_expectation_in_a_suite_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = {"name": "area_statistics.critical", "expectations": [{"type": "expect_nothing"}]}
    (tmp_path / "area_statistics.critical.json").write_text(json.dumps(bad), "utf-8")
    monkeypatch.setattr(validate.paths, "EXPECTATIONS_DIR", tmp_path)
    assert suite_path("area_statistics", "critical").parent == tmp_path
    with pytest.raises(AreascreenError, match="expectation 1 is invalid"):
        load_suite("area_statistics", "critical")


# --- input gate -------------------------------------------------------------------------------


def test_derived_columns_of_the_input(valid: LoadedInput) -> None:
    frame = valid.frame.copy()
    frame.loc[0, "area_code"] = "0180R001"
    frame.loc[1, "area_code"] = " 0180C4190"
    derived = input_frame(with_frame(valid, frame))
    assert derived["area_code_prefix"].iloc[0] == "0180"
    assert pd.isna(derived["area_code_prefix"].iloc[1])
    assert derived["area_code_kind"].iloc[0] == "RegSO"
    assert pd.isna(derived["area_code_kind"].iloc[1])
    assert derived["area_code_kind"].iloc[2] == "DeSO"
    assert derived["source_row"].tolist() == list(range(2, 12))
    assert derived["unparsed_values"].isna().all()


def test_valid_input_passes_every_expectation(valid: LoadedInput, tmp_path: Path) -> None:
    docs = tmp_path / "validation"
    report = validate_input(valid, docs_dir=docs)
    assert report.success
    assert all(r.success for r in report.results)
    critical = [r for r in report.results if r.severity == "critical"]
    assert len(critical) == len(
        json.loads(suite_path("area_statistics", "critical").read_text())["expectations"]
    )
    assert report.docs_index == docs / "index.html"
    assert report.docs_index.is_file()
    assert "area_statistics.critical" in report.docs_index.read_text("utf-8")
    assert report.summary_lines() == [
        "NOTE valid_scb.csv: csv file, encoding utf-8",
        "NOTE valid_scb.csv: separator ';', decimal ','",
        f"valid_scb.csv: {len(critical)} of {len(critical)} critical expectations passed",
        "valid_scb.csv: 2 of 2 warning expectations passed",
        f"Data Docs: {docs / 'index.html'}",
    ]


def test_failure_raises_a_readable_message_and_still_writes_data_docs(
    valid: LoadedInput, tmp_path: Path
) -> None:
    frame = valid.frame.copy()
    frame["employed"] = frame["population_20_64"] + 1
    docs = tmp_path / "validation"
    with pytest.raises(ValidationFailed) as caught:
        validate_input(with_frame(valid, frame), docs_dir=docs)
    error = caught.value
    assert error.failures == (
        "valid_scb.csv: 10 areas have employed > population_20_64 (employment_rate over 100 %): "
        "0180C4050, 0180C4190, 0180C6340, 0180C6410, 1280C1230, 1280C1260, 1280C1170, "
        "1880C1040, 1880C1060, 1880C1100",
    )
    assert str(error) == "\n".join([*error.failures, f"Data Docs: {docs / 'index.html'}"])
    assert error.docs_index == docs / "index.html"
    assert error.docs_index.is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 2
    texts = [p.read_text("utf-8").replace("&lt;", "<") for p in pages]
    assert any(
        "employed <= population_20_64: employment_rate is at most 100 %." in t for t in texts
    )


def test_more_than_ten_offenders_are_cut_with_an_ellipsis(valid: LoadedInput) -> None:
    frame = pd.concat([valid.frame, valid.frame], ignore_index=True)
    frame["area_code"] = [f"0180C{n:04d}" for n in range(1000, 1020)]
    frame["municipality_code"] = "0180"
    frame["voters"] = frame["eligible_voters"] + 10
    loaded = LoadedInput(frame, valid.path, valid.file_format, valid.encoding, {})
    with pytest.raises(ValidationFailed) as caught:
        validate_input(loaded)
    (line,) = caught.value.failures
    head, codes = line.split(": 0180C1000")
    assert (
        head == "valid_scb.csv: 20 areas have voters > eligible_voters (voter_turnout over 100 %)"
    )
    assert codes.endswith("0180C1009, …")
    assert line.count("0180C") == 10


def test_suppressed_share_limit_comes_from_the_caller(valid: LoadedInput) -> None:
    frame = valid.frame.copy()
    frame.loc[3, "voters"] = pd.NA
    loaded = with_frame(valid, frame)
    with pytest.raises(ValidationFailed) as caught:
        validate_input(loaded, max_suppressed_share=0.05)
    assert caught.value.failures == (
        "valid_scb.csv: voter_turnout is suppressed for 10.0% of areas, more than the limit of 5.0%",
    )
    assert validate_input(loaded, max_suppressed_share=0.1).success


def test_failure_carries_what_reading_found() -> None:
    loaded = read_area_statistics(CORPUS / "valid_latin1.csv")
    frame = loaded.frame.copy()
    frame.loc[0, "population"] = 0
    with pytest.raises(ValidationFailed) as caught:
        validate_input(with_frame(loaded, frame))
    assert "valid_latin1.csv: csv file, encoding latin-1" in caught.value.notes
    assert "encoding" not in str(caught.value)


def test_several_years_pass_only_when_allowed() -> None:
    loaded = read_area_statistics(CORPUS / "two_years.csv")
    with pytest.raises(ValidationFailed):
        validate_input(loaded)
    report = validate_input(loaded, allow_multiple_years=True)
    assert report.success


def test_warnings_are_reported_but_do_not_block(valid: LoadedInput) -> None:
    frame = valid.frame.copy()
    frame.loc[2, "area_name"] = None
    report = validate_input(with_frame(valid, frame))
    assert report.success
    assert report.failures("warning") == [
        "valid_scb.csv: 1 area has no area_name: 0180C6340 (line 4)"
    ]
    assert (
        "WARNING valid_scb.csv: 1 area has no area_name: 0180C6340 (line 4)"
        in report.summary_lines()
    )


# --- output gate ------------------------------------------------------------------------------


def area_results() -> pd.DataFrame:
    """Four screened areas in two municipalities, consistent with each other."""
    rows = [
        ("0180C4050", "0180", 1843, 4, 4, 0, "selected", True),
        ("0180C4190", "0180", 2210, 4, 0, 0, "too_few_criteria_crossed", False),
        ("1280C1230", "1280", 2041, 3, 3, 1, "selected", True),
        ("1280C1260", "1280", 150, 4, 4, 0, "below_minimum_population", False),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "area_code",
            "municipality_code",
            "population",
            "criteria_evaluated",
            "criteria_crossed",
            "criteria_suppressed",
            "selection_status",
            "selected",
        ],
    )
    frame.insert(1, "area_name", "Area " + frame["area_code"])
    frame.insert(3, "year", 2018)
    frame.insert(8, "crossed_criteria", "")
    for name in contract.INDICATORS:
        frame[f"{name}_pct"] = [50.0, 90.0, 40.0, 30.0]
        frame[f"{name}_deviation_pp"] = 0.0
        frame[f"{name}_crossed"] = pd.array([True, False, True, True], dtype="boolean")
    frame.loc[2, "voter_turnout_pct"] = None
    frame.loc[2, "voter_turnout_crossed"] = None
    return frame


def municipality_results() -> pd.DataFrame:
    """The two municipalities of `area_results`, with their totals."""
    return pd.DataFrame(
        {
            "municipality_code": ["0180", "1280"],
            "municipality_name": ["Stockholm", "Malmö"],
            "county_code": ["01", "12"],
            "county_name": ["Stockholms län", "Skåne län"],
            "areas": [2, 2],
            "population": [4053, 2191],
            "selected_areas": [1, 1],
            "population_in_selected_areas": [1843, 2041],
            "share_of_population_in_selected_areas": [45.47, 93.15],
            "criteria_in_selected_areas": ["", ""],
            "eligible": [True, True],
        }
    )


def test_consistent_outputs_pass(tmp_path: Path) -> None:
    report = validate_outputs(area_results(), municipality_results(), docs_dir=tmp_path)
    assert report.success
    assert {r.table for r in report.results} == {"area_results", "municipality_results"}
    assert (tmp_path / "index.html").is_file()


def test_inconsistent_outputs_fail_with_one_line_per_problem() -> None:
    areas = area_results()
    areas.loc[1, "selected"] = True
    areas.loc[3, "selection_status"] = "skipped"
    areas.loc[0, "employment_rate_pct"] = 101.0
    municipalities = municipality_results()
    municipalities.loc[1, "population_in_selected_areas"] = 3000
    municipalities.loc[1, "selected_areas"] = 0
    with pytest.raises(ValidationFailed) as caught:
        validate_outputs(areas, municipalities)
    assert caught.value.failures == (
        "area_results: 1 area has an unknown selection_status: 1280C1260 (skipped)",
        "area_results: 1 area has selected inconsistent with selection_status: "
        "0180C4190 (selected True, status_is_selected False)",
        "area_results: 1 area has a rate above 100 %: 0180C4050 (101.0)",
        "municipality_results: 1 eligible municipality has no selected area: 1280 (0)",
        "municipality_results: 1 municipality has population_in_selected_areas > population: "
        "1280 (population 2191, population_in_selected_areas 3000)",
        "municipality_results: 2 municipalities have selected_areas different from the area "
        "results: 0180 (selected_areas 1, selected_areas_in_area_results 2), "
        "1280 (selected_areas 0, selected_areas_in_area_results 1)",
        "municipality_results: 2 municipalities have population_in_selected_areas different from "
        "the area results: 0180 (population_in_selected_areas 1843, "
        "population_in_selected_areas_in_area_results 4053), 1280 (population_in_selected_areas "
        "3000, population_in_selected_areas_in_area_results 2041)",
    )
