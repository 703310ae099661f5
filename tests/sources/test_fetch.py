"""fetch_year end to end against the loopback API: values, cache, offline reruns, pins."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from areascreen.contract import INPUT_COLUMNS
from areascreen.sources import (
    AssemblyError,
    CacheMissError,
    ConfigError,
    PinError,
    SourceFileError,
    fetch_year,
)
from areascreen.sources.config import FileSource
from areascreen.sources.fetch import read_file_source

from .conftest import DESO, EDUCATION_BODIES, EMPLOYMENT_BODIES, FILES, POPULATION_BODY, FakeApi

Writer = Callable[..., Path]


def _run(api: FakeApi, write_sources: Writer, tmp_path: Path, name: str, **kwargs: object):
    """fetch_year with the test sources file, a private cache and output path."""
    if "config_path" not in kwargs:
        kwargs["config_path"] = write_sources(api.base_url)
    return fetch_year(
        2018,
        cache_dir=tmp_path / "cache",
        out_path=tmp_path / name / "areas_2018.parquet",
        **kwargs,
    )


def test_fetch_assembles_the_contract_with_real_values(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    result = _run(api, write_sources, tmp_path, "online")
    frame = result.frame.set_index("area_code")
    assert list(result.frame.columns) == list(INPUT_COLUMNS)
    assert frame.index.tolist() == list(DESO)
    assert frame.loc["0114A0010", "area_name"] == "0114A0010 (Upplands Väsby)"
    assert frame.loc["1280C1020", "municipality_code"] == "1280"
    assert set(frame["year"]) == {2018}
    assert frame["population"].tolist() == [1890, 2145, 1632, 2210, 1755, 1980]
    assert frame.loc["0114A0020", ["employed", "population_20_64"]].tolist() == [930, 1210]
    assert frame.loc["1280C1020", ["employed", "population_20_64"]].tolist() == [734, 1150]
    assert frame.loc["1280B2030", ["low_educated", "population_25_64"]].tolist() == [410, 1300]
    assert frame.loc["0114A0010", ["long_term_unemployed", "population_16_64"]].tolist() == [
        25,
        1150,
    ]
    assert frame.loc["1280B2030", ["voters", "eligible_voters"]].tolist() == [812, 1423]
    assert pd.isna(frame.loc["1280B2030", "employed"])
    assert frame.loc["1280B2030", "population_20_64"] == 1302
    written = pd.read_parquet(result.path)
    pd.testing.assert_frame_equal(written, result.frame, check_dtype=False)


def test_manifest_lists_every_source_and_cache_file(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    result = _run(api, write_sources, tmp_path, "online")
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest == result.manifest
    sources = {s["name"]: s for s in manifest["sources"]}
    assert sources["population"]["table_id"] == "TAB6574"
    assert sources["population"]["updated"] == "2019-03-21T08:00:00Z"
    assert sources["employment"]["updated"] == "2019-11-20T08:00:00Z"
    assert [r["kind"] for r in sources["education"]["responses"]] == ["metadata"] + ["data"] * 3
    for response in sources["employment"]["responses"]:
        cached = tmp_path / "cache" / response["cache_file"]
        assert cached.is_file()
        assert response["cache_file"] == f"{response['request_key']}-{response['sha256']}.json"
    assert sources["voter_turnout"]["kind"] == "file"
    assert sources["voter_turnout"]["path"] == str(FILES / "voter_turnout_2018.csv")
    assert len(sources["voter_turnout"]["sha256"]) == 64
    assert manifest["area_vintage"] == "DeSO2018"
    assert manifest["suppressed"] == {
        "employed": {
            "source": "employment",
            "table": "TAB683",
            "cells": 1,
            "areas": ["1280B2030"],
            "statuses": {"..": 1},
        }
    }
    assert manifest["output"]["rows"] == 6


def test_offline_rerun_is_byte_identical_and_sends_nothing(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    online = _run(api, write_sources, tmp_path, "online")
    api.server.clear()
    offline = _run(api, write_sources, tmp_path, "offline", offline=True)
    assert offline.path.read_bytes() == online.path.read_bytes()
    assert offline.manifest["output"]["sha256"] == online.manifest["output"]["sha256"]
    assert len(api.server.log) == 0
    assert all(r["from_cache"] for s in offline.manifest["sources"] for r in s.get("responses", []))


def test_offline_without_a_cache_entry_names_the_request(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    with pytest.raises(CacheMissError) as raised:
        _run(api, write_sources, tmp_path, "offline", offline=True)
    message = str(raised.value)
    assert f"Offline: GET {api.base_url}/tables/TAB6574/metadata?lang=sv (table TAB6574" in message
    assert "Run once online" in message
    assert len(api.server.log) == 0


def test_a_revised_table_is_fetched_again_and_the_old_run_stays_pinnable(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    first = _run(api, write_sources, tmp_path, "first")
    api.server.clear()
    api.metadata("TAB6574", "TAB6574_metadata_revised.json")
    api.data("TAB6574", POPULATION_BODY, "TAB6574_data_revised.json")
    api.metadata("TAB683", "TAB683_metadata.json")
    api.metadata("TAB5956", "TAB5956_metadata.json")
    second = _run(api, write_sources, tmp_path, "second")
    assert len(api.posts("TAB6574")) == 1
    assert api.posts("TAB683") == [] and api.posts("TAB5956") == []
    assert second.frame.set_index("area_code").loc["0114A0010", "population"] == 1893
    updated = {s["name"]: s.get("updated") for s in second.manifest["sources"]}
    assert updated["population"] == "2020-04-01T08:00:00Z"
    assert updated["employment"] == "2019-11-20T08:00:00Z"
    cached = sorted(p.name for p in (tmp_path / "cache").glob("*.meta.json"))
    assert len(cached) == 2 + 3 + 4 + 2 + 1  # both population versions kept, and /config
    api.server.clear()
    pinned = _run(api, write_sources, tmp_path, "pinned", pin=first.manifest_path)
    assert pinned.path.read_bytes() == first.path.read_bytes()
    assert pinned.frame.set_index("area_code").loc["0114A0010", "population"] == 1890
    latest = _run(api, write_sources, tmp_path, "latest", offline=True)
    assert latest.path.read_bytes() == second.path.read_bytes()
    assert len(api.server.log) == 0


def test_a_region_missing_from_one_table_is_named(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.metadata("TAB6574", "TAB6574_metadata.json")
    api.data("TAB6574", POPULATION_BODY, "TAB6574_data.json")
    api.metadata("TAB683", "TAB683_metadata.json")
    for n, body in enumerate(EMPLOYMENT_BODIES, start=1):
        api.data("TAB683", body, f"TAB683_data_chunk{n}.json")
    api.metadata("TAB5956", "TAB5956_metadata.json")
    api.data("TAB5956", EDUCATION_BODIES[0], "TAB5956_data_chunk1.json")
    api.data("TAB5956", EDUCATION_BODIES[1], "TAB5956_data_chunk2.json")
    api.data("TAB5956", EDUCATION_BODIES[2], "TAB5956_data_chunk3_missing_region.json")
    with pytest.raises(AssemblyError) as raised:
        _run(api, write_sources, tmp_path, "online")
    assert (
        "1 area(s) in population (TAB6574) are absent from education (TAB5956): 1280C1020"
        in str(raised.value)
    )


def test_suppressed_cells_can_stop_the_run(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    config = write_sources(api.base_url, on_suppressed="error")
    with pytest.raises(AssemblyError) as raised:
        _run(api, write_sources, tmp_path, "online", config_path=config)
    assert "employed from employment (TAB683): 1 cell(s) in 1 area(s): 1280B2030" in str(
        raised.value
    )


def test_a_changed_file_source_breaks_the_pin(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for name in ("long_term_unemployment_2018.csv", "voter_turnout_2018.csv"):
        (files / name).write_bytes((FILES / name).read_bytes())
    config = write_sources(api.base_url, files=files)
    api.standard_year()
    first = _run(api, write_sources, tmp_path, "first", config_path=config)
    votes = files / "voter_turnout_2018.csv"
    votes.write_text(votes.read_text().replace("1201,1402", "1202,1402"))
    with pytest.raises(PinError, match=r"'voter_turnout' at .* has changed since the pinned run"):
        _run(api, write_sources, tmp_path, "pinned", config_path=config, pin=first.manifest_path)


def test_a_missing_file_source_is_named(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    config = write_sources(api.base_url, files=tmp_path / "nowhere")
    with pytest.raises(SourceFileError, match=r"'long_term_unemployment': no file at .*nowhere"):
        _run(api, write_sources, tmp_path, "online", config_path=config)


def test_the_year_must_match_the_sources_file(write_sources: Writer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is the sources file for 2018, not 2019"):
        fetch_year(2019, config_path=write_sources(), cache_dir=tmp_path)


def _file_source(path: Path, **columns: str) -> FileSource:
    """A voter-turnout file source reading `path`."""
    return FileSource(
        name="voter_turnout",
        path=path,
        file_format="parquet" if path.suffix == ".parquet" else "csv",
        columns={"area_code": "deso", "voters": "rostande", "eligible_voters": "rostberattigade"}
        | columns,
        vintage="DeSO2018",
        separator=",",
        encoding="utf-8",
        description="",
        confirmed=False,
    )


def test_file_source_blank_and_dotdot_cells_are_suppressed(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    path.write_text("deso,rostande,rostberattigade\n0114A0010,..,1402\n0114A0020,1388,\n")
    frame = read_file_source(_file_source(path), 2018).frame.frame
    voters = frame[frame["measure"] == "voters"].set_index("area")
    eligible = frame[frame["measure"] == "eligible_voters"].set_index("area")
    assert pd.isna(voters.loc["0114A0010", "value"]) and voters.loc["0114A0010", "status"] == ".."
    assert voters.loc["0114A0020", "value"] == 1388
    assert eligible["value"].isna().tolist() == [False, True]


def test_file_source_in_parquet_and_a_non_numeric_cell(tmp_path: Path) -> None:
    table = pd.read_csv(FILES / "voter_turnout_2018.csv", dtype={"deso": str})
    table.to_parquet(tmp_path / "votes.parquet")
    fetched = read_file_source(_file_source(tmp_path / "votes.parquet"), 2018)
    values = fetched.frame.frame.set_index(["area", "measure"])["value"]
    assert values[("1280C1020", "eligible_voters")] == 1480
    assert fetched.record["rows"] == 6
    bad = tmp_path / "bad.csv"
    bad.write_text("deso,rostande,rostberattigade\n0114A0010,many,1402\n")
    with pytest.raises(SourceFileError, match=r"'rostande' is not numeric for area\(s\) 0114A0010"):
        read_file_source(_file_source(bad), 2018)
