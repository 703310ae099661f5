"""Several rulesets side by side: the same input screened under each, compared by municipality
and by area, with agreement counts and a self-contained HTML page (`areascreen compare`).

The comparison is written to a folder of its own and never into a publication.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from areascreen import paths
from areascreen.db import connect
from areascreen.errors import AreascreenError
from areascreen.formatting import integer
from areascreen.publish import write_csv
from areascreen.ruleset import MunicipalityRule, Ruleset, load_ruleset
from areascreen.screening import ScreeningInput, read_input, result_tables, screen_into
from areascreen.synthetic import mark_synthetic

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "compare.html.j2"
MANIFEST = "manifest.json"
SEPARATOR = "__"
POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
MUNICIPALITY_KEYS = ("municipality_code", "municipality_name", "county_code", "county_name")
AREA_KEYS = ("area_code", "area_name", "municipality_code", "county_code", "population")
FILES = (
    "comparison.csv",
    "comparison_areas.csv",
    "comparison_areas.parquet",
    "agreement.csv",
    "comparison.html",
)


class ComparisonError(AreascreenError):
    """The comparison cannot be made as asked: the message says why."""


@dataclass(frozen=True)
class ComparedRuleset:
    """One ruleset of a comparison, its short label and its result tables."""

    label: str
    ruleset: Ruleset
    tables: dict[str, pa.Table]

    @property
    def eligible_codes(self) -> list[str]:
        """Codes of the municipalities eligible under this ruleset."""
        return self.tables["eligible_municipalities"]["municipality_code"].to_pylist()

    @property
    def selected_areas(self) -> int:
        """How many areas this ruleset selects."""
        return sum(1 for s in self.tables["area_results"]["selected"].to_pylist() if s)


@dataclass(frozen=True)
class ComparisonResult:
    """What a comparison found and the files it wrote."""

    year: int
    input_path: Path
    rulesets: tuple[ComparedRuleset, ...]
    municipalities: pa.Table
    areas: pa.Table
    area_labels: tuple[str, ...]
    agreement: pa.Table
    notes: tuple[str, ...]
    synthetic_note: str | None
    files: tuple[Path, ...]

    def count(self, outcome: str, first: str = "", second: str = "") -> int:
        """An agreement count, e.g. count('eligible_under_all') or count('only_a', 'x', 'y')."""
        for row in self.agreement.to_pylist():
            if (row["outcome"], row["ruleset_a"], row["ruleset_b"]) == (outcome, first, second):
                return row["municipalities"]
        raise KeyError((outcome, first, second))


# --- Rulesets and the output folder ---------------------------------------------------------


def load_rulesets(year: int, ruleset_paths: Sequence[Path]) -> list[Ruleset]:
    """Each ruleset validated and for the year; at least two, no file given twice."""
    if len(ruleset_paths) < 2:
        raise ComparisonError("a comparison needs at least two rulesets (--ruleset A --ruleset B)")
    seen: dict[Path, Path] = {}
    for given in ruleset_paths:
        resolved = Path(given).resolve()
        if resolved in seen:
            raise ComparisonError(f"{given}: the same ruleset file is given twice")
        seen[resolved] = Path(given)
    rulesets = [load_ruleset(Path(p)) for p in ruleset_paths]
    for ruleset in rulesets:
        ruleset.require_year(year)
    return rulesets


def short_labels(rulesets: Sequence[Ruleset]) -> list[str]:
    """A short, unique label per ruleset from its name (lower case, letters, digits, '-')."""
    labels: list[str] = []
    for ruleset in rulesets:
        base = re.sub(r"[^a-z0-9]+", "-", ruleset.name.lower()).strip("-") or "ruleset"
        label, number = base, 2
        while label in labels:
            label, number = f"{base}-{number}", number + 1
        labels.append(label)
    return labels


def _holds_publication(folder: Path) -> bool:
    """Whether a folder is a publication, lies inside one, or is a reports folder of them."""
    if any((f / MANIFEST).exists() for f in (folder, *folder.parents)):
        return True
    if not folder.is_dir():
        return False
    return any(child.name.isdigit() and (child / MANIFEST).is_file() for child in folder.iterdir())


def prepare_out_dir(out_dir: Path) -> Path:
    """The output folder, created; a publication or a reports folder is refused."""
    folder = Path(out_dir).resolve()
    if folder.exists() and not folder.is_dir():
        raise ComparisonError(f"{out_dir}: --out must be a folder, and this is a file")
    try:
        if _holds_publication(folder):
            raise ComparisonError(
                f"{out_dir}: this folder holds or is part of a publication (a {MANIFEST} is "
                "there); a comparison is never written into a publication, choose another --out"
            )
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ComparisonError(f"{out_dir}: cannot use as the output folder: {error}") from error
    return folder


# --- Screening ------------------------------------------------------------------------------


def _screen_one(data: ScreeningInput, ruleset: Ruleset, validate: bool) -> dict[str, pa.Table]:
    """One ruleset's result tables, each on a fresh connection, the input gate first."""
    con = connect()
    try:
        if validate:
            from areascreen.validate import validate_input

            validate_input(data.loaded, ruleset, con=con)
        screen_into(con, data, ruleset)
        return result_tables(con)
    finally:
        con.close()


def screen_all(
    year: int,
    rulesets: Sequence[Ruleset],
    input_path: Path,
    sheet: str | None,
    validate: bool,
) -> tuple[list[dict[str, pa.Table]], list[ScreeningInput]]:
    """Every ruleset's tables; the input is read once per distinct set of needed columns."""
    inputs: dict[Any, ScreeningInput] = {}
    tables = []
    for ruleset in rulesets:
        key = ruleset.input_columns
        if key not in inputs:
            inputs[key] = read_input(input_path, ruleset, sheet=sheet, year=year)
        tables.append(_screen_one(inputs[key], ruleset, validate))
    return tables, list(inputs.values())


# --- Tables ---------------------------------------------------------------------------------


def _yes_no(values: pd.Series) -> pd.Series:
    """Booleans as 'yes' / 'no'; a municipality absent from a screening counts as 'no'."""
    return values.fillna(False).astype(bool).map({True: "yes", False: "no"})


def municipality_table(compared: Sequence[ComparedRuleset]) -> pa.Table:
    """One row per municipality: eligible, selected areas and residents in them per ruleset."""
    frames = [c.tables["municipality_results"].to_pandas() for c in compared]
    keys = pd.concat([f[list(MUNICIPALITY_KEYS)] for f in frames])
    table = keys.drop_duplicates("municipality_code").sort_values("municipality_code")
    for item, frame in zip(compared, frames, strict=True):
        wanted = frame[["municipality_code", "eligible", "selected_areas",
                        "population_in_selected_areas"]]  # fmt: skip
        table = table.merge(wanted, on="municipality_code", how="left")
        table = table.rename(
            columns={
                "eligible": f"eligible{SEPARATOR}{item.label}",
                "selected_areas": f"selected_areas{SEPARATOR}{item.label}",
                "population_in_selected_areas": f"population_in_selected_areas{SEPARATOR}"
                f"{item.label}",
            }
        )
    eligible = [f"eligible{SEPARATOR}{c.label}" for c in compared]
    table["eligible_under"] = table[eligible].fillna(False).astype(bool).sum(axis=1)
    for column in eligible:
        table[column] = _yes_no(table[column])
    for column in table.columns:
        if column.startswith(("selected_areas", "population_in")) or column == "eligible_under":
            table[column] = table[column].astype("Int64")
    return pa.Table.from_pandas(table.reset_index(drop=True), preserve_index=False)


def area_table(compared: Sequence[ComparedRuleset]) -> pa.Table:
    """One row per area: selected and selection status under each ruleset given."""
    frames = [c.tables["area_results"].to_pandas() for c in compared]
    keys = pd.concat([f[list(AREA_KEYS)] for f in frames])
    table = keys.drop_duplicates("area_code").sort_values("area_code")
    for item, frame in zip(compared, frames, strict=True):
        wanted = frame[["area_code", "selected", "selection_status"]].rename(
            columns={
                "selected": f"selected{SEPARATOR}{item.label}",
                "selection_status": f"selection_status{SEPARATOR}{item.label}",
            }
        )
        table = table.merge(wanted, on="area_code", how="left")
    selected = [f"selected{SEPARATOR}{c.label}" for c in compared]
    for column in selected:
        table[column] = table[column].astype("boolean")
    table["selected_under"] = table[selected].fillna(False).astype(bool).sum(axis=1)
    table["population"] = table["population"].astype("Int64")
    table["selected_under"] = table["selected_under"].astype("Int64")
    return pa.Table.from_pandas(table.reset_index(drop=True), preserve_index=False)


def agreement_table(municipalities: pa.Table, labels: Sequence[str]) -> pa.Table:
    """Municipalities eligible under all / some / exactly one / none of the rulesets, and for
    each pair of rulesets: both, only the first, only the second, neither."""
    eligible = {
        label: [v == "yes" for v in municipalities[f"eligible{SEPARATOR}{label}"].to_pylist()]
        for label in labels
    }
    counts = [sum(row) for row in zip(*eligible.values(), strict=True)]
    rows = [
        ("all", "", "", "eligible_under_all", sum(c == len(labels) for c in counts)),
        ("all", "", "", "eligible_under_some", sum(0 < c < len(labels) for c in counts)),
        ("all", "", "", "eligible_under_exactly_one", sum(c == 1 for c in counts)),
        ("all", "", "", "eligible_under_none", sum(c == 0 for c in counts)),
    ]
    for first, second in combinations(labels, 2):
        pairs = list(zip(eligible[first], eligible[second], strict=True))
        for outcome, wanted in (
            ("both", (True, True)),
            ("only_a", (True, False)),
            ("only_b", (False, True)),
            ("neither", (False, False)),
        ):
            rows.append(("pair", first, second, outcome, pairs.count(wanted)))
    names = ["scope", "ruleset_a", "ruleset_b", "outcome", "municipalities"]
    columns = list(zip(*rows, strict=True))
    types = [pa.string()] * 4 + [pa.int64()]
    return pa.table([pa.array(c, type=t) for c, t in zip(columns, types, strict=True)], names=names)


def division_notes(compared: Sequence[ComparedRuleset]) -> tuple[list[ComparedRuleset], list[str]]:
    """The rulesets on the first ruleset's division, and a note for each on another one."""
    division = compared[0].ruleset.division
    same = [c for c in compared if c.ruleset.division.name == division.name]
    notes = [
        f"{c.label} is on the area division {c.ruleset.division.label}, not "
        f"{division.label} as {compared[0].label} is: it is compared at municipality level only"
        for c in compared
        if c.ruleset.division.name != division.name
    ]
    return same, notes


# --- HTML -----------------------------------------------------------------------------------


def _bars(values: Sequence[tuple[str, int]], width: int = 420) -> list[dict[str, Any]]:
    """Horizontal bars for an SVG chart: label, value, shown value and length in pixels."""
    largest = max((v for _, v in values), default=0) or 1
    return [
        {"label": label, "value": value, "shown": integer(value), "length": value * width / largest}
        for label, value in values
    ]


def _municipality_conditions(rule: MunicipalityRule) -> list[str]:
    """The municipality rule's conditions beyond selected areas and residents, in words."""
    conditions = []
    if rule.minimum_share_in_selected_areas is not None:
        conditions.append(
            f"at least {rule.minimum_share_in_selected_areas:g} % of its residents in selected areas"
        )
    if rule.share_standard_deviations is not None:
        conditions.append(
            "a share of residents in selected areas at least "
            f"{rule.share_standard_deviations:g} standard deviations above the municipalities' mean"
        )
    if rule.index_spread_standard_deviations is not None:
        conditions.append(
            "an inequality index at least "
            f"{rule.index_spread_standard_deviations:g} standard deviations above the "
            "municipalities' mean"
        )
    return conditions


def _ruleset_context(item: ComparedRuleset) -> dict[str, Any]:
    """What the page says of one ruleset."""
    rules = item.ruleset
    municipality = rules.municipality
    return {
        "label": item.label,
        "name": rules.name,
        "path": str(rules.path),
        "sha256": rules.sha256,
        "description": rules.description,
        "source": rules.source,
        "division": rules.division.label,
        "rule_text": rules.rule_text,
        "criteria": [c.describe() for c in rules.criteria],
        "minimum_population": integer(rules.minimum_population),
        "minimum_selected_areas": integer(municipality.minimum_selected_areas),
        "minimum_residents": integer(municipality.minimum_population_in_selected_areas),
        "municipality_extra": _municipality_conditions(municipality),
        "eligible": integer(len(item.eligible_codes)),
        "selected_areas": integer(item.selected_areas),
    }


def _municipality_rows(result: ComparisonResult) -> list[dict[str, Any]]:
    """Municipalities eligible under at least one ruleset, for the page's table."""
    rows = []
    for row in result.municipalities.to_pylist():
        if not row["eligible_under"]:
            continue
        cells = [
            {
                "eligible": row[f"eligible{SEPARATOR}{c.label}"],
                "areas": integer(row[f"selected_areas{SEPARATOR}{c.label}"]),
                "residents": integer(row[f"population_in_selected_areas{SEPARATOR}{c.label}"]),
            }
            for c in result.rulesets
        ]
        rows.append({**row, "cells": cells})
    return rows


def _pair_rows(agreement: pa.Table) -> list[dict[str, str]]:
    """One row per pair of rulesets: both, only A, only B, neither."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for record in agreement.to_pylist():
        if record["scope"] == "pair":
            pair = (record["ruleset_a"], record["ruleset_b"])
            row = rows.setdefault(pair, {"ruleset_a": pair[0], "ruleset_b": pair[1]})
            row[record["outcome"]] = integer(record["municipalities"])
    return list(rows.values())


def _banner(note: str | None) -> str | None:
    """The synthetic banner's text: the input's own note, marked SYNTHETIC."""
    if note is None:
        return None
    return note if note.upper().startswith("SYNTHETIC") else f"SYNTHETIC: {note}"


def render_html(result: ComparisonResult) -> str:
    """The comparison page, from its template with autoescaping."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    labels = [c.label for c in result.rulesets]
    counts = result.municipalities["eligible_under"].to_pylist()
    overlap = [(f"eligible under {k} of {len(labels)}", counts.count(k)) for k in
               range(len(labels), 0, -1)]  # fmt: skip
    return environment.get_template(TEMPLATE).render(
        policy=markupsafe.Markup(POLICY),
        year=result.year,
        input_name=result.input_path.name,
        synthetic_banner=_banner(result.synthetic_note),
        notes=result.notes,
        rulesets=[_ruleset_context(c) for c in result.rulesets],
        eligible_bars=_bars([(c.label, len(c.eligible_codes)) for c in result.rulesets]),
        overlap_bars=_bars(overlap),
        totals={
            r["outcome"]: integer(r["municipalities"])
            for r in result.agreement.to_pylist()
            if r["scope"] == "all"
        },
        pairs=_pair_rows(result.agreement),
        municipalities=_municipality_rows(result),
        municipality_count=integer(result.municipalities.num_rows),
        area_labels=result.area_labels,
    )


# --- Writing --------------------------------------------------------------------------------


def write_outputs(result: ComparisonResult, folder: Path) -> tuple[Path, ...]:
    """Write the comparison's files into the folder (tables from synthetic input marked so in
    their first column); an OS error names the file."""
    tables = mark_synthetic(
        {"comparison": result.municipalities, "areas": result.areas, "agreement": result.agreement},
        result.synthetic_note,
    )
    written = []
    target = folder / "comparison.csv"
    try:
        write_csv(tables["comparison"], target)
        written.append(target)
        target = folder / "comparison_areas.csv"
        write_csv(tables["areas"], target)
        written.append(target)
        target = folder / "comparison_areas.parquet"
        pq.write_table(tables["areas"], target, compression="zstd")
        written.append(target)
        target = folder / "agreement.csv"
        write_csv(tables["agreement"], target)
        written.append(target)
        target = folder / "comparison.html"
        target.write_text(render_html(result), encoding="utf-8")
        written.append(target)
    except OSError as error:
        raise ComparisonError(f"{target}: cannot write: {error.strerror or error}") from error
    return tuple(written)


def compare_rulesets(
    year: int,
    ruleset_paths: Sequence[Path],
    input_path: Path | None,
    out_dir: Path,
    sheet: str | None = None,
    *,
    validate: bool = True,
) -> ComparisonResult:
    """Screen one input under each ruleset and write the comparison into `out_dir`."""
    rulesets = load_rulesets(year, ruleset_paths)
    folder = prepare_out_dir(out_dir)
    source = Path(input_path) if input_path is not None else paths.DEFAULT_INPUT
    tables, inputs = screen_all(year, rulesets, source, sheet, validate)
    compared = tuple(
        ComparedRuleset(label, ruleset, found)
        for label, ruleset, found in zip(short_labels(rulesets), rulesets, tables, strict=True)
    )
    same_division, notes = division_notes(compared)
    read_notes = [note for data in inputs for note in data.loaded.notes]
    municipalities = municipality_table(compared)
    result = ComparisonResult(
        year=year,
        input_path=source,
        rulesets=compared,
        municipalities=municipalities,
        areas=area_table(same_division),
        area_labels=tuple(c.label for c in same_division),
        agreement=agreement_table(municipalities, [c.label for c in compared]),
        notes=tuple(dict.fromkeys([*notes, *read_notes])),
        synthetic_note=next((d.synthetic_note for d in inputs if d.synthetic_note), None),
        files=(),
    )
    files = write_outputs(result, folder)
    return ComparisonResult(**{**result.__dict__, "files": files})


# --- Command line ---------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `compare` subcommand."""
    compare = commands.add_parser(
        "compare",
        help="screen the same data under several rulesets and compare the results",
        description="Screen one input under each ruleset and write comparison.csv, "
        "comparison_areas.csv/.parquet, agreement.csv and comparison.html into OUT. "
        "Nothing is published, and OUT may not be a publication.",
    )
    compare.add_argument("--year", type=int, required=True, help="year to screen")
    compare.add_argument(
        "--ruleset",
        type=Path,
        action="append",
        required=True,
        help="ruleset TOML; give it two or more times",
    )
    compare.add_argument(
        "--input",
        type=Path,
        help="area statistics: CSV, Parquet or .xlsx (default: the embedded synthetic demo data)",
    )
    compare.add_argument("--sheet", help="sheet name of an .xlsx input (default: the first sheet)")
    compare.add_argument("--out", type=Path, required=True, help="folder for the comparison")
    compare.set_defaults(handler=run_command)


def summary_lines(result: ComparisonResult) -> list[str]:
    """What the command prints: eligible per ruleset, agreement, notes and files."""
    lines = [f"Compared {len(result.rulesets)} rulesets for {result.year} on "
             f"{result.input_path.name}:"]  # fmt: skip
    if result.synthetic_note:
        lines.append(f"  {result.synthetic_note}")
    for item in result.rulesets:
        lines.append(
            f"  {item.label}: {len(item.eligible_codes)} eligible municipalities, "
            f"{item.selected_areas} selected areas"
        )
    lines.append(
        f"Eligible under all: {result.count('eligible_under_all')}, some but not all: "
        f"{result.count('eligible_under_some')} (exactly one: "
        f"{result.count('eligible_under_exactly_one')}), none: "
        f"{result.count('eligible_under_none')}"
    )
    lines += [f"Note: {note}" for note in result.notes]
    lines += [f"Written: {path}" for path in result.files]
    return lines


def run_command(args: argparse.Namespace) -> int:
    """The `compare` subcommand's handler."""
    result = compare_rulesets(args.year, args.ruleset, args.input, args.out, args.sheet)
    print("\n".join(summary_lines(result)))
    return 0
