"""Allocate stage: share a year's budget among the eligible municipalities.

Amounts are exact: every weight is a fraction, the budget is counted in rounding units, and
the units left after rounding down go to the largest remainders (largest-remainder method).
Ties between equal remainders go to the larger population in selected areas, then to the
lower municipality code, so the result never depends on row order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from areascreen.errors import AreascreenError
from areascreen.ruleset import Allocation, load_ruleset


class AllocationError(AreascreenError):
    """The budget cannot be shared as the ruleset says."""


@dataclass(frozen=True)
class Recipient:
    """An eligible municipality and what its share is based on."""

    municipality_code: str
    municipality_name: str
    population_in_selected_areas: int


@dataclass(frozen=True)
class Grant:
    """One municipality's share and amount for one year."""

    year: int
    municipality_code: str
    municipality_name: str
    population_in_selected_areas: int
    share: Fraction
    amount: Fraction


def _exact(value: float) -> Fraction:
    """A decimal written in a ruleset, as the exact fraction it denotes (0.1 -> 1/10)."""
    return Fraction(repr(value))


def weights(recipients: Sequence[Recipient], key: Allocation) -> dict[str, Fraction]:
    """Each municipality's share of the budget; the shares add up to exactly 1."""
    codes = [r.municipality_code for r in recipients]
    if key.method == "fixed_shares":
        return _fixed_weights(codes, key.fixed_shares)
    base = _exact(key.base_share)
    total_population = sum(r.population_in_selected_areas for r in recipients)
    if total_population == 0:
        base = Fraction(1)
    return {
        r.municipality_code: base / len(recipients)
        + (1 - base) * Fraction(r.population_in_selected_areas, total_population or 1)
        for r in recipients
    }


def _fixed_weights(codes: Sequence[str], shares: Mapping[str, float]) -> dict[str, Fraction]:
    missing = sorted(set(codes) - set(shares))
    extra = sorted(set(shares) - set(codes))
    if missing or extra:
        raise AllocationError(
            "allocation.fixed_shares does not match the eligible municipalities: "
            f"without a share: {', '.join(missing) or 'none'}; "
            f"not eligible: {', '.join(extra) or 'none'}"
        )
    exact = {code: _exact(shares[code]) for code in codes}
    total = sum(exact.values())
    return {code: share / total for code, share in exact.items()}


def largest_remainder(
    quotas: Mapping[str, Fraction], total_units: int, tie_order: Sequence[str]
) -> dict[str, int]:
    """Round quotas (which add up to total_units) to integers that add up to total_units."""
    floors = {code: quota.numerator // quota.denominator for code, quota in quotas.items()}
    left = total_units - sum(floors.values())
    rank = {code: position for position, code in enumerate(tie_order)}
    by_remainder = sorted(quotas, key=lambda code: (-(quotas[code] - floors[code]), rank[code]))
    for code in by_remainder[:left]:
        floors[code] += 1
    return floors


def allocate_year(
    recipients: Sequence[Recipient], budget: float, year: int, key: Allocation
) -> list[Grant]:
    """Share one year's budget, rounded to the key's unit, adding up exactly to the budget."""
    if not recipients:
        return []
    unit = _exact(key.rounding_unit)
    units = _exact(budget) / unit
    if units.denominator != 1:
        raise AllocationError(
            f"the {year} budget {budget} is not a whole number of rounding units "
            f"({key.rounding_unit})"
        )
    shares = weights(recipients, key)
    tie_order = [
        r.municipality_code
        for r in sorted(
            recipients, key=lambda r: (-r.population_in_selected_areas, r.municipality_code)
        )
    ]
    rounded = largest_remainder(
        {code: share * units.numerator for code, share in shares.items()},
        units.numerator,
        tie_order,
    )
    return [
        Grant(
            year=year,
            municipality_code=r.municipality_code,
            municipality_name=r.municipality_name,
            population_in_selected_areas=r.population_in_selected_areas,
            share=shares[r.municipality_code],
            amount=rounded[r.municipality_code] * unit,
        )
        for r in sorted(recipients, key=lambda r: r.municipality_code)
    ]


def allocate_years(
    recipients: Sequence[Recipient],
    budget_per_year: Mapping[int, float],
    years: Iterable[int],
    key: Allocation,
) -> list[Grant]:
    """Share the budget of each requested year; every year must have a budget."""
    grants: list[Grant] = []
    for year in years:
        if year not in budget_per_year:
            known = ", ".join(str(y) for y in budget_per_year)
            raise AllocationError(f"the ruleset has no budget for {year} (it has {known})")
        grants.extend(allocate_year(recipients, budget_per_year[year], year, key))
    return grants


def grants_table(grants: Sequence[Grant]) -> pa.Table:
    """Grants as a table: share as a fraction of the budget, amount in the budget's unit."""
    return pa.table(
        {
            "year": pa.array([g.year for g in grants], pa.int32()),
            "municipality_code": pa.array([g.municipality_code for g in grants], pa.string()),
            "municipality_name": pa.array([g.municipality_name for g in grants], pa.string()),
            "population_in_selected_areas": pa.array(
                [g.population_in_selected_areas for g in grants], pa.int64()
            ),
            "share": pa.array([round(float(g.share), 9) for g in grants], pa.float64()),
            "amount": pa.array([float(g.amount) for g in grants], pa.float64()),
        }
    )


def recipients_from(eligible: pa.Table) -> list[Recipient]:
    """The eligible municipalities of a published or freshly computed list."""
    return [
        Recipient(
            row["municipality_code"],
            row["municipality_name"],
            row["population_in_selected_areas"],
        )
        for row in eligible.select(
            ["municipality_code", "municipality_name", "population_in_selected_areas"]
        ).to_pylist()
    ]


def write_multi_year_allocation(
    *, year: int, years: Sequence[int], ruleset_path: Path, reports_dir: Path, output: Path | None
) -> Path:
    """Allocate several years' budgets to a publication's list; write one CSV outside it,
    marked as synthetic in its first column when the list was made from synthetic input."""
    from areascreen.synthetic import mark_synthetic_table, synthetic_note

    publication = reports_dir / str(year)
    eligible_path = publication / "eligible_municipalities.parquet"
    if not eligible_path.is_file():
        raise AllocationError(
            f"{eligible_path}: no publication for {year}; run the screening first"
        )
    ruleset = load_ruleset(ruleset_path)
    grants = allocate_years(
        recipients_from(pq.read_table(eligible_path)),
        ruleset.budget_per_year,
        years,
        ruleset.allocation,
    )
    path = output or reports_dir / f"allocation_{year}_list_{min(years)}-{max(years)}.csv"
    table = mark_synthetic_table(grants_table(grants), synthetic_note(eligible_path))
    table.to_pandas().to_csv(path, index=False, lineterminator="\n")
    return path
