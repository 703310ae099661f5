"""Rulesets: the year's method as data, read from TOML and validated on load.

A ruleset names its area division and its indicators, states each criterion (an indicator, a
direction and a threshold of one of several kinds), how areas are selected (criteria crossed, or
the classes of a composite index), when a municipality is eligible, the budget and how it is
shared. Every key is documented in docs/rulesets.md; errors name the file and the key.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from areascreen import paths
from areascreen.divisions import Division, load_division
from areascreen.errors import RulesetError
from areascreen.load import InputColumns

DIRECTIONS = ("below", "above")
ALLOCATION_METHODS = ("base_plus_population", "fixed_shares")
SELECTION_METHODS = ("criteria", "index")
SCHEMA_VERSION = 2
IDENTIFIER_COLUMNS = ("area_code", "area_name", "municipality_code")
# A fixed-number threshold is compared exactly on counts as a fraction p/q; q is limited so the
# integer products stay far inside DuckDB's 128-bit range for counts up to the input gate's limit.
MAX_THRESHOLD_DECIMALS = 9
# The area results keep each area's criteria as bits of one 128-bit value (four states of 30).
MAX_CRITERIA = 30
INDICATORS_TOML = paths.DATA_DIR / "indicators.toml"

# Threshold kinds: the key holding the number, and what the number means.
THRESHOLD_KINDS: dict[str, tuple[str, str]] = {
    "absolute": ("value", "a rate in per cent"),
    "national_ratio": ("ratio", "times the national average"),
    "national_difference": ("points", "percentage points beyond the national average"),
    "county_ratio": ("ratio", "times the county's average"),
    "county_difference": ("points", "percentage points beyond the county's average"),
    "standard_deviations": ("value", "standard deviations beyond the mean over areas"),
    "rank_share_of_areas": ("share", "per cent of screened areas, worst first"),
    "rank_population_share": ("share", "per cent of the screened population, worst areas first"),
}
EXACT_KINDS = frozenset(
    {"absolute", "national_ratio", "national_difference", "county_ratio", "county_difference"}
)


@dataclass(frozen=True)
class Indicator:
    """A rate in per cent: numerator / denominator, both counts of the input."""

    name: str
    label_en: str
    label_sv: str
    numerator: str
    denominator: str
    unit: str
    description: str

    def label(self, language: str = "en") -> str:
        """The indicator's label in a language ('en' or 'sv')."""
        return self.label_sv if language == "sv" else self.label_en


@dataclass(frozen=True)
class Threshold:
    """Where a criterion's threshold lies; fixed-number kinds also hold the exact fraction."""

    kind: str
    value: float
    exact: Fraction
    weighted: bool = False

    def describe(self, direction: str) -> str:
        """The threshold in words, e.g. 'below 60 %' or 'above 2 × the national average'."""
        number = f"{self.value:g}"
        return {
            "absolute": f"{direction} {number} %",
            "national_ratio": f"{direction} {number} × the national average",
            "national_difference": f"{direction} the national average by more than {number} pp",
            "county_ratio": f"{direction} {number} × the county's average",
            "county_difference": f"{direction} the county's average by more than {number} pp",
            "standard_deviations": f"more than {number} standard deviations {direction} the "
            + ("population-weighted " if self.weighted else "")
            + "mean over areas",
            "rank_share_of_areas": f"among the worst {number} % of areas",
            "rank_population_share": f"among the worst areas holding {number} % of the population",
        }[self.kind]


@dataclass(frozen=True)
class Criterion:
    """One indicator compared with a threshold."""

    name: str
    indicator: Indicator
    direction: str
    threshold: Threshold
    published_national_average: float | None = None
    required: bool = False

    def describe(self) -> str:
        """The criterion in words, e.g. 'Employment rate below 60 %'."""
        return f"{self.indicator.label_en} {self.threshold.describe(self.direction)}"


@dataclass(frozen=True)
class IndexComponent:
    """An indicator in the composite index: standardised, oriented so higher is worse, weighted."""

    indicator: Indicator
    weight: float
    direction: str


@dataclass(frozen=True)
class CompositeIndex:
    """A weighted sum of standardised indicators, cut into ordered classes."""

    components: tuple[IndexComponent, ...]
    weighted: bool
    class_cuts: tuple[float, ...]
    class_labels: tuple[str, ...]

    @property
    def classes(self) -> int:
        """How many classes the cuts make."""
        return len(self.class_cuts) + 1


@dataclass(frozen=True)
class Selection:
    """Which areas are selected."""

    method: str
    criteria_required: int
    selected_classes: tuple[int, ...]
    minimum_population: int
    borderline_persons: int


@dataclass(frozen=True)
class MunicipalityRule:
    """When a municipality is eligible; every condition given must hold."""

    minimum_selected_areas: int
    minimum_population_in_selected_areas: int
    minimum_share_in_selected_areas: float | None = None
    share_standard_deviations: float | None = None
    index_spread_standard_deviations: float | None = None

    @property
    def minimum_share_fraction(self) -> Fraction | None:
        """The minimum share as the exact fraction written, in per cent (None when not set)."""
        share = self.minimum_share_in_selected_areas
        return None if share is None else Fraction(Decimal(repr(share)))


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
    source: str
    division: Division
    population_column: str
    criteria: tuple[Criterion, ...]
    index: CompositeIndex | None
    selection: Selection
    municipality: MunicipalityRule
    budget_unit: str
    budget_per_year: Mapping[int, float]
    allocation: Allocation
    max_suppressed_share: float
    path: Path
    sha256: str
    # The input screened when none is given (a path relative to the ruleset's folder).
    default_input: Path | None = None

    def require_year(self, year: int) -> None:
        """A ruleset is written for one screening year; using it for another is a mistake."""
        if self.year != year:
            raise RulesetError(
                f"{self.path}: the ruleset is for {self.year}, but {year} is screened; "
                "copy it to a ruleset for that year"
            )

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        """Every indicator the ruleset uses (criteria first, then the index), once each."""
        used = [c.indicator for c in self.criteria]
        if self.index is not None:
            used += [c.indicator for c in self.index.components]
        return tuple({i.name: i for i in used}.values())

    @property
    def input_columns(self) -> InputColumns:
        """The input columns a run of this ruleset needs, and no others."""
        counts = [self.population_column]
        for indicator in self.indicators:
            counts += [indicator.numerator, indicator.denominator]
        return InputColumns(text=IDENTIFIER_COLUMNS, integers=("year", *dict.fromkeys(counts)))

    @property
    def minimum_population(self) -> int:
        """Areas with fewer residents are not screened."""
        return self.selection.minimum_population

    @property
    def criteria_required(self) -> int:
        """How many of the criteria that are not required an area must cross."""
        return self.selection.criteria_required

    @property
    def minimum_selected_areas(self) -> int:
        """Selected areas a municipality needs."""
        return self.municipality.minimum_selected_areas

    @property
    def minimum_population_in_selected_areas(self) -> int:
        """Residents in selected areas a municipality needs."""
        return self.municipality.minimum_population_in_selected_areas

    @property
    def rule_text(self) -> str:
        """The selection rule in words."""
        if self.selection.method == "index":
            classes = ", ".join(str(c) for c in self.selection.selected_classes)
            return f"composite index in class {classes} of {self.index.classes}"  # type: ignore[union-attr]
        required = [c for c in self.criteria if c.required]
        optional = len(self.criteria) - len(required)
        k = self.selection.criteria_required
        parts = []
        if required:
            noun = "criterion" if len(required) == 1 else "criteria"
            parts.append(f"{len(required)} required {noun} crossed")
        other = " other" if required else ""
        if optional == 1 and k == 1:
            parts.append(f"the{other} criterion crossed")
        elif optional:
            wanted = f"all {optional}" if k == optional else f"at least {k} of {optional}"
            parts.append(f"{wanted}{other} criteria crossed")
        return " and ".join(parts)


# --- key specifications ----------------------------------------------------------------------

Check = Callable[[Any], str | None]
Spec = dict[str, tuple[tuple[type, ...], bool, Check | None]]
NUMBER = (int, float)


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


def _column_name(value: Any) -> str | None:
    ok = value.isascii() and value[:1].isalpha() and value.replace("_", "a").isalnum()
    return None if ok and value == value.lower() else "must be a column name like 'employed'"


TOP_SPEC: Spec = {
    "schema_version": ((int,), True, _one_of((SCHEMA_VERSION,))),
    "name": ((str,), True, None),
    "year": ((int,), True, lambda y: None if 1900 <= y <= 2100 else "must be a year"),
    "description": ((str,), False, None),
    "source": ((str,), False, None),
    "division": ((str,), True, None),
    "default_input": ((str,), False, None),
    "population_column": ((str,), False, _column_name),
    "indicators": ((dict,), False, None),
    "criteria": ((list,), False, None),
    "index": ((dict,), False, None),
    "selection": ((dict,), True, None),
    "municipality": ((dict,), True, None),
    "budget": ((dict,), True, None),
    "allocation": ((dict,), True, None),
    "quality": ((dict,), False, None),
}
INDICATOR_SPEC: Spec = {
    "label_en": ((str,), True, None),
    "label_sv": ((str,), True, None),
    "numerator": ((str,), True, _column_name),
    "denominator": ((str,), True, _column_name),
    "unit": ((str,), True, _one_of(("percent",))),
    "description": ((str,), True, None),
}
CRITERION_SPEC: Spec = {
    "name": ((str,), False, _column_name),
    "indicator": ((str,), True, None),
    "direction": ((str,), True, _one_of(DIRECTIONS)),
    "threshold": ((int, float, dict), True, None),
    "published_national_average": (NUMBER, False, _percentage),
    "required": ((bool,), False, None),
}
INDEX_SPEC: Spec = {
    "components": ((list,), True, lambda c: None if c else "must list at least one component"),
    "weighted": ((bool,), False, None),
    "class_cuts": ((list,), True, lambda c: None if c else "must give at least one cut"),
    "class_labels": ((list,), False, None),
}
COMPONENT_SPEC: Spec = {
    "indicator": ((str,), True, None),
    "weight": (NUMBER, False, _positive),
    "direction": ((str,), True, _one_of(DIRECTIONS)),
}
SELECTION_SPEC: Spec = {
    "method": ((str,), False, _one_of(SELECTION_METHODS)),
    "criteria_required": ((str, int), False, None),
    "selected_classes": ((list,), False, None),
    "minimum_population": ((int,), True, _non_negative),
    "borderline_persons": ((int,), False, _non_negative),
}
MUNICIPALITY_SPEC: Spec = {
    "minimum_selected_areas": ((int,), True, _at_least_one),
    "minimum_population_in_selected_areas": ((int,), False, _non_negative),
    "minimum_share_in_selected_areas": (NUMBER, False, _percentage),
    "share_standard_deviations": (NUMBER, False, None),
    "index_spread_standard_deviations": (NUMBER, False, None),
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
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            wanted = " or ".join(_type_name(t) for t in types)
            raise RulesetError(f"{source}: {where}{key} must be {wanted}, got {value!r}")
        problem = check(value) if check else None
        if problem:
            raise RulesetError(f"{source}: {where}{key} {problem}, got {value!r}")
    return dict(table)


def _type_name(kind: type) -> str:
    return {
        str: "text",
        int: "an integer",
        float: "a number",
        dict: "a table",
        list: "a list",
        bool: "true or false",
    }[kind]


# --- indicators -----------------------------------------------------------------------------


def _indicator(name: str, values: Mapping[str, Any], where: str, source: Path) -> Indicator:
    if _column_name(name):
        raise RulesetError(f"{source}: {where}: an indicator name must be like 'employment_rate'")
    checked = _take(values, INDICATOR_SPEC, f"{where}.", source)
    return Indicator(name=name, **checked)


def load_catalogue(path: Path = INDICATORS_TOML) -> dict[str, Indicator]:
    """The indicator catalogue, `data/indicators.toml`."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise RulesetError(f"{path}: not a readable indicator catalogue: {error}") from error
    catalogue = {}
    for name, values in document.items():
        if not isinstance(values, dict):
            raise RulesetError(f"{path}: {name} must be a table")
        catalogue[name] = _indicator(name, values, name, path)
    return catalogue


def _indicators(defined: Mapping[str, Any], source: Path) -> dict[str, Indicator]:
    """The catalogue plus the ruleset's own indicators (which may not redefine a catalogue one)."""
    catalogue = load_catalogue()
    for name, values in defined.items():
        where = f"indicators.{name}"
        if not isinstance(values, dict):
            raise RulesetError(f"{source}: {where} must be a table")
        if name in catalogue:
            raise RulesetError(
                f"{source}: {where} is already in the catalogue ({INDICATORS_TOML.name}); "
                "use it by name or give yours another name"
            )
        catalogue[name] = _indicator(name, values, where, source)
    return catalogue


def _find_indicator(
    name: str, indicators: Mapping[str, Indicator], where: str, source: Path
) -> Indicator:
    if name not in indicators:
        known = ", ".join(sorted(indicators))
        raise RulesetError(
            f"{source}: {where}indicator {name!r} is neither in the catalogue nor defined in "
            f"[indicators]; known indicators: {known}"
        )
    return indicators[name]


# --- thresholds and criteria ----------------------------------------------------------------


def exact_decimal(value: float | int, where: str, source: Path) -> Fraction:
    """A number as written in the ruleset, as the exact fraction it denotes (33.33334 exactly)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RulesetError(f"{source}: {where} must be a finite number, got {value!r}")
    written = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    exponent = written.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > MAX_THRESHOLD_DECIMALS:
        raise RulesetError(
            f"{source}: {where} has {decimals} decimals; at most {MAX_THRESHOLD_DECIMALS} are "
            f"compared exactly, got {value!r}"
        )
    return Fraction(written)


def _threshold(value: Any, where: str, source: Path) -> Threshold:
    """A threshold: a bare number is an absolute rate; a table names its kind."""
    if not isinstance(value, dict):
        value = {"kind": "absolute", "value": value}
    kind = value.get("kind")
    if kind not in THRESHOLD_KINDS:
        kinds = ", ".join(THRESHOLD_KINDS)
        raise RulesetError(f"{source}: {where}.kind must be one of {kinds}, got {kind!r}")
    key, meaning = THRESHOLD_KINDS[kind]
    spec: Spec = {"kind": ((str,), True, None), key: (NUMBER, True, None)}
    if kind == "standard_deviations":
        spec["weighted"] = ((bool,), True, None)
    values = _take(value, spec, f"{where}.", source)
    number = values[key]
    problem = _threshold_problem(kind, number)
    if problem:
        raise RulesetError(f"{source}: {where}.{key} ({meaning}) {problem}, got {number!r}")
    return Threshold(
        kind=kind,
        value=float(number),
        exact=exact_decimal(number, f"{where}.{key}", source),
        weighted=bool(values.get("weighted", False)),
    )


def _threshold_problem(kind: str, number: float) -> str | None:
    if kind == "absolute" or kind.startswith("rank_"):
        return _percentage(number)
    if kind.endswith("_ratio"):
        return _positive(number)
    if kind.endswith("_difference"):
        return None if -100 <= number <= 100 else "must be between -100 and 100"
    return None if -10 <= number <= 10 else "must be between -10 and 10"


def _criteria(
    items: list[Any], indicators: Mapping[str, Indicator], source: Path
) -> tuple[Criterion, ...]:
    if len(items) > MAX_CRITERIA:
        raise RulesetError(
            f"{source}: criteria lists {len(items)} criteria; at most {MAX_CRITERIA} are screened"
        )
    criteria = []
    for position, item in enumerate(items, start=1):
        where = f"criteria[{position}]."
        if not isinstance(item, dict):
            raise RulesetError(f"{source}: criteria[{position}] must be a table")
        values = _take(item, CRITERION_SPEC, where, source)
        indicator = _find_indicator(values["indicator"], indicators, where, source)
        average = values.get("published_national_average")
        criteria.append(
            Criterion(
                name=values.get("name", indicator.name),
                indicator=indicator,
                direction=values["direction"],
                threshold=_threshold(values["threshold"], f"{where}threshold", source),
                published_national_average=None if average is None else float(average),
                required=values.get("required", False),
            )
        )
    names = [c.name for c in criteria]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RulesetError(
            f"{source}: criteria name repeated: {', '.join(repeated)} (give each criterion on "
            "the same indicator its own name)"
        )
    return tuple(criteria)


# --- index, selection, municipality ---------------------------------------------------------


def _index(
    values: Mapping[str, Any] | None, indicators: Mapping[str, Indicator], source: Path
) -> CompositeIndex | None:
    if values is None:
        return None
    checked = _take(values, INDEX_SPEC, "index.", source)
    components = []
    for position, item in enumerate(checked["components"], start=1):
        where = f"index.components[{position}]."
        if not isinstance(item, dict):
            raise RulesetError(f"{source}: index.components[{position}] must be a table")
        component = _take(item, COMPONENT_SPEC, where, source)
        indicator = _find_indicator(component["indicator"], indicators, where, source)
        components.append(
            IndexComponent(indicator, float(component.get("weight", 1.0)), component["direction"])
        )
    cuts = checked["class_cuts"]
    if any(isinstance(c, bool) or not isinstance(c, NUMBER) for c in cuts) or cuts != sorted(
        set(cuts)
    ):
        raise RulesetError(
            f"{source}: index.class_cuts must be increasing numbers (standard deviations), "
            f"got {cuts!r}"
        )
    labels = checked.get("class_labels", [str(n) for n in range(1, len(cuts) + 2)])
    if len(labels) != len(cuts) + 1 or not all(isinstance(label, str) for label in labels):
        raise RulesetError(
            f"{source}: index.class_labels must give {len(cuts) + 1} labels (one per class)"
        )
    return CompositeIndex(
        tuple(components), checked.get("weighted", False), tuple(map(float, cuts)), tuple(labels)
    )


def _selection(
    values: Mapping[str, Any],
    criteria: tuple[Criterion, ...],
    index: CompositeIndex | None,
    source: Path,
) -> Selection:
    checked = _take(values, SELECTION_SPEC, "selection.", source)
    method = checked.get("method", "criteria")
    optional = sum(not c.required for c in criteria)
    required = 0
    classes: tuple[int, ...] = ()
    if method == "criteria":
        if not criteria:
            raise RulesetError(f"{source}: selection by criteria needs at least one [[criteria]]")
        required = _criteria_required(checked.get("criteria_required", "all"), optional, source)
    else:
        if index is None:
            raise RulesetError(f'{source}: selection.method = "index" needs an [index] table')
        classes = _selected_classes(checked.get("selected_classes"), index, source)
    return Selection(
        method=method,
        criteria_required=required,
        selected_classes=classes,
        minimum_population=checked["minimum_population"],
        borderline_persons=checked.get("borderline_persons", 0),
    )


def _criteria_required(value: str | int, optional: int, source: Path) -> int:
    if value == "all":
        return optional
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= optional:
        return value
    raise RulesetError(
        f'{source}: selection.criteria_required must be "all" or a number from 0 to '
        f"{optional} (the criteria that are not required), got {value!r}"
    )


def _selected_classes(value: Any, index: CompositeIndex, source: Path) -> tuple[int, ...]:
    valid = (
        isinstance(value, list)
        and value
        and all(
            isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= index.classes
            for c in value
        )
    )
    if not valid:
        raise RulesetError(
            f"{source}: selection.selected_classes must list class numbers from 1 to "
            f"{index.classes}, got {value!r}"
        )
    return tuple(sorted(set(value)))


def _municipality(
    values: Mapping[str, Any], index: CompositeIndex | None, source: Path
) -> MunicipalityRule:
    checked = _take(values, MUNICIPALITY_SPEC, "municipality.", source)
    spread = checked.get("index_spread_standard_deviations")
    if spread is not None and index is None:
        raise RulesetError(
            f"{source}: municipality.index_spread_standard_deviations needs an [index] table"
        )
    share = checked.get("minimum_share_in_selected_areas")
    share_sd = checked.get("share_standard_deviations")
    return MunicipalityRule(
        minimum_selected_areas=checked["minimum_selected_areas"],
        minimum_population_in_selected_areas=checked.get("minimum_population_in_selected_areas", 0),
        minimum_share_in_selected_areas=None if share is None else float(share),
        share_standard_deviations=None if share_sd is None else float(share_sd),
        index_spread_standard_deviations=None if spread is None else float(spread),
    )


# --- budget and allocation ------------------------------------------------------------------


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


# --- the whole ruleset ----------------------------------------------------------------------


def parse_ruleset(document: Mapping[str, Any], source: Path, sha256: str = "") -> Ruleset:
    """Validate a parsed TOML document and build the ruleset."""
    if document.get("schema_version") == 1:
        raise RulesetError(
            f"{source}: schema_version 1 is no longer read; write it as schema_version = 2 "
            '(see docs/rulesets.md: add division = "deso2018"; thresholds stay as they are)'
        )
    top = _take(document, TOP_SPEC, "", source)
    indicators = _indicators(top.get("indicators", {}), source)
    criteria = _criteria(top.get("criteria", []), indicators, source)
    index = _index(top.get("index"), indicators, source)
    budget = _take(top["budget"], BUDGET_SPEC, "budget.", source)
    allocation = _take(top["allocation"], ALLOCATION_SPEC, "allocation.", source)
    quality = _take(top.get("quality", {}), QUALITY_SPEC, "quality.", source)
    try:
        division = load_division(top["division"])
    except RulesetError as error:
        raise RulesetError(f"{source}: division: {error}") from error
    return Ruleset(
        name=top["name"],
        year=top["year"],
        description=top.get("description", ""),
        source=top.get("source", ""),
        division=division,
        population_column=top.get("population_column", "population"),
        criteria=criteria,
        index=index,
        selection=_selection(top["selection"], criteria, index, source),
        municipality=_municipality(top["municipality"], index, source),
        budget_unit=budget["unit"],
        budget_per_year=_budget(budget, source),
        allocation=_allocation(allocation, source),
        max_suppressed_share=float(quality.get("max_suppressed_share", 0.05)),
        path=source,
        sha256=sha256,
        default_input=_default_input(top.get("default_input"), source),
    )


def _default_input(value: str | None, source: Path) -> Path | None:
    if value is None:
        return None
    path = (source.parent / value).resolve()
    if not path.is_file():
        raise RulesetError(f"{source}: default_input {value!r} is not a file ({path})")
    return path


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
