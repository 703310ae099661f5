"""Loading and validating `data/sources/<year>.toml`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from areascreen.contract import COUNT_COLUMNS
from areascreen.sources.config import (
    ConfigError,
    FileSource,
    PxWebSource,
    load_config,
    sources_config_path,
)


def test_the_shipped_2018_sources_file_is_valid() -> None:
    config = load_config(sources_config_path(2018))
    assert config.year == 2018
    assert (config.area_level, config.area_vintage) == ("DeSO", "DeSO2018")
    assert config.api.max_cells == 150_000
    assert (config.api.max_calls, config.api.window_seconds) == (30, 10.0)
    tables = {n: s.table_id for n, s in config.sources.items() if isinstance(s, PxWebSource)}
    assert tables == {"population": "TAB6574", "employment": "TAB683", "education": "TAB5956"}
    files = {n for n, s in config.sources.items() if isinstance(s, FileSource)}
    assert files == {"long_term_unemployment", "voter_turnout"}
    assert not any(s.confirmed for s in config.sources.values())
    assert tuple(spec.column for spec in config.columns) == COUNT_COLUMNS
    by_column = {spec.column: spec for spec in config.columns}
    assert by_column["low_educated"].cells == {"UtbildningsNiva": ("21",)}
    assert by_column["employed"].source == "employment"
    assert by_column["voters"].source == "voter_turnout"


def test_file_paths_are_read_from_the_config_folder(write_sources: Callable[..., Path]) -> None:
    path = write_sources(files=Path("files"))
    config = load_config(path)
    assert config.sources["voter_turnout"].path == path.parent / "files" / "voter_turnout_2018.csv"


def _edited(write_sources: Callable[..., Path], old: str, new: str) -> Path:
    """The test sources file with one text replacement."""
    path = write_sources()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'table_id = "TAB683"',
            'tabel_id = "TAB683"',
            r"Unknown key 'sources\.employment\.tabel_id'",
        ),
        ("max_calls = 30", 'max_calls = "30"', r"Key 'api\.max_calls' must be an integer, got str"),
        (
            "max_cells = 10",
            "max_cells = 1.5",
            r"Key 'api\.max_cells' must be an integer, got float",
        ),
        ("year = 2018", "yeer = 2018", r"Unknown key 'yeer'"),
        ("[api]", "[api]\nproxy = 1", r"Unknown key 'api\.proxy'"),
        (
            'area_level = "DeSO"',
            'area_level = "Kommun"',
            r"'area_level' must be one of DeSO, RegSO",
        ),
        (
            'Alder = ["totalt"], Kon',
            'Alder = "totalt", Kon',
            r"'sources\.population\.selection\.Alder' must be a non-empty list of strings",
        ),
        (
            "[indicators.voter_turnout]",
            "[indicators.turnout]\nnumerator = {}\n[indicators.voter_turnout]",
            r"Unknown key 'indicators\.turnout'",
        ),
        (
            'numerator = { source = "voter_turnout" }',
            'numerator = { source = "valmyndigheten" }',
            r"'indicators\.voter_turnout\.numerator\.source' names unknown source 'valmyndigheten'",
        ),
        (
            'numerator = { source = "employment", cells = { Sysselsattning = ["FÖRV"] } }',
            'numerator = { source = "employment" }',
            r"'indicators\.employment_rate\.numerator\.cells\.Sysselsattning' is required",
        ),
        (
            'cells = { UtbildningsNiva = ["21"] }',
            'cells = { UtbildningsNiva = ["2"] }',
            r"'indicators\.low_education_rate\.numerator\.cells\.UtbildningsNiva': 2 not in",
        ),
        (
            'voters = "rostande", ',
            "",
            r"Missing key 'sources\.voter_turnout\.columns\.voters'",
        ),
        (
            'columns = { area_code = "deso", voters',
            'columns = { area_code = "deso", votes = "x", voters',
            r"Unknown key 'sources\.voter_turnout\.columns\.votes'",
        ),
    ],
)
def test_bad_keys_and_types_are_named(
    write_sources: Callable[..., Path], old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_edited(write_sources, old, new))


def test_a_missing_indicator_is_named(write_sources: Callable[..., Path]) -> None:
    path = write_sources()
    text = path.read_text()
    start = text.index("[indicators.voter_turnout]")
    path.write_text(text[:start])
    with pytest.raises(ConfigError, match=r"Missing key 'indicators\.voter_turnout'"):
        load_config(path)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No sources file"):
        load_config(tmp_path / "1999.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("year = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
