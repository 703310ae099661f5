"""Rulesets: thresholds, selection rule, budget and allocation key, read from TOML and validated."""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from areascreen.contract import INDICATORS
from areascreen.errors import RulesetError

DIRECTIONS = ("below", "above")
ALLOCATION_METHODS = ("base_plus_population", "fixed_shares")
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Criterion:
    """One indicator compared with an area threshold."""

    indicator: str
    direction: str
    threshold: float
    published_national_average: float


@dataclass(frozen=True)
class Allocation:
    """How a year's budget is shared among eligible municipalities."""

    method: str
    base_share: float
    rounding_unit: float
    fixed_shares: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ruleset:
    """A validated screening ruleset."""

    name: str
    year: int
    description: str
    criteria: tuple[Criterion, ...]
    criteria_required: int
    minimum_population: int
    minimum_selected_areas: int
    minimum_population_in_selected_areas: int
    budget_unit: str
    budget_per_year: Mapping[int, float]
    allocation: Allocation
    max_suppressed_share: float
    path: Path
    sha256: str

    def require_year(self, year: int) -> None:
        """A ruleset is written for one screening year; using it for another is a mistake."""
        if self.year != year:
            raise RulesetError(
                f"{self.path}: the ruleset is for {self.year}, but {year} is screened; "
                "copy it to a ruleset for that year"
            )

    @property
    def rule_text(self) -> str:
        """The selection rule in words."""
        n = len(self.criteria)
        if self.criteria_required == n:
            return f"all {n} criteria crossed"
        return f"at least {self.criteria_required} of {n} criteria crossed"


# A key's specification: (accepted types, required, extra check returning an error or None).
Check = Callable[[Any], str | None]
Spec = dict[str, tuple[tuple[type, ...], bool, Check | None]]


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _percentage(value: Any) -> str | None:
    return None if 0 <= value <= 100 else "must be a percentage between 0 and 100"


def _fraction(value: Any) -> str | None:
    return None if 0 <= value <= 1 else "must be a share between 0 and 1"


def _one_of(options: tuple[object, ...]) -> Check:
    listed = ", ".join(str(option) for option in options)
    return lambda value: None if value in options else f"must be one of {listed}"


def _at_least_one(value: Any) -> str | None:
    return None if value >= 1 else "must be 1 or more"


NUMBER = (int, float)
TOP_SPEC: Spec = {
    "schema_version": ((int,), True, _one_of((SCHEMA_VERSION,))),
    "name": ((str,), True, None),
    "year": ((int,), True, lambda y: None if 1900 <= y <= 2100 else "must be a year"),
    "description": ((str,), False, None),
    "selection": ((dict,), True, None),
    "municipality": ((dict,), True, None),
    "criteria": ((list,), True, lambda c: None if c else "must list at least one criterion"),
    "budget": ((dict,), True, None),
    "allocation": ((dict,), True, None),
    "quality": ((dict,), False, None),
}
SELECTION_SPEC: Spec = {
    "criteria_required": ((str, int), True, None),
    "minimum_population": ((int,), True, _non_negative),
}
MUNICIPALITY_SPEC: Spec = {
    "minimum_selected_areas": ((int,), True, _at_least_one),
    "minimum_population_in_selected_areas": ((int,), False, _non_negative),
}
CRITERION_SPEC: Spec = {
    "indicator": ((str,), True, _one_of(tuple(INDICATORS))),
    "direction": ((str,), True, _one_of(DIRECTIONS)),
    "threshold": (NUMBER, True, _percentage),
    "published_national_average": (NUMBER, True, _percentage),
}
BUDGET_SPEC: Spec = {
    "unit": ((str,), True, None),
    "per_year": ((dict,), True, lambda b: None if b else "must give at least one year"),
}
ALLOCATION_SPEC: Spec = {
    "method": ((str,), True, _one_of(ALLOCATION_METHODS)),
    "base_share": (NUMBER, False, _fraction),
    "rounding_unit": (NUMBER, False, _positive),
    "fixed_shares": ((dict,), False, None),
}
QUALITY_SPEC: Spec = {
    "max_suppressed_share": (NUMBER, False, _fraction),
}


def _take(table: Mapping[str, Any], spec: Spec, where: str, source: Path) -> dict[str, Any]:
    """Check a TOML table's keys, types and values against a spec; return it unchanged."""
    for key in table:
        if key not in spec:
            raise RulesetError(f"{source}: unknown key {where}{key}")
    for key, (types, required, check) in spec.items():
        if key not in table:
            if required:
                raise RulesetError(f"{source}: missing key {where}{key}")
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join(_type_name(t) for t in types)
            raise RulesetError(f"{source}: {where}{key} must be {wanted}, got {value!r}")
        problem = check(value) if check else None
        if problem:
            raise RulesetError(f"{source}: {where}{key} {problem}, got {value!r}")
    return dict(table)


def _type_name(kind: type) -> str:
    return {str: "text", int: "an integer", float: "a number", dict: "a table", list: "a list"}[
        kind
    ]


def _criteria(items: list[Any], source: Path) -> tuple[Criterion, ...]:
    criteria = []
    for position, item in enumerate(items, start=1):
        where = f"criteria[{position}]."
        if not isinstance(item, dict):
            raise RulesetError(f"{source}: criteria[{position}] must be a table")
        values = _take(item, CRITERION_SPEC, where, source)
        criteria.append(
            Criterion(
                indicator=values["indicator"],
                direction=values["direction"],
                threshold=float(values["threshold"]),
                published_national_average=float(values["published_national_average"]),
            )
        )
    names = [c.indicator for c in criteria]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RulesetError(f"{source}: criteria.indicator repeated: {', '.join(repeated)}")
    return tuple(criteria)


def _criteria_required(value: str | int, n_criteria: int, source: Path) -> int:
    if value == "all":
        return n_criteria
    if isinstance(value, int) and 1 <= value <= n_criteria:
        return value
    raise RulesetError(
        f'{source}: selection.criteria_required must be "all" or a number from 1 to '
        f"{n_criteria}, got {value!r}"
    )


def _budget(values: dict[str, Any], source: Path) -> dict[int, float]:
    budget: dict[int, float] = {}
    for key, amount in values["per_year"].items():
        where = f"budget.per_year.{key}"
        if not (key.isdigit() and len(key) == 4):
            raise RulesetError(f"{source}: {where}: the key must be a four-digit year")
        if isinstance(amount, bool) or not isinstance(amount, NUMBER) or amount < 0:
            raise RulesetError(f"{source}: {where} must be a number 0 or more, got {amount!r}")
        budget[int(key)] = float(amount)
    return dict(sorted(budget.items()))


def _allocation(values: dict[str, Any], source: Path) -> Allocation:
    shares = {}
    for code, share in values.get("fixed_shares", {}).items():
        where = f"allocation.fixed_shares.{code}"
        if not (code.isdigit() and len(code) == 4):
            raise RulesetError(f"{source}: {where}: the key must be a 4-digit municipality code")
        if isinstance(share, bool) or not isinstance(share, NUMBER) or share < 0:
            raise RulesetError(f"{source}: {where} must be a number 0 or more, got {share!r}")
        shares[code] = float(share)
    method = values["method"]
    if method == "fixed_shares" and not shares:
        raise RulesetError(f"{source}: allocation.fixed_shares must be given for fixed_shares")
    if shares and not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-9):
        raise RulesetError(f"{source}: allocation.fixed_shares must add up to 1")
    return Allocation(
        method=method,
        base_share=float(values.get("base_share", 0.0)),
        rounding_unit=float(values.get("rounding_unit", 0.1)),
        fixed_shares=shares,
    )


def parse_ruleset(document: Mapping[str, Any], source: Path, sha256: str = "") -> Ruleset:
    """Validate a parsed TOML document and build the ruleset."""
    top = _take(document, TOP_SPEC, "", source)
    selection = _take(top["selection"], SELECTION_SPEC, "selection.", source)
    municipality = _take(top["municipality"], MUNICIPALITY_SPEC, "municipality.", source)
    budget = _take(top["budget"], BUDGET_SPEC, "budget.", source)
    allocation = _take(top["allocation"], ALLOCATION_SPEC, "allocation.", source)
    quality = _take(top.get("quality", {}), QUALITY_SPEC, "quality.", source)
    criteria = _criteria(top["criteria"], source)
    return Ruleset(
        name=top["name"],
        year=top["year"],
        description=top.get("description", ""),
        criteria=criteria,
        criteria_required=_criteria_required(selection["criteria_required"], len(criteria), source),
        minimum_population=selection["minimum_population"],
        minimum_selected_areas=municipality["minimum_selected_areas"],
        minimum_population_in_selected_areas=municipality.get(
            "minimum_population_in_selected_areas", 0
        ),
        budget_unit=budget["unit"],
        budget_per_year=_budget(budget, source),
        allocation=_allocation(allocation, source),
        max_suppressed_share=float(quality.get("max_suppressed_share", 0.05)),
        path=source,
        sha256=sha256,
    )


def load_ruleset(path: Path) -> Ruleset:
    """Read and validate a ruleset file; errors name the file and the key."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise RulesetError(f"{path}: cannot read the ruleset ({error.strerror})") from error
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise RulesetError(f"{path}: not a valid TOML file: {error}") from error
    return parse_ruleset(document, path, hashlib.sha256(raw).hexdigest())
