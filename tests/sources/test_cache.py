"""The content-addressed response cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from areascreen.sources.cache import (
    CacheCorruptError,
    CanonicalRequest,
    ResponseCache,
    resolve_cache_dir,
)

URL = "http://127.0.0.1/api/v2/tables/TAB683/data"


def _request(body: dict | None = None, params: list[tuple[str, str]] | None = None):
    """A data request."""
    params = params or [("lang", "sv"), ("outputFormat", "json-stat2")]
    return CanonicalRequest.build("post", URL, params, body or {"selection": [{"a": 1, "b": 2}]})


def test_key_is_the_sha256_of_the_canonical_request() -> None:
    request = _request()
    canonical = (
        '{"body":{"selection":[{"a":1,"b":2}]},"method":"POST",'
        '"params":[["lang","sv"],["outputFormat","json-stat2"]],'
        f'"url":"{URL}"}}'
    )
    assert request.canonical_bytes().decode() == canonical
    assert request.key == hashlib.sha256(canonical.encode()).hexdigest()


def test_key_ignores_query_order_and_body_key_order_but_not_values() -> None:
    reordered = _request(
        {"selection": [{"b": 2, "a": 1}]}, [("outputFormat", "json-stat2"), ("lang", "sv")]
    )
    assert reordered.key == _request().key
    assert _request({"selection": [{"a": 1, "b": 3}]}).key != _request().key


def test_store_writes_body_and_sidecar_named_by_request_and_body(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    body = b'{"class": "dataset"}'
    entry = cache.store(_request(), body, table_id="TAB683", updated="2019-11-20T08:00:00Z")
    digest = hashlib.sha256(body).hexdigest()
    assert entry.cache_file == f"{_request().key}-{digest}.json"
    assert (tmp_path / entry.cache_file).read_bytes() == body
    sidecar = json.loads(entry.sidecar_path.read_text())
    assert sidecar["table_id"] == "TAB683"
    assert sidecar["updated"] == "2019-11-20T08:00:00Z"
    assert sidecar["sha256"] == digest
    assert sidecar["request"]["method"] == "POST"
    assert sidecar["fetched_at"].endswith("Z")


def test_a_new_body_adds_an_entry_and_keeps_the_old(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    old = cache.store(request, b"old", table_id="T", updated="A", fetched_at="2019-01-01T00:00:00Z")
    same = cache.store(
        request, b"old", table_id="T", updated="A", fetched_at="2030-01-01T00:00:00Z"
    )
    new = cache.store(request, b"new", table_id="T", updated="B", fetched_at="2020-01-01T00:00:00Z")
    assert same.fetched_at == old.fetched_at
    assert [e.body for e in cache.entries(request.key)] == [b"old", b"new"]
    assert cache.latest(request.key).body == b"new"
    assert cache.latest(request.key, updated="A").body == b"old"
    assert cache.latest(request.key, updated="C") is None
    assert cache.pinned(request.key, old.sha256).body == b"old"
    assert cache.pinned(request.key, "0" * 64) is None
    assert new.sha256 == hashlib.sha256(b"new").hexdigest()


def test_a_changed_body_is_detected(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    entry = cache.store(_request(), b"right", table_id="TAB683", updated=None)
    entry.body_path.write_bytes(b"wrong")
    with pytest.raises(CacheCorruptError, match="TAB683"):
        cache.latest(_request().key)


def test_cache_dir_parameter_then_environment_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AREASCREEN_CACHE_DIR", raising=False)
    assert resolve_cache_dir() == tmp_path / "home" / ".cache" / "areascreen" / "pxweb"
    monkeypatch.setenv("AREASCREEN_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_describe_names_method_url_query_and_selection() -> None:
    body = {"selection": [{"variableCode": "Region", "valueCodes": ["a", "b", "c", "d"]}]}
    text = _request(body).describe()
    assert text == (
        f"POST {URL}?lang=sv&outputFormat=json-stat2 with body {{Region=[a,b,c,… (4 values)]}}"
    )
