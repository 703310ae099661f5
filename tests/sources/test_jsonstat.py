"""JSON-stat 2.0 parsing: recorded PxWeb responses into long frames, suppressed cells to NULL."""

from __future__ import annotations

import pandas as pd
import pytest

from areascreen.sources.jsonstat import JsonStatError, load_dataset

from .conftest import DESO, response_bytes


def test_data_response_becomes_one_row_per_cell_in_region_order() -> None:
    dataset = load_dataset(response_bytes("TAB6574_data.json"), context="TAB6574")
    frame = dataset.to_frame()
    assert dataset.table_id == "TAB6574"
    assert dataset.updated == "2019-03-21T08:00:00Z"
    assert dataset.time_variable == "Tid"
    assert dataset.geo_variable is None  # PxWeb sets role.geo only for map variables
    assert list(frame.columns) == [
        "Region",
        "Alder",
        "Kon",
        "ContentsCode",
        "Tid",
        "value",
        "status",
    ]
    assert frame["Region"].tolist() == list(DESO)
    assert frame["value"].tolist() == [1890, 2145, 1632, 2210, 1755, 1980]
    assert dataset.dimensions["Region"].labels["1280C1010"] == "1280C1010 (Malmö)"


def test_cells_are_ordered_with_the_last_dimension_fastest() -> None:
    frame = load_dataset(response_bytes("TAB5956_data_chunk1.json"), context="t").to_frame()
    assert frame[["Region", "UtbildningsNiva"]].values.tolist()[:6] == [
        ["0114A0010", "21"],
        ["0114A0010", "3+4"],
        ["0114A0010", "5"],
        ["0114A0010", "6"],
        ["0114A0010", "US"],
        ["0114A0020", "21"],
    ]
    assert frame["value"].tolist() == [140, 420, 160, 250, 12, 210, 520, 170, 260, 20]


def test_dotdot_status_cell_becomes_null_and_keeps_its_status() -> None:
    frame = load_dataset(response_bytes("TAB683_data_chunk1.json"), context="t").to_frame()
    cell = frame[(frame["Region"] == "1280B2030") & (frame["Sysselsattning"] == "FÖRV")]
    assert cell["value"].isna().all()
    assert cell["status"].tolist() == [".."]
    assert int(frame["value"].isna().sum()) == 1
    total = frame[(frame["Region"] == "1280B2030") & (frame["Sysselsattning"] == "total")]
    assert total["value"].tolist() == [1302]


def _tiny(**extra: object) -> dict[str, object]:
    """A two-cell dataset."""
    return {
        "version": "2.0",
        "class": "dataset",
        "id": ["Region", "Tid"],
        "size": [2, 1],
        "dimension": {
            "Region": {"category": {"index": {"0114A0010": 0, "0114A0020": 1}}},
            "Tid": {"category": {"index": ["2018"]}},
        },
        **extra,
    }


def test_status_symbol_suppresses_a_cell_even_when_a_value_is_present() -> None:
    frame = load_dataset(_tiny(value=[5, 7], status={"1": ".."}), context="t").to_frame()
    assert frame["value"].tolist()[0] == 5
    assert pd.isna(frame["value"].tolist()[1])


def test_sparse_values_and_a_dotdot_in_the_value_slot() -> None:
    frame = load_dataset(_tiny(value={"0": 12}), context="t").to_frame()
    assert frame["value"].tolist()[0] == 12 and pd.isna(frame["value"].tolist()[1])
    frame = load_dataset(_tiny(value=[3, ".."]), context="t").to_frame()
    assert frame["status"].isna().tolist() == [True, False]
    assert frame["status"].iloc[1] == ".."
    assert frame["value"].isna().tolist() == [False, True]


def test_metadata_has_dimensions_but_no_values() -> None:
    dataset = load_dataset(response_bytes("TAB683_metadata.json"), context="TAB683 metadata")
    assert dataset.values is None
    assert dataset.dimensions["Sysselsattning"].codes == ("FÖRV", "EJFÖRV", "total")
    assert "0114A0010_DeSO2025" in dataset.dimensions["Region"].codes
    with pytest.raises(JsonStatError, match="carries no values"):
        dataset.to_frame()


def test_malformed_json_names_the_context() -> None:
    with pytest.raises(JsonStatError, match=r"table TAB6574, POST .*: malformed JSON"):
        load_dataset(response_bytes("malformed_data.txt"), context="table TAB6574, POST /data")


def test_value_count_must_match_the_sizes() -> None:
    with pytest.raises(
        JsonStatError, match=r"TAB9: `value` has 3 cells but the sizes multiply to 2"
    ):
        load_dataset(_tiny(value=[1, 2, 3]), context="TAB9")


def test_a_document_that_is_not_a_dataset_is_refused() -> None:
    with pytest.raises(JsonStatError, match="not 'dataset'"):
        load_dataset(b'{"class": "collection"}', context="t")
