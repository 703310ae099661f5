"""The PxWeb client against responses in the shapes PxWebApi 2.0 really sends.

Nil (`-`) is a true zero, dot-runs are suppressed, limits come from `GET /config`, problems lack
`detail`, "Too many cells selected" is a 400, a 429 may be plain text, metadata lacks role.geo.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from areascreen.sources import fetch_year
from areascreen.sources.cache import ResponseCache
from areascreen.sources.config import ApiSettings
from areascreen.sources.fetch import perturbation
from areascreen.sources.jsonstat import load_dataset
from areascreen.sources.pxweb import (
    PxWebClient,
    PxWebHTTPError,
    PxWebSelectionError,
    PxWebTransientError,
    fetch_table,
    resolve_selection,
)

from .conftest import (
    API_PREFIX,
    DESO,
    EDUCATION_BODIES,
    FakeApi,
    education_source,
    response_bytes,
    response_json,
)

Writer = Callable[..., Path]
DATA_PATH = f"{API_PREFIX}/tables/TAB5956/data"


def _client(base_url: str, tmp_path: Path, **limits: object) -> PxWebClient:
    """A client that records its sleeps instead of sleeping."""
    settings = dataclasses.replace(
        ApiSettings(base_url=base_url, max_retries=2, backoff_base_seconds=0.5), **limits
    )
    return PxWebClient(settings, cache=ResponseCache(tmp_path), sleep=lambda _: None)


def _fetch(api: FakeApi, write_sources: Writer, tmp_path: Path, name: str, **kwargs: object):
    """fetch_year with the test sources file."""
    if "config_path" not in kwargs:
        kwargs["config_path"] = write_sources(api.base_url)
    return fetch_year(
        2018, cache_dir=tmp_path / "cache", out_path=tmp_path / name / "a.parquet", **kwargs
    )


# --- cell symbols -----------------------------------------------------------------------------


def _two_by_three(values: list[object], status: dict[str, str]) -> pd.DataFrame:
    """A six-cell dataset as a frame."""
    document = {
        "version": "2.0",
        "class": "dataset",
        "id": ["Region", "Tid"],
        "size": [6, 1],
        "dimension": {
            "Region": {"category": {"index": list(DESO)}},
            "Tid": {"category": {"index": ["2018"]}},
        },
        "value": values,
        "status": status,
    }
    return load_dataset(document, context="t").to_frame()


def test_nil_is_a_true_zero_and_every_dot_run_is_suppressed() -> None:
    frame = _two_by_three(
        [None, None, None, None, 7, None],
        {"0": "-", "1": ".", "2": "..", "3": "....", "4": "B", "5": "......"},
    )
    assert frame["value"].tolist()[0] == 0
    assert frame["value"].isna().tolist() == [False, True, True, True, False, True]
    assert frame["status"].tolist() == ["-", ".", "..", "....", "B", "......"]
    assert frame["value"].tolist()[4] == 7  # a note on a cell with a value keeps the value


def test_a_null_value_without_status_is_missing_and_nil_in_the_value_slot_is_zero() -> None:
    frame = _two_by_three([1, None, "-", 4, 5, 6], {})
    assert frame["value"].isna().tolist() == [False, True, False, False, False, False]
    assert frame["value"].tolist()[2] == 0
    assert frame["status"].tolist()[1:3] == ["..", "-"]


def test_a_nil_cell_counts_as_zero_in_the_assembled_table(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    result = _fetch(api, write_sources, tmp_path, "run")
    frame = result.frame.set_index("area_code")
    # 0114C1170: 95 + 380 + 140 + 220 + 0 (status "-"), not NULL
    assert frame.loc["0114C1170", "population_25_64"] == 835
    assert frame.loc["0114C1170", "low_educated"] == 95
    # a note ("*") on 1280B2030's first level keeps its value
    assert frame.loc["1280B2030", "low_educated"] == 410
    assert set(result.manifest["suppressed"]) == {"employed"}


# --- limits from GET /config ------------------------------------------------------------------


def test_limits_are_read_from_config_and_recorded(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()  # the server says maxDataCells = 10
    config_path = write_sources(api.base_url, max_cells=150_000)
    result = _fetch(api, write_sources, tmp_path, "run", config_path=config_path)
    assert len(api.posts("TAB5956")) == 3
    assert result.manifest["limits"] == {
        "max_cells": 10,
        "max_calls": 30,
        "window_seconds": 10.0,
        "origin": "server",
        "note": "",
    }
    education = {s["name"]: s for s in result.manifest["sources"]}["education"]
    assert education["limits"]["max_cells"] == 10
    api.server.clear()
    again = _fetch(api, write_sources, tmp_path, "offline", config_path=config_path, offline=True)
    assert again.manifest["limits"]["origin"] == "cache"
    assert again.manifest["limits"]["max_cells"] == 10
    assert again.path.read_bytes() == result.path.read_bytes()
    assert len(api.server.log) == 0


def test_a_server_without_config_falls_back_to_the_configured_limits(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(f"{API_PREFIX}/config").respond_with_json(
        {"type": "Parameter error", "title": "Non-existent page", "status": 404}, status=404
    )
    with _client(httpserver.url_for(API_PREFIX), tmp_path, max_cells=1234) as client:
        limits = client.load_limits()
    assert (limits.max_cells, limits.max_calls, limits.origin) == (1234, 30, "configured")
    assert limits.note == "GET /config failed: HTTP 404 Non-existent page"


def test_zero_rate_limits_in_config_mean_not_configured(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    config = {**response_json("config.json"), "maxCallsPerTimeWindow": 0, "timeWindow": 0}
    httpserver.expect_request(f"{API_PREFIX}/config").respond_with_json(config)
    with _client(httpserver.url_for(API_PREFIX), tmp_path, max_calls=12) as client:
        limits = client.load_limits()
    assert (limits.max_cells, limits.max_calls, limits.window_seconds) == (150_000, 12, 10.0)
    assert limits.note == "configured value used for maxCallsPerTimeWindow, timeWindow"


# --- errors -----------------------------------------------------------------------------------


def test_too_many_cells_is_a_400_and_the_chunk_is_split(api: FakeApi, tmp_path: Path) -> None:
    api.metadata("TAB5956", "TAB5956_metadata.json")
    whole = dict(EDUCATION_BODIES[0])
    whole["selection"] = [dict(item) for item in whole["selection"]]
    whole["selection"][0]["valueCodes"] = list(DESO[:4])
    api.server.expect_request(DATA_PATH, method="POST", json=whole).respond_with_data(
        response_bytes("error_400_too_many_cells.json"),
        status=400,
        content_type="application/problem+json",
    )
    for n, body in enumerate(EDUCATION_BODIES, start=1):
        api.data("TAB5956", body, f"TAB5956_data_chunk{n}.json")
    with _client(api.base_url, tmp_path) as client:
        client.use_limits(dataclasses.replace(client.limits, max_cells=20))
        fetched = fetch_table(client, education_source(), 2018)
    sent = [post["selection"][0]["valueCodes"] for post in api.posts("TAB5956")]
    assert sent == [list(DESO[:4]), list(DESO[:2]), list(DESO[2:4]), list(DESO[4:])]
    assert [r for c in fetched.chunks for r in c.dataset.to_frame()["Region"].unique()] == list(
        DESO
    )


def test_too_many_cells_for_one_region_is_a_selection_error(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(f"{API_PREFIX}/tables/TAB5956/metadata").respond_with_data(
        response_bytes("TAB5956_metadata.json"), content_type="application/json"
    )
    httpserver.expect_request(DATA_PATH).respond_with_data(
        response_bytes("error_400_too_many_cells.json"), status=400
    )
    source = education_source(region=("0114A0010",))
    with (
        _client(httpserver.url_for(API_PREFIX), tmp_path) as client,
        pytest.raises(PxWebSelectionError, match="Too many cells selected; one region alone"),
    ):
        fetch_table(client, source, 2018)


def test_a_problem_without_detail_is_named_by_its_title(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(DATA_PATH).respond_with_data(
        response_bytes("error_400_missing_selection.json"),
        status=400,
        content_type="application/problem+json",
    )
    with (
        _client(httpserver.url_for(API_PREFIX), tmp_path) as client,
        pytest.raises(PxWebHTTPError) as raised,
    ):
        client.data("TAB5956", {"selection": []}, updated=None)
    assert str(raised.value).endswith("HTTP 400 Missing selection for mandantory variable")
    assert client.requests_sent == 1


def test_a_persistent_plain_text_429_gives_up_with_its_text(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(DATA_PATH).respond_with_data(
        response_bytes("error_429.txt"),
        status=429,
        headers={"Retry-After": "1"},
        content_type="text/plain",
    )
    with (
        _client(httpserver.url_for(API_PREFIX), tmp_path) as client,
        pytest.raises(PxWebTransientError) as raised,
    ):
        client.data("TAB5956", {"selection": []}, updated=None)
    assert "gave up after 3 attempts" in str(raised.value)
    assert "HTTP 429 Too Many Requests (Retry-After 1.0 s)" in str(raised.value)
    assert client.requests_sent == 3


# --- metadata ---------------------------------------------------------------------------------


def _metadata(**changes: object) -> dict[str, object]:
    """The TAB5956 metadata (no role.geo, as PxWeb serves most tables) with changes."""
    document = {**response_json("TAB5956_metadata.json"), **changes}
    assert "geo" not in document["role"]
    return document


def test_the_region_variable_is_found_without_role_geo() -> None:
    document = _metadata()
    document["dimension"] = {
        ("Omrade" if k == "Region" else k): v for k, v in document["dimension"].items()
    }
    document["id"] = ["Omrade" if i == "Region" else i for i in document["id"]]
    resolved = resolve_selection(education_source(), load_dataset(document, context="t"), 2018)
    assert resolved.region_variable == "Omrade"
    assert resolved.regions == DESO


def test_two_variables_with_area_codes_need_a_configured_region_variable() -> None:
    document = _metadata()
    document["id"] = [*document["id"], "Bostad"]
    document["size"] = [*document["size"], 1]
    document["dimension"] = {
        **document["dimension"],
        "Bostad": {"label": "bostad", "category": {"index": {"0114A0010": 0}}},
    }
    meta = load_dataset(document, context="t")
    with pytest.raises(PxWebSelectionError, match="several variables with DeSO or RegSO codes"):
        resolve_selection(education_source(), meta, 2018)
    source = education_source(
        region_variable="Region",
        selection={**education_source().selection, "Bostad": ("0114A0010",)},
    )
    assert resolve_selection(source, meta, 2018).region_variable == "Region"


def test_the_division_is_selected_through_its_codelist() -> None:
    meta = load_dataset(_metadata(), context="t")
    assert meta.dimensions["Region"].codelists == (
        "vs_DeSO2018",
        "vs_DeSO2025",
        "vs_RegSO2020",
        "vs_RegSO2025",
    )
    older = resolve_selection(education_source(), meta, 2018)
    assert older.region_codelist == "vs_DeSO2018"
    newer = resolve_selection(education_source(vintage="DeSO2025"), meta, 2018)
    assert (newer.region_codelist, newer.regions) == ("vs_DeSO2025", ("0114A0010_DeSO2025",))
    plain = load_dataset(response_bytes("TAB683_metadata.json"), context="t")
    employment = education_source(
        table_id="TAB683",
        selection={"Sysselsattning": ("FÖRV",), "Kon": ("1+2",), "ContentsCode": ("00000569",)},
    )
    assert resolve_selection(employment, plain, 2018).region_codelist is None


def test_the_codelist_and_the_label_resolution_reach_the_manifest(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    path = write_sources(api.base_url)
    text = path.read_text(encoding="utf-8").replace(
        'ContentsCode = ["000005MO"]', 'ContentsCode = ["befolkning 25-64 år"]'
    )
    path.write_text(text, encoding="utf-8")
    result = _fetch(api, write_sources, tmp_path, "run", config_path=path)
    assert all(post["selection"][2]["valueCodes"] == ["000005MO"] for post in api.posts("TAB5956"))
    assert all(post["selection"][0]["codelist"] == "vs_DeSO2018" for post in api.posts("TAB5956"))
    education = {s["name"]: s for s in result.manifest["sources"]}["education"]
    assert education["resolved_by_label"] == {"ContentsCode": {"befolkning 25-64 år": "000005MO"}}
    assert education["codelist"] == "vs_DeSO2018"
    assert (education["division"], education["vintage"]) == ("DeSO", "DeSO2018")
    assert education["sha256"] == [r["sha256"] for r in education["responses"]]
    assert result.frame.set_index("area_code").loc["1280B2030", "population_25_64"] == 1300
    assert json.loads(result.manifest_path.read_text())["perturbation"]["cell_key_method"] is False


def test_perturbation_is_noted_from_2025() -> None:
    assert perturbation(2024)["cell_key_method"] is False
    assert perturbation(2025)["cell_key_method"] is True
    assert "cell-key" in perturbation(2025)["note"]
