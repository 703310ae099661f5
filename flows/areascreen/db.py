"""Run the pipeline's SQL steps (`sql/*.sql`) on DuckDB, with values bound as parameters."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import duckdb
import pyarrow as pa

from areascreen.paths import SQL_DIR

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def connect() -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database. Tables need not keep the order rows were inserted in (every
    published table is sorted when read), which lets DuckDB build them in less memory."""
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = false")
    return con


@cache
def sql_text(step: str) -> str:
    """The text of `sql/<step>.sql`."""
    return (SQL_DIR / f"{step}.sql").read_text(encoding="utf-8")


def step_parameters(step: str) -> set[str]:
    """The `$name` parameters a step expects."""
    return _names_in(sql_text(step))


def run_step(con: duckdb.DuckDBPyConnection, step: str, **parameters: Any) -> None:
    """Execute one SQL step, binding exactly the parameters it names."""
    expected = step_parameters(step)
    if set(parameters) != expected:
        raise ValueError(
            f"sql/{step}.sql expects parameters {sorted(expected)}, got {sorted(parameters)}"
        )
    for statement in con.extract_statements(sql_text(step)):
        named = _names_in(statement.query)
        con.execute(statement.query, {k: v for k, v in parameters.items() if k in named} or None)


def _names_in(query: str) -> set[str]:
    """The `$name` parameters one statement uses."""
    return set(_PARAMETER.findall(re.sub(r"--[^\n]*", "", query)))


def fetch_table(con: duckdb.DuckDBPyConnection, name: str) -> pa.Table:
    """A table of the database as Arrow."""
    return con.table(name).to_arrow_table()
