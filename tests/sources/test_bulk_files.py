"""SCB's bulk files: PX files (alone or zipped, Windows-1252) fetch to the API's input table."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from areascreen.cli import build_parser
from areascreen.sources import SourceFileError, fetch_year
from areascreen.sources.commands import fetch_statistics
from areascreen.sources.jsonstat import load_dataset
from areascreen.sources.px import PxError, parse_px

from .conftest import FakeApi, response_bytes, response_json

Writer = Callable[..., Path]
TABLES = {
    "TAB6574": ("TAB6574_metadata.json", ["TAB6574_data.json"]),
    "TAB683": ("TAB683_metadata.json", ["TAB683_data_chunk1.json", "TAB683_data_chunk2.json"]),
    "TAB5956": ("TAB5956_metadata.json", [f"TAB5956_data_chunk{n}.json" for n in (1, 2, 3)]),
}


def _quoted(items: list[str]) -> str:
    return ",".join(f'"{item}"' for item in items)


def px_text(table_id: str) -> str:
    """A PX file of a recorded table: its metadata's variables, the data of its chunks."""
    metadata, chunks = TABLES[table_id]
    meta = load_dataset(response_bytes(metadata), context=metadata)
    frame = pd.concat(
        [load_dataset(response_bytes(c), context=c).to_frame() for c in chunks], ignore_index=True
    )
    ids = list(meta.ids)
    stub, heading = ids[:-1], ids[-1:]
    dims = {i: sorted(frame[i].unique(), key=meta.dimensions[i].codes.index) for i in ids}
    lines = ['CHARSET="ANSI";', 'CODEPAGE="windows-1252";', f'MATRIX="{table_id}";',
             f'TABLEID="{table_id}";', f'TITLE="{meta.label}";',
             'LAST-UPDATED="' + meta.updated.replace("-", "").replace("T", " ")[:14] + '";',
             f"STUB={_quoted([meta.dimensions[i].label for i in stub])};",
             f"HEADING={_quoted([meta.dimensions[i].label for i in heading])};",
             f'CONTVARIABLE="{meta.dimensions["ContentsCode"].label}";']  # fmt: skip
    for i in ids:
        name = meta.dimensions[i].label
        labels = [meta.dimensions[i].labels.get(c, c) for c in dims[i]]
        lines.append(f'VARIABLECODE("{name}")="{i}";')
        lines.append(f'VALUES("{name}")={_quoted(labels)};')
        lines.append(f'VALUES[en]("{name}")={_quoted(labels)};')
        lines.append(f'CODES("{name}")={_quoted(list(dims[i]))};')
    lines.append(f'TIMEVAL("{meta.dimensions["Tid"].label}")=TLIST(A1),{_quoted(dims["Tid"])};')
    index = frame.set_index(ids)
    cells = []
    for row in pd.MultiIndex.from_product([dims[i] for i in ids]):
        cell = index.loc[row]
        status, value = cell["status"], cell["value"]
        if isinstance(status, str) and (status.strip(".") == "" or status == "-"):
            cells.append(f'"{status}"')
        else:
            cells.append(str(int(value)))
    lines.append("DATA=")
    lines.extend(" ".join(cells[n : n + 5]) for n in range(0, len(cells), 5))
    return "\r\n".join(lines) + ";\r\n"


@pytest.fixture
def bulk_dir(tmp_path: Path) -> Path:
    """SCB's bulk downloads: a zip with the PX file for two tables, a bare PX file for one."""
    folder = tmp_path / "bulk"
    folder.mkdir()
    for table_id in ("TAB6574", "TAB683"):
        with zipfile.ZipFile(folder / f"{table_id}_sv.zip", "w") as archive:
            archive.writestr(f"{table_id}_sv.px", px_text(table_id).encode("windows-1252"))
    (folder / "TAB5956_sv.px").write_bytes(px_text("TAB5956").encode("windows-1252"))
    return folder


def test_bulk_files_fetch_to_the_same_input_as_the_api(
    api: FakeApi, write_sources: Writer, tmp_path: Path, bulk_dir: Path
) -> None:
    api.standard_year()
    config_path = write_sources(api.base_url)
    online = fetch_year(
        2018, config_path=config_path, cache_dir=tmp_path / "c", out_path=tmp_path / "a.parquet"
    )
    api.server.clear()
    offline = fetch_year(
        2018,
        config_path=config_path,
        cache_dir=tmp_path / "empty",
        out_path=tmp_path / "b.parquet",
        from_files=bulk_dir,
    )
    assert len(api.server.log) == 0
    pd.testing.assert_frame_equal(offline.frame, online.frame)
    assert offline.path.read_bytes() == online.path.read_bytes()
    sources = {s["name"]: s for s in offline.manifest["sources"]}
    employment = sources["employment"]
    assert employment["kind"] == "pxweb-file"
    assert employment["path"] == str(bulk_dir / "TAB683_sv.zip")
    assert employment["updated"] == "2019-11-20T08:00:00Z"
    assert len(employment["sha256"]) == 64
    assert offline.manifest["from_files"] == str(bulk_dir)
    assert offline.manifest["limits"] is None
    assert offline.manifest["suppressed"] == online.manifest["suppressed"]


def test_the_cli_reads_bulk_files(
    write_sources: Writer, tmp_path: Path, bulk_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "areas.parquet"
    args = build_parser().parse_args(
        ["fetch", "--from-files", str(bulk_dir), "--output", str(out), "--cache", str(tmp_path)]
    )
    assert args.from_files == bulk_dir
    path = fetch_statistics(
        2018,
        from_files=args.from_files,
        out_path=args.output,
        cache_dir=args.cache,
        config_path=write_sources(),
    )
    assert pd.read_parquet(path)["population"].tolist() == [1890, 2145, 1632, 2210, 1755, 1980]
    assert "Fetched 6 areas for 2018" in capsys.readouterr().out


def test_px_symbols_codes_and_code_page() -> None:
    text = px_text("TAB5956")
    dataset = parse_px(text.encode("windows-1252"), context="t.px")
    assert dataset.table_id == "TAB5956" and dataset.time_variable == "Tid"
    assert dataset.dimensions["UtbildningsNiva"].labels["21"] == "förgymnasial utbildning"
    frame = dataset.to_frame()
    nil = frame[(frame["Region"] == "0114C1170") & (frame["UtbildningsNiva"] == "US")]
    assert nil["value"].tolist() == [0] and nil["status"].tolist() == ["-"]
    assert json.loads(response_bytes("TAB5956_data_chunk2.json"))["status"]["4"] == "-"
    assert len(frame) == 6 * 5 and frame["value"].notna().all()
    assert response_json("TAB5956_metadata.json")["updated"] == dataset.updated


def test_px_faults_are_named(tmp_path: Path, write_sources: Writer, bulk_dir: Path) -> None:
    text = px_text("TAB5956")
    with pytest.raises(PxError, match=r"t\.px: DATA has 29 cells but the variables give 30"):
        parse_px(text.replace("DATA=\r\n140 ", "DATA=\r\n").encode("cp1252"), context="t.px")
    with pytest.raises(PxError, match="no DATA= section"):
        parse_px(b'STUB="region";', context="t.px")
    (bulk_dir / "TAB5956_sv.px").unlink()
    with pytest.raises(SourceFileError, match="no PX file or zip for table TAB5956 in"):
        fetch_year(2018, config_path=write_sources(), cache_dir=tmp_path, out_path=tmp_path / "o.parquet",
                   from_files=bulk_dir)  # fmt: skip
