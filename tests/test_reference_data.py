"""The municipality reference file: its own invariants, and agreement with the public sources."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from areascreen.paths import MUNICIPALITIES_CSV

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPOSITORY_ROOT.parent / "shared"
SHARED_REFERENCE = SHARED_DIR / "reference"
HEADER = ["municipality_code", "municipality_name", "county_code", "county_name"]


def _read_rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def _shared_file(name: str) -> Path:
    """A file of the shared reference folder, or skip when that folder is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared reference folder {SHARED_DIR} is absent; cross-check not possible")
    path = SHARED_REFERENCE / name
    if not path.is_file():
        pytest.skip(f"shared reference file {path} is absent; cross-check not possible")
    return path


@pytest.fixture(scope="module")
def ours() -> list[dict[str, str]]:
    return _read_rows(MUNICIPALITIES_CSV)


@pytest.fixture(scope="module")
def our_names(ours: list[dict[str, str]]) -> dict[str, str]:
    return {row["municipality_code"]: row["municipality_name"] for row in ours}


def test_file_format() -> None:
    raw = MUNICIPALITIES_CSV.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "must be UTF-8 without BOM"
    text = raw.decode("utf-8")
    assert text.splitlines()[0] == ",".join(HEADER)
    assert text.endswith("\n")


def test_codes_unique_four_digits_290_rows(ours: list[dict[str, str]]) -> None:
    codes = [row["municipality_code"] for row in ours]
    assert len(ours) == 290
    assert len(set(codes)) == 290
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert codes == sorted(codes)


def test_county_code_is_prefix_of_municipality_code(ours: list[dict[str, str]]) -> None:
    for row in ours:
        assert row["county_code"] == row["municipality_code"][:2], row
        assert row["county_name"].endswith(" län"), row
        assert row["municipality_name"].strip() == row["municipality_name"] != "", row
    assert len({row["county_code"] for row in ours}) == 21


def test_names_are_short_forms(our_names: dict[str, str]) -> None:
    assert our_names["0114"] == "Upplands Väsby"
    assert our_names["0180"] == "Stockholm"
    assert not any(name.endswith(" kommun") for name in our_names.values())


def test_matches_shared_municipality_county(ours: list[dict[str, str]]) -> None:
    shared = _read_rows(_shared_file("municipality_county.csv"))
    expected = sorted(
        (
            row["municipality_code"],
            row["municipality_name_short"],
            row["county_code"],
            row["county_name"],
        )
        for row in shared
    )
    actual = [tuple(row[column] for column in HEADER) for row in ours]
    assert actual == expected


def test_every_deso_municipality_is_known(our_names: dict[str, str]) -> None:
    rows = _read_rows(_shared_file("deso2018_regso2020.csv"), encoding="utf-8-sig")
    assert rows, "DeSO file is empty"
    deso_names = {row["Kommun"]: row["Kommunnamn"] for row in rows}
    assert set(deso_names) <= set(our_names)
    assert len(deso_names) == 290
    assert all(our_names[code] == name for code, name in deso_names.items())


def test_official_2018_list_is_known_with_same_names(our_names: dict[str, str]) -> None:
    rows = _read_rows(_shared_file("eligible_2018_official.csv"))
    assert len(rows) == 32
    for row in rows:
        assert our_names.get(row["municipality_code"]) == row["municipality_name"], row
