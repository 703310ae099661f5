"""From election districts to DeSO: apply a key that shares each district out over DeSO areas.

Election districts do not nest in DeSO. A key is a CSV `district_code,deso_code,share`: the
share of the district's eligible voters living in that DeSO area (a district wholly inside one
area has one row with share 1). The shares of a district must add up to 1. Each district's
voters and eligible voters are shared out in proportion, as whole persons, by the
largest-remainder method: every area first gets the whole part of its share, and the persons
left over go one each to the areas with the largest fractional parts (ties to the lower DeSO
code). So the counts of a district add up exactly to its published counts, and the national
totals are unchanged. Collection districts (0 eligible voters) are not in the key; their voters
stay national-only.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pandas as pd

from areascreen.errors import InputError

KEY_COLUMNS = ("district_code", "deso_code", "share")
DISTRICT_CODE = re.compile(r"^\d{8}$")
# Shares written with a few decimals (1/3 as 0.333333) may miss 1 by rounding.
SHARE_TOLERANCE = Fraction(1, 10**6)
SHOWN = 5


@dataclass(frozen=True)
class KeyRow:
    """One row of a key: a district, a DeSO area, the share, and the file row for errors."""

    district: str
    deso: str
    share: Fraction
    row: int


def read_district_key(
    path: Path, *, known_codes: Iterable[str] | None = None
) -> dict[str, list[KeyRow]]:
    """A key per district; errors name the file, the row and the problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No district key at {path}")
    text = path.read_bytes().decode("utf-8-sig", errors="strict")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in KEY_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(
            f"{path}: no column {', '.join(missing)} in the header "
            f"(it has {', '.join(reader.fieldnames or [])}; expected {','.join(KEY_COLUMNS)})"
        )
    key: dict[str, list[KeyRow]] = {}
    for number, record in enumerate(reader, start=2):
        row = _key_row(record, number, path)
        key.setdefault(row.district, []).append(row)
    if not key:
        raise InputError(f"{path}: the key has no rows")
    _check_pairs(key, path)
    _check_sums(key, path)
    if known_codes is not None:
        _check_known(key, frozenset(known_codes), path)
    return key


def _key_row(record: dict[str, str], number: int, path: Path) -> KeyRow:
    """One checked row."""
    district = (record["district_code"] or "").strip()
    deso = (record["deso_code"] or "").strip()
    if not DISTRICT_CODE.match(district):
        raise InputError(
            f"{path}, row {number}: district_code {district!r} is not 8 digits "
            "(county, municipality, district: 01140101)"
        )
    try:
        share = Fraction((record["share"] or "").strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(
            f"{path}, row {number}: share {record['share']!r} is not a number"
        ) from None
    if not 0 < share <= 1:
        raise InputError(f"{path}, row {number}: share {record['share']} is not in (0, 1]")
    return KeyRow(district, deso, share, number)


def _check_pairs(key: dict[str, list[KeyRow]], path: Path) -> None:
    """A district and DeSO pair appears once."""
    for district, rows in key.items():
        seen: dict[str, int] = {}
        for row in rows:
            if row.deso in seen:
                raise InputError(
                    f"{path}: district {district} and DeSO {row.deso} appear twice "
                    f"(rows {seen[row.deso]} and {row.row})"
                )
            seen[row.deso] = row.row


def _check_sums(key: dict[str, list[KeyRow]], path: Path) -> None:
    """The shares of each district add up to 1."""
    off = [
        (district, sum((r.share for r in rows), Fraction(0)), rows[0].row)
        for district, rows in key.items()
        if abs(sum((r.share for r in rows), Fraction(0)) - 1) > SHARE_TOLERANCE
    ]
    if off:
        shown = ", ".join(f"{d} (from row {r}: {float(t):.6f})" for d, t, r in off[:SHOWN])
        raise InputError(f"{path}: the shares of district(s) do not add up to 1: {shown}")


def _check_known(key: dict[str, list[KeyRow]], known: frozenset[str], path: Path) -> None:
    """Every DeSO code is one of the division's."""
    unknown = [row for rows in key.values() for row in rows if row.deso not in known]
    if unknown:
        shown = ", ".join(f"{r.deso} (row {r.row})" for r in unknown[:SHOWN])
        raise InputError(f"{path}: unknown DeSO code(s): {shown}")


def largest_remainder(
    total: int,
    shares: Sequence[Fraction],
    order: Sequence[str],
    caps: Sequence[int] | None = None,
) -> list[int]:
    """Whole parts of `total` in proportion to `shares`, adding up to `total` exactly.

    With `caps` no part exceeds its cap (voters never exceed an area's eligible voters): the
    persons left over go to the largest remainders among the parts still below their cap.
    """
    norm = sum(shares, Fraction(0))
    exact = [total * s / norm for s in shares]
    parts = [int(e) for e in exact]  # exact >= 0, so int() is the floor
    if caps is not None:
        parts = [min(p, c) for p, c in zip(parts, caps, strict=True)]
    ranked = sorted(range(len(shares)), key=lambda i: (-(exact[i] - int(exact[i])), order[i]))
    left = total - sum(parts)
    while left > 0:
        open_ = [i for i in ranked if caps is None or parts[i] < caps[i]]
        if not open_:
            raise ValueError(f"cannot share {total} within the caps {list(caps or [])}")
        for i in open_[:left]:
            parts[i] += 1
        left = total - sum(parts)
    return parts


def apply_district_key(
    districts: pd.DataFrame, key: dict[str, list[KeyRow]], *, source: str = "the results"
) -> pd.DataFrame:
    """Voters and eligible voters per DeSO (int64), from districts (`area_code`, `voters`,
    `eligible_voters`, as read by `read_election_districts`) and a key."""
    counts = districts.set_index("area_code")[["voters", "eligible_voters"]]
    absent = sorted(set(key) - set(counts.index))
    if absent:
        raise InputError(
            f"{source}: district(s) in the key missing from the results: {', '.join(absent[:SHOWN])}"
            + (f" and {len(absent) - SHOWN} more" if len(absent) > SHOWN else "")
        )
    unkeyed = sorted(set(counts.index) - set(key))
    if unkeyed:
        raise InputError(
            f"{source}: district(s) with eligible voters not in the key (their votes would be "
            f"lost): {', '.join(unkeyed[:SHOWN])}"
            + (f" and {len(unkeyed) - SHOWN} more" if len(unkeyed) > SHOWN else "")
        )
    totals: dict[str, list[int]] = {}
    for district, rows in key.items():
        shares = [r.share for r in rows]
        areas = [r.deso for r in rows]
        eligible = largest_remainder(int(counts.at[district, "eligible_voters"]), shares, areas)
        voters = largest_remainder(int(counts.at[district, "voters"]), shares, areas, eligible)
        for area, v, e in zip(areas, voters, eligible, strict=True):
            pair = totals.setdefault(area, [0, 0])
            pair[0] += v
            pair[1] += e
    frame = pd.DataFrame(
        [(a, v, e) for a, (v, e) in sorted(totals.items())],
        columns=["area_code", "voters", "eligible_voters"],
    )
    return frame.astype({"voters": "int64", "eligible_voters": "int64"})
