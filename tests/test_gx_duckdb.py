"""The fixes in areascreen.gx_duckdb: each is still needed and still works with the installed GX,
SQLAlchemy and duckdb-engine. A failure here after an upgrade says which fix to revisit."""

from __future__ import annotations

import duckdb
import pytest

from areascreen import gx_duckdb
from areascreen.validate import _context


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """A database with one small table of codes."""
    database = duckdb.connect()
    database.execute(
        "CREATE TABLE codes AS SELECT range::BIGINT AS n, printf('0180C%04d', range) AS code "
        "FROM range(20)"
    )
    database.execute("INSERT INTO codes VALUES (20, '0180C\u0664\u0660\u0665\u0660')")
    return database


def batch_on(con: duckdb.DuckDBPyConnection):
    """A GX batch of the table `codes`, through the gate's datasource."""
    datasource = gx_duckdb.add_datasource(_context(None), "test", con)
    asset = datasource.add_table_asset("codes", table_name="codes")
    return datasource, asset.add_batch_definition_whole_table("all").get_batch()


def expect(batch, expectation):
    """One expectation's result with counts and examples."""
    return batch.validate(
        expectation,
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["n"]},
    )


def test_fix_1_gx_does_not_persist_duckdb_connections_by_itself() -> None:
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    own = [
        d for d in engine._PERSISTED_CONNECTION_DIALECTS if type(d) is not gx_duckdb._DialectName
    ]
    assert "duckdb" not in [str(getattr(d, "value", d)) for d in own], (
        "GX now persists duckdb connections itself: remove persist_connections from gx_duckdb"
    )


def test_fix_1_without_a_persisted_connection_metrics_fail(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import great_expectations as gx
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    datasource, batch = batch_on(con)
    assert gx_duckdb.gx_persists_connection_for_duckdb()
    passed = expect(batch, gx.expectations.ExpectColumnValuesToNotBeNull(column="code"))
    assert passed.success and passed.result["unexpected_count"] == 0
    gx_duckdb.close_datasource(datasource)

    without = tuple(
        d for d in engine._PERSISTED_CONNECTION_DIALECTS if type(d) is not gx_duckdb._DialectName
    )
    monkeypatch.setattr(engine, "_PERSISTED_CONNECTION_DIALECTS", without)
    monkeypatch.setattr(gx_duckdb, "persist_connections", lambda: None)
    _, unpersisted = batch_on(con)
    result = expect(unpersisted, gx.expectations.ExpectColumnValuesToNotBeNull(column="code"))
    raised = bool((result.exception_info or {}).get("raised_exception"))
    assert raised or not result.success, (
        "GX on duckdb works without a persisted connection: fix 1 may be unnecessary now"
    )


def test_fix_2_sqlalchemy_is_below_2_1_and_columns_reflect(con: duckdb.DuckDBPyConnection) -> None:
    import sqlalchemy

    assert gx_duckdb.sqlalchemy_version() < gx_duckdb.SQLALCHEMY_BELOW, (
        f"SQLAlchemy {sqlalchemy.__version__}: check duckdb-engine's column reflection, then "
        "move the pin and SQLALCHEMY_BELOW"
    )
    engine = sqlalchemy.create_engine("duckdb:///:memory:", **gx_duckdb.connection_kwargs(con))
    columns = sqlalchemy.inspect(engine).get_columns("codes")
    assert [(c["name"], type(c["type"]).__name__) for c in columns] == [
        ("n", "BigInteger"),
        ("code", "String"),
    ]
    engine.dispose()


def test_fix_3_gx_has_no_dialect_module_for_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    engine = SqlAlchemyExecutionEngine(
        connection_string="duckdb:///:memory:", **gx_duckdb.connection_kwargs(con)
    )
    assert engine.dialect_name == "duckdb"
    assert engine.dialect_module is None, (
        "GX now has a dialect module for duckdb: check regex and type expectations without "
        "use_dialect_module, and remove it if they work"
    )
    engine.engine.dispose()


def test_fix_3_regex_uses_ascii_classes_and_types_use_generic_names(
    con: duckdb.DuckDBPyConnection,
) -> None:
    import great_expectations as gx

    datasource, batch = batch_on(con)
    regex = expect(
        batch,
        gx.expectations.ExpectColumnValuesToMatchRegex(
            column="code", regex="^(?:[0-9]{4}[ABC][0-9]{4})$"
        ),
    )
    assert regex.result["unexpected_count"] == 1
    assert regex.result["partial_unexpected_index_list"] == [
        {"n": 20, "code": "0180C\u0664\u0660\u0665\u0660"}
    ]
    digits = expect(
        batch, gx.expectations.ExpectColumnValuesToMatchRegex(column="code", regex="^0180C\\d+$")
    )
    assert digits.result["unexpected_count"] == 1, "\\d must match ASCII digits only"
    for column, name in (("n", "BigInteger"), ("code", "String")):
        typed = batch.validate(
            gx.expectations.ExpectColumnValuesToBeOfType(column=column, type_=name)
        )
        assert typed.success, typed.result
    wrong = batch.validate(gx.expectations.ExpectColumnValuesToBeOfType(column="n", type_="String"))
    assert not wrong.success and wrong.result["observed_value"] == "BigInteger"
    gx_duckdb.close_datasource(datasource)


def test_the_datasource_sees_the_callers_in_memory_tables_without_a_copy(
    con: duckdb.DuckDBPyConnection,
) -> None:
    import great_expectations as gx

    datasource, batch = batch_on(con)
    con.execute("DELETE FROM codes WHERE n >= 10")
    result = batch.validate(gx.expectations.ExpectTableRowCountToEqual(value=10))
    assert result.success, result.result
    gx_duckdb.close_datasource(datasource)


def test_prepare_sets_up_every_cursor_so_gx_reads_a_view_over_arrow(
    con: duckdb.DuckDBPyConnection,
) -> None:
    import great_expectations as gx
    import pyarrow as pa

    arrow = pa.table({"n": pa.array(range(5), pa.int64())})
    prepared: list[duckdb.DuckDBPyConnection] = []

    def prepare(cursor: duckdb.DuckDBPyConnection) -> None:
        prepared.append(cursor)
        cursor.register("numbers", arrow)

    con.register("numbers", arrow)
    con.execute("CREATE VIEW numbers_view AS SELECT n * 2 AS twice FROM numbers")
    con.unregister("numbers")
    datasource = gx_duckdb.add_datasource(_context(None), "test", con, prepare)
    asset = datasource.add_table_asset("numbers_view", table_name="numbers_view")
    batch = asset.add_batch_definition_whole_table("all").get_batch()
    result = batch.validate(gx.expectations.ExpectColumnMaxToBeBetween(column="twice", max_value=8))
    assert result.success and result.result["observed_value"] == 8
    assert prepared
    gx_duckdb.close_datasource(datasource)
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM numbers_view")
