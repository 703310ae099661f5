"""The input and output gates: real Great Expectations suites on DuckDB, expanded from the ruleset,
readable messages, escaped Data Docs."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from areascreen import paths, validate
from areascreen.errors import AreascreenError, ValidationFailed
from areascreen.flag import flag_areas, load_areas
from areascreen.load import LoadedInput, ParseProblem, read_area_statistics
from areascreen.rollup import roll_up
from areascreen.ruleset import Ruleset, load_ruleset, parse_ruleset
from areascreen.validate import (
    MAX_COUNT,
    SEVERITIES,
    input_sections,
    input_substitutions,
    load_suite,
    suite_path,
    validate_input,
    validate_outputs,
)

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
EXPECTATIONS = Path(paths.EXPECTATIONS_DIR)
SUITE_FILES = sorted(EXPECTATIONS.glob("*.json"))
RULESET_2018 = paths.DATA_DIR / "rulesets" / "2018.toml"


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    """The 2018 ruleset: four criteria on DeSO 2018."""
    return load_ruleset(RULESET_2018)


@pytest.fixture(scope="module")
def turnout_ruleset(tmp_path_factory: pytest.TempPathFactory) -> Ruleset:
    """The 2018 ruleset cut to its turnout criterion, on election districts."""
    document = tomllib.loads(RULESET_2018.read_text("utf-8"))
    document["criteria"] = [c for c in document["criteria"] if c["indicator"] == "voter_turnout"]
    document["division"] = "election_districts"
    document["name"] = "turnout-only"
    path = tmp_path_factory.mktemp("rulesets") / "turnout.toml"
    return parse_ruleset(document, path)


@pytest.fixture(scope="module")
def valid(ruleset: Ruleset) -> LoadedInput:
    """The corpus's valid table, read with the 2018 ruleset's columns."""
    return read_area_statistics(CORPUS / "valid_scb.csv", columns=ruleset.input_columns)


def with_frame(loaded: LoadedInput, frame: pd.DataFrame, **changes) -> LoadedInput:
    """The same input with another frame (and other fields where given)."""
    return replace(loaded, data=frame.reset_index(drop=True), **changes)


def failures_of(loaded: LoadedInput, ruleset: Ruleset, **options) -> tuple[str, ...]:
    """The failure lines of an input that must fail the gate."""
    with pytest.raises(ValidationFailed) as caught:
        validate_input(loaded, ruleset, **options)
    return caught.value.failures


def expanded_items(table: str, severity: str, ruleset: Ruleset) -> list[dict]:
    """A suite's expectations as JSON after expansion over a ruleset."""
    data = json.loads(suite_path(table, severity).read_text("utf-8"))
    return validate.expand_items(
        data["expectations"], input_sections(ruleset), input_substitutions(ruleset), table
    )


# --- suites -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.name)
def test_suite_files_load_into_gx_suites(path: Path, ruleset: Ruleset) -> None:
    table, severity = path.stem.split(".")
    suite = load_suite(table, severity, input_sections(ruleset), input_substitutions(ruleset))
    assert suite.name == path.stem
    assert {str(e.severity.value) for e in suite.expectations} == {severity}
    for expectation in suite.expectations:
        assert expectation.description and expectation.meta["message"], expectation
        assert "{column}" not in json.dumps(expectation.configuration.to_json_dict())


def test_every_table_has_a_critical_suite() -> None:
    names = {p.stem for p in SUITE_FILES}
    for table in ("area_statistics", "area_results", "municipality_results"):
        assert f"{table}.critical" in names
    assert {p.stem.split(".")[1] for p in SUITE_FILES} <= set(SEVERITIES)


def test_input_suite_checks_exactly_the_columns_the_ruleset_uses(
    ruleset: Ruleset, turnout_ruleset: Ruleset
) -> None:
    full = expanded_items("area_statistics", "critical", ruleset)
    turnout = expanded_items("area_statistics", "critical", turnout_ruleset)
    assert full[1]["kwargs"]["column_set"] == list(ruleset.input_columns.all)
    assert turnout[1]["kwargs"]["column_set"] == [
        "area_code",
        "area_name",
        "municipality_code",
        "year",
        "population",
        "voters",
        "eligible_voters",
    ]
    checked = {i["kwargs"].get("column") for i in turnout} | {
        i["kwargs"].get("column_A") for i in turnout
    }
    assert "employed" not in checked and "population_20_64" not in checked
    suppressed = [
        i["kwargs"]["column"] for i in turnout if i["type"] == "expect_column_mean_to_be_between"
    ]
    assert suppressed == ["voter_turnout_suppressed"]
    assert len(full) == 58 and len(turnout) == 30


def test_division_placeholders_keep_the_pattern_literal_in_messages(ruleset: Ruleset) -> None:
    items = expanded_items("area_statistics", "critical", ruleset)
    (code_check,) = [i for i in items if i["kwargs"].get("regex", "").startswith("^(?:")]
    assert code_check["kwargs"]["regex"] == "^(?:[0-9]{4}[ABC][0-9]{4})$"
    assert "[0-9]{{4}}[ABC][0-9]{{4}}" in code_check["meta"]["message"]
    (largest,) = [
        i
        for i in items
        if i["kwargs"].get("max_value") == MAX_COUNT and i["kwargs"]["column"] == "voters"
    ]
    assert largest["meta"]["message"].endswith(
        "voters above 1,000,000,000, the largest count accepted"
    )


def test_an_invalid_expectation_in_a_suite_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = {"name": "area_statistics.critical", "expectations": [{"type": "expect_nothing"}]}
    (tmp_path / "area_statistics.critical.json").write_text(json.dumps(bad), "utf-8")
    monkeypatch.setattr(validate.paths, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(AreascreenError, match="expectation 1 is invalid"):
        load_suite("area_statistics", "critical")


def test_an_unknown_section_in_a_suite_file_is_refused() -> None:
    items = [{"for_each": "planet", "expectations": []}]
    with pytest.raises(AreascreenError, match="repeats over unknown 'planet'"):
        validate.expand_items(items, {"indicator": []}, {}, "x.json")


# --- input gate -------------------------------------------------------------------------------


def test_valid_input_passes_every_expectation(
    valid: LoadedInput, ruleset: Ruleset, tmp_path: Path
) -> None:
    docs = tmp_path / "validation"
    report = validate_input(valid, ruleset, docs_dir=docs)
    assert report.success
    assert all(r.success for r in report.results)
    assert report.docs_index == docs / "index.html"
    assert "area_statistics.critical" in report.docs_index.read_text("utf-8")
    assert report.summary_lines() == [
        "NOTE valid_scb.csv: csv file, encoding utf-8",
        "NOTE valid_scb.csv: separator ';', decimal ','",
        "valid_scb.csv: 58 of 58 critical expectations passed",
        "valid_scb.csv: 2 of 2 warning expectations passed",
        f"Data Docs: {docs / 'index.html'}",
    ]


def test_the_gate_table_is_dropped_from_the_run_database(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE kept AS SELECT 1 AS x")
    assert validate_input(valid, ruleset, con=con).success
    tables = con.sql("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    assert tables == [("main", "kept")]


def test_failure_gives_counts_and_examples_and_still_writes_data_docs(
    valid: LoadedInput, ruleset: Ruleset, tmp_path: Path
) -> None:
    frame = valid.frame.copy()
    frame["employed"] = frame["population_20_64"] + 1
    docs = tmp_path / "validation"
    with pytest.raises(ValidationFailed) as caught:
        validate_input(with_frame(valid, frame), ruleset, docs_dir=docs)
    error = caught.value
    assert error.failures == (
        "valid_scb.csv: 10 areas have employed > population_20_64 (employment_rate over 100 %): "
        "0180C4050, 0180C4190, 0180C6340, 0180C6410, 1280C1230, 1280C1260, 1280C1170, "
        "1880C1040, 1880C1060, 1880C1100",
    )
    assert error.docs_index == docs / "index.html"
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == 2
    texts = " ".join(p.read_text("utf-8") for p in pages)
    assert "10 unexpected values found" in texts


def test_more_than_ten_offenders_are_cut_with_an_ellipsis(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = pd.concat([valid.frame, valid.frame], ignore_index=True)
    frame["area_code"] = [f"0180C{n:04d}" for n in range(4000, 4020)]
    frame["municipality_code"] = "0180"
    frame["voters"] = frame["eligible_voters"] + 10
    loaded = replace(valid, data=frame, row_numbers=None, notes=())
    failures = failures_of(loaded, replace(ruleset, division=_form_only(ruleset)))
    (line,) = failures
    head, codes = line.split(": 0180C4000")
    assert (
        head == "valid_scb.csv: 20 areas have voters > eligible_voters (voter_turnout over 100 %)"
    )
    assert codes.endswith(", …") and line.count("0180C") == 10


def _form_only(ruleset: Ruleset):
    """The ruleset's division without its code list."""
    return replace(ruleset.division, codes_file=None)


def test_suppressed_share_limit_comes_from_the_ruleset(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = valid.frame.copy()
    frame.loc[3, "voters"] = pd.NA
    loaded = with_frame(valid, frame)
    assert failures_of(loaded, ruleset) == (
        "valid_scb.csv: voter_turnout is suppressed for 10.0% of areas, more than the limit of 5.0%",
    )
    assert validate_input(loaded, replace(ruleset, max_suppressed_share=0.1)).success


def test_zero_of_zero_everywhere_fails_the_suppression_limit(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = valid.frame.copy()
    frame["voters"] = 0
    frame["eligible_voters"] = 0
    assert failures_of(with_frame(valid, frame), ruleset) == (
        "valid_scb.csv: voter_turnout is suppressed for 100.0% of areas, more than the limit of 5.0%",
    )


def district_codes(frame: pd.DataFrame) -> list[str]:
    """Election-district codes in each row's municipality: `<municipality>0000`, `...0001`, ..."""
    return [f"{m}{n:04d}" for n, m in enumerate(frame["municipality_code"])]


def test_unused_count_columns_are_not_needed_nor_checked(
    valid: LoadedInput, turnout_ruleset: Ruleset
) -> None:
    frame = valid.frame[list(turnout_ruleset.input_columns.all)].copy()
    frame["area_code"] = district_codes(frame)
    loaded = with_frame(valid, frame, notes=())
    report = validate_input(loaded, turnout_ruleset)
    assert report.success
    assert report.summary_lines()[-2:] == [
        "valid_scb.csv: 30 of 30 critical expectations passed",
        "valid_scb.csv: 2 of 2 warning expectations passed",
    ]


def test_election_district_codes_pass_their_division_and_deso_codes_do_not(
    valid: LoadedInput, turnout_ruleset: Ruleset
) -> None:
    frame = valid.frame[list(turnout_ruleset.input_columns.all)].copy()
    frame["area_code"] = district_codes(frame)
    frame.loc[2, "area_code"] = "0180C6340"
    frame.loc[4, "area_code"] = "01140101"
    assert failures_of(with_frame(valid, frame, notes=()), turnout_ruleset) == (
        "valid_scb.csv: 1 area has an area_code not of the Election districts form "
        "([0-9]{8}, e.g. 01140101): 0180C6340 (line 4)",
        "valid_scb.csv: 1 area has a municipality_code different from the first 4 characters "
        "of area_code: 01140101 (municipality_code 1280, area_code_prefix 0114)",
    )


def test_codes_outside_the_division_list_are_refused_by_name(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = valid.frame.copy()
    frame.loc[1, "area_code"] = "0180C9998"
    frame.loc[5, "area_code"] = "1280C9999"
    assert failures_of(with_frame(valid, frame), ruleset) == (
        "valid_scb.csv: 2 areas have an area_code not in the DeSO 2018 code list: "
        "0180C9998 (line 3), 1280C9999 (line 7)",
    )


def test_look_alike_digits_are_not_codes(valid: LoadedInput, ruleset: Ruleset) -> None:
    frame = valid.frame.copy()
    frame.loc[0, "area_code"] = "0180C\u0664\u0660\u0665\u0660"
    (line,) = failures_of(with_frame(valid, frame), ruleset)
    assert line.startswith("valid_scb.csv: 1 area has an area_code not of the DeSO 2018 form")
    assert line.endswith(": 0180C\u0664\u0660\u0665\u0660 (line 2)")


def test_counts_above_the_largest_accepted_are_refused(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = valid.frame.copy()
    frame.loc[0, "population"] = 123_456_789_012_345
    frame.loc[0, "eligible_voters"] = MAX_COUNT + 1
    failures = failures_of(with_frame(valid, frame), ruleset)
    assert failures == (
        "valid_scb.csv: 1 area has population above 1,000,000,000, the largest count accepted: "
        "0180C4050 (123456789012345)",
        "valid_scb.csv: 1 area has eligible_voters above 1,000,000,000, the largest count "
        "accepted: 0180C4050 (1000000001)",
    )
    frame.loc[0, "population"] = MAX_COUNT
    frame.loc[0, "eligible_voters"] = MAX_COUNT
    frame.loc[0, "voters"] = MAX_COUNT
    assert validate_input(with_frame(valid, frame), ruleset).success


def test_unconverted_values_are_reported_with_their_line(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = valid.frame.copy()
    frame.loc[1, "employed"] = pd.NA
    problems = (ParseProblem(row=3, column="employed", raw="12,5"),)
    assert failures_of(with_frame(valid, frame, parse_problems=problems), ruleset) == (
        "valid_scb.csv: 1 area has values that are not whole numbers: "
        "0180C4190 (line 3: employed '12,5')",
    )


def test_control_characters_in_values_are_shown_escaped(
    valid: LoadedInput, ruleset: Ruleset
) -> None:
    frame = valid.frame.copy()
    frame.loc[0, "area_code"] = "0180C\x1b[31m4050"
    (line,) = failures_of(with_frame(valid, frame), ruleset)
    assert "\x1b" not in line
    assert line.endswith(": '0180C\\x1b[31m4050' (line 2)")


def test_several_years_pass_only_when_allowed(ruleset: Ruleset) -> None:
    loaded = read_area_statistics(CORPUS / "two_years.csv", columns=ruleset.input_columns)
    assert failures_of(loaded, ruleset) == (
        "two_years.csv: 2 different years in one file, at most 1 allowed: "
        "2018 (9 areas), 2019 (1 area)",
    )
    assert validate_input(loaded, ruleset, allow_multiple_years=True).success


def test_warnings_are_reported_but_do_not_block(valid: LoadedInput, ruleset: Ruleset) -> None:
    frame = valid.frame.copy()
    frame.loc[2, "area_name"] = None
    report = validate_input(with_frame(valid, frame), ruleset)
    assert report.success
    assert report.failures("warning") == [
        "valid_scb.csv: 1 area has no area_name: 0180C6340 (line 4)"
    ]


# --- Data Docs escaping -----------------------------------------------------------------------


class _Elements(HTMLParser):
    """The elements of a page: every tag with its attributes, and the text of each script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def test_hostile_area_codes_are_inert_in_data_docs(
    valid: LoadedInput, ruleset: Ruleset, tmp_path: Path
) -> None:
    frame = valid.frame.copy()
    frame.loc[0, "area_code"] = "<script>alert('x')</script>"
    frame.loc[1, "area_code"] = "<img src=x onerror=alert(1)>"
    docs = tmp_path / "docs"
    (line,) = failures_of(with_frame(valid, frame), ruleset, docs_dir=docs)
    assert "<script>alert('x')</script> (line 2)" in line
    pages = list((docs / "validations").rglob("*.html"))
    assert pages
    shown = False
    for page in pages:
        text = page.read_text("utf-8")
        parser = _Elements()
        parser.feed(text)
        assert not [a for tag, a in parser.tags if tag == "img" and "onerror" in a]
        assert not [s for s in parser.scripts if "alert(" in s]
        shown = shown or "alert(1)" in text
    assert shown


# --- output gate ------------------------------------------------------------------------------


def screened(ruleset: Ruleset, loaded: LoadedInput) -> duckdb.DuckDBPyConnection:
    """A database holding the screening of an input under a ruleset."""
    con = duckdb.connect()
    load_areas(con, loaded.frame, ruleset)
    flag_areas(con, ruleset)
    roll_up(con, ruleset)
    return con


def test_consistent_outputs_pass(valid: LoadedInput, ruleset: Ruleset, tmp_path: Path) -> None:
    con = screened(ruleset, valid)
    report = validate_outputs(con, ruleset, docs_dir=tmp_path)
    assert report.success
    assert {r.table for r in report.results} == {"area_results", "municipality_results"}
    assert (tmp_path / "index.html").is_file()


def test_a_ruleset_with_one_criterion_passes_the_output_gate(
    valid: LoadedInput, turnout_ruleset: Ruleset
) -> None:
    one = replace(turnout_ruleset, division=load_ruleset(RULESET_2018).division)
    con = screened(one, valid)
    assert con.sql("SELECT DISTINCT criteria_used FROM area_results").fetchall() == [(1,)]
    assert validate_outputs(con, one).success


@pytest.fixture(scope="module")
def synthetic(ruleset: Ruleset) -> LoadedInput:
    """The default synthetic data: 5,984 DeSO areas."""
    path = paths.DATA_DIR / "synthetic" / "synthetic_areas_2018.parquet"
    return read_area_statistics(path, columns=ruleset.input_columns)


def test_inconsistent_outputs_fail_with_one_line_per_problem(
    synthetic: LoadedInput, ruleset: Ruleset
) -> None:
    con = screened(ruleset, synthetic)
    (selected, other, third) = con.sql(
        "SELECT area_code FROM area_results WHERE selected ORDER BY area_code LIMIT 3"
    ).fetchall()
    (municipality, areas) = con.sql(
        "SELECT municipality_code, areas FROM municipality_results WHERE municipality_code = '0180'"
    ).fetchall()[0]
    # area_results is a view over the screening's tables; a copy of it as a table of its own
    # lets single rows be made inconsistent.
    con.execute("CREATE TABLE area_results_copy AS SELECT * FROM area_results")
    con.execute("DROP VIEW area_results")
    con.execute("ALTER TABLE area_results_copy RENAME TO area_results")
    where = "WHERE area_code = ?"
    con.execute(f"UPDATE area_results SET selected = false {where}", selected)
    con.execute(f"UPDATE area_results SET selection_status = 'skipped' {where}", other)
    con.execute(f"UPDATE area_results SET criteria_used = 3 {where}", third)
    con.execute(
        "UPDATE municipality_results SET areas = areas + 1 WHERE municipality_code = '0180'"
    )
    with pytest.raises(ValidationFailed) as caught:
        validate_outputs(con, ruleset)
    failures = caught.value.failures
    assert failures[:3] == (
        f"area_results: 1 area has an unknown selection_status: {other[0]} (skipped)",
        "area_results: 2 areas have selected inconsistent with selection_status: "
        f"{selected[0]} (selected False, status_is_selected True), "
        f"{other[0]} (selected True, status_is_selected False)",
        "area_results: 1 area has criteria_used different from 4, the ruleset's number of "
        f"criteria: {third[0]} (3)",
    )
    assert (
        f"municipality_results: 1 municipality has areas different from the area results: "
        f"{municipality} (areas {areas + 1}, areas_in_area_results {areas})"
    ) in failures


def test_eligible_municipalities_must_meet_the_ruleset(
    synthetic: LoadedInput, ruleset: Ruleset
) -> None:
    con = screened(ruleset, synthetic)
    strict = replace(
        ruleset,
        municipality=replace(ruleset.municipality, minimum_population_in_selected_areas=10**6),
    )
    (eligible,) = con.sql("SELECT count(*) FROM municipality_results WHERE eligible").fetchall()[0]
    assert eligible > 1
    with pytest.raises(ValidationFailed) as caught:
        validate_outputs(con, strict)
    (line,) = caught.value.failures
    assert line.startswith(
        f"municipality_results: {eligible} eligible municipalities have fewer residents in "
        "selected areas than the minimum of 1000000: "
    )
