"""The project's rules on real reference data: every real DeSO 2018 and RegSO 2020 code passes
the input gate with the right municipality, and turnout computed from the Election Authority's
own counts. Skips when ../shared is absent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from areascreen import db
from areascreen.contract import INPUT_COLUMNS
from areascreen.flag import flag_areas, load_areas
from areascreen.load import LoadedInput
from areascreen.paths import MUNICIPALITIES_CSV, ruleset_path
from areascreen.ruleset import load_ruleset
from areascreen.validate import code_parts, validate_input

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


def gate(frame: pd.DataFrame, name: str) -> None:
    loaded = LoadedInput(
        frame=frame, path=Path(name), file_format="parquet", encoding=None, column_map_used={}
    )
    validate_input(loaded)


def test_every_real_deso_code_passes_the_gate_with_its_municipality(area_key):
    codes, municipalities = area_key["DeSO_2018"], area_key["Kommun"]
    assert len(codes) == codes.nunique() >= 5983
    prefixes, kinds = code_parts(codes)
    assert (prefixes == municipalities).all() and set(kinds) == {"DeSO"}
    gate(contract_frame(codes, municipalities), "real_deso_2018.parquet")


def test_every_real_regso_code_passes_the_gate_with_its_municipality(area_key):
    regso = area_key.drop_duplicates("RegSOkod_2020")
    assert len(regso) == 3363
    prefixes, kinds = code_parts(regso["RegSOkod_2020"])
    assert (prefixes.to_numpy() == regso["Kommun"].to_numpy()).all() and set(kinds) == {"RegSO"}
    gate(contract_frame(regso["RegSOkod_2020"], regso["Kommun"]), "real_regso_2020.parquet")


def test_every_real_municipality_of_the_key_is_in_the_reference_list(area_key):
    ours = set(pd.read_csv(MUNICIPALITIES_CSV, dtype=str)["municipality_code"])
    assert set(area_key["Kommun"]) <= ours and len(set(area_key["Kommun"])) == 290


def test_turnout_from_the_election_authority_counts(shared_reference: Path):
    results = pd.read_excel(
        shared_reference / "valmyndigheten_riksdag2018_per_valdistrikt.xlsx", sheet_name="R antal"
    )
    voters, eligible = results["RÖSTANDE"].astype("int64"), results["RÖSTBERÄTTIGADE"]
    codes = results["LÄNSKOD"].map("{:02d}".format) + results["KOMMUNKOD"].map("{:02d}".format)
    # Election districts stand in for areas: only the turnout counts are given.
    frame = contract_frame(codes.index.astype(str).to_series(), codes)
    frame["population"] = eligible.to_numpy()
    frame["voters"], frame["eligible_voters"] = voters.to_numpy(), eligible.to_numpy()
    con = db.connect()
    load_areas(con, frame)
    flag_areas(con, load_ruleset(ruleset_path(2018)))
    turnout = con.table("national_averages").df().set_index("indicator").loc["voter_turnout"]
    # The 321 collection districts hold late votes and no eligible voters: no rate of their own.
    assert turnout["areas_suppressed"] == 321 and turnout["areas_known"] == 6004
    assert turnout["national_average"] == pytest.approx(84.48, abs=0.005)
    # Over every row, late votes included, the national turnout is the published 87.18 %.
    assert 100 * voters.sum() / eligible.sum() == pytest.approx(87.18, abs=0.005)
