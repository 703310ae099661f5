"""Load and validate a year's sources file, `data/sources/<year>.toml`."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from areascreen.contract import COUNT_COLUMNS, INDICATORS
from areascreen.paths import DATA_DIR

from .cache import sha256_hex

SOURCES_DIR = DATA_DIR / "sources"
AREA_LEVELS = ("DeSO", "RegSO")
VINTAGE_PATTERN = re.compile(r"^(DeSO|RegSO)\d{4}$")
SUPPRESSED_POLICIES = ("null", "error")
FILE_FORMATS = ("csv", "parquet")
FILE_ID_COLUMNS = ("area_code", "year", "area_name")


class ConfigError(ValueError):
    """The sources file is missing, malformed, or names something it should not."""


def sources_config_path(year: int) -> Path:
    """Where the sources file for a screening year lives: the project's, else the shipped one."""
    from areascreen import paths

    return paths.sources_config_path(year)


@dataclass(frozen=True)
class ApiSettings:
    """Where the PxWeb API is and the limits the client keeps to."""

    base_url: str = "https://statistikdatabasen.scb.se/api/v2"
    language: str = "sv"
    max_cells: int = 150_000
    max_calls: int = 30
    window_seconds: float = 10.0
    max_retries: int = 5
    backoff_base_seconds: float = 1.0
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class PxWebSource:
    """A PxWeb table and the selection fetched from it."""

    name: str
    table_id: str
    selection: Mapping[str, tuple[str, ...]]
    vintage: str
    region: str | tuple[str, ...]
    region_variable: str | None
    codelists: Mapping[str, str]
    description: str
    confirmed: bool

    kind = "pxweb"


@dataclass(frozen=True)
class FileSource:
    """A local CSV or Parquet file, for indicators not published through PxWeb."""

    name: str
    path: Path
    file_format: str
    columns: Mapping[str, str]
    vintage: str
    separator: str
    encoding: str
    description: str
    confirmed: bool

    kind = "file"


@dataclass(frozen=True)
class EmploymentServiceSource:
    """A delivery of the Public Employment Service's job-seeker statistics per area.

    `fields` says which of the delivery's counts (`openly_unemployed`, `in_programmes`,
    `population_18_64`) are summed into each contract column; `reference` is the reference date
    kept (`03-31`, `10-31`) or `mean` of the two.
    """

    name: str
    path: Path
    reference: str
    fields: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    sheet: str | None
    vintage: str
    description: str
    confirmed: bool

    kind = "employment_service"


Source = PxWebSource | FileSource | EmploymentServiceSource
SOURCE_KINDS = ("pxweb", "file", "employment_service")
JOB_SEEKER_COUNTS = ("openly_unemployed", "in_programmes", "population_18_64")
JOB_SEEKER_FIELDS = ("area_code", "reference_date", "age", *JOB_SEEKER_COUNTS)
JOB_SEEKER_REFERENCES = ("03-31", "10-31", "mean")


@dataclass(frozen=True)
class ColumnSpec:
    """How one count column of the contract is obtained: which source, which cells summed."""

    column: str
    source: str
    cells: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class SourcesConfig:
    """A validated sources file."""

    year: int
    area_level: str
    area_vintage: str
    on_suppressed: str
    names_from: str
    api: ApiSettings
    sources: Mapping[str, Source]
    columns: tuple[ColumnSpec, ...]
    path: Path
    sha256: str

    def columns_from(self, source: str) -> tuple[ColumnSpec, ...]:
        """The count columns that draw on a source."""
        return tuple(spec for spec in self.columns if spec.source == source)


# --- generic checks ---------------------------------------------------------------------------

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _check_keys(
    table: Mapping[str, Any], path: str, allowed: set[str], required: set[str] = frozenset()
) -> None:
    """Reject unknown keys and report missing ones, naming the full key."""
    for key in table:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"Unknown key {_join(path, key)!r} (allowed here: {known})")
    for key in sorted(required - set(table)):
        raise ConfigError(f"Missing key {_join(path, key)!r}")


def _join(path: str, key: str) -> str:
    """Dotted key path."""
    return f"{path}.{key}" if path else key


def _scalar(table: Mapping[str, Any], key: str, kind: type, path: str, default: Any = None) -> Any:
    """A scalar of the given type (ints are accepted as numbers), or the default."""
    if key not in table:
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok:
        raise ConfigError(
            f"Key {_join(path, key)!r} must be {_TYPE_NAMES[kind]}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def _subtable(table: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> dict:
    """A nested table, or an empty one when absent and optional."""
    if key not in table:
        if required:
            raise ConfigError(f"Missing table {_join(path, key)!r}")
        return {}
    value = table[key]
    if not isinstance(value, dict):
        raise ConfigError(f"Key {_join(path, key)!r} must be a table, got {type(value).__name__}")
    return value


def _string_list(value: Any, path: str) -> tuple[str, ...]:
    """A non-empty list of strings."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"Key {path!r} must be a non-empty list of strings, got {value!r}")
    return tuple(value)


def _string_map(table: Mapping[str, Any], path: str) -> dict[str, str]:
    """A table whose values are all strings."""
    for key, value in table.items():
        if not isinstance(value, str):
            raise ConfigError(f"Key {_join(path, key)!r} must be a string, got {value!r}")
    return dict(table)


def _choice(value: str, choices: tuple[str, ...], path: str) -> str:
    """A string from a fixed set."""
    if value not in choices:
        raise ConfigError(f"Key {path!r} must be one of {', '.join(choices)}; got {value!r}")
    return value


# --- sections ---------------------------------------------------------------------------------


def _parse_api(table: Mapping[str, Any]) -> ApiSettings:
    """The [api] table."""
    defaults = ApiSettings()
    kinds = {
        "base_url": str,
        "language": str,
        "max_cells": int,
        "max_calls": int,
        "window_seconds": float,
        "max_retries": int,
        "backoff_base_seconds": float,
        "timeout_seconds": float,
    }
    _check_keys(table, "api", set(kinds))
    values = {k: _scalar(table, k, t, "api", getattr(defaults, k)) for k, t in kinds.items()}
    for key in ("max_cells", "max_calls", "window_seconds", "max_retries", "timeout_seconds"):
        if values[key] <= 0:
            raise ConfigError(f"Key 'api.{key}' must be positive, got {values[key]!r}")
    return ApiSettings(**values)


def _parse_vintage(table: Mapping[str, Any], path: str, default: str) -> str:
    """An area vintage such as DeSO2018 or DeSO2025."""
    vintage = _scalar(table, "vintage", str, path, default)
    if not VINTAGE_PATTERN.match(vintage):
        raise ConfigError(
            f"Key {_join(path, 'vintage')!r} must look like DeSO2018, got {vintage!r}"
        )
    return vintage


def _parse_pxweb(name: str, table: Mapping[str, Any], root: Mapping[str, Any]) -> PxWebSource:
    """A [sources.<name>] table of kind pxweb."""
    path = f"sources.{name}"
    allowed = {"kind", "table_id", "selection", "vintage", "region", "region_variable"}
    _check_keys(table, path, allowed | {"codelists", "description", "confirmed"}, {"table_id"})
    selection = {
        var: _string_list(values, f"{path}.selection.{var}")
        for var, values in _subtable(table, "selection", path).items()
    }
    return PxWebSource(
        name=name,
        table_id=_scalar(table, "table_id", str, path),
        selection=selection,
        vintage=_parse_vintage(table, path, root["area_vintage"]),
        region=_parse_region(table, path, root["area_level"]),
        region_variable=_scalar(table, "region_variable", str, path),
        codelists=_string_map(_subtable(table, "codelists", path), f"{path}.codelists"),
        description=_scalar(table, "description", str, path, ""),
        confirmed=_scalar(table, "confirmed", bool, path, False),
    )


def _parse_region(table: Mapping[str, Any], path: str, area_level: str) -> str | tuple[str, ...]:
    """`region`: an area level (all its codes) or an explicit list of codes."""
    region = table.get("region", area_level)
    if isinstance(region, str):
        return _choice(region, AREA_LEVELS, f"{path}.region")
    return _string_list(region, f"{path}.region")


def _parse_file(
    name: str, table: Mapping[str, Any], root: Mapping[str, Any], base: Path
) -> FileSource:
    """A [sources.<name>] table of kind file; a relative path is read from the config's folder."""
    path = f"sources.{name}"
    allowed = {"kind", "path", "format", "columns", "vintage", "separator", "encoding"}
    _check_keys(table, path, allowed | {"description", "confirmed"}, {"path", "columns"})
    file_path = Path(_scalar(table, "path", str, path))
    file_path = file_path if file_path.is_absolute() else base / file_path
    default_format = "parquet" if file_path.suffix.lower() == ".parquet" else "csv"
    columns = _string_map(_subtable(table, "columns", path, required=True), f"{path}.columns")
    if "area_code" not in columns:
        raise ConfigError(f"Missing key '{path}.columns.area_code' (the file's area-code column)")
    for column in columns:
        if column not in FILE_ID_COLUMNS and column not in COUNT_COLUMNS:
            raise ConfigError(
                f"Unknown key '{path}.columns.{column}': not a column of the input contract"
            )
    return FileSource(
        name=name,
        path=file_path,
        file_format=_choice(
            _scalar(table, "format", str, path, default_format), FILE_FORMATS, f"{path}.format"
        ),
        columns=columns,
        vintage=_parse_vintage(table, path, root["area_vintage"]),
        separator=_scalar(table, "separator", str, path, ","),
        encoding=_scalar(table, "encoding", str, path, "utf-8"),
        description=_scalar(table, "description", str, path, ""),
        confirmed=_scalar(table, "confirmed", bool, path, False),
    )


def _parse_employment_service(
    name: str, table: Mapping[str, Any], root: Mapping[str, Any], base: Path
) -> EmploymentServiceSource:
    """A [sources.<name>] table of kind employment_service."""
    path = f"sources.{name}"
    allowed = {"kind", "path", "reference", "fields", "headers", "sheet", "vintage"}
    _check_keys(table, path, allowed | {"description", "confirmed"}, {"path", "fields"})
    file_path = Path(_scalar(table, "path", str, path))
    fields: dict[str, tuple[str, ...]] = {}
    for column, value in _subtable(table, "fields", path, required=True).items():
        key = f"{path}.fields.{column}"
        if column not in COUNT_COLUMNS:
            raise ConfigError(f"Unknown key {key!r}: not a count column of the input contract")
        counts = (value,) if isinstance(value, str) else _string_list(value, key)
        for count in counts:
            _choice(count, JOB_SEEKER_COUNTS, key)
        fields[column] = counts
    headers = _string_map(_subtable(table, "headers", path), f"{path}.headers")
    for field_name in headers:
        _choice(field_name, JOB_SEEKER_FIELDS, f"{path}.headers")
    return EmploymentServiceSource(
        name=name,
        path=file_path if file_path.is_absolute() else base / file_path,
        reference=_choice(
            _scalar(table, "reference", str, path, "mean"),
            JOB_SEEKER_REFERENCES,
            f"{path}.reference",
        ),
        fields=fields,
        headers=headers,
        sheet=_scalar(table, "sheet", str, path),
        vintage=_parse_vintage(table, path, root["area_vintage"]),
        description=_scalar(table, "description", str, path, ""),
        confirmed=_scalar(table, "confirmed", bool, path, False),
    )


def _parse_sources(
    table: Mapping[str, Any], root: Mapping[str, Any], base: Path
) -> dict[str, Source]:
    """The [sources] table: every named source."""
    sources: dict[str, Source] = {}
    for name, body in table.items():
        path = f"sources.{name}"
        if not isinstance(body, dict):
            raise ConfigError(f"Key {path!r} must be a table, got {type(body).__name__}")
        kind = _choice(_scalar(body, "kind", str, path, "pxweb"), SOURCE_KINDS, f"{path}.kind")
        if kind == "pxweb":
            sources[name] = _parse_pxweb(name, body, root)
        elif kind == "file":
            sources[name] = _parse_file(name, body, root, base)
        else:
            sources[name] = _parse_employment_service(name, body, root, base)
    if not sources:
        raise ConfigError("The sources file defines no [sources.<name>] table")
    return sources


def _parse_column(column: str, table: Any, path: str) -> ColumnSpec:
    """One `{ source = ..., cells = { Var = [...] } }` reference."""
    if not isinstance(table, dict):
        raise ConfigError(f"Key {path!r} must be a table, got {type(table).__name__}")
    _check_keys(table, path, {"source", "cells"}, {"source"})
    cells = {
        var: _string_list(values, f"{path}.cells.{var}")
        for var, values in _subtable(table, "cells", path).items()
    }
    return ColumnSpec(column, _scalar(table, "source", str, path), cells)


def _parse_columns(document: Mapping[str, Any]) -> tuple[ColumnSpec, ...]:
    """[population] and [indicators.*] resolved to one spec per contract count column."""
    specs = {"population": _parse_column("population", document["population"], "population")}
    indicators = _subtable(document, "indicators", "", required=True)
    _check_keys(indicators, "indicators", set(INDICATORS), set(INDICATORS))
    for name, indicator in INDICATORS.items():
        path = f"indicators.{name}"
        body = _subtable(indicators, name, "indicators", required=True)
        _check_keys(body, path, {"numerator", "denominator"}, {"numerator", "denominator"})
        specs[indicator.numerator] = _parse_column(
            indicator.numerator, body["numerator"], f"{path}.numerator"
        )
        specs[indicator.denominator] = _parse_column(
            indicator.denominator, body["denominator"], f"{path}.denominator"
        )
    return tuple(specs[column] for column in COUNT_COLUMNS)


# --- cross-checks -----------------------------------------------------------------------------


def _column_path(spec: ColumnSpec) -> str:
    """The config key that defined a column spec."""
    if spec.column == "population":
        return "population"
    for name, indicator in INDICATORS.items():
        if spec.column == indicator.numerator:
            return f"indicators.{name}.numerator"
        if spec.column == indicator.denominator:
            return f"indicators.{name}.denominator"
    return spec.column


def _check_spec(spec: ColumnSpec, sources: Mapping[str, Source]) -> None:
    """A column spec names an existing source, and its cells fit that source's selection."""
    path = _column_path(spec)
    source = sources.get(spec.source)
    if source is None:
        raise ConfigError(f"Key '{path}.source' names unknown source {spec.source!r}")
    if isinstance(source, FileSource):
        _check_file_spec(spec, source, path)
    elif isinstance(source, EmploymentServiceSource):
        _check_job_seeker_spec(spec, source, path)
    else:
        _check_pxweb_spec(spec, source, path)


def _check_file_spec(spec: ColumnSpec, source: FileSource, path: str) -> None:
    """A file source maps the column, and file cells are not filtered."""
    if spec.cells:
        raise ConfigError(f"Key '{path}.cells' is not allowed for file source {source.name!r}")
    if spec.column not in source.columns:
        raise ConfigError(
            f"Missing key 'sources.{source.name}.columns.{spec.column}': "
            f"{path} reads column {spec.column!r} from that file"
        )


def _check_job_seeker_spec(spec: ColumnSpec, source: EmploymentServiceSource, path: str) -> None:
    """A job-seeker source says which of its counts make the column."""
    if spec.cells:
        raise ConfigError(f"Key '{path}.cells' is not allowed for source {source.name!r}")
    if spec.column not in source.fields:
        raise ConfigError(
            f"Missing key 'sources.{source.name}.fields.{spec.column}': "
            f"{path} reads column {spec.column!r} from that delivery"
        )


def _check_pxweb_spec(spec: ColumnSpec, source: PxWebSource, path: str) -> None:
    """Cells are selected values; every multi-valued selection is pinned down by the cells."""
    for var, values in spec.cells.items():
        if var not in source.selection:
            raise ConfigError(
                f"Key '{path}.cells.{var}': {var} is not in sources.{source.name}.selection"
            )
        extra = [v for v in values if v not in source.selection[var]]
        if extra:
            raise ConfigError(
                f"Key '{path}.cells.{var}': {', '.join(extra)} not in "
                f"sources.{source.name}.selection.{var}"
            )
    for var, values in source.selection.items():
        if len(values) > 1 and var not in spec.cells:
            raise ConfigError(
                f"Key '{path}.cells.{var}' is required: sources.{source.name}.selection.{var} "
                f"has {len(values)} values and the column must say which to sum"
            )


def load_config(path: Path | str) -> SourcesConfig:
    """Read, validate and resolve a sources file; errors name the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No sources file at {path}")
    raw = path.read_bytes()
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return _build(document, path, sha256_hex(raw))


def _build(document: Mapping[str, Any], path: Path, digest: str) -> SourcesConfig:
    """Assemble a SourcesConfig from a parsed TOML document."""
    top = {"year", "area_level", "area_vintage", "on_suppressed", "names_from"}
    sections = {"api", "sources", "population", "indicators"}
    _check_keys(document, "", top | sections, {"year", "sources", "population", "indicators"})
    root = {
        "year": _scalar(document, "year", int, ""),
        "area_level": _choice(
            _scalar(document, "area_level", str, "", "DeSO"), AREA_LEVELS, "area_level"
        ),
        "area_vintage": _scalar(document, "area_vintage", str, "", "DeSO2018"),
    }
    if not VINTAGE_PATTERN.match(root["area_vintage"]):
        raise ConfigError(
            f"Key 'area_vintage' must look like DeSO2018, got {root['area_vintage']!r}"
        )
    sources = _parse_sources(_subtable(document, "sources", "", required=True), root, path.parent)
    columns = _parse_columns(document)
    for spec in columns:
        _check_spec(spec, sources)
    names_from = _scalar(document, "names_from", str, "", columns[0].source)
    if names_from not in sources:
        raise ConfigError(f"Key 'names_from' names unknown source {names_from!r}")
    used = {spec.source for spec in columns}
    unused = sorted(set(sources) - used)
    if unused:
        raise ConfigError(f"Source(s) {', '.join(unused)} feed no column; remove or use them")
    return SourcesConfig(
        year=root["year"],
        area_level=root["area_level"],
        area_vintage=root["area_vintage"],
        on_suppressed=_choice(
            _scalar(document, "on_suppressed", str, "", "null"),
            SUPPRESSED_POLICIES,
            "on_suppressed",
        ),
        names_from=names_from,
        api=_parse_api(_subtable(document, "api", "")),
        sources=sources,
        columns=columns,
        path=path,
        sha256=digest,
    )
