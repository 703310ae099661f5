"""Reading area statistics from CSV, Parquet and Excel into the input contract."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from areascreen import contract
from areascreen.errors import AreascreenError, InputError
from areascreen.load import (
    InputColumns,
    ParseProblem,
    column_map,
    normalise_name,
    read_area_statistics,
)

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
VALID_FILES = (
    "valid_scb.csv",
    "valid_latin1.csv",
    "valid_bom.csv",
    "valid_english_comma.csv",
    "valid_tab.tsv",
    "valid.parquet",
    "valid.xlsx",
)
HEADER = "Regionkod;Namn;Kommun;År;Folkmängd;Förvärvsarbetande;Befolkning 20-64 år;"
HEADER += "Långtidsarbetslösa;Befolkning 16-64 år;Förgymnasialt utbildade;Befolkning 25-64 år;"
HEADER += "Röstande;Röstberättigade\n"


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """The corpus's valid table, read from the Statistics Sweden-style CSV."""
    return read_area_statistics(CORPUS / "valid_scb.csv").frame


def write_csv(tmp_path: Path, body: str, name: str = "areas.csv", header: str = HEADER) -> Path:
    """A CSV file with the Swedish header and the given data lines."""
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", VALID_FILES)
def test_valid_files_in_every_format_give_identical_frames(name: str, base: pd.DataFrame) -> None:
    loaded = read_area_statistics(CORPUS / name)
    pd.testing.assert_frame_equal(loaded.frame, base)
    assert loaded.parse_problems == ()


def test_frame_has_the_contract_columns_and_types(base: pd.DataFrame) -> None:
    assert tuple(base.columns) == contract.INPUT_COLUMNS
    for column in ("area_code", "area_name", "municipality_code"):
        assert pd.api.types.is_string_dtype(base[column].dtype)
    for column in ("year", *contract.COUNT_COLUMNS):
        assert base[column].dtype == "Int64"
    first = base.iloc[0]
    assert (first["area_code"], first["municipality_code"], first["year"]) == (
        "0180C4050",
        "0180",
        2018,
    )
    assert (first["population"], first["employed"], first["eligible_voters"]) == (1843, 912, 1402)
    assert base["area_name"].iloc[4] == "Almvik norr-Lindängen norr"


def test_formats_and_encodings_are_reported() -> None:
    found = {
        name: (loaded.file_format, loaded.encoding)
        for name in VALID_FILES
        for loaded in [read_area_statistics(CORPUS / name)]
    }
    assert found == {
        "valid_scb.csv": ("csv", "utf-8"),
        "valid_latin1.csv": ("csv", "latin-1"),
        "valid_bom.csv": ("csv", "utf-8-sig"),
        "valid_english_comma.csv": ("csv", "utf-8"),
        "valid_tab.tsv": ("csv", "utf-8"),
        "valid.parquet": ("parquet", None),
        "valid.xlsx": ("xlsx", None),
    }


def test_swedish_column_names_map_to_the_contract() -> None:
    loaded = read_area_statistics(CORPUS / "valid_scb.csv")
    assert loaded.column_map_used["Regionkod"] == "area_code"
    assert loaded.column_map_used["År"] == "year"
    assert loaded.column_map_used["Befolkning 20-64 år"] == "population_20_64"
    assert loaded.column_map_used["Röstberättigade"] == "eligible_voters"
    assert sorted(loaded.column_map_used.values()) == sorted(contract.INPUT_COLUMNS)


def test_column_names_match_whatever_their_case_spacing_and_dash() -> None:
    assert normalise_name("  BEFOLKNING  20\u201364 ÅR ") == "befolkning 20-64 år"
    assert column_map()[normalise_name("DeSO")] == "area_code"
    assert column_map()[normalise_name("Kommunkod")] == "municipality_code"
    assert column_map()["population"] == "population"


def test_every_column_map_row_names_a_canonical_column() -> None:
    rows = pd.read_csv(Path(contract.__file__).parents[2] / "data" / "column_map.csv", dtype=str)
    assert list(rows.columns) == ["source_name", "contract_name"]
    assert rows["contract_name"].str.fullmatch(r"[a-z][a-z0-9_]*").all()
    assert set(contract.INPUT_COLUMNS) <= set(rows["contract_name"])


def test_suppression_markers_become_missing_not_problems(tmp_path: Path) -> None:
    body = "0180C4050;Abrahamsberg;0180;2018;1843;..;1104;.;1240;-;1010;;1402\n"
    loaded = read_area_statistics(write_csv(tmp_path, body))
    row = loaded.frame.iloc[0]
    assert [
        row[c] is pd.NA for c in ("employed", "long_term_unemployed", "low_educated", "voters")
    ] == [True] * 4
    assert row["population_20_64"] == 1104
    assert loaded.parse_problems == ()


def test_values_that_are_not_whole_numbers_are_kept_as_problems(tmp_path: Path) -> None:
    body = (
        "0180C4050;Abrahamsberg;0180;2018;1843;12,5;1104;21;1240;88;1010;1190;1402\n"
        "0180C4190;Abrahamsberg;0180;2018;2210,0;abc;1320;18;1468;95;1215;1452;1 655\n"
    )
    loaded = read_area_statistics(write_csv(tmp_path, body))
    assert loaded.parse_problems == (
        ParseProblem(2, "employed", "12,5"),
        ParseProblem(3, "employed", "abc"),
        ParseProblem(3, "eligible_voters", "1 655"),
    )
    assert loaded.frame["population"].tolist() == [1843, 2210]
    assert loaded.frame["employed"].isna().all()


def test_line_numbers_count_blank_lines_and_the_header(tmp_path: Path) -> None:
    body = "\n0180C4050;Abrahamsberg;0180;2018;1843;x;1104;21;1240;88;1010;1190;1402\n"
    loaded = read_area_statistics(write_csv(tmp_path, body))
    assert loaded.row_label == "line"
    assert loaded.source_rows().tolist() == [3]
    assert loaded.parse_problems == (ParseProblem(3, "employed", "x"),)


def test_codes_are_kept_exactly_as_written(tmp_path: Path) -> None:
    body = " 0180C4050;Abrahamsberg;0180 ;2018;1843;912;1104;21;1240;88;1010;1190;1402\n"
    body += "0180c4190;Abrahamsberg;0180;2018;2210;1135;1320;18;1468;95;1215;1452;1655\n"
    frame = read_area_statistics(write_csv(tmp_path, body)).frame
    assert frame["area_code"].tolist() == [" 0180C4050", "0180c4190"]
    assert frame["municipality_code"].tolist() == ["0180 ", "0180"]


def test_declared_decimal_point_refuses_decimal_commas() -> None:
    loaded = read_area_statistics(CORPUS / "decimal_comma_declared_dot.csv", decimal=".")
    assert len(loaded.parse_problems) == 10
    assert loaded.parse_problems[0] == ParseProblem(2, "population", "1843,0")
    auto = read_area_statistics(CORPUS / "decimal_comma_declared_dot.csv")
    assert auto.parse_problems == ()
    assert auto.frame["population"].iloc[0] == 1843


def test_format_comes_from_the_content_not_the_name(tmp_path: Path) -> None:
    disguised = tmp_path / "areas.csv"
    disguised.write_bytes((CORPUS / "valid.parquet").read_bytes())
    assert read_area_statistics(disguised).file_format == "parquet"
    text = tmp_path / "areas.parquet"
    text.write_bytes((CORPUS / "valid_scb.csv").read_bytes())
    assert read_area_statistics(text).file_format == "csv"


def test_sheets_are_chosen_by_name_or_position() -> None:
    workbook = CORPUS / "second_sheet.xlsx"
    by_name = read_area_statistics(workbook, sheet="Data")
    by_position = read_area_statistics(workbook, sheet=1)
    pd.testing.assert_frame_equal(by_name.frame, by_position.frame)
    assert by_name.row_label == "row"
    assert by_name.source_rows().tolist() == list(range(2, 12))


def test_an_unknown_sheet_is_named_with_the_sheets_there_are() -> None:
    with pytest.raises(InputError) as caught:
        read_area_statistics(CORPUS / "second_sheet.xlsx", sheet="Blad1")
    assert str(caught.value) == (
        "second_sheet.xlsx: no sheet 'Blad1'; the workbook has sheets 'Om tabellen', 'Data'"
    )


def test_numbers_in_parquet_convert_only_when_whole(tmp_path: Path, base: pd.DataFrame) -> None:
    frame = base.copy()
    frame["employed"] = frame["employed"].astype("float64")
    frame.loc[1, "employed"] = 12.5
    frame["municipality_code"] = frame["municipality_code"].astype(int)
    path = tmp_path / "floats.parquet"
    frame.to_parquet(path, index=False)
    loaded = read_area_statistics(path)
    assert loaded.parse_problems == (ParseProblem(2, "employed", "12.5"),)
    assert loaded.frame["employed"].iloc[0] == 912
    assert loaded.frame["municipality_code"].iloc[0] == "180"
    assert any("municipality_code is stored as numbers in 10 rows" in n for n in loaded.notes)


def test_a_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^absent\.csv: cannot be read"):
        read_area_statistics(tmp_path / "absent.csv")


def test_a_damaged_parquet_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(InputError, match=r"^broken\.parquet: not a readable Parquet file"):
        read_area_statistics(path)


def test_loaded_input_is_frozen() -> None:
    loaded = read_area_statistics(CORPUS / "valid_scb.csv")
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.encoding = "latin-1"  # type: ignore[misc]


def test_importing_areascreen_does_not_import_great_expectations() -> None:
    code = (
        "import sys, areascreen.load, areascreen.validate, areascreen.errors; "
        "print('great_expectations' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_subset_of_columns_is_read_in_the_order_asked(tmp_path: Path) -> None:
    body = "0180C4050;Abrahamsberg;0180;2018;1843;912;1104;21;1240;88;1010;1190;1402\n"
    wanted = InputColumns(text=("area_code",), integers=("voters", "population"))
    loaded = read_area_statistics(write_csv(tmp_path, body), columns=wanted)
    assert list(loaded.frame.columns) == ["area_code", "voters", "population"]
    assert loaded.frame.iloc[0].tolist() == ["0180C4050", 1190, 1843]
    assert loaded.columns == wanted
    assert loaded.column_map_used == {
        "Regionkod": "area_code",
        "Folkmängd": "population",
        "Röstande": "voters",
    }
    ignored = [n for n in loaded.notes if n.startswith("ignored columns not used by the ruleset")]
    assert ignored == [
        "ignored columns not used by the ruleset: 'Namn', 'Kommun', 'År', 'Förvärvsarbetande', "
        "'Befolkning 20-64 år', 'Långtidsarbetslösa', 'Befolkning 16-64 år', "
        "'Förgymnasialt utbildade', 'Befolkning 25-64 år', 'Röstberättigade'"
    ]


def test_a_canonical_name_outside_the_contract_maps_to_itself(tmp_path: Path) -> None:
    header = HEADER.rstrip("\n") + ";Median_Income\n"
    body = "0180C4050;Abrahamsberg;0180;2018;1843;912;1104;21;1240;88;1010;1190;1402;241000\n"
    wanted = InputColumns(integers=(*InputColumns().integers, "median_income"))
    loaded = read_area_statistics(write_csv(tmp_path, body, header=header), columns=wanted)
    assert list(loaded.frame.columns) == [*contract.INPUT_COLUMNS, "median_income"]
    assert loaded.frame["median_income"].dtype == "Int64"
    assert loaded.frame["median_income"].tolist() == [241000]
    assert loaded.column_map_used["Median_Income"] == "median_income"


def test_a_missing_needed_column_is_named_with_its_accepted_names(tmp_path: Path) -> None:
    body = "0180C4050;Abrahamsberg;0180;2018;1843;912;1104;21;1240;88;1010;1190;1402\n"
    wanted = InputColumns(integers=("year", "median_income"))
    with pytest.raises(InputError) as caught:
        read_area_statistics(write_csv(tmp_path, body), columns=wanted)
    assert str(caught.value) == (
        "areas.csv: missing required column: median_income (accepted names: median_income)"
    )


def test_column_names_must_be_canonical() -> None:
    with pytest.raises(AreascreenError, match="must match"):
        InputColumns(text=("Area Code",))
    with pytest.raises(AreascreenError, match="more than once: year"):
        InputColumns(text=("year",))


def test_problem_cells_mark_the_cells_that_did_not_convert(tmp_path: Path) -> None:
    body = (
        "0180C4050;Abrahamsberg;0180;2018;1843;12,5;1104;21;1240;88;1010;1190;1402\n"
        "\n"
        "0180C4190;Abrahamsberg;0180;2018;2210;1135;1320;18;1468;95;1215;1452;x\n"
    )
    loaded = read_area_statistics(write_csv(tmp_path, body))
    cells = loaded.problem_cells()
    assert list(cells.columns) == list(contract.INPUT_COLUMNS)
    assert cells.dtypes.eq(bool).all()
    assert [(r, c) for r, c in zip(*cells.to_numpy().nonzero(), strict=True)] == [
        (0, contract.INPUT_COLUMNS.index("employed")),
        (1, contract.INPUT_COLUMNS.index("eligible_voters")),
    ]


def test_typed_parquet_columns_stay_in_arrow_with_the_csv_readers_results(
    tmp_path: Path, base: pd.DataFrame
) -> None:
    """Parquet columns whose types fit the contract are checked in Arrow: an empty text cell is
    missing, dictionary-encoded text and narrow integers read as such, a count of 16 digits is
    a parse problem, exactly as the same values written in a CSV file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(base, preserve_index=False)
    names = table.column("area_name").to_pylist()
    names[2] = ""
    employed = table.column("employed").to_pylist()
    employed[4] = 10**15
    table = table.set_column(
        table.schema.get_field_index("area_name"),
        "area_name",
        pa.array(names, pa.string()).dictionary_encode(),
    )
    table = table.set_column(
        table.schema.get_field_index("employed"), "employed", pa.array(employed, pa.int64())
    )
    table = table.set_column(
        table.schema.get_field_index("voters"),
        "voters",
        table.column("voters").cast(pa.int32()),
    )
    parquet = tmp_path / "typed.parquet"
    pq.write_table(table, parquet)
    loaded = read_area_statistics(parquet)
    assert isinstance(loaded.data, pa.Table)
    # Parquet rows are counted from 1, the first data row.
    assert loaded.parse_problems == (ParseProblem(5, "employed", str(10**15)),)
    assert loaded.frame["area_name"].isna().tolist() == [i == 2 for i in range(len(base))]
    assert loaded.frame["employed"].isna().tolist() == [i == 4 for i in range(len(base))]
    assert loaded.frame["voters"].tolist() == base["voters"].tolist()

    written = base.copy()
    written["area_name"] = names
    written["employed"] = pd.array(employed, dtype="Int64")
    csv = tmp_path / "typed.csv"
    written.to_csv(csv, sep=";", index=False)
    from_csv = read_area_statistics(csv)
    assert [p.column for p in from_csv.parse_problems] == ["employed"]
    pd.testing.assert_frame_equal(loaded.frame, from_csv.frame)
