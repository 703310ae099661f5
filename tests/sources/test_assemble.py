"""Assembling sources into the input contract: vintages, coverage, suppressed cells."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from areascreen.contract import INPUT_COLUMNS
from areascreen.sources.assemble import (
    AssemblyError,
    SourceFrame,
    assemble,
    normalise_areas,
    split_vintage,
)
from areascreen.sources.config import SourcesConfig, load_config


def _frame(codes: list[str], values: list[float | None], **variables: str) -> pd.DataFrame:
    """A long frame for one variable value per area."""
    return pd.DataFrame(
        {
            "area": codes,
            "year": 2018,
            **{var: value for var, value in variables.items()},
            "value": pd.array(values, dtype="Float64"),
            "status": pd.array([None if v is not None else ".." for v in values], dtype="string"),
        }
    )


def _measures(codes: list[str], **columns: list[float | None]) -> pd.DataFrame:
    """A long file-source frame with one measure per count column."""
    return pd.concat(
        [_frame(codes, values, measure=name) for name, values in columns.items()],
        ignore_index=True,
    )


def _sources(codes: list[str], vintage: str = "DeSO2018") -> dict[str, SourceFrame]:
    """Every source of the test sources file, as frames for the given codes."""
    n = len(codes)
    employment = pd.concat(
        [
            _frame(codes, [10.0] * n, Sysselsattning="FÖRV"),
            _frame(codes, [20.0] * n, Sysselsattning="total"),
        ],
        ignore_index=True,
    )
    education = pd.concat(
        [
            _frame(codes, [float(i)] * n, UtbildningsNiva=lvl)
            for i, lvl in enumerate(["21", "3+4", "5", "6", "US"], start=1)
        ],
        ignore_index=True,
    )
    return {
        "population": SourceFrame(
            "population",
            "TAB6574",
            vintage,
            _frame(codes, [100.0] * n, Alder="totalt"),
            {c: f"Area {c[-4:]}" for c in codes},
        ),
        "employment": SourceFrame("employment", "TAB683", vintage, employment),
        "education": SourceFrame("education", "TAB5956", vintage, education),
        "long_term_unemployment": SourceFrame(
            "long_term_unemployment",
            "ltu.csv",
            vintage,
            _measures(codes, long_term_unemployed=[1.0] * n, population_16_64=[30.0] * n),
        ),
        "voter_turnout": SourceFrame(
            "voter_turnout",
            "votes.csv",
            vintage,
            _measures(codes, voters=[7.0] * n, eligible_voters=[9.0] * n),
        ),
    }


@pytest.fixture
def config(write_sources: Callable[..., Path]) -> SourcesConfig:
    """The test sources file."""
    return load_config(write_sources())


def test_split_vintage() -> None:
    assert split_vintage("0180C3750_DeSO2025") == ("0180C3750", "DeSO2025")
    assert split_vintage("0114R001_RegSO2025") == ("0114R001", "RegSO2025")
    assert split_vintage("0114A0010") == ("0114A0010", None)


def test_assembles_one_row_per_area_in_contract_order(config: SourcesConfig) -> None:
    table, report = assemble(config, _sources(["1280C1010", "0114A0010"]))
    assert list(table.columns) == list(INPUT_COLUMNS)
    assert table["area_code"].tolist() == ["0114A0010", "1280C1010"]
    assert table["area_name"].tolist() == ["Area 0010", "Area 1010"]
    assert table["municipality_code"].tolist() == ["0114", "1280"]
    assert table.loc[0, ["population", "employed", "population_20_64"]].tolist() == [100, 10, 20]
    assert table.loc[0, ["low_educated", "population_25_64", "voters"]].tolist() == [1, 15, 7]
    assert str(table["employed"].dtype) == "Int64"
    assert report.area_vintage == "DeSO2018" and report.suppressed == {} and report.rows == 2


def test_deso2025_suffix_is_stripped_and_the_vintage_recorded(config: SourcesConfig) -> None:
    config = dataclasses.replace(config, area_vintage="DeSO2025")
    sources = _sources(["0180C3750_DeSO2025", "0114A0010_DeSO2025"], vintage="DeSO2025")
    table, report = assemble(config, sources)
    assert table["area_code"].tolist() == ["0114A0010", "0180C3750"]
    assert report.area_vintage == "DeSO2025"


def test_mixed_vintages_within_a_table_are_an_error() -> None:
    source = SourceFrame(
        "population",
        "TAB6574",
        "DeSO2018",
        _frame(["0114A0010", "0114A0020_DeSO2025"], [1.0, 2.0], Alder="totalt"),
    )
    with pytest.raises(
        AssemblyError,
        match=r"Mixed area vintages in population \(TAB6574\): DeSO2018: 0114A0010; "
        r"DeSO2025: 0114A0020_DeSO2025",
    ):
        normalise_areas(source, "DeSO")


def test_suffix_contradicting_the_configured_vintage_is_an_error() -> None:
    source = SourceFrame(
        "education", "TAB5956", "DeSO2018", _frame(["0114A0010_DeSO2025"], [1.0], X="a")
    )
    with pytest.raises(AssemblyError, match=r"education \(TAB5956\) carries DeSO2025 area codes"):
        normalise_areas(source, "DeSO")


def test_mixed_vintages_across_sources_name_each_table(config: SourcesConfig) -> None:
    sources = _sources(["0114A0010"])
    sources["voter_turnout"] = dataclasses.replace(
        _sources(["0114A0010_DeSO2025"], vintage="DeSO2025")["voter_turnout"]
    )
    with pytest.raises(AssemblyError) as raised:
        assemble(config, sources)
    assert "Mixed area vintages across sources" in str(raised.value)
    assert "population (TAB6574) DeSO2018" in str(raised.value)
    assert "voter_turnout (votes.csv) DeSO2025" in str(raised.value)


def test_codes_of_another_level_are_refused() -> None:
    source = SourceFrame("p", "TAB6574", "DeSO2018", _frame(["0114", "0114A0010"], [1, 2], X="a"))
    with pytest.raises(AssemblyError, match=r"1 code\(s\) that are not DeSO codes: 0114$"):
        normalise_areas(source, "DeSO")


def test_an_area_missing_from_one_source_is_named(config: SourcesConfig) -> None:
    sources = _sources(["0114A0010", "0114A0020", "1280C1010"])
    sources["education"] = _sources(["0114A0010", "1280C1010"])["education"]
    with pytest.raises(AssemblyError) as raised:
        assemble(config, sources)
    message = str(raised.value)
    assert "1 area(s) in population (TAB6574) are absent from education (TAB5956): 0114A0020" in (
        message
    )
    assert "absent from population" not in message


def test_suppressed_cells_become_null_and_are_counted(config: SourcesConfig) -> None:
    sources = _sources(["0114A0010", "0114A0020"])
    education = sources["education"].frame.copy()
    first = education.index[education["area"] == "0114A0020"][:2]
    education.loc[first, "value"] = pd.NA
    education.loc[first, "status"] = ".."
    sources["education"] = dataclasses.replace(sources["education"], frame=education)
    table, report = assemble(config, sources)
    assert table["population_25_64"].isna().tolist() == [False, True]
    assert table["low_educated"].isna().tolist() == [False, True]
    assert report.suppressed["population_25_64"] == {
        "source": "education",
        "table": "TAB5956",
        "cells": 2,
        "areas": ["0114A0020"],
        "statuses": {"..": 2},
    }
    strict = dataclasses.replace(config, on_suppressed="error")
    with pytest.raises(AssemblyError, match=r"low_educated from education \(TAB5956\): 1 cell"):
        assemble(strict, sources)


def test_fractional_counts_are_refused(config: SourcesConfig) -> None:
    sources = _sources(["0114A0010"])
    sources["population"] = dataclasses.replace(
        sources["population"], frame=_frame(["0114A0010"], [10.5], Alder="totalt")
    )
    with pytest.raises(AssemblyError, match="population' has non-integer counts for 0114A0010"):
        assemble(config, sources)
