"""Property-based fuzzing of the readers: mutated CSV, Parquet and xlsx files.

Whatever is done to a valid file, reading it either succeeds or raises the project's own error;
a change that should not matter (byte-order mark, line endings, quoting, column order,
separator, integer widths, a wrong <dimension>) gives exactly the clean frame. The generator
is the one `python -m benchmarks.fuzz` runs at length; here it is bounded and derandomized.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from areascreen import contract
from areascreen.errors import AreascreenError
from areascreen.load import read_area_statistics
from benchmarks.fuzz import FORMATS, SYNTHETIC, clean_frame, make_case, read_case

BOUNDED = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def test_the_clean_frame_is_the_synthetic_data() -> None:
    frame = clean_frame()
    synthetic = pd.read_parquet(SYNTHETIC)
    assert len(frame) == 50
    assert tuple(frame.columns) == contract.INPUT_COLUMNS
    assert frame["area_code"].tolist() == synthetic["area_code"].head(50).tolist()
    assert frame["population"].tolist() == synthetic["population"].head(50).tolist()


@pytest.mark.parametrize("file_format", FORMATS)
@settings(BOUNDED, max_examples=60)
@given(seed=SEEDS)
def test_neutral_changes_give_the_clean_frame(tmp_path: Path, file_format: str, seed: int) -> None:
    case = make_case(seed, neutral=True, file_format=file_format)
    frame = read_case(case, tmp_path)
    pd.testing.assert_frame_equal(frame, clean_frame(), obj=case.describe())


@pytest.mark.parametrize("file_format", FORMATS)
@settings(BOUNDED, max_examples=100)
@given(seed=SEEDS)
def test_damaged_files_are_read_or_refused_by_the_project(
    tmp_path: Path, file_format: str, seed: int
) -> None:
    case = make_case(seed, neutral=False, file_format=file_format)
    try:
        frame = read_case(case, tmp_path)
    except AreascreenError as error:
        assert str(error).startswith(f"input.{file_format}"), case.describe()
        return
    assert tuple(frame.columns) == contract.INPUT_COLUMNS, case.describe()
    assert all(frame[c].dtype == "Int64" for c in contract.INPUT_COLUMNS[3:]), case.describe()


@BOUNDED
@given(
    prefix=st.binary(max_size=64),
    text=st.text(max_size=200),
    separator=st.sampled_from([";", ",", "\t", "|"]),
)
def test_arbitrary_text_after_a_valid_header_is_read_or_refused(
    tmp_path: Path, prefix: bytes, text: str, separator: str
) -> None:
    header = separator.join(["Regionkod", "Namn", "Kommun", "År", "Folkmängd"])
    path = tmp_path / "arbitrary.csv"
    path.write_bytes(prefix + f"{header}\n{text}".encode("utf-8", "surrogatepass"))
    try:
        loaded = read_area_statistics(path)
    except AreascreenError as error:
        assert str(error).startswith("arbitrary.csv")
        return
    assert tuple(loaded.frame.columns) == contract.INPUT_COLUMNS
