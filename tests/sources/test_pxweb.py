"""The PxWeb client against a real HTTP server on 127.0.0.1: retries, limits, chunking."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from areascreen.sources.cache import ResponseCache
from areascreen.sources.config import ApiSettings
from areascreen.sources.jsonstat import JsonStatError, load_dataset
from areascreen.sources.pxweb import (
    PxWebClient,
    PxWebHTTPError,
    PxWebSelectionError,
    PxWebTransientError,
    RateLimiter,
    chunk_regions,
    fetch_table,
    resolve_selection,
    retry_after_seconds,
)

from .conftest import API_PREFIX, DESO, EDUCATION_BODIES, FakeApi, education_source, response_bytes

METADATA_PATH = f"{API_PREFIX}/tables/TAB6574/metadata"


def _client(base_url: str, tmp_path: Path, sleeps: list[float], **limits: object) -> PxWebClient:
    """A client whose sleeps are recorded instead of slept."""
    settings = ApiSettings(base_url=base_url, max_retries=3, backoff_base_seconds=0.5)
    settings = dataclasses.replace(settings, **limits)
    return PxWebClient(settings, cache=ResponseCache(tmp_path), sleep=sleeps.append)


def test_429_waits_for_retry_after_then_succeeds(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_oneshot_request(METADATA_PATH).respond_with_data(
        response_bytes("error_429.txt"),
        status=429,
        headers={"Retry-After": "2"},
        content_type="text/plain",
    )
    httpserver.expect_request(METADATA_PATH).respond_with_data(
        response_bytes("TAB6574_metadata.json"), content_type="application/json"
    )
    sleeps: list[float] = []
    with _client(httpserver.url_for(API_PREFIX), tmp_path, sleeps) as client:
        fetched = client.metadata("TAB6574")
    assert sleeps == [2.0]
    assert client.requests_sent == 2
    assert fetched.dataset.updated == "2019-03-21T08:00:00Z"
    assert fetched.entry.body == response_bytes("TAB6574_metadata.json")


def test_503_then_success_backs_off_exponentially(httpserver: HTTPServer, tmp_path: Path) -> None:
    for _ in range(2):
        httpserver.expect_oneshot_request(METADATA_PATH).respond_with_data(
            response_bytes("error_503.txt"), status=503, content_type="text/plain"
        )
    httpserver.expect_request(METADATA_PATH).respond_with_data(
        response_bytes("TAB6574_metadata.json"), content_type="application/json"
    )
    sleeps: list[float] = []
    with _client(httpserver.url_for(API_PREFIX), tmp_path, sleeps) as client:
        fetched = client.metadata("TAB6574")
    assert sleeps == [0.5, 1.0]
    assert fetched.dataset.dimensions["Tid"].codes == ("2017", "2018", "2019")


def test_persistent_503_gives_up_naming_table_and_request(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(METADATA_PATH).respond_with_data(
        response_bytes("error_503.txt"), status=503, content_type="text/plain"
    )
    sleeps: list[float] = []
    with (
        _client(httpserver.url_for(API_PREFIX), tmp_path, sleeps) as client,
        pytest.raises(PxWebTransientError) as raised,
    ):
        client.metadata("TAB6574")
    message = str(raised.value)
    assert "table TAB6574, GET http://127.0.0.1:" in message
    assert "/tables/TAB6574/metadata?lang=sv" in message
    assert "gave up after 4 attempts" in message
    assert "last failure: HTTP 503 Service Unavailable" in message
    assert sleeps == [0.5, 1.0, 2.0]
    assert not any(tmp_path.iterdir())


def test_connection_errors_are_retried(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    client = _client(f"http://127.0.0.1:{port}/api/v2", tmp_path, sleeps, max_retries=1)
    with client, pytest.raises(PxWebTransientError, match="connection error ConnectError"):
        client.metadata("TAB6574")
    assert sleeps == [0.5]


def test_a_client_error_is_not_retried(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request(METADATA_PATH).respond_with_data(
        response_bytes("error_400.json"), status=400, content_type="application/problem+json"
    )
    sleeps: list[float] = []
    with (
        _client(httpserver.url_for(API_PREFIX), tmp_path, sleeps) as client,
        pytest.raises(PxWebHTTPError, match=r"metadata\?lang=sv: HTTP 400 Non-existent value$"),
    ):
        client.metadata("TAB6574")
    assert sleeps == [] and client.requests_sent == 1


def test_malformed_json_is_an_error_naming_the_request_and_is_not_cached(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request(f"{API_PREFIX}/tables/TAB6574/data").respond_with_data(
        response_bytes("malformed_data.txt"), content_type="application/json"
    )
    with (
        _client(httpserver.url_for(API_PREFIX), tmp_path, []) as client,
        pytest.raises(JsonStatError) as raised,
    ):
        client.data("TAB6574", {"selection": []}, updated="2019-03-21T08:00:00Z")
    assert "table TAB6574, POST http://127.0.0.1:" in str(raised.value)
    assert "outputFormat=json-stat2" in str(raised.value)
    assert "malformed JSON" in str(raised.value)
    assert not any(tmp_path.iterdir())


def test_rate_limiter_allows_max_calls_per_window() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, 10.0, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(7):
        limiter.wait()
        starts.append(now[0])
        now[0] += 1.0
    assert starts == [0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 20.0]
    assert sleeps == [7.0, 7.0]
    assert all(sum(1 for s in starts if t <= s < t + 10.0) <= 3 for t in starts)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2019, 3, 21, 8, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Thu, 21 Mar 2019 08:00:05 GMT", now=now) == 5.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None


def test_chunks_keep_region_order_under_the_cell_limit() -> None:
    assert chunk_regions(DESO, 2, 10) == [DESO[:5], DESO[5:]]
    assert chunk_regions(DESO, 5, 10) == [DESO[0:2], DESO[2:4], DESO[4:6]]
    assert chunk_regions(DESO, 1, 150_000) == [DESO]
    with pytest.raises(PxWebSelectionError, match="needs 11 cells, above the limit of 10"):
        chunk_regions(DESO, 11, 10)


def test_region_selection_takes_the_level_and_vintage_in_table_order() -> None:
    meta = load_dataset(response_bytes("TAB5956_metadata.json"), context="t")
    resolved = resolve_selection(education_source(), meta, 2018)
    assert resolved.regions == DESO
    assert resolved.others["Tid"] == ("2018",)
    assert resolved.cells_per_region == 5
    newer = resolve_selection(education_source(vintage="DeSO2025"), meta, 2018)
    assert newer.regions == ("0114A0010_DeSO2025",)
    regso = resolve_selection(education_source(region="RegSO"), meta, 2018)
    assert regso.regions == ("0114R001",)


def test_selection_errors_list_what_the_table_has() -> None:
    meta = load_dataset(response_bytes("TAB5956_metadata.json"), context="t")
    wrong_value = education_source(
        selection={**education_source().selection, "UtbildningsNiva": ("2",)}
    )
    with pytest.raises(PxWebSelectionError, match=r"TAB5956 \(education\): UtbildningsNiva has no"):
        resolve_selection(wrong_value, meta, 2018)
    with pytest.raises(PxWebSelectionError, match="ContentsCode' is not selected"):
        resolve_selection(education_source(selection={"UtbildningsNiva": ("21",)}), meta, 2018)
    with pytest.raises(PxWebSelectionError, match="Tid has no value"):
        resolve_selection(education_source(), meta, 2019)
    extra = education_source(selection={**education_source().selection, "Kon": ("1+2",)})
    with pytest.raises(PxWebSelectionError, match="has no variable"):
        resolve_selection(extra, meta, 2018)


def test_a_region_list_above_the_cell_limit_is_split_and_reassembled_in_order(
    api: FakeApi, tmp_path: Path
) -> None:
    api.metadata("TAB5956", "TAB5956_metadata.json")
    for n, body in enumerate(EDUCATION_BODIES, start=1):
        api.data("TAB5956", body, f"TAB5956_data_chunk{n}.json")
    with _client(api.base_url, tmp_path, [], max_cells=10) as client:
        fetched = fetch_table(client, education_source(), 2018)
    assert [post["selection"][0]["valueCodes"] for post in api.posts("TAB5956")] == [
        ["0114A0010", "0114A0020"],
        ["0114C1170", "1280B2030"],
        ["1280C1010", "1280C1020"],
    ]
    regions = [r for c in fetched.chunks for r in c.dataset.to_frame()["Region"].unique()]
    assert regions == list(DESO)
    assert fetched.updated == "2019-06-14T08:00:00Z"
    assert all(chunk.entry.updated == "2019-06-14T08:00:00Z" for chunk in fetched.chunks)
