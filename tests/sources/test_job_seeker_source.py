"""The Public Employment Service's delivery as a source kind: reference date, sums, manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from areascreen.sources import ConfigError, PinError, SourceFileError, fetch_year
from areascreen.sources.config import load_config

from .conftest import DESO, FakeApi

Writer = Callable[..., Path]
HEADER = "Område;Referensdatum;Ålder;Öppet arbetslösa;Sökande i program;Befolkning"
# Per area: (openly unemployed, in programmes, population 18-64) on 31 March and 31 October.
COUNTS = {
    "0114A0010": ((41, 22, 1150), (36, 25, 1162)),
    "0114A0020": ((12, 7, 1300), (13, 8, 1305)),
    "0114C1170": ((30, 11, 990), (27, 12, 1001)),
    "1280B2030": ((120, "..", 1480), (111, 58, 1473)),
    "1280C1010": (("-", 4, 1160), (3, "-", 1158)),
    "1280C1020": ((55, 21, 1200), (50, 20, 1210)),
}
SOURCE = """\
[sources.long_term_unemployment]
kind = "employment_service"
path = "{path}"
reference = "{reference}"
fields = {{ long_term_unemployed = ["openly_unemployed", "in_programmes"], \
population_16_64 = "population_18_64" }}
"""


def _delivery(folder: Path) -> Path:
    lines = [HEADER]
    for area, dates in COUNTS.items():
        for date, counts in zip(("2018-03-31", "2018-10-31"), dates, strict=True):
            lines.append(";".join([area, date, "18-64", *map(str, counts)]))
    path = folder / "arbetssokande_2018.csv"
    path.write_bytes("\r\n".join(lines).encode("windows-1252"))
    return path


def _sources(write_sources: Writer, base_url: str, tmp_path: Path, reference: str) -> Path:
    """The test sources file with the unemployment file source replaced by a delivery."""
    path = write_sources(base_url)
    text = path.read_text(encoding="utf-8")
    start = text.index("[sources.long_term_unemployment]")
    end = text.index("[sources.voter_turnout]")
    block = SOURCE.format(path=_delivery(tmp_path), reference=reference)
    path.write_text(text[:start] + block + "\n" + text[end:], encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("reference", "unemployed", "population"),
    [
        ("03-31", [63, 19, 41, None, 4, 76], [1150, 1300, 990, 1480, 1160, 1200]),
        ("10-31", [61, 21, 39, 169, 3, 70], [1162, 1305, 1001, 1473, 1158, 1210]),
        ("mean", [62, 20, 40, None, 4, 73], [1156, 1303, 996, 1477, 1159, 1205]),
    ],
)
def test_the_delivery_fills_its_columns_for_the_chosen_reference(
    api: FakeApi,
    write_sources: Writer,
    tmp_path: Path,
    reference: str,
    unemployed: list[int | None],
    population: list[int],
) -> None:
    api.standard_year()
    config = _sources(write_sources, api.base_url, tmp_path, reference)
    result = fetch_year(
        2018, config_path=config, cache_dir=tmp_path / "c", out_path=tmp_path / "a.parquet"
    )
    frame = result.frame.set_index("area_code").loc[list(DESO)]
    got = [None if pd.isna(v) else int(v) for v in frame["long_term_unemployed"].astype(object)]
    assert got == unemployed
    assert frame["population_16_64"].tolist() == population
    record = {s["name"]: s for s in result.manifest["sources"]}["long_term_unemployment"]
    assert record["kind"] == "employment_service"
    assert record["reference"] == reference and record["reference_from"] == "sources file"
    assert record["fields"]["long_term_unemployed"] == ["openly_unemployed", "in_programmes"]
    assert record["age_band"] == "18-64" and len(record["sha256"]) == 64


def test_a_changed_delivery_breaks_the_pin(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    config = _sources(write_sources, api.base_url, tmp_path, "mean")
    first = fetch_year(
        2018, config_path=config, cache_dir=tmp_path / "c", out_path=tmp_path / "a.parquet"
    )
    delivery = tmp_path / "arbetssokande_2018.csv"
    delivery.write_bytes(delivery.read_bytes().replace(b";1150", b";1151"))
    with pytest.raises(
        PinError, match=r"'long_term_unemployment' at .* has changed since the pinned run"
    ):
        fetch_year(2018, config_path=config, cache_dir=tmp_path / "c", out_path=tmp_path / "b.parquet",
                   pin=first.manifest)  # fmt: skip


def test_delivery_faults_name_the_source_and_row(
    api: FakeApi, write_sources: Writer, tmp_path: Path
) -> None:
    api.standard_year()
    config = _sources(write_sources, api.base_url, tmp_path, "mean")
    delivery = tmp_path / "arbetssokande_2018.csv"
    delivery.write_bytes(
        delivery.read_bytes().replace(b"2018-10-31;18-64;13", b"2018-11-30;18-64;13")
    )
    with pytest.raises(
        SourceFileError, match=r"'long_term_unemployment': .*row 5 \('2018-11-30'\)"
    ):
        fetch_year(
            2018, config_path=config, cache_dir=tmp_path / "c", out_path=tmp_path / "a.parquet"
        )


def test_sources_file_keys_are_checked(write_sources: Writer, tmp_path: Path) -> None:
    config = _sources(write_sources, "http://127.0.0.1:9/api/v2", tmp_path, "april")
    with pytest.raises(
        ConfigError, match=r"'sources\.long_term_unemployment.reference' must be one of"
    ):
        load_config(config)
    text = _sources(write_sources, "http://127.0.0.1:9/api/v2", tmp_path, "mean").read_text("utf-8")
    config.write_text(text.replace('"in_programmes"]', '"long_term"]'), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"fields\.long_term_unemployed' must be one of openly_unemployed"
    ):
        load_config(config)
    config.write_text(text.replace("population_16_64 = ", "population_20_64 = "), encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"Missing key 'sources\.long_term_unemployment\.fields\.population_16_64'",
    ):
        load_config(config)
