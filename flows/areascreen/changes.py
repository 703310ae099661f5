"""Year-over-year changes: which municipalities entered, left or stayed, and the areas behind it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from areascreen.db import fetch_table, run_step
from areascreen.errors import AreascreenError
from areascreen.formatting import markdown_table

PREVIOUS_TABLES = ("area_results", "municipality_results")


def find_previous_publication(reports_dir: Path, year: int) -> Path | None:
    """The newest publication of an earlier year under reports_dir, if any."""
    earlier = [
        folder
        for folder in reports_dir.glob("[0-9][0-9][0-9][0-9]")
        if int(folder.name) < year
        and all((folder / f"{name}.parquet").is_file() for name in PREVIOUS_TABLES)
    ]
    return max(earlier, key=lambda folder: int(folder.name), default=None)


def read_previous_table(previous: Path, name: str) -> pa.Table:
    """One table of a previous publication, read by its exact path (never as a glob pattern)."""
    path = previous / f"{name}.parquet"
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise AreascreenError(
            f"cannot read the previous publication's {path}: {error}; "
            "move that publication aside or repair it, and run again"
        ) from error


def compare_with(con: duckdb.DuckDBPyConnection, previous: Path) -> dict[str, pa.Table]:
    """Compare this run's results, already in the database, with a previous publication."""
    for name in PREVIOUS_TABLES:
        con.register(f"previous_{name}", read_previous_table(previous, name))
    run_step(con, "80_municipality_changes")
    run_step(con, "85_area_code_changes")
    return {name: fetch_table(con, name) for name in ("municipality_changes", "area_code_changes")}


def render_changes(previous: Path, year: int, changes: dict[str, pa.Table]) -> str:
    """changes.md: the list's changes since the previous publication, in words."""
    municipalities = changes["municipality_changes"].to_pylist()
    parts = [f"# Changes {previous.name} → {year}", f"Compared with `{previous}`."]
    for change in ("entered", "left", "stayed"):
        rows = [row for row in municipalities if row["change"] == change]
        parts.append(
            f"## {change.capitalize()} ({len(rows)})\n\n"
            + markdown_table(
                ["code", "municipality", "selected areas before", "now", "areas that changed"],
                (
                    [
                        r["municipality_code"],
                        r["municipality_name"],
                        r["selected_areas_before"],
                        r["selected_areas_now"],
                        r["area_changes"] or "–",
                    ]
                    for r in rows
                ),
            )
        )
    codes = changes["area_code_changes"].to_pylist()
    lines = [f"- {r['area_codes']} {r['side'].replace('_', ' ')}: {r['examples']}" for r in codes]
    parts.append(
        "## Area codes found in one publication only\n\n"
        + ("\n".join(lines) if lines else "- none: both publications use the same area codes")
    )
    return "\n\n".join(parts) + "\n"


def moves_text(municipality_changes: pa.Table) -> str:
    """How many municipalities entered, left and stayed, e.g. `2 entered, 1 left, 30 stayed`."""
    moves = pc.value_counts(municipality_changes["change"]).to_pylist()
    return ", ".join(f"{m['counts']} {m['values']}" for m in moves) or "none"
