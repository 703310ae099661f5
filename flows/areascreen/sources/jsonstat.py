"""Read JSON-stat 2.0 datasets, as returned by PxWeb API v2, into long pandas frames."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# PC-Axis data symbols as PxWeb's JSON-stat2 output carries them in `status`, keyed by the
# cell's index: a run of dots (`.`, `..`, `...`, `....` and longer) marks a cell without a usable
# figure (not applicable, suppressed, not yet available); `-` is the "nil" symbol, a true zero
# whose value is sent as null. Any other status on a cell with a value is a note on it.
NIL_SYMBOL = "-"
DOT_RUN = re.compile(r"^\.+$")
SUPPRESSED_STATUSES: frozenset[str] = frozenset({".", "..", "...", "....", ".....", "......"})
MISSING_SYMBOL = ".."
VALUE_COLUMN = "value"
STATUS_COLUMN = "status"


class JsonStatError(ValueError):
    """A response is not a well-formed JSON-stat 2.0 dataset."""


def is_suppression_symbol(symbol: str | None) -> bool:
    """True for a run of dots, the PC-Axis symbols of a cell with no usable figure."""
    return symbol is not None and bool(DOT_RUN.match(symbol.strip()))


def is_nil_symbol(symbol: str | None) -> bool:
    """True for `-`, the PC-Axis symbol of a true zero."""
    return symbol is not None and symbol.strip() == NIL_SYMBOL


@dataclass(frozen=True)
class Dimension:
    """One dimension: its codes in index order and their labels."""

    id: str
    label: str
    codes: tuple[str, ...]
    labels: Mapping[str, str]
    extension: Mapping[str, Any] = field(default_factory=dict)

    @property
    def eliminable(self) -> bool:
        """Whether the API lets a selection leave this variable out."""
        return bool(self.extension.get("elimination", False))

    @property
    def codelists(self) -> tuple[str, ...]:
        """Ids of the codelists the table offers for this variable (`extension.codelists`)."""
        found = self.extension.get("codelists") or ()
        return tuple(str(c["id"]) for c in found if isinstance(c, Mapping) and "id" in c)


@dataclass(frozen=True)
class Dataset:
    """A parsed JSON-stat 2.0 dataset (metadata only when `values` is None)."""

    label: str
    updated: str | None
    ids: tuple[str, ...]
    sizes: tuple[int, ...]
    dimensions: Mapping[str, Dimension]
    roles: Mapping[str, tuple[str, ...]]
    table_id: str | None
    values: tuple[float | None, ...] | None
    status: Mapping[int, str]

    @property
    def time_variable(self) -> str | None:
        """The dimension with role `time`, if any."""
        return next(iter(self.roles.get("time", ())), None)

    @property
    def geo_variable(self) -> str | None:
        """The dimension with role `geo`, if any (absent for most tables; never required)."""
        return next(iter(self.roles.get("geo", ())), None)

    def to_frame(self) -> pd.DataFrame:
        """Long frame: one row per cell, one column per dimension code, `value`, `status`."""
        if self.values is None:
            raise JsonStatError(f"Dataset {self.table_id or self.label!r} carries no values")
        frame = pd.DataFrame(_code_columns(self), copy=False)
        values, status = _cell_values(self)
        frame[VALUE_COLUMN] = pd.array(values, dtype="Float64")
        frame[STATUS_COLUMN] = pd.array(status, dtype="string")
        return frame


def _code_columns(dataset: Dataset) -> dict[str, np.ndarray]:
    """The code of every dimension for each cell, in row-major order (last id fastest)."""
    columns: dict[str, np.ndarray] = {}
    for position, dim_id in enumerate(dataset.ids):
        codes = np.array(dataset.dimensions[dim_id].codes, dtype=object)
        inner = math.prod(dataset.sizes[position + 1 :])
        outer = math.prod(dataset.sizes[:position])
        columns[dim_id] = np.tile(np.repeat(codes, inner), outer)
    return columns


def _cell_values(dataset: Dataset) -> tuple[list[float | None], list[str | None]]:
    """Each cell's value and status: `-` is a true zero, dots or a null value are no figure."""
    values: list[float | None] = []
    statuses: list[str | None] = []
    for index, value in enumerate(dataset.values or ()):
        symbol = dataset.status.get(index)
        if is_nil_symbol(symbol):
            values.append(0.0 if value is None else value)
            statuses.append(NIL_SYMBOL)
        elif value is None or is_suppression_symbol(symbol):
            values.append(None)
            statuses.append(symbol if symbol is not None else MISSING_SYMBOL)
        else:
            values.append(value)
            statuses.append(symbol)
    return values, statuses


def load_dataset(raw: bytes | str | Mapping[str, Any], *, context: str) -> Dataset:
    """Parse a JSON-stat 2.0 dataset; `context` (table and request) names it in every error."""
    document = _decode(raw, context)
    _require_dataset(document, context)
    ids = tuple(str(i) for i in document["id"])
    sizes = tuple(int(s) for s in document["size"])
    if len(ids) != len(sizes):
        raise JsonStatError(f"{context}: `id` has {len(ids)} entries but `size` {len(sizes)}")
    dimensions = {
        dim_id: _parse_dimension(dim_id, document["dimension"], size, context)
        for dim_id, size in zip(ids, sizes, strict=True)
    }
    values = _parse_values(document.get("value"), math.prod(sizes), context)
    return Dataset(
        label=str(document.get("label", "")),
        updated=document.get("updated"),
        ids=ids,
        sizes=sizes,
        dimensions=dimensions,
        roles={k: tuple(v) for k, v in (document.get("role") or {}).items()},
        table_id=((document.get("extension") or {}).get("px") or {}).get("tableid"),
        values=values,
        status={
            **_value_slot_symbols(document.get("value")),
            **_parse_status(document.get("status"), math.prod(sizes), context),
        },
    )


def _decode(raw: bytes | str | Mapping[str, Any], context: str) -> Mapping[str, Any]:
    """JSON text to a mapping, with a clear error for malformed bodies."""
    if isinstance(raw, Mapping):
        return raw
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        snippet = raw[:80] if isinstance(raw, str) else raw[:80].decode("utf-8", "replace")
        raise JsonStatError(f"{context}: malformed JSON ({exc}); body starts {snippet!r}") from exc
    if not isinstance(document, Mapping):
        raise JsonStatError(f"{context}: expected a JSON object, got {type(document).__name__}")
    return document


def _require_dataset(document: Mapping[str, Any], context: str) -> None:
    """Check the fields every JSON-stat 2.0 dataset must have."""
    if document.get("class") != "dataset":
        raise JsonStatError(f"{context}: `class` is {document.get('class')!r}, not 'dataset'")
    missing = [key for key in ("id", "size", "dimension") if key not in document]
    if missing:
        raise JsonStatError(f"{context}: JSON-stat dataset lacks {', '.join(missing)}")


def _parse_dimension(
    dim_id: str, dimensions: Mapping[str, Any], size: int, context: str
) -> Dimension:
    """One dimension's codes in index order, checked against its declared size."""
    if dim_id not in dimensions:
        raise JsonStatError(f"{context}: dimension {dim_id!r} is listed in `id` but not defined")
    body = dimensions[dim_id]
    category = body.get("category") or {}
    labels = {str(k): str(v) for k, v in (category.get("label") or {}).items()}
    codes = _category_codes(category.get("index"), labels)
    if len(codes) != size:
        raise JsonStatError(
            f"{context}: dimension {dim_id!r} has {len(codes)} categories but size {size}"
        )
    return Dimension(
        dim_id, str(body.get("label", dim_id)), codes, labels, body.get("extension") or {}
    )


def _category_codes(index: Any, labels: Mapping[str, str]) -> tuple[str, ...]:
    """Codes ordered by the category index (an object code -> position, or a list)."""
    if index is None:
        return tuple(labels)
    if isinstance(index, Mapping):
        return tuple(str(code) for code, _ in sorted(index.items(), key=lambda item: item[1]))
    return tuple(str(code) for code in index)


def _parse_values(raw: Any, cells: int, context: str) -> tuple[float | None, ...] | None:
    """Values as a dense tuple (JSON-stat allows an array or a sparse object)."""
    if raw is None or (isinstance(raw, Sequence) and not isinstance(raw, str) and not raw):
        return None
    if isinstance(raw, Mapping):
        dense: list[Any] = [None] * cells
        for key, value in raw.items():
            dense[int(key)] = value
        raw = dense
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise JsonStatError(f"{context}: `value` must be an array or an object")
    if len(raw) != cells:
        raise JsonStatError(
            f"{context}: `value` has {len(raw)} cells but the sizes multiply to {cells}"
        )
    return tuple(_as_number(v) for v in raw)


def _value_slot_symbols(raw: Any) -> dict[int, str]:
    """Symbols such as `-` or `..` sent in place of a value, by cell position."""
    if isinstance(raw, Mapping):
        items = ((int(k), v) for k, v in raw.items())
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        items = enumerate(raw)
    else:
        return {}
    return {i: v.strip() for i, v in items if isinstance(v, str) and _as_number(v) is None}


def _as_number(value: Any) -> float | None:
    """A numeric cell, or None for null and for symbols such as '..' in the value slot."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _parse_status(raw: Any, cells: int, context: str) -> dict[int, str]:
    """Status symbols by cell position (JSON-stat allows a string, an array or an object)."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        return dict.fromkeys(range(cells), raw)
    if isinstance(raw, Mapping):
        return {int(k): str(v) for k, v in raw.items() if v is not None}
    if len(raw) != cells:
        raise JsonStatError(f"{context}: `status` has {len(raw)} entries for {cells} cells")
    return {i: str(v) for i, v in enumerate(raw) if v is not None}
