"""Docs that cannot drift: every published file and column is in docs/outputs.md, and the
manifest accounts for every published file and the libraries that made it."""

from __future__ import annotations

import hashlib
import json
import re
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from areascreen.pipeline import RunOptions, run_screening
from tests.conftest import REPOSITORY_ROOT

OUTPUTS_MD = REPOSITORY_ROOT / "docs" / "outputs.md"


@pytest.fixture(scope="module")
def publication(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The publication of the default data, as `areascreen run` writes it."""
    reports = tmp_path_factory.mktemp("reports")
    result = run_screening(RunOptions(year=2018, reports_dir=reports))
    assert result.publication_dir is not None
    return result.publication_dir


def by_folder(files: list[str]) -> list[str]:
    """Files grouped two folders deep, for a readable failure message."""
    groups: dict[str, int] = {}
    for path in files:
        parts = path.split("/")
        key = "/".join(parts[:2]) + "/" if len(parts) > 2 else path
        groups[key] = groups.get(key, 0) + 1
    return [f"{key} ({count} files)" if key.endswith("/") else key for key, count in groups.items()]


def published_files(folder: Path) -> list[str]:
    """Every file of a publication, relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def expand(name: str) -> list[str]:
    """`a.{parquet,csv}` as `a.parquet`, `a.csv`."""
    match = re.fullmatch(r"(.*)\{([^}]*)\}(.*)", name)
    if match is None:
        return [name]
    head, options, tail = match.groups()
    return [f"{head}{option}{tail}" for option in options.split(",")]


def documented_files() -> list[str]:
    """Names in the first column of the file table of docs/outputs.md; a folder ends in /."""
    names: list[str] = []
    for line in OUTPUTS_MD.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        for name in re.findall(r"`([^`]+)`", first_cell):
            names.extend(expand(name))
    return names


def documented(path: str, names: list[str]) -> bool:
    """Whether a published file is named, or lies in a documented folder."""
    return path in names or any(n.endswith("/") and path.startswith(n) for n in names)


def table_sections() -> dict[str, str]:
    """The text of each `## <table>` section of docs/outputs.md; a section that starts from
    "the columns above" also holds the section before it."""
    text = OUTPUTS_MD.read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    previous = ""
    for match in re.finditer(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        body = match.group(2)
        if "columns above" in body.lower():
            body = previous + body
        sections[match.group(1)] = previous = body
    return sections


def test_every_published_file_is_described(publication: Path):
    names = documented_files()
    assert "report.html" in names and "validation/input/" in names  # the parser reads the table
    files = published_files(publication)
    assert "sensitivity_variants.parquet" in files
    missing = [path for path in files if not documented(path, names)]
    assert missing == [], f"published but not in docs/outputs.md: {by_folder(missing)}"


def test_every_column_of_every_published_table_is_described(publication: Path):
    tables = sorted(p.stem for p in publication.glob("*.parquet"))
    assert len(tables) >= 8
    sections = table_sections()
    # The opening part of the page describes what every table holds (the synthetic mark).
    every_table = OUTPUTS_MD.read_text(encoding="utf-8").split("\n## ", 1)[0]
    missing: dict[str, list[str]] = {}
    for table in tables:
        section = sections.get(table, "") + every_table
        columns = pq.read_schema(publication / f"{table}.parquet").names
        absent = [c for c in columns if f"`{c}`" not in section]
        if absent:
            missing[table] = absent
    assert missing == {}, f"columns not described in docs/outputs.md: {missing}"


def test_the_manifest_records_the_libraries_that_made_the_numbers(publication: Path):
    manifest = json.loads((publication / "manifest.json").read_text(encoding="utf-8"))
    libraries = manifest["libraries"]
    for name in ("duckdb", "pyarrow", "pandas", "great-expectations", "prefect", "openpyxl"):
        assert libraries[name] == version(name), name
    assert re.fullmatch(r"3\.\d+\.\d+", libraries["python"])


def test_the_manifest_holds_the_checksum_of_every_published_file(publication: Path):
    manifest = json.loads((publication / "manifest.json").read_text(encoding="utf-8"))
    recorded = manifest["files_sha256"]
    assert (
        recorded["report.html"]
        == hashlib.sha256((publication / "report.html").read_bytes()).hexdigest()
    )
    unrecorded = []
    for path in published_files(publication):
        if path == "manifest.json":
            continue
        digest = hashlib.sha256((publication / path).read_bytes()).hexdigest()
        if recorded.get(path) != digest:
            unrecorded.append(path)
    assert unrecorded == [], f"no checksum in manifest.json: {by_folder(unrecorded)}"
