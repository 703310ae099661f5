"""The bad-input corpus: every file in tests/bad_inputs/ produces the message cases.toml names."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from areascreen.errors import InputError, ValidationFailed
from areascreen.load import MAX_HEADER_CHARS, LoadedInput, read_area_statistics
from areascreen.paths import ruleset_path
from areascreen.ruleset import load_ruleset
from areascreen.validate import ValidationReport, validate_input

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "cases.toml").read_text("utf-8"))["case"]


def case_id(case: dict[str, Any]) -> str:
    """Test id: the file name, plus how it is read when that differs from the default."""
    options = [f"{key}={case[key]}" for key in ("sheet", "decimal") if key in case]
    return "-".join([case["file"], *options])


def read_case(case: dict[str, Any]) -> LoadedInput:
    """Read a corpus file with the options its case gives."""
    options = {key: case[key] for key in ("sheet", "decimal") if key in case}
    return read_area_statistics(CORPUS / case["file"], columns=RULESET.input_columns, **options)


_PASSED: dict[bytes, ValidationReport] = {}
RULESET = load_ruleset(ruleset_path(2018))


def validate_once(loaded: LoadedInput) -> ValidationReport:
    """validate_input, run once per distinct frame: the valid files share one table."""
    key = pd.util.hash_pandas_object(loaded.frame, index=False).to_numpy().tobytes()
    if key not in _PASSED or loaded.parse_problems:
        _PASSED[key] = validate_input(loaded, RULESET)
    return _PASSED[key]


def assert_contains_all(text: str, expected: list[str]) -> None:
    """Every expected substring is in the text."""
    for part in expected:
        assert part in text, f"{part!r} not in:\n{text}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_case_produces_its_message(case: dict[str, Any]) -> None:
    outcome = case["outcome"]
    if outcome == "input_error":
        with pytest.raises(InputError) as caught:
            read_case(case)
        assert str(caught.value).startswith(case["file"])
        assert_contains_all(str(caught.value), case["expect"])
        return
    loaded = read_case(case)
    if "encoding" in case:
        assert loaded.encoding == case["encoding"]
    if outcome == "valid":
        report = validate_once(loaded)
        assert report.success
        assert_contains_all("\n".join(loaded.notes), case["expect"])
        return
    assert outcome == "validation_failed"
    with pytest.raises(ValidationFailed) as caught:
        validate_input(loaded, RULESET)
    assert_contains_all(str(caught.value), case["expect"])
    assert len(caught.value.failures) == case["failures"], str(caught.value)
    assert all(line.startswith(case["file"] + ": ") for line in caught.value.failures)


def test_corpus_has_at_least_25_bad_files() -> None:
    bad = {c["file"] for c in CASES if c["outcome"] != "valid"}
    assert len(bad) >= 25


def test_every_corpus_file_has_a_case() -> None:
    listed = {c["file"] for c in CASES}
    present = {p.name for p in CORPUS.iterdir() if p.suffix not in (".py", ".toml")}
    present.discard("__pycache__")
    assert present == listed


def test_latin1_file_reads_the_same_names_as_utf8() -> None:
    utf8 = read_area_statistics(CORPUS / "valid_scb.csv")
    latin1 = read_area_statistics(CORPUS / "valid_latin1.csv")
    assert "Almvik norr-Lindängen norr" in set(latin1.frame["area_name"])
    assert latin1.frame.equals(utf8.frame)
    assert "Förvärvsarbetande" in latin1.column_map_used


def test_corpus_files_are_what_make_cases_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(CORPUS))
    try:
        import make_cases
    finally:
        sys.path.remove(str(CORPUS))
    make_cases.main(tmp_path)
    for written in tmp_path.iterdir():
        assert written.read_bytes() == (CORPUS / written.name).read_bytes(), written.name


def test_gigantic_single_line_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "one_line.csv"
    path.write_text("0180C4050;Abrahamsberg;0180;2018;1843;" * 600_000, encoding="utf-8")
    assert path.stat().st_size > 20_000_000
    with pytest.raises(InputError) as caught:
        read_area_statistics(path)
    assert str(caught.value) == (
        f"one_line.csv: the first line is longer than {MAX_HEADER_CHARS:,} characters, "
        "so it is no header line (line breaks missing?)"
    )


def test_gigantic_field_on_a_data_line_is_refused(tmp_path: Path) -> None:
    valid = (CORPUS / "valid_scb.csv").read_text("utf-8")
    path = tmp_path / "huge_field.csv"
    path.write_text(valid + "0180C9999;" + "x" * 5_000_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_area_statistics(path)
    assert str(caught.value).startswith("huge_field.csv: line 12 cannot be read: field larger than")
