"""The project's rules on real reference data: every real DeSO 2018 and RegSO 2020 code passes
the input gate with the right municipality, and turnout computed from the Election Authority's
own counts. Skips when ../shared is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from areascreen.cli import main
from areascreen.contract import INPUT_COLUMNS
from areascreen.divisions import load_division
from areascreen.election_data import ELECTION_DATASET
from areascreen.load import LoadedInput
from areascreen.paths import MUNICIPALITIES_CSV, ruleset_path
from areascreen.ruleset import load_ruleset
from areascreen.validate import validate_input

PLAIN_COUNTS = {
    "population": 1500,
    "employed": 640,
    "population_20_64": 820,
    "long_term_unemployed": 30,
    "population_16_64": 900,
    "low_educated": 110,
    "population_25_64": 760,
    "voters": 1000,
    "eligible_voters": 1150,
}


@pytest.fixture(scope="module")
def area_key(shared_reference: Path) -> pd.DataFrame:
    """Statistics Sweden's key from DeSO 2018 to RegSO 2020 and municipality."""
    return pd.read_csv(shared_reference / "deso2018_regso2020.csv", dtype=str, encoding="utf-8-sig")


def contract_frame(codes: pd.Series, municipalities: pd.Series) -> pd.DataFrame:
    """Plain, valid counts on real area codes."""
    frame = pd.DataFrame(
        {"area_code": codes.to_numpy(), "municipality_code": municipalities.to_numpy()}
    )
    frame["area_name"] = "Area " + frame["area_code"]
    frame["year"] = 2018
    for column, value in PLAIN_COUNTS.items():
        frame[column] = value
    frame = frame[list(INPUT_COLUMNS)]
    for column in INPUT_COLUMNS[3:]:
        frame[column] = frame[column].astype("Int64")
    return frame


def division_check(codes: pd.Series, municipalities: pd.Series, name: str) -> None:
    """Every code has the division's form, is in its list and names its municipality."""
    division = load_division(name)
    known = division.known_codes()
    assert all(division.is_valid_form(code) for code in codes)
    assert known is not None and set(codes) <= known
    derived = [division.municipality_of(code) for code in codes]
    assert derived == list(municipalities)


def gate(frame: pd.DataFrame, name: str) -> None:
    loaded = LoadedInput(
        data=frame, path=Path(name), file_format="parquet", encoding=None, column_map_used={}
    )
    validate_input(loaded, load_ruleset(ruleset_path(2018)))


def test_every_real_deso_code_passes_the_gate_with_its_municipality(area_key):
    codes, municipalities = area_key["DeSO_2018"], area_key["Kommun"]
    assert len(codes) == codes.nunique() >= 5983
    division_check(codes, municipalities, "deso2018")
    gate(contract_frame(codes, municipalities), "real_deso_2018.parquet")


def test_every_real_regso_code_passes_the_gate_with_its_municipality(area_key):
    regso = area_key.drop_duplicates("RegSOkod_2020")
    assert len(regso) == 3363
    division_check(regso["RegSOkod_2020"], regso["Kommun"], "regso2020")


def test_every_real_municipality_of_the_key_is_in_the_reference_list(area_key):
    ours = set(pd.read_csv(MUNICIPALITIES_CSV, dtype=str)["municipality_code"])
    assert set(area_key["Kommun"]) <= ours and len(set(area_key["Kommun"])) == 290


ELECTION_FILE = "valmyndigheten_riksdag2018_per_valdistrikt.xlsx"
TURNOUT_RULESET = "2018-election-districts-turnout"


def test_the_election_authority_file_screens_as_published(shared_reference: Path, tmp_path: Path):
    results = pd.read_excel(shared_reference / ELECTION_FILE, sheet_name="R antal")
    voters, eligible = results["RÖSTANDE"].astype("int64"), results["RÖSTBERÄTTIGADE"]
    districts = eligible > 0
    code = main(
        [
            "run", "--year", "2018", "--input", str(shared_reference / ELECTION_FILE),
            "--ruleset", TURNOUT_RULESET, "--out", str(tmp_path),
        ]
    )  # fmt: skip
    assert code == 0
    folder = tmp_path / "2018-election-districts-turnout-2018"
    averages = pd.read_csv(folder / "national_averages.csv").iloc[0]
    # The 321 collection districts are no areas, but their late votes count nationally.
    assert averages["rows_national_only"] == 321 == (~districts).sum()
    assert averages["areas_known"] == 6004
    assert averages["national_average"] == pytest.approx(87.18, abs=0.005)
    assert averages["numerator_total"] == voters.sum()
    # Over the districts alone the turnout is 84.48 %.
    assert 100 * voters[districts].sum() / eligible[districts].sum() == pytest.approx(
        84.48, abs=0.005
    )
    areas = pd.read_parquet(folder / "area_results.parquet")
    expected = 100 * voters[districts] < 75 * eligible[districts]
    expected &= eligible[districts] >= 200
    assert int(areas["selected"].sum()) == int(expected.sum())
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "321 collection districts with 0 eligible voters" in summary
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input"]["rows_counted_nationally_only"] == 321


def test_the_embedded_election_dataset_holds_the_published_counts(shared_reference: Path):
    results = pd.read_excel(shared_reference / ELECTION_FILE, sheet_name="R antal")
    embedded = pd.read_parquet(ELECTION_DATASET)
    assert len(embedded) == len(results) == 6325
    assert embedded["voters"].sum() == results["RÖSTANDE"].sum()
    assert embedded["eligible_voters"].sum() == results["RÖSTBERÄTTIGADE"].sum()
    assert (embedded["area_code"].str.len() == 8).all()
