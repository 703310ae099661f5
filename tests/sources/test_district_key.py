"""Election districts to DeSO through a key: shares, largest remainders, errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from areascreen.divisions import load_division
from areascreen.errors import InputError
from areascreen.sources.district_key import (
    apply_district_key,
    largest_remainder,
    read_district_key,
)
from areascreen.sources.election import read_election_districts

from .conftest import FILES

EXAMPLE = FILES / "district_key_example.csv"
REAL_FILE = "valmyndigheten_riksdag2018_per_valdistrikt.xlsx"


def deso_codes() -> frozenset[str]:
    codes = load_division("deso2018").known_codes()
    assert codes is not None and "0114A0010" in codes
    return codes


def districts(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["area_code", "voters", "eligible_voters"])


def test_a_small_key_shares_districts_out_in_whole_persons() -> None:
    key = read_district_key(EXAMPLE, known_codes=deso_codes())
    results = districts([("01140101", 1110, 1355), ("01140102", 801, 1002), ("01140103", 100, 101)])
    frame = apply_district_key(results, key).set_index("area_code")
    assert frame.to_dict("index") == {
        "0114A0010": {"voters": 1110, "eligible_voters": 1355},
        "0114C1010": {"voters": 481, "eligible_voters": 601},
        "0114C1020": {"voters": 320 + 33, "eligible_voters": 401 + 34},
        "0114C1030": {"voters": 33, "eligible_voters": 33},
        "0114C1040": {"voters": 34, "eligible_voters": 34},
    }
    assert frame["voters"].sum() == 1110 + 801 + 100
    assert frame["eligible_voters"].sum() == 1355 + 1002 + 101
    assert str(frame["voters"].dtype) == "int64"


def test_largest_remainders_add_up_and_keep_voters_within_eligible() -> None:
    thirds = [Fraction(1, 3)] * 3
    assert largest_remainder(100, thirds, ["a", "b", "c"]) == [34, 33, 33]
    eligible = largest_remainder(
        4, [Fraction(1, 7), Fraction(3, 7), Fraction(3, 7)], ["a", "b", "c"]
    )
    assert eligible == [0, 2, 2]
    uncapped = largest_remainder(
        3, [Fraction(1, 7), Fraction(3, 7), Fraction(3, 7)], ["a", "b", "c"]
    )
    assert uncapped == [1, 1, 1]  # one voter where no one is eligible, without the caps
    capped = largest_remainder(
        3, [Fraction(1, 7), Fraction(3, 7), Fraction(3, 7)], ["a", "b", "c"], eligible
    )
    assert capped == [0, 2, 1]


def _key(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "key.csv"
    path.write_text("district_code,deso_code,share\n" + text, encoding="utf-8")
    return path


def test_key_faults_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"do not add up to 1: 01140102 \(from row 2: 0\.900000\)"):
        read_district_key(_key(tmp_path, "01140102,0114C1010,0.5\n01140102,0114C1020,0.4\n"))
    with pytest.raises(InputError, match=r"unknown DeSO code\(s\): 0114X9999 \(row 2\)"):
        read_district_key(_key(tmp_path, "01140101,0114X9999,1\n"), known_codes=deso_codes())
    with pytest.raises(InputError, match=r"row 2: district_code '114101' is not 8 digits"):
        read_district_key(_key(tmp_path, "114101,0114A0010,1\n"))
    with pytest.raises(InputError, match=r"row 2: share 'half' is not a number"):
        read_district_key(_key(tmp_path, "01140101,0114A0010,half\n"))
    with pytest.raises(InputError, match=r"appear twice \(rows 2 and 3\)"):
        read_district_key(_key(tmp_path, "01140101,0114A0010,0.5\n01140101,0114A0010,0.5\n"))
    key = read_district_key(EXAMPLE)
    with pytest.raises(InputError, match=r"in the key missing from the results: 01140103"):
        apply_district_key(districts([("01140101", 1, 2), ("01140102", 1, 2)]), key)
    extra = districts(
        [("01140101", 1, 2), ("01140102", 1, 2), ("01140103", 1, 2), ("01140104", 5, 9)]
    )
    with pytest.raises(InputError, match=r"not in the key \(their votes would be lost\): 01140104"):
        apply_district_key(extra, key)


def test_a_key_on_the_real_2018_districts(shared_reference: Path, tmp_path: Path) -> None:
    result = read_election_districts(shared_reference / REAL_FILE)
    vasby = result.districts.loc[result.districts["municipality_code"] == "0114"]
    areas = sorted(c for c in deso_codes() if c.startswith("0114"))
    lines = [f"01140101,{areas[0]},0.5", f"01140101,{areas[1]},0.5"]
    others = [c for c in vasby["area_code"] if c != "01140101"]
    lines += [f"{code},{areas[2 + n % (len(areas) - 2)]},1" for n, code in enumerate(others)]
    key_file = _key(tmp_path, "\n".join(lines) + "\n")
    frame = apply_district_key(vasby, read_district_key(key_file, known_codes=deso_codes()))
    by_area = frame.set_index("area_code")
    # 01140101 (Övra Runby): 1110 voters, 1355 eligible, shared half and half.
    assert by_area.loc[areas[0]].tolist() == [555, 678]
    assert by_area.loc[areas[1]].tolist() == [555, 677]
    assert frame["voters"].sum() == vasby["voters"].sum()
    assert frame["eligible_voters"].sum() == vasby["eligible_voters"].sum()
    assert (frame["voters"] <= frame["eligible_voters"]).all()
    assert len(frame) == len(areas)
