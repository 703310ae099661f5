"""`areascreen sources check` against the loopback API and, offline, against the cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from areascreen.cli import build_parser
from areascreen.errors import InputError
from areascreen.sources.check import check_sources, report_lines

from .conftest import FakeApi

Writer = Callable[..., Path]


def _cli(*argv: str) -> None:
    """Run a subcommand through the CLI's own parser and handler."""
    args = build_parser().parse_args(list(argv))
    assert args.handler(args) == 0


def _serve_metadata(api: FakeApi) -> None:
    """Only the metadata of the three tables."""
    api.metadata("TAB6574", "TAB6574_metadata.json")
    api.metadata("TAB683", "TAB683_metadata.json")
    api.metadata("TAB5956", "TAB5956_metadata.json")


def test_every_configured_code_is_found_with_its_label(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    _serve_metadata(api)
    checks = check_sources(2018, cache_dir=tmp_path, config_path=write_sources(api.base_url))
    assert [c.table_id for c in checks] == ["TAB6574", "TAB683", "TAB5956"]
    education = checks[2]
    assert education.updated == "2019-06-14T08:00:00Z"
    assert (education.region_variable, education.codelist) == ("Region", "vs_DeSO2018")
    assert [(c.variable, c.value, c.label) for c in education.codes][:2] == [
        ("UtbildningsNiva", "21", "förgymnasial utbildning"),
        ("UtbildningsNiva", "3+4", "gymnasial utbildning"),
    ]
    assert len(education.codes) == 5 + 1 + 1  # levels, content, the year
    assert sum(c.missing for c in checks) == 0
    assert report_lines(checks)[-1] == "All codes found."


def test_a_missing_code_lists_codes_whose_labels_match_and_runs_offline(
    api: FakeApi, write_sources: Writer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_metadata(api)
    path = write_sources(api.base_url)
    text = path.read_text(encoding="utf-8").replace('"21", "3+4"', '"gymnasial", "3+4"')
    text = text.replace('UtbildningsNiva = ["21"]', 'UtbildningsNiva = ["gymnasial"]')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"1 code\(s\) or variable\(s\) not in their tables"):
        _cli("sources", "check", "--year", "2018", "--config", str(path), "--cache", str(tmp_path))
    first = capsys.readouterr()
    assert (
        "MISSING UtbildningsNiva = 'gymnasial'; labels that match: 3+4 'gymnasial utbildning'"
        in (first.out)
    )
    api.server.clear()
    with pytest.raises(InputError):
        _cli("sources", "check", "--config", str(path), "--cache", str(tmp_path), "--offline")
    second = capsys.readouterr()
    assert "(cached metadata)" in second.out
    assert second.out.replace("(cached metadata)", "(live metadata)") == first.out
    assert len(api.server.log) == 0


def test_offline_without_a_cache_is_a_clear_error(write_sources: Writer, tmp_path: Path) -> None:
    path = write_sources()
    with pytest.raises(
        InputError, match=r"Offline: GET http://127\.0\.0\.1:9/api/v2/tables/TAB6574/"
    ):
        _cli("sources", "check", "--config", str(path), "--cache", str(tmp_path), "--offline")
