"""PxWeb's wide CSV and xlsx exports fetch, through the sources file, to the API's input table.

The fixture files are written from the recorded API responses in the shapes PxWeb's serializers
give: a quoted title line, quoted stub texts, one quoted column per heading combination (the
heading values joined by a space), unquoted cells with `-` and dots; the xlsx with the title in
A1, heading rows from row 3, stub texts once per span, footnotes after a blank row.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from areascreen.sources import SourceFileError, fetch_year
from areascreen.sources.jsonstat import Dataset, load_dataset
from areascreen.sources.wide import WideFileError, read_csv, read_wide

from .conftest import FakeApi, response_bytes

Writer = Callable[..., Path]
TABLES = {
    "TAB6574": ("TAB6574_metadata.json", ["TAB6574_data.json"]),
    "TAB683": ("TAB683_metadata.json", ["TAB683_data_chunk1.json", "TAB683_data_chunk2.json"]),
    "TAB5956": ("TAB5956_metadata.json", [f"TAB5956_data_chunk{n}.json" for n in (1, 2, 3)]),
}


def recorded(table_id: str) -> tuple[Dataset, pd.DataFrame]:
    """A table's metadata and the cells of its recorded data chunks."""
    metadata, chunks = TABLES[table_id]
    meta = load_dataset(response_bytes(metadata), context=metadata)
    frame = pd.concat(
        [load_dataset(response_bytes(c), context=c).to_frame() for c in chunks], ignore_index=True
    )
    return meta, frame


def _present(meta: Dataset, frame: pd.DataFrame, var: str) -> list[str]:
    return sorted(frame[var].unique(), key=meta.dimensions[var].codes.index)


def _show(meta: Dataset, var: str, code: str, style: str) -> str:
    label = meta.dimensions[var].labels.get(code, code)
    return {"codes": code, "texts": label, "both": f"{code} - {label}"}[style]


def _cell_text(row: pd.Series) -> str:
    status = row["status"]
    if isinstance(status, str) and (status == "-" or status.strip(".") == ""):
        return status
    return str(int(row["value"]))


def wide_rows(
    table_id: str, heading: Sequence[str], style: str
) -> tuple[list[str], list[str], list[list[str]], list[list[str]]]:
    """Stub headers, column texts, stub texts per row and cell texts per row, in PxWeb's order."""
    meta, frame = recorded(table_id)
    stub = [v for v in meta.ids if v not in heading]
    index = frame.set_index(list(meta.ids))
    columns = list(itertools.product(*(_present(meta, frame, v) for v in heading)))
    stub_rows = list(itertools.product(*(_present(meta, frame, v) for v in stub)))
    order = [(stub + list(heading)).index(v) for v in meta.ids]
    cells = []
    for row in stub_rows:
        line = []
        for col in columns:
            key = tuple((row + col)[p] for p in order)
            line.append(_cell_text(index.loc[key]))
        cells.append(line)
    stub_headers = [_show_var(meta, v, style) for v in stub]
    texts = [" ".join(_show(meta, v, c, style) for v, c in zip(heading, col, strict=True))
             for col in columns]  # fmt: skip
    stubs = [
        [_show(meta, v, c, style) for v, c in zip(stub, row, strict=True)] for row in stub_rows
    ]
    return stub_headers, texts, stubs, cells


def _show_var(meta: Dataset, var: str, style: str) -> str:
    label = meta.dimensions[var].label
    return {"codes": var, "texts": label, "both": f"{var} - {label}"}[style]


def pxweb_csv(
    table_id: str,
    *,
    heading: Sequence[str] = ("ContentsCode", "Tid"),
    style: str = "texts",
    separator: str = ";",
    title: bool = True,
) -> str:
    """A CSV as PxWeb's CSV serializer writes it."""
    meta, _ = recorded(table_id)
    headers, texts, stubs, cells = wide_rows(table_id, heading, style)
    lines = [f'"{meta.label}"'] if title else []
    lines.append(separator.join(f'"{h}"' for h in [*headers, *texts]))
    for stub, line in zip(stubs, cells, strict=True):
        lines.append(separator.join([*(f'"{s}"' for s in stub), *line]))
    return "\r\n".join(lines) + "\r\n"


def pxweb_xlsx(table_id: str, *, heading: Sequence[str] = ("ContentsCode", "Tid")) -> bytes:
    """An xlsx as PxWeb's xlsx serializer lays it out (texts, title in A1, heading from row 3)."""
    meta, frame = recorded(table_id)
    _, _, stubs, cells = wide_rows(table_id, heading, "texts")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = table_id
    sheet.cell(1, 1, meta.label)
    width = len(stubs[0])
    sizes = [len(_present(meta, frame, v)) for v in heading]
    for level, var in enumerate(heading):
        span = 1
        for size in sizes[level + 1 :]:
            span *= size
        values = _present(meta, frame, var)
        repeats = len(cells[0]) // (span * len(values))
        for r in range(repeats):
            for j, code in enumerate(values):
                column = width + 1 + (r * len(values) + j) * span
                sheet.cell(3 + level, column, _show(meta, var, code, "texts"))
    first = 3 + len(heading)
    previous: list[str | None] = [None] * width
    for n, (stub, line) in enumerate(zip(stubs, cells, strict=True)):
        for k, text in enumerate(stub):
            if text != previous[k] or any(stub[i] != previous[i] for i in range(k)):
                sheet.cell(first + n, k + 1, text)
        previous = list(stub)
        for j, text in enumerate(line):
            value: str | int = text if not text.isdigit() else int(text)
            sheet.cell(first + n, width + 1 + j, value)
    sheet.cell(first + len(cells) + 1, 1, "Källa: SCB")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def wide_dir(tmp_path: Path) -> Path:
    """A folder of wide exports: SCB's zip with its CSV, an xlsx, and a comma CSV with codes."""
    folder = tmp_path / "wide"
    folder.mkdir()
    with zipfile.ZipFile(folder / "TAB683_sv.zip", "w") as archive:
        archive.writestr("TAB683_sv.csv", pxweb_csv("TAB683").encode("windows-1252"))
    (folder / "TAB6574_sv.xlsx").write_bytes(pxweb_xlsx("TAB6574"))
    text = pxweb_csv("TAB5956", style="codes", separator=",", title=False)
    (folder / "TAB5956.csv").write_bytes(text.encode("utf-8-sig"))
    for table_id in ("TAB683", "TAB6574"):
        (folder / f"{table_id}_metadata.json").write_bytes(response_bytes(TABLES[table_id][0]))
    return folder


def test_wide_exports_fetch_to_the_same_input_as_the_api(
    api: FakeApi, write_sources: Writer, tmp_path: Path, wide_dir: Path
) -> None:
    api.standard_year()
    config_path = write_sources(api.base_url)
    cache = tmp_path / "cache"
    online = fetch_year(
        2018, config_path=config_path, cache_dir=cache, out_path=tmp_path / "a.parquet"
    )
    api.server.clear()
    offline = fetch_year(2018, config_path=config_path, cache_dir=cache, out_path=tmp_path / "b.parquet",
                         from_files=wide_dir)  # fmt: skip
    assert len(api.server.log) == 0
    assert offline.path.read_bytes() == online.path.read_bytes()
    assert offline.frame["area_name"].iloc[0] == "0114A0010 (Upplands Väsby)"
    sources = {s["name"]: s for s in offline.manifest["sources"]}
    assert sources["employment"]["file_format"] == "wide"
    assert sources["employment"]["metadata_from"] == str(wide_dir / "TAB683_metadata.json")
    assert sources["education"]["metadata_from"].startswith("cache ")
    assert sources["population"]["path"] == str(wide_dir / "TAB6574_sv.xlsx")
    assert offline.manifest["suppressed"] == online.manifest["suppressed"]


def test_csv_title_symbols_and_both_codes_and_texts() -> None:
    meta, _ = recorded("TAB5956")
    text = pxweb_csv("TAB5956", style="both", heading=("Tid", "ContentsCode"))
    assert (
        text.splitlines()[0]
        == '"Befolkning 25-64 år efter region, utbildningsnivå, tabellinnehåll och år"'
    )
    assert (
        '"Region - region";"UtbildningsNiva - utbildningsnivå";"2018 - 2018 000005MO - Befolkning 25-64 år"'
        in text
    )
    dataset = read_wide_text(text.encode("windows-1252"), meta)
    frame = dataset.to_frame()
    nil = frame[(frame["Region"] == "0114C1170") & (frame["UtbildningsNiva"] == "US")]
    assert nil["value"].tolist() == [0] and nil["status"].tolist() == ["-"]
    assert dataset.sizes == (6, 5, 1, 1)


def read_wide_text(raw: bytes, meta: Dataset) -> Dataset:
    """Read CSV bytes through a file, as fetch does."""
    from areascreen.sources.wide import to_dataset

    return to_dataset(read_csv(raw, "t.csv"), meta, "t.csv")


def test_suppressed_cells_stay_suppressed(tmp_path: Path) -> None:
    meta, _ = recorded("TAB683")
    text = pxweb_csv("TAB683").replace(";1212\r\n", ";..\r\n", 1)
    assert ";..\r\n" in text
    path = tmp_path / "TAB683.csv"
    path.write_bytes(text.encode("windows-1252"))
    frame = read_wide(path, meta)[0].to_frame()
    assert int((frame["status"] == "..").sum()) == 1
    assert frame["value"].isna().sum() == 1


def test_wide_faults_are_named(tmp_path: Path, write_sources: Writer) -> None:
    meta, _ = recorded("TAB683")
    bad = pxweb_csv("TAB683").replace('"0114A0020 (Upplands Väsby)"', '"9999X9999 (Nowhere)"')
    with pytest.raises(
        WideFileError, match=r"stub value '9999X9999 \(Nowhere\)' is not in the table"
    ):
        read_wide_text(bad.encode("cp1252"), meta)
    renamed = pxweb_csv("TAB683").replace(
        '"Befolkningen 20-64 år 2018"', '"Befolkningen 16-64 år 2018"'
    )
    with pytest.raises(WideFileError, match=r"column headers .*'Befolkningen 16-64 år 2018'"):
        read_wide_text(renamed.encode("cp1252"), meta)
    lines = pxweb_csv("TAB683").split("\r\n")
    lines[3] = lines[3].rsplit(";", 1)[0] + ";n/a"
    with pytest.raises(
        WideFileError, match=r"t\.csv: row 4, column 'Befolkningen 20-64 år 2018': 'n/a'"
    ):
        read_wide_text("\r\n".join(lines).encode("cp1252"), meta)
    folder = tmp_path / "nometa"
    folder.mkdir()
    (folder / "TAB683.csv").write_bytes(pxweb_csv("TAB683").encode("cp1252"))
    from areascreen.sources.config import load_config
    from areascreen.sources.fetch import read_bulk_source

    source = load_config(write_sources()).sources["employment"]
    with pytest.raises(
        SourceFileError, match=r"put the table's metadata beside it \(TAB683_metadata\.json"
    ):
        read_bulk_source(source, folder, 2018)


def test_scb_zip_with_px_and_csv_reads_the_px(tmp_path: Path) -> None:
    from areascreen.sources.config import load_config
    from areascreen.sources.fetch import read_bulk_source

    from .test_bulk_files import px_text

    folder = tmp_path / "zip"
    folder.mkdir()
    with zipfile.ZipFile(folder / "TAB683_sv.zip", "w") as archive:
        archive.writestr("TAB683_sv.px", px_text("TAB683").encode("windows-1252"))
        archive.writestr("TAB683_sv.csv", pxweb_csv("TAB683").encode("windows-1252"))
    config = tmp_path / "2018.toml"
    from .conftest import FILES, SOURCES_TOML

    config.write_text(SOURCES_TOML.format(base_url="http://127.0.0.1:9/api/v2", on_suppressed="null",
                                          files=FILES, max_cells=10), encoding="utf-8")  # fmt: skip
    fetched = read_bulk_source(load_config(config).sources["employment"], folder, 2018)
    assert fetched.record["file_format"] == "px"
    assert fetched.record["metadata_from"] is None
