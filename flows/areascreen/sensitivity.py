"""Threshold sensitivity: the screening repeated with each threshold moved by ±d percentage points.

A variant is the ruleset with its thresholds moved: one criterion at a time by +d and by -d, and
all criteria together by d in the adverse direction (stricter: fewer areas cross) and in the
favourable direction (looser: more areas cross). Variant 0 is the baseline (no threshold moved).
Only absolute thresholds (a rate in per cent) are moved; criteria with relative, statistical or
rank thresholds keep their crossing in every variant, and a ruleset that selects by a composite
index or has no absolute threshold has no sensitivity analysis.
Every variant is screened in one DuckDB statement over `area_criteria` (`sql/90_sensitivity.sql`),
with the same area and municipality rules as the screening itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from areascreen.db import connect, fetch_table, run_step
from areascreen.errors import InputError, RulesetError
from areascreen.flag import criteria_table
from areascreen.load import check_year
from areascreen.ruleset import Criterion, Ruleset, load_ruleset
from areascreen.screening import read_input, screen_into

OPERATORS = {"below": "<", "above": ">"}
BASELINE = "baseline"
ALL_CRITERIA = "all"
VARIANTS_SCHEMA = pa.schema(
    [
        ("variant_id", pa.int32()),
        ("variant", pa.string()),
        ("criterion", pa.string()),
        ("delta_pp", pa.float64()),
        ("shift", pa.string()),
        ("effect", pa.string()),
        ("thresholds", pa.string()),
        ("changed_thresholds", pa.string()),
        ("selected_areas", pa.int64()),
        ("eligible_municipalities", pa.int64()),
        ("entered", pa.int64()),
        ("left", pa.int64()),
        ("eligible_codes", pa.list_(pa.string())),
        ("entered_municipalities", pa.string()),
        ("left_municipalities", pa.string()),
    ]
)
STABILITY_SCHEMA = pa.schema(
    [
        ("municipality_code", pa.string()),
        ("municipality_name", pa.string()),
        ("eligible_baseline", pa.bool_()),
        ("variants_eligible", pa.int64()),
        ("variants", pa.int64()),
        ("stability", pa.float64()),
        ("differs_in", pa.string()),
    ]
)


@dataclass(frozen=True)
class Variant:
    """One set of moved thresholds."""

    variant_id: int
    label: str
    criterion: str | None
    delta_pp: Decimal
    shift: str
    thresholds: dict[str, Decimal]

    @property
    def effect(self) -> str:
        """'stricter' (fewer areas cross), 'looser' (more cross) or 'none' for the baseline."""
        return {"adverse": "stricter", "favourable": "looser"}.get(self.shift, "none")


@dataclass(frozen=True)
class SensitivityResult:
    """The variants screened and what they changed, as Arrow tables."""

    deltas: tuple[float, ...]
    variants: pa.Table
    variant_municipalities: pa.Table
    variant_changes: pa.Table
    municipality_stability: pa.Table


def exact(value: float) -> Decimal:
    """A number as the decimal it is written as (0.1 -> Decimal('0.1'))."""
    return Decimal(repr(float(value)))


def text(value: Decimal) -> str:
    """A decimal without trailing zeros: 61.0000 -> '61', 60.5 -> '60.5'."""
    shown = format(value.normalize(), "f")
    return "0" if shown in ("-0", "") else shown


def normalise_deltas(deltas: Sequence[float]) -> tuple[Decimal, ...]:
    """The deltas as exact decimals, each positive and finite, without repeats, smallest first."""
    if not deltas:
        raise ValueError("give at least one delta in percentage points, e.g. 1,2")
    for delta in deltas:
        if isinstance(delta, bool) or not math.isfinite(delta) or delta <= 0:
            raise ValueError(f"a delta must be a positive number of percentage points: {delta!r}")
        if exact(delta).as_tuple().exponent < -4:
            raise ValueError(f"a delta has at most 4 decimals: {delta!r}")
    return tuple(sorted({exact(delta) for delta in deltas}))


def moved(criterion: Criterion, delta: Decimal, shift: str) -> Decimal:
    """A criterion's threshold moved by delta in the adverse or favourable direction."""
    adverse_sign = -1 if criterion.direction == "below" else 1
    sign = adverse_sign if shift == "adverse" else -adverse_sign
    return exact(criterion.threshold.value) + sign * delta


def movable(ruleset: Ruleset) -> tuple[Criterion, ...]:
    """The criteria whose thresholds a variant moves: those with an absolute threshold."""
    if ruleset.selection.method != "criteria":
        return ()
    return tuple(c for c in ruleset.criteria if c.threshold.kind == "absolute")


def thresholds_text(
    ruleset: Ruleset, thresholds: dict[str, Decimal], *, changed: bool = False
) -> str:
    """The thresholds in words, 'employment_rate < 61 %, …'; only those moved when changed."""
    return ", ".join(
        f"{c.name} {OPERATORS[c.direction]} {text(thresholds[c.name])} %"
        for c in movable(ruleset)
        if not changed or thresholds[c.name] != exact(c.threshold.value)
    )


def single_variants(ruleset: Ruleset, delta: Decimal, first_id: int) -> list[Variant]:
    """One criterion at a time moved by +delta and by -delta (the others as in the ruleset)."""
    base = {c.name: exact(c.threshold.value) for c in movable(ruleset)}
    variants = []
    for criterion in movable(ruleset):
        for sign in (1, -1):
            threshold = base[criterion.name] + sign * delta
            shift = "adverse" if (sign > 0) == (criterion.direction == "above") else "favourable"
            label = f"{criterion.name} {'+' if sign > 0 else '-'}{text(delta)} pp"
            variants.append(
                Variant(
                    first_id + len(variants),
                    f"{label} ({text(threshold)} %)",
                    criterion.name,
                    delta,
                    shift,
                    base | {criterion.name: threshold},
                )
            )
    return variants


def all_variants(ruleset: Ruleset, delta: Decimal, first_id: int) -> list[Variant]:
    """Every criterion moved by delta together, in the adverse and in the favourable direction."""
    return [
        Variant(
            first_id + offset,
            f"all criteria {text(delta)} pp {shift} ({effect})",
            ALL_CRITERIA,
            delta,
            shift,
            {c.name: moved(c, delta, shift) for c in movable(ruleset)},
        )
        for offset, (shift, effect) in enumerate(
            (("adverse", "stricter"), ("favourable", "looser"))
        )
    ]


def build_variants(ruleset: Ruleset, deltas: Sequence[float]) -> list[Variant]:
    """The baseline, then per delta each criterion ± delta and all criteria together."""
    base = {c.name: exact(c.threshold.value) for c in movable(ruleset)}
    variants = [Variant(0, BASELINE, None, Decimal(0), "none", base)]
    for delta in normalise_deltas(deltas):
        variants += single_variants(ruleset, delta, len(variants))
        variants += all_variants(ruleset, delta, len(variants))
    return variants


def thresholds_table(ruleset: Ruleset, variants: Sequence[Variant]) -> pa.Table:
    """One row per variant and moved criterion with the variant's exact threshold."""
    ids = {c.name: n for n, c in enumerate(ruleset.criteria, start=1)}
    rows = [
        (v.variant_id, ids[name], Fraction(t)) for v in variants for name, t in v.thresholds.items()
    ]
    return pa.table(
        {
            "variant_id": pa.array([r[0] for r in rows], pa.int32()),
            "criterion_id": pa.array([r[1] for r in rows], pa.int16()),
            "value_num": pa.array([r[2].numerator for r in rows], pa.int64()),
            "value_den": pa.array([r[2].denominator for r in rows], pa.int64()),
        }
    )


def screen_variants(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, variants: Sequence[Variant]
) -> pa.Table:
    """Screen every variant in one SQL step; one row per variant and municipality."""
    rule = ruleset.municipality
    exact_share = rule.minimum_share_fraction
    con.register("sensitivity_thresholds", thresholds_table(ruleset, variants))
    try:
        run_step(
            con,
            "90_sensitivity",
            minimum_population=ruleset.minimum_population,
            criteria_required=ruleset.criteria_required,
            minimum_selected_areas=rule.minimum_selected_areas,
            minimum_population_in_selected_areas=rule.minimum_population_in_selected_areas,
            share_num=exact_share.numerator if exact_share is not None else None,
            share_den=exact_share.denominator if exact_share is not None else None,
            share_sd=rule.share_standard_deviations,
        )
    finally:
        con.unregister("sensitivity_thresholds")
    return fetch_table(con, "sensitivity_municipalities")


Row = dict[str, Any]


def _names(rows: Sequence[Row]) -> str:
    """'0180 Stockholm, 1280 Malmö' for the rows given."""
    return ", ".join(
        f"{row['municipality_code']} {row['municipality_name']}"
        if isinstance(row["municipality_name"], str)
        else row["municipality_code"]
        for row in rows
    )


def _by(rows: Sequence[Row], column: str) -> dict[Any, list[Row]]:
    """The rows grouped by a column's value, each group in the rows' order (nulls left out)."""
    groups: dict[Any, list[Row]] = {}
    for row in rows:
        if row[column] is not None:
            groups.setdefault(row[column], []).append(row)
    return groups


def summarise_variants(
    ruleset: Ruleset, variants: Sequence[Variant], results: Sequence[Row]
) -> pa.Table:
    """One row per variant: its thresholds, selected areas and eligible municipalities."""
    by_variant = _by(results, "variant_id")
    rows = []
    for variant in variants:
        own = by_variant.get(variant.variant_id, [])
        eligible = [r for r in own if r["eligible"]]
        entered = [r for r in own if r["change"] == "entered"]
        left = [r for r in own if r["change"] == "left"]
        rows.append(
            {
                "variant_id": variant.variant_id,
                "variant": variant.label,
                "criterion": variant.criterion,
                "delta_pp": float(variant.delta_pp),
                "shift": variant.shift,
                "effect": variant.effect,
                "thresholds": thresholds_text(ruleset, variant.thresholds),
                "changed_thresholds": thresholds_text(ruleset, variant.thresholds, changed=True),
                "selected_areas": sum(r["selected_areas"] or 0 for r in own),
                "eligible_municipalities": len(eligible),
                "entered": len(entered),
                "left": len(left),
                "eligible_codes": [r["municipality_code"] for r in eligible],
                "entered_municipalities": _names(entered),
                "left_municipalities": _names(left),
            }
        )
    return pa.Table.from_pylist(rows, schema=VARIANTS_SCHEMA)


def changes_table(variants: Sequence[Variant], results: pd.DataFrame) -> pa.Table:
    """One row per variant and municipality that entered or left the list."""
    labels = {v.variant_id: v.label for v in variants}
    moved_rows = results[results["change"].isin(["entered", "left"])].copy()
    moved_rows.insert(1, "variant", moved_rows["variant_id"].map(labels))
    columns = [
        "variant_id",
        "variant",
        "municipality_code",
        "municipality_name",
        "change",
        "selected_areas_baseline",
        "selected_areas",
    ]
    frame = moved_rows[columns].sort_values(["variant_id", "municipality_code"])
    return pa.Table.from_pandas(frame, preserve_index=False)


def stability_table(variants: Sequence[Variant], results: Sequence[Row]) -> pa.Table:
    """Per municipality eligible in the baseline or any variant: the share of variants eligible."""
    labels = {v.variant_id: v.label for v in variants}
    others = _by([r for r in results if r["variant_id"] != 0], "municipality_code")
    counted = len(variants) - 1
    rows = []
    for code in sorted(others):
        own = others[code]
        baseline = bool(own[0]["eligible_baseline"])
        eligible = sum(bool(r["eligible"]) for r in own)
        if not baseline and eligible == 0:
            continue
        differing = [r["variant_id"] for r in own if r["eligible"] != baseline]
        rows.append(
            {
                "municipality_code": code,
                "municipality_name": own[0]["municipality_name"],
                "eligible_baseline": baseline,
                "variants_eligible": eligible,
                "variants": counted,
                "stability": eligible / counted,
                "differs_in": "; ".join(labels[i] for i in differing),
            }
        )
    return pa.Table.from_pylist(rows, schema=STABILITY_SCHEMA)


def check_screened_with(con: duckdb.DuckDBPyConnection, ruleset: Ruleset) -> None:
    """Refuse a ruleset whose criteria differ from those the areas in `con` were screened with."""
    wanted = criteria_table(ruleset).to_pylist()
    screened = con.table("criteria").order("criterion_id").to_arrow_table().to_pylist()
    if screened != wanted:
        raise RulesetError(
            f"{ruleset.path}: the areas were screened with other criteria than this ruleset's; "
            "screen them with it first"
        )


def run_sensitivity(
    con: duckdb.DuckDBPyConnection, ruleset: Ruleset, deltas: Sequence[float]
) -> SensitivityResult | None:
    """Re-screen the screened areas (already in `con`) with every threshold variant, in one
    pass; None when the ruleset has no absolute threshold to move."""
    if not movable(ruleset):
        return None
    check_screened_with(con, ruleset)
    variants = build_variants(ruleset, deltas)
    long = screen_variants(con, ruleset, variants)
    rows = long.to_pylist()
    return SensitivityResult(
        deltas=tuple(float(d) for d in normalise_deltas(deltas)),
        variants=summarise_variants(ruleset, variants, rows),
        variant_municipalities=long,
        variant_changes=changes_table(variants, long.to_pandas()),
        municipality_stability=stability_table(variants, rows),
    )


def screen_sensitivity(
    input_path: Path, year: int, ruleset_path: Path, deltas: Sequence[float]
) -> SensitivityResult:
    """Read a file for the ruleset, screen its areas and run the sensitivity analysis."""
    ruleset = load_ruleset(ruleset_path)
    ruleset.require_year(year)
    if not movable(ruleset):
        raise RulesetError(
            f"{ruleset_path}: no absolute threshold to move (sensitivity moves thresholds "
            "given as a rate in per cent, in rulesets that select by criteria)"
        )
    data = read_input(Path(input_path), ruleset, year=year)
    if data.loaded.parse_problems:
        shown = ", ".join(p.describe() for p in data.loaded.parse_problems[:5])
        raise InputError(
            f"{Path(input_path).name}: values that are not whole numbers ({shown}); "
            "run `areascreen validate` on the file"
        )
    check_year(data.loaded, year)
    con = connect()
    try:
        screen_into(con, data, ruleset)
        result = run_sensitivity(con, ruleset, deltas)
        assert result is not None
        return result
    finally:
        con.close()
