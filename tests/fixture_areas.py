"""A hand-made table of 15 areas in 5 municipalities, with the results worked out by hand.

Thresholds of the 2018 ruleset: employment rate below 60 %, long-term unemployment above 10 %,
low education above 28 %, voter turnout below 75 %; minimum population 200. Every denominator
is 1,000 (100 for the small area), so a numerator of 600 is a rate of exactly 60 %.

| area | emp | ltu | edu | vote | crossed | all four | at least 3 |
|---|---|---|---|---|---|---|---|
| 0180C1010 Stockholm | 50 x | 15 x | 35 x | 60 x | 4 | selected | selected |
| 0180C1020 | 60 = (not) | 15 x | 35 x | 60 x | 3 | too few | selected |
| 0180C1030 | 80 | 3 | 10 | 90 | 0 | too few | too few |
| 1280C1010 Malmö | 55 x | 10 = | 28 = | 75 = | 1 | too few | too few |
| 1280C1020 | 59.9 x | 10.1 x | 28.1 x | 74.9 x | 4 | selected | selected |
| 1280C1030 (150 residents) | 40 x | 20 x | 40 x | 50 x | 4 | below minimum | below minimum |
| 1880C1010 Örebro | 45 x | .. | 40 x | 55 x | 3 + 1 unknown | undetermined | selected |
| 1880C1020 | 52 x | 5 | 30 x | 70 x | 3 | too few | selected |
| 1880C1030 | 85 | 2 | 12 | 88 | 0 | too few | too few |
| 0127C1010 Botkyrka | 48 x | 12 x | 33 x | 62 x | 4 | selected | selected |
| 0127C1020 | 51 x | 11 x | 31 x | 68 x | 4 | selected | selected |
| 0127C1030 | 58 x | 4 | 20 | 72 x | 2 | too few | too few |
| 2380C1010 Östersund | .. | 14 x | 32 x | 80 | 2 + 1 unknown | too few | undetermined |
| 2380C1020 | 75 | 6 | 15 | 85 | 0 | too few | too few |
| 2380A0010 | 78 | 3 | 11 | 89 | 0 | too few | too few |
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from areascreen import db
from areascreen.contract import INPUT_COLUMNS
from areascreen.flag import flag_areas, load_areas
from areascreen.paths import ruleset_path
from areascreen.rollup import roll_up
from areascreen.ruleset import Ruleset, parse_ruleset

NAMES = {
    "0180": "Stockholm",
    "1280": "Malmö",
    "1880": "Örebro",
    "0127": "Botkyrka",
    "2380": "Östersund",
}

# area code, population, employed, long-term unemployed, low educated, voters (None = suppressed)
ROWS = [
    ("0180C1010", 2100, 500, 150, 350, 600),
    ("0180C1020", 1900, 600, 150, 350, 600),
    ("0180C1030", 2500, 800, 30, 100, 900),
    ("1280C1010", 2000, 550, 100, 280, 750),
    ("1280C1020", 1800, 599, 101, 281, 749),
    ("1280C1030", 150, 40, 20, 40, 50),
    ("1880C1010", 2200, 450, None, 400, 550),
    ("1880C1020", 2000, 520, 50, 300, 700),
    ("1880C1030", 2400, 850, 20, 120, 880),
    ("0127C1010", 2300, 480, 120, 330, 620),
    ("0127C1020", 2600, 510, 110, 310, 680),
    ("0127C1030", 2000, 580, 40, 200, 720),
    ("2380C1010", 1500, None, 140, 320, 800),
    ("2380C1020", 1700, 750, 60, 150, 850),
    ("2380A0010", 1200, 780, 30, 110, 890),
]

POPULATION = {code: population for code, population, *_ in ROWS}

SELECTED_ALL_FOUR = ["0127C1010", "0127C1020", "0180C1010", "1280C1020"]
STATUS_ALL_FOUR = {
    "0180C1010": "selected",
    "0180C1020": "too_few_criteria_crossed",
    "0180C1030": "too_few_criteria_crossed",
    "1280C1010": "too_few_criteria_crossed",
    "1280C1020": "selected",
    "1280C1030": "below_minimum_population",
    "1880C1010": "undetermined_suppressed",
    "1880C1020": "too_few_criteria_crossed",
    "1880C1030": "too_few_criteria_crossed",
    "0127C1010": "selected",
    "0127C1020": "selected",
    "0127C1030": "too_few_criteria_crossed",
    "2380C1010": "too_few_criteria_crossed",
    "2380C1020": "too_few_criteria_crossed",
    "2380A0010": "too_few_criteria_crossed",
}
STATUS_AT_LEAST_THREE = {
    **STATUS_ALL_FOUR,
    "0180C1020": "selected",
    "1880C1010": "selected",
    "1880C1020": "selected",
    "2380C1010": "undetermined_suppressed",
}
CROSSED = {
    "0180C1010": 4, "0180C1020": 3, "0180C1030": 0, "1280C1010": 1, "1280C1020": 4,
    "1280C1030": 4, "1880C1010": 3, "1880C1020": 3, "1880C1030": 0, "0127C1010": 4,
    "0127C1020": 4, "0127C1030": 2, "2380C1010": 2, "2380C1020": 0, "2380A0010": 0,
}  # fmt: skip


def fixture_frame(year: int = 2018) -> pd.DataFrame:
    """The fixture as a table of the input contract."""
    records = []
    for code, population, employed, unemployed, low_educated, voters in ROWS:
        base = 100 if population < 200 else 1000
        records.append(
            {
                "area_code": code,
                "area_name": f"Fixture area {code}",
                "municipality_code": code[:4],
                "year": year,
                "population": population,
                "employed": employed,
                "population_20_64": base,
                "long_term_unemployed": unemployed,
                "population_16_64": base,
                "low_educated": low_educated,
                "population_25_64": base,
                "voters": voters,
                "eligible_voters": base,
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(INPUT_COLUMNS))
    for column in INPUT_COLUMNS[3:]:
        frame[column] = frame[column].astype("Int64")
    return frame


def fixture_ruleset(folder: Path, year: int = 2018, **replacements: str) -> Path:
    """The 2018 ruleset for the fixture: one area in 15 suppressed per criterion is 6.7 %,
    so the suppression limit is raised from 5 % to 10 %. Extra replacements: old=new text."""
    text = ruleset_path(2018).read_text(encoding="utf-8")
    text = text.replace("year = 2018", f"year = {year}")
    text = text.replace("max_suppressed_share = 0.05", "max_suppressed_share = 0.10")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fixture_ruleset_{year}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fixture_document(year: int = 2018) -> dict[str, Any]:
    """The 2018 ruleset as a parsed TOML document, with the fixture's suppression limit."""
    document = tomllib.loads(ruleset_path(2018).read_text(encoding="utf-8"))
    document["year"] = year
    document["quality"]["max_suppressed_share"] = 0.10
    return document


def fixture_rules(year: int = 2018, **tables: Any) -> Ruleset:
    """The fixture's ruleset with some keys changed: a table given as a dict is merged into the
    ruleset's table of that name (e.g. selection={"criteria_required": 3}); anything else
    (e.g. criteria=[...]) replaces the key."""
    document = fixture_document(year)
    for key, value in tables.items():
        if isinstance(value, dict) and isinstance(document.get(key), dict):
            document[key] = {**document[key], **copy.deepcopy(value)}
        else:
            document[key] = copy.deepcopy(value)
    return parse_ruleset(document, Path(f"fixture_rules_{year}.toml"))


def criterion(indicator: str, direction: str, threshold: Any, **more: Any) -> dict[str, Any]:
    """A [[criteria]] entry as a TOML table."""
    return {"indicator": indicator, "direction": direction, "threshold": threshold, **more}


def screened(frame: pd.DataFrame, ruleset: Ruleset) -> duckdb.DuckDBPyConnection:
    """A database holding the whole screening of `frame` (flag and roll-up)."""
    con = db.connect()
    load_areas(con, frame, ruleset)
    flag_areas(con, ruleset)
    roll_up(con, ruleset)
    return con
