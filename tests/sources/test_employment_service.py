"""The Public Employment Service's job-seeker statistics per area: dates, mean, suppression."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from areascreen.errors import InputError
from areascreen.sources.employment_service import read_job_seekers

HEADER = "Område;Referensdatum;Ålder;Öppet arbetslösa;Sökande i program;Befolkning"
ROWS = [
    "0114A0010;2018-03-31;18-64;41;22;1150",
    "0114A0010;2018-10-31;18-64;36;25;1162",
    "0114A0010;2018-03-31;16-17;..;..;80",
    "1280B2030;2018-03-31;18-64;120;..;1480",
    "1280B2030;2018-10-31;18-64;111;58;1473",
    "1280C1010;2018-03-31;18-64;-;4;1160",
    "1280C1010;2018-10-31;18-64;3;-;1158",
]


def _delivery(tmp_path: Path, rows: list[str] = ROWS, header: str = HEADER) -> Path:
    path = tmp_path / "arbetssokande_2018.csv"
    path.write_bytes("\r\n".join([header, *rows]).encode("windows-1252"))
    return path


def test_one_reference_date(tmp_path: Path) -> None:
    result = read_job_seekers(_delivery(tmp_path), year=2018, reference="10-31")
    frame = result.frame.set_index("area_code")
    assert frame.index.tolist() == ["0114A0010", "1280B2030", "1280C1010"]
    assert frame.loc["0114A0010"].tolist() == [2018, 36, 25, 1162]
    assert frame.loc["1280C1010", "in_programmes"] == 0  # "-" is a true zero


def test_the_mean_of_the_two_dates_is_null_where_either_is_suppressed(tmp_path: Path) -> None:
    result = read_job_seekers(_delivery(tmp_path), year=2018)
    frame = result.frame.set_index("area_code")
    assert frame.loc["0114A0010", ["openly_unemployed", "in_programmes"]].tolist() == [39, 24]
    assert frame.loc["0114A0010", "population_18_64"] == 1156
    assert frame.loc["1280B2030", "openly_unemployed"] == 116  # (120 + 111) / 2 rounded up
    assert frame["in_programmes"].isna().tolist() == [False, True, False]
    assert result.notes[1] == (
        "suppressed (NULL) per count: openly_unemployed 0, in_programmes 1, population_18_64 0"
    )


def test_an_xlsx_delivery_reads_the_same(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in [HEADER, *ROWS]:
        sheet.append(line.split(";"))
    book.save(tmp_path / "a.xlsx")
    csv = read_job_seekers(_delivery(tmp_path), year=2018).frame
    xlsx = read_job_seekers(tmp_path / "a.xlsx", year=2018).frame
    assert xlsx.equals(csv)


def test_typical_faults_are_named(tmp_path: Path) -> None:
    renamed = _delivery(tmp_path, header=HEADER.replace("Befolkning", "Bef 18-64"))
    with pytest.raises(InputError, match=r"no column 'Befolkning' \(population_18_64\)"):
        read_job_seekers(renamed, year=2018)
    wrong_date = _delivery(tmp_path, [ROWS[0].replace("03-31", "06-30"), *ROWS[1:]])
    with pytest.raises(
        InputError, match=r"2018-03-31 or 2018-10-31; not so in row 2 \('2018-06-30'\)"
    ):
        read_job_seekers(wrong_date, year=2018)
    text = _delivery(tmp_path, [ROWS[0].replace(";41;", ";fyrtio;"), *ROWS[1:]])
    with pytest.raises(
        InputError, match=r"'Öppet arbetslösa' \(openly_unemployed\) must hold whole"
    ):
        read_job_seekers(text, year=2018)
    with pytest.raises(InputError, match="only one reference date: 1280C1010"):
        read_job_seekers(_delivery(tmp_path, ROWS[:-1]), year=2018)
    with pytest.raises(InputError, match="repeated: 0114A0010 03-31"):
        read_job_seekers(_delivery(tmp_path, [ROWS[0], *ROWS]), year=2018)
    with pytest.raises(InputError, match="reference must be one of 03-31, 10-31, mean"):
        read_job_seekers(_delivery(tmp_path), year=2018, reference="december")
