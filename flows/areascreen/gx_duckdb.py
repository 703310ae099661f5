"""Great Expectations on DuckDB: the three fixes GX 1.x needs to validate DuckDB tables.

GX validates SQL tables through SQLAlchemy; `duckdb-engine` provides the SQLAlchemy dialect.
Three things stand in the way, each fixed here and nowhere else:

1. **A persisted connection.** GX's `SqlAlchemyExecutionEngine` reads some query results after
   the connection has gone back to the pool, and a DuckDB cursor then yields no rows. GX keeps
   one connection open for the dialects in `_PERSISTED_CONNECTION_DIALECTS` (SQLite, SQL Server,
   ...); `duckdb` is added to that tuple.
2. **SQLAlchemy below 2.1.** With SQLAlchemy 2.1, column reflection through duckdb-engine 0.17
   fails (`Referenced table "pg_catalog.pg_collation" not found!`); the project pins
   `SQLAlchemy<2.1` and `check_versions` says so when another version is installed.
3. **A dialect module.** GX has no dialect module for `duckdb`, so regular-expression
   expectations raise. duckdb-engine's dialect derives from PostgreSQL's, and DuckDB supports
   PostgreSQL's `~` operator, so the engine gets a module whose `dialect` is SQLAlchemy's
   PostgreSQL dialect. duckdb-engine reflects columns as SQLAlchemy's generic types, so the
   module's type names are those: type expectations name `BigInteger`, `String`, `Boolean`.

The gate's engine is built on the caller's DuckDB connection: every SQLAlchemy connection is a
cursor of it (`con.cursor()`), so GX sees the tables of the run's own database, without a copy.
What is private to a DuckDB connection (registered Arrow tables, variables) is set up on each
cursor by the caller's `prepare` function, so GX can read a view over the caller's Arrow tables.
`tests/test_gx_duckdb.py` fails when an upgrade makes a fix unnecessary or breaks it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import duckdb

DIALECT = "duckdb"
TYPE_NAMES = {"integer": "BigInteger", "text": "String", "boolean": "Boolean"}
SQLALCHEMY_BELOW = (2, 1)


class _DialectName(str):
    """A dialect name GX can hold beside its own `GXSqlDialect` members (it reads `.value`)."""

    @property
    def value(self) -> str:
        """The name itself, as `GXSqlDialect.value` is."""
        return str(self)


def gx_persists_connection_for_duckdb() -> bool:
    """Whether GX keeps one connection open for the duckdb dialect."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    return any(name == DIALECT for name in engine._PERSISTED_CONNECTION_DIALECTS)


def persist_connections() -> None:
    """Fix 1: add duckdb to the dialects GX keeps one connection open for (idempotent)."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine

    if not gx_persists_connection_for_duckdb():
        engine._PERSISTED_CONNECTION_DIALECTS = (
            *engine._PERSISTED_CONNECTION_DIALECTS,
            _DialectName(DIALECT),
        )


def sqlalchemy_version() -> tuple[int, int]:
    """SQLAlchemy's major and minor version."""
    import sqlalchemy

    major, minor = sqlalchemy.__version__.split(".")[:2]
    return int(major), int(minor)


def check_versions() -> None:
    """Fix 2: refuse a SQLAlchemy with which duckdb-engine cannot reflect columns."""
    if sqlalchemy_version() >= SQLALCHEMY_BELOW:
        import sqlalchemy

        raise RuntimeError(
            f"SQLAlchemy {sqlalchemy.__version__} is installed; the DuckDB gate needs "
            "SQLAlchemy below 2.1 (duckdb-engine 0.17 cannot reflect columns with 2.1)"
        )


@cache
def dialect_module() -> ModuleType:
    """A dialect module for GX: PostgreSQL's dialect, SQLAlchemy's generic type names."""
    import inspect

    import sqlalchemy.types
    from sqlalchemy.dialects import postgresql

    module = ModuleType(f"{__name__}.dialect_module")
    for name, value in vars(sqlalchemy.types).items():
        if inspect.isclass(value) and issubclass(value, sqlalchemy.types.TypeEngine):
            setattr(module, name, value)
    module.dialect = postgresql.dialect
    return module


def use_dialect_module(execution_engine: Any) -> None:
    """Fix 3: give a duckdb execution engine the dialect module above, if GX gave none."""
    if execution_engine.dialect_name == DIALECT and execution_engine.dialect_module is None:
        execution_engine.dialect_module = dialect_module()


Prepare = Callable[[duckdb.DuckDBPyConnection], None]


def connection_kwargs(
    con: duckdb.DuckDBPyConnection, prepare: Prepare | None = None
) -> dict[str, Any]:
    """`create_engine` keyword arguments that make every connection a cursor of `con`,
    handed to `prepare` first when given."""
    from duckdb_engine import ConnectionWrapper

    def creator() -> Any:
        cursor = con.cursor()
        if prepare is not None:
            prepare(cursor)
        return ConnectionWrapper(cursor)

    return {"creator": creator}


def add_datasource(
    context: Any, name: str, con: duckdb.DuckDBPyConnection, prepare: Prepare | None = None
) -> Any:
    """A GX SQL datasource on the database of `con`, with all three fixes applied; `prepare`
    sets up each of its cursors (e.g. registers the Arrow tables a view reads)."""
    check_versions()
    persist_connections()
    datasource = context.data_sources.add_sql(
        name, connection_string="duckdb:///:memory:", kwargs=connection_kwargs(con, prepare)
    )
    use_dialect_module(datasource.get_execution_engine())
    return datasource


def close_datasource(datasource: Any) -> None:
    """Close the datasource's persisted connection and dispose of its engine."""
    execution_engine = datasource.get_execution_engine()
    connection = getattr(execution_engine, "_connection", None)
    if connection is not None:
        connection.close()
        execution_engine._connection = None
    execution_engine.engine.dispose()
