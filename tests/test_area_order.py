"""Area ids follow area code order, so the published per-area tables sort by an integer."""

from __future__ import annotations

import pyarrow as pa

from areascreen.flag import area_ids_in_code_order
from tests.fixture_areas import fixture_frame, fixture_rules, screened


def test_a_file_in_code_order_keeps_its_row_positions():
    codes = pa.chunked_array([["0114A0010", "0114A0020"], ["0114A0030", "0180C1010"]])
    assert area_ids_in_code_order(codes).to_pylist() == [0, 1, 2, 3]


def test_ids_rank_the_codes_equal_codes_in_file_order_missing_last():
    codes = pa.chunked_array([["0180C1010", None], ["0114A0020", "0180C1010", "0114A0010"]])
    assert area_ids_in_code_order(codes).to_pylist() == [2, 4, 1, 3, 0]


def test_published_tables_are_in_area_code_order_whatever_the_file_order():
    frame = fixture_frame()
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert list(shuffled["area_code"]) != sorted(shuffled["area_code"])
    con = screened(shuffled, fixture_rules())
    areas = [row[0] for row in con.sql("SELECT area_code FROM published_area_results").fetchall()]
    assert areas == sorted(frame["area_code"])
    rows = con.sql("SELECT area_code, position FROM published_area_criteria").fetchall()
    assert rows == sorted(rows)
    in_order = screened(frame.sort_values("area_code"), fixture_rules())
    published = "SELECT * FROM published_area_results"
    assert con.sql(published).fetchall() == in_order.sql(published).fetchall()
