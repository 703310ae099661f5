"""The Election Authority's results per election district: the real 2018 file and small ones."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from areascreen.errors import InputError
from areascreen.sources.election import (
    COLUMNS,
    is_election_authority_file,
    national_turnout,
    read_election_districts,
)

REAL_FILE = "valmyndigheten_riksdag2018_per_valdistrikt.xlsx"
HEADER = ["LÄNSKOD", "KOMMUNKOD", "VALKRETSKOD", "VALDISTRIKTSKOD", "LÄNSNAMN", "KOMMUNNAMN",
          "VALKRETSNAMN", "VALDISTRIKTSNAMN", "M", "S", "RÖSTER GILTIGA", "RÖSTANDE",
          "RÖSTBERÄTTIGADE", "VALDELTAGANDE"]  # fmt: skip
ROWS = [
    [1, 14, 2, 101, "Stockholms län", "Upplands Väsby", "Stockholms län", "Övra Runby",
     300, 790, 1090, 1110, 1355, 81.92],
    [1, 14, 2, 102, "Stockholms län", "Upplands Väsby", "Stockholms län", "Mälaren",
     400, 505, 905, 914, 1073, 85.18],
    [1, 14, 2, 0, "Stockholms län", "Upplands Väsby", "Stockholms län", "Uppsamlingsdistrikt",
     500, 570, 1070, 1080, 0, 0.0],
    [12, 80, 5, 2030, "Skåne län", "Malmö", "Malmö kommun", "Rosengård 3",
     100, 600, 700, 812, 1423, 57.06],
]  # fmt: skip
TITLE = "Röstfördelning, antal och procent, riksdagsvalet 2018, per valdistrikt"


def _workbook(
    path: Path, rows: list[list[object]] = ROWS, *, header: list[str] = HEADER,
    sheet: str = "R antal", title: str | None = TITLE,
) -> Path:  # fmt: skip
    """An xlsx in the Election Authority's layout."""
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Per valdistrikt"
    first.append(["Valmyndigheten 2018-10-02"])
    if title:
        first.append([None])
        first.append([title])
    data = book.create_sheet(sheet)
    data.append(header)
    for row in rows:
        data.append(row)
    book.create_sheet("R procent").append(header)
    book.save(path)
    return path


def test_the_real_2018_file(shared_reference: Path) -> None:
    path = shared_reference / REAL_FILE
    assert is_election_authority_file(path)
    result = read_election_districts(path)
    assert list(result.districts.columns) == list(COLUMNS)
    assert (len(result.districts), len(result.national_only)) == (6004, 321)
    assert result.districts["year"].unique().tolist() == [2018]
    first = result.districts.iloc[0]
    assert (first.area_code, first.area_name, first.municipality_code) == (
        "01140101", "Övra Runby", "0114",
    )  # fmt: skip
    assert (first.voters, first.eligible_voters) == (1110, 1355)
    assert result.districts["municipality_code"].nunique() == 290
    assert result.national_only["eligible_voters"].eq(0).all()
    assert set(result.national_only["area_name"]) == {"Uppsamlingsdistrikt"}
    assert round(national_turnout(result), 2) == 87.18
    assert round(national_turnout(result, with_collection=False), 2) == 84.48
    assert result.notes[0] == "election year 2018 from sheet 'Per valdistrikt'"
    assert str(result.districts["voters"].dtype) == "int64"


def test_a_small_file_splits_districts_from_collection_districts(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "r.xlsx")
    assert is_election_authority_file(path)
    result = read_election_districts(path)
    assert result.districts["area_code"].tolist() == ["01140101", "01140102", "12802030"]
    assert result.districts["municipality_code"].tolist() == ["0114", "0114", "1280"]
    assert result.national_only["area_code"].tolist() == ["01140000"]
    assert result.national_only["voters"].tolist() == [1080]
    assert round(national_turnout(result), 4) == round(100 * (1110 + 914 + 812 + 1080) / 3851, 4)
    assert result.notes[2] == (
        "1 collection districts with 0 eligible voters and 1080 voters, kept as national-only rows"
    )


def test_a_missing_sheet_is_named_with_the_sheets_there(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "r.xlsx", sheet="Antal")
    assert not is_election_authority_file(path)
    with pytest.raises(InputError, match=r"r\.xlsx: no sheet 'R antal'; the file has 'Per valdis"):
        read_election_districts(path)


def test_a_renamed_column_is_named(tmp_path: Path) -> None:
    header = [("RÖSTANDE_TOTALT" if h == "RÖSTANDE" else h) for h in HEADER]
    path = _workbook(tmp_path / "r.xlsx", header=header)
    assert not is_election_authority_file(path)
    with pytest.raises(InputError, match=r"sheet 'R antal': no column 'RÖSTANDE' in the header"):
        read_election_districts(path)


def test_a_non_number_is_named_by_its_row(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][12] = "1 073 st"
    path = _workbook(tmp_path / "r.xlsx", rows)
    with pytest.raises(InputError) as raised:
        read_election_districts(path)
    assert "sheet 'R antal': column 'RÖSTBERÄTTIGADE' must hold whole non-negative numbers" in str(
        raised.value
    )
    assert "row 3 ('1 073 st')" in str(raised.value)


def test_more_voters_than_eligible_in_a_district_is_an_error(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[3][11] = 1500
    with pytest.raises(InputError, match=r"12802030 \(row 5: 1500 voters, 1423 eligible\)"):
        read_election_districts(_workbook(tmp_path / "r.xlsx", rows))


def test_the_year_comes_from_the_file_or_the_argument(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is for the 2018 election .* not 2022"):
        read_election_districts(_workbook(tmp_path / "a.xlsx"), year=2022)
    untitled = _workbook(tmp_path / "b.xlsx", title=None)
    with pytest.raises(InputError, match=r"b\.xlsx: the file does not say its election year"):
        read_election_districts(untitled)
    result = read_election_districts(untitled, year=2022)
    assert result.districts["year"].unique().tolist() == [2022]
    assert result.notes[0] == "election year 2022 as given (the file does not say)"


def test_other_files_are_not_taken_for_election_files(tmp_path: Path) -> None:
    text = tmp_path / "r.xlsx"
    text.write_text("LÄNSKOD;KOMMUNKOD\n", encoding="utf-8")
    assert not is_election_authority_file(text)
    assert not is_election_authority_file(tmp_path / "absent.xlsx")
    with pytest.raises(InputError, match="not a readable xlsx workbook"):
        read_election_districts(text)
