"""Fetch a year's area statistics, assemble the input table, write it and its manifest."""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from areascreen import paths
from areascreen.contract import COUNT_COLUMNS
from areascreen.errors import InputError

from .assemble import AREA, MEASURE, STATUS, VALUE, YEAR, AssemblyReport, SourceFrame, assemble
from .cache import (
    CacheCorruptError,
    CacheMissError,
    ResponseCache,
    atomic_write,
    dump_json,
    resolve_cache_dir,
    sha256_hex,
)
from .config import (
    ConfigError,
    EmploymentServiceSource,
    FileSource,
    PxWebSource,
    Source,
    SourcesConfig,
    load_config,
    sources_config_path,
)
from .employment_service import (
    AGE_BAND,
    DEFAULT_COLUMNS,
    REFERENCE_DATES,
    JobSeekers,
    read_job_seekers,
)
from .jsonstat import (
    NIL_SYMBOL,
    Dataset,
    JsonStatError,
    is_nil_symbol,
    is_suppression_symbol,
    load_dataset,
)
from .px import PxError, read_px
from .pxweb import PxWebClient, ResolvedSelection, TableFetch, fetch_table, resolve_selection
from .wide import WIDE_SUFFIXES, WideFileError, read_wide

log = logging.getLogger(__name__)
# Sources read from local files, whose SHA-256 a pinned run checks.
LOCAL_FILE_KINDS = ("file", "employment_service")
MANIFEST_SUFFIX = ".manifest.json"
# From reference year 2025 Statistics Sweden perturbs small counts by the cell-key method.
PERTURBATION_FROM_YEAR = 2025
PERTURBATION_NOTE = (
    "From reference year 2025 Statistics Sweden perturbs small counts (cell-key method): "
    "area counts are slightly changed and no longer add up exactly to published totals."
)
NO_PERTURBATION_NOTE = (
    "Reference year before 2025: counts are not perturbed by the cell-key method."
)


def perturbation(year: int) -> dict[str, Any]:
    """Whether the year's counts are perturbed by the cell-key method, with a note."""
    perturbed = year >= PERTURBATION_FROM_YEAR
    return {
        "cell_key_method": perturbed,
        "note": PERTURBATION_NOTE if perturbed else NO_PERTURBATION_NOTE,
    }


class SourceFileError(ValueError):
    """A file source is missing, unreadable or does not match its column map."""


class PinError(ValueError):
    """A pinned manifest does not match the sources file or the files on disk."""


@dataclass(frozen=True)
class FetchResult:
    """The assembled input table, the manifest of the sources used, and where both were written."""

    frame: pd.DataFrame
    manifest: dict[str, Any]
    path: Path
    manifest_path: Path


@dataclass(frozen=True)
class FetchedSource:
    """One source's cells and what the manifest records about them."""

    frame: SourceFrame
    record: dict[str, Any]


def default_output_path(year: int) -> Path:
    """Where the assembled table of a year goes unless told otherwise."""
    return paths.reports_dir() / "sources" / f"areas_{year}.parquet"


def manifest_path_for(out_path: Path) -> Path:
    """The manifest written beside an assembled table."""
    return out_path.with_name(out_path.stem + MANIFEST_SUFFIX)


# --- pins -------------------------------------------------------------------------------------


def load_manifest(pin: Path | Mapping[str, Any]) -> dict[str, Any]:
    """A manifest from a path or as already-loaded data."""
    if isinstance(pin, Mapping):
        return dict(pin)
    path = Path(pin)
    if not path.is_file():
        raise PinError(f"No manifest at {path} to pin the sources to")
    return json.loads(path.read_text(encoding="utf-8"))


def pins_from(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Request key -> body SHA-256 for every response a manifest lists."""
    return {
        response["request_key"]: response["sha256"]
        for source in manifest.get("sources", [])
        for response in source.get("responses", [])
    }


def _check_pinned_file(record: Mapping[str, Any], manifest: Mapping[str, Any]) -> None:
    """A file source must be byte-for-byte the one the pinned run read."""
    pinned = {
        s["name"]: s for s in manifest.get("sources", []) if s.get("kind") in LOCAL_FILE_KINDS
    }
    earlier = pinned.get(record["name"])
    if earlier is None:
        raise PinError(f"File source {record['name']!r} is not in the pinned manifest")
    if earlier["sha256"] != record["sha256"]:
        raise PinError(
            f"File source {record['name']!r} at {record['path']} has changed since the pinned "
            f"run (SHA-256 {record['sha256']} now, {earlier['sha256']} then)"
        )


def check_pinned_files(fetched: list[FetchedSource], manifest: Mapping[str, Any] | None) -> None:
    """With a pinned manifest, every file source must be unchanged."""
    if manifest is None:
        return
    for item in fetched:
        if item.record["kind"] in LOCAL_FILE_KINDS:
            _check_pinned_file(item.record, manifest)


# --- fetching each source ---------------------------------------------------------------------


def open_client(
    config: SourcesConfig,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    base_url: str | None = None,
    pins: Mapping[str, str] | None = None,
) -> PxWebClient:
    """A PxWeb client for a sources file, with its cache."""
    cache = ResponseCache(resolve_cache_dir(cache_dir))
    return PxWebClient(config.api, cache=cache, base_url=base_url, offline=offline, pins=pins)


def pxweb_source_frame(fetched: TableFetch) -> SourceFrame:
    """Concatenate a table's chunks, in order, into one long frame."""
    resolved = fetched.resolved
    frames = [chunk.dataset.to_frame() for chunk in fetched.chunks]
    labels: dict[str, str] = {}
    for chunk in fetched.chunks:
        labels.update(chunk.dataset.dimensions[resolved.region_variable].labels)
    frame = _named_cells(pd.concat(frames, ignore_index=True), resolved)
    source = fetched.source
    return SourceFrame(source.name, source.table_id, source.vintage, frame, labels)


def _named_cells(frame: pd.DataFrame, resolved: ResolvedSelection) -> pd.DataFrame:
    """Region and time renamed for assembly; codes found by label named as in the sources file."""
    frame = frame.rename(columns={resolved.region_variable: AREA, resolved.time_variable: YEAR})
    for var, by_label in resolved.by_label.items():
        frame[var] = frame[var].replace({code: label for label, code in by_label.items()})
    return frame


# --- SCB's bulk files -------------------------------------------------------------------------

BULK_SUFFIXES = (".px", ".zip", *WIDE_SUFFIXES)


def find_bulk_file(directory: Path, table_id: str) -> Path:
    """The PX file (or SCB's zip holding it) of a table in a folder, e.g. `TAB683_sv.zip`."""
    if not directory.is_dir():
        raise SourceFileError(f"--from-files: no folder at {directory}")
    key = table_id.lower()
    found = sorted(
        p
        for p in directory.iterdir()
        if p.suffix.lower() in BULK_SUFFIXES
        and re.match(rf"{re.escape(key)}(?![0-9])", p.name.lower())
    )
    if not found:
        raise SourceFileError(
            f"--from-files: no PX file or zip for table {table_id} in {directory} "
            f"(looked for {table_id}*.px, .zip, .csv and .xlsx)"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise SourceFileError(f"--from-files: several files for table {table_id}: {names}")
    return found[0]


def read_bulk_source(
    source: PxWebSource, directory: Path, year: int, client: PxWebClient | None = None
) -> FetchedSource:
    """A PxWeb source read from its downloaded file (PX, or PxWeb's wide CSV or xlsx export)."""
    path = find_bulk_file(directory, source.table_id)
    metadata_from = None
    try:
        if _holds_px(path):
            dataset, raw = read_px(path)
        else:
            meta, metadata_from = bulk_metadata(source, directory, client)
            dataset, raw = read_wide(path, meta)
    except (OSError, PxError, WideFileError) as exc:
        raise SourceFileError(f"Source {source.name!r}: {exc}") from exc
    resolved = resolve_selection(source, dataset, year)
    frame = dataset.to_frame()
    keep = frame[resolved.region_variable].isin(resolved.regions)
    for var, codes in resolved.others.items():
        keep &= frame[var].isin(codes)
    cells = _named_cells(frame.loc[keep].reset_index(drop=True), resolved)
    labels = dict(dataset.dimensions[resolved.region_variable].labels)
    record = {
        "name": source.name,
        "kind": "pxweb-file",
        "table_id": source.table_id,
        "file_table_id": dataset.table_id,
        "path": str(path),
        "file_format": "px" if metadata_from is None else "wide",
        "metadata_from": metadata_from,
        "sha256": sha256_hex(raw),
        "description": source.description,
        "confirmed": source.confirmed,
        "division": division_of(source.vintage),
        "vintage": source.vintage,
        "updated": dataset.updated,
        "codelist": None,
        "limits": None,
        "regions": len(resolved.regions),
        "selection": {k: list(v) for k, v in resolved.others.items()},
        "resolved_by_label": {k: dict(v) for k, v in resolved.by_label.items()},
        "perturbation": perturbation(year),
    }
    frame_out = SourceFrame(source.name, source.table_id, source.vintage, cells, labels)
    return FetchedSource(frame_out, record)


def _holds_px(path: Path) -> bool:
    """A PX file, or a zip with a PX member (SCB's bulk zip; its PX is read before its CSV)."""
    if path.suffix.lower() == ".px":
        return True
    if path.suffix.lower() != ".zip" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.lower().endswith(".px") for n in archive.namelist())


def bulk_metadata(
    source: PxWebSource, directory: Path, client: PxWebClient | None
) -> tuple[Dataset, str]:
    """The table's metadata for a wide export: a saved metadata response in the folder
    (`TAB683_metadata.json`, from `GET /tables/TAB683/metadata`), else the response cache."""
    key = source.table_id.lower()
    saved = sorted(
        p
        for p in directory.iterdir()
        if p.suffix.lower() == ".json"
        and p.name.lower().startswith(key)
        and "metadata" in p.name.lower()
    )
    if saved:
        try:
            return load_dataset(saved[0].read_bytes(), context=str(saved[0])), str(saved[0])
        except JsonStatError as exc:
            raise SourceFileError(f"Source {source.name!r}: {exc}") from exc
    if client is not None:
        try:
            fetched = client.metadata(source.table_id, source.codelists)
            return fetched.dataset, f"cache {fetched.entry.body_path}"
        except (CacheMissError, CacheCorruptError):
            pass
    raise SourceFileError(
        f"Source {source.name!r}: a wide CSV or xlsx export carries texts, not codes; put the "
        f"table's metadata beside it ({source.table_id}_metadata.json, the response of "
        f"GET /tables/{source.table_id}/metadata?lang=sv) or fetch it once into the cache"
    )


def division_of(vintage: str) -> str:
    """`DeSO` of `DeSO2018`."""
    return vintage.rstrip("0123456789")


def pxweb_record(fetched: TableFetch, year: int) -> dict[str, Any]:
    """The manifest entry of a PxWeb source."""
    source = fetched.source
    resolved = fetched.resolved
    responses = [fetched.metadata.record()] + [c.record() for c in fetched.chunks]
    return {
        "name": source.name,
        "kind": "pxweb",
        "table_id": source.table_id,
        "description": source.description,
        "confirmed": source.confirmed,
        "division": division_of(source.vintage),
        "vintage": source.vintage,
        "updated": fetched.updated,
        "codelist": resolved.region_codelist,
        "codelists": dict(resolved.codelists),
        "limits": fetched.limits.record() if fetched.limits else None,
        "regions": len(resolved.regions),
        "selection": {k: list(v) for k, v in resolved.others.items()},
        "resolved_by_label": {k: dict(v) for k, v in resolved.by_label.items()},
        "sha256": [r["sha256"] for r in responses],
        "perturbation": perturbation(year),
        "responses": responses,
    }


def read_file_source(source: FileSource, year: int) -> FetchedSource:
    """Read a CSV or Parquet file source into long form, keeping the configured year."""
    _require_file(source)
    raw = source.path.read_bytes()
    table = _read_table(source)
    missing = [f"{k} -> {v}" for k, v in source.columns.items() if v not in table.columns]
    if missing:
        raise SourceFileError(
            f"File source {source.name!r} ({source.path}) lacks column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, table.columns))}"
        )
    table = _rows_of_year(source, table, year)
    frame = _file_long_frame(source, table, year)
    labels = {}
    if "area_name" in source.columns:
        labels = dict(
            zip(table[source.columns["area_code"]], table[source.columns["area_name"]], strict=True)
        )
    record = {
        "name": source.name,
        "kind": "file",
        "path": str(source.path),
        "sha256": sha256_hex(raw),
        "description": source.description,
        "confirmed": source.confirmed,
        "division": division_of(source.vintage),
        "vintage": source.vintage,
        "columns": dict(source.columns),
        "rows": len(table),
        "perturbation": perturbation(year),
    }
    return FetchedSource(
        SourceFrame(source.name, str(source.path), source.vintage, frame, labels), record
    )


def _require_file(source: FileSource | EmploymentServiceSource) -> None:
    """A file source must be on disk."""
    if not source.path.is_file():
        raise SourceFileError(
            f"File source {source.name!r}: no file at {source.path} ({source.description})"
        )


def require_files(config: SourcesConfig) -> None:
    """Fail before any request when a file source is not on disk."""
    for source in config.sources.values():
        if isinstance(source, FileSource | EmploymentServiceSource):
            _require_file(source)


def _read_table(source: FileSource) -> pd.DataFrame:
    """The file as text columns (CSV) or as stored (Parquet)."""
    try:
        if source.file_format == "parquet":
            return pd.read_parquet(source.path)
        return pd.read_csv(
            source.path,
            sep=source.separator,
            encoding=source.encoding,
            dtype=str,
            keep_default_na=False,
        )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SourceFileError(
            f"File source {source.name!r}: cannot read {source.path}: {exc}"
        ) from exc


def _rows_of_year(source: FileSource, table: pd.DataFrame, year: int) -> pd.DataFrame:
    """Rows of the screening year (all rows when the file has no year column)."""
    code_column = source.columns["area_code"]
    table = table.assign(**{code_column: table[code_column].astype(str).str.strip()})
    if "year" in source.columns:
        years = pd.to_numeric(table[source.columns["year"]], errors="coerce")
        table = table.loc[years == year]
        if table.empty:
            raise SourceFileError(
                f"File source {source.name!r} ({source.path}) has no rows for {year}"
            )
    duplicated = sorted(table[code_column][table[code_column].duplicated()].unique())
    if duplicated:
        raise SourceFileError(
            f"File source {source.name!r} ({source.path}) repeats area(s) "
            f"{', '.join(duplicated[:10])}"
        )
    return table.reset_index(drop=True)


def _file_long_frame(source: FileSource, table: pd.DataFrame, year: int) -> pd.DataFrame:
    """One row per area and count column: `area`, `year`, `measure`, `value`, `status`."""
    parts = []
    for column in (c for c in COUNT_COLUMNS if c in source.columns):
        raw = table[source.columns[column]]
        text = raw.astype(str).str.strip()
        nil = text.map(is_nil_symbol).astype(bool)
        text = text.where(~nil, "0")
        blank = raw.isna() | text.isin({"", "nan", "<NA>"}) | text.map(is_suppression_symbol)
        values = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = table.loc[values.isna() & ~blank, source.columns["area_code"]].tolist()
        if bad:
            raise SourceFileError(
                f"File source {source.name!r} ({source.path}): column {source.columns[column]!r} "
                f"is not numeric for area(s) {', '.join(bad[:10])}"
            )
        parts.append(
            pd.DataFrame(
                {
                    AREA: table[source.columns["area_code"]].to_numpy(),
                    YEAR: year,
                    MEASURE: column,
                    VALUE: pd.array(values, dtype="Float64"),
                    STATUS: pd.array(_statuses(blank, nil), dtype="string"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _statuses(blank: pd.Series, nil: pd.Series) -> list[str | None]:
    """`..` for a cell without a figure, `-` for a true zero, else none."""
    return [".." if b else NIL_SYMBOL if n else None for b, n in zip(blank, nil, strict=True)]


def fetch_source(source: Source, *, client: PxWebClient, year: int) -> FetchedSource:
    """Fetch (or replay) one source, PxWeb table or file."""
    if isinstance(source, PxWebSource):
        fetched = fetch_table(client, source, year)
        return FetchedSource(pxweb_source_frame(fetched), pxweb_record(fetched, year))
    if isinstance(source, EmploymentServiceSource):
        return read_job_seeker_source(source, year)
    return read_file_source(source, year)


def read_job_seeker_source(
    source: EmploymentServiceSource, year: int, *, reference: str | None = None
) -> FetchedSource:
    """A Public Employment Service delivery: one reference (the source's, or `reference` when a
    ruleset chooses it) and the configured sums of its counts per contract column."""
    _require_file(source)
    chosen = reference or source.reference
    headers = {**DEFAULT_COLUMNS, **source.headers}
    dates = REFERENCE_DATES if chosen == "mean" else (chosen,)
    read = {date: _job_seekers_on(source, year, date, headers) for date in dates}
    totals = {date: _field_sums(source, result.frame) for date, result in read.items()}
    table = _mean_of_dates(source, totals) if chosen == "mean" else totals[chosen]
    parts = [
        pd.DataFrame(
            {
                AREA: table.index.to_numpy(),
                YEAR: year,
                MEASURE: column,
                VALUE: pd.array(table[column], dtype="Float64"),
                STATUS: pd.array(
                    [None if pd.notna(v) else ".." for v in table[column]], dtype="string"
                ),
            }
        )
        for column in source.fields
    ]
    record = {
        "name": source.name,
        "kind": "employment_service",
        "path": str(source.path),
        "sha256": sha256_hex(source.path.read_bytes()),
        "description": source.description,
        "confirmed": source.confirmed,
        "division": division_of(source.vintage),
        "vintage": source.vintage,
        "reference": chosen,
        "reference_from": "sources file" if reference is None else "ruleset",
        "age_band": AGE_BAND,
        "fields": {k: list(v) for k, v in source.fields.items()},
        "headers": headers,
        "areas": len(table),
        "notes": [note for date in dates for note in read[date].notes],
        "perturbation": perturbation(year),
    }
    long = pd.concat(parts, ignore_index=True)
    return FetchedSource(SourceFrame(source.name, str(source.path), source.vintage, long), record)


def _job_seekers_on(
    source: EmploymentServiceSource, year: int, date: str, headers: Mapping[str, str]
) -> JobSeekers:
    """One reference date of a delivery; reader errors name the source."""
    try:
        return read_job_seekers(
            source.path, year=year, reference=date, columns=headers, sheet=source.sheet or 0
        )
    except InputError as exc:
        raise SourceFileError(f"Source {source.name!r}: {exc}") from exc


def _field_sums(source: EmploymentServiceSource, frame: pd.DataFrame) -> pd.DataFrame:
    """Per area, each contract column as the sum of its counts (NULL if any is suppressed)."""
    indexed = frame.set_index("area_code")
    return pd.DataFrame(
        {
            column: indexed[list(counts)]
            .sum(axis=1)
            .where(indexed[list(counts)].notna().all(axis=1))
            for column, counts in source.fields.items()
        }
    ).astype("Int64")


def _mean_of_dates(
    source: EmploymentServiceSource, totals: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The mean of the two dates' sums per area, rounded half up; NULL where either is NULL."""
    march, october = (totals[d] for d in REFERENCE_DATES)
    one_date = sorted(set(march.index) ^ set(october.index))
    if one_date:
        raise SourceFileError(
            f"Source {source.name!r} ({source.path}): the mean needs both reference dates; "
            f"area(s) with one only: {', '.join(one_date[:10])}"
        )
    both = march + october.reindex(march.index)
    return ((both + 1) // 2).astype("Int64")


# --- output -----------------------------------------------------------------------------------


def _arrow_schema(frame: pd.DataFrame) -> pa.Schema:
    """Plain strings for the identifiers, 64-bit integers for the year and the counts."""
    text = {"area_code", "area_name", "municipality_code"}
    return pa.schema([pa.field(c, pa.string() if c in text else pa.int64()) for c in frame.columns])


def write_parquet(frame: pd.DataFrame, path: Path) -> str:
    """Write the table deterministically (same rows give the same bytes); return its SHA-256."""
    table = pa.Table.from_pandas(frame, schema=_arrow_schema(frame), preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    data = sink.getvalue().to_pybytes()
    atomic_write(path, data)
    return sha256_hex(data)


def report_limits(fetched: list[FetchedSource]) -> bool:
    """Whether any source was fetched through the API (so its limits apply)."""
    return any(item.record["kind"] == "pxweb" for item in fetched)


def build_manifest(
    config: SourcesConfig,
    client: PxWebClient,
    fetched: list[FetchedSource],
    report: AssemblyReport,
    output: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything needed to tell which inputs a run used, and to replay them."""
    return {
        "year": config.year,
        "config": {"path": str(config.path), "sha256": config.sha256},
        "area_level": config.area_level,
        "area_vintage": report.area_vintage,
        "base_url": client.base_url,
        "offline": client.offline,
        "cache_dir": str(client.cache.root),
        "limits": client.limits.record() if report_limits(fetched) else None,
        "perturbation": perturbation(config.year),
        "sources": [f.record for f in fetched],
        "suppressed": report.suppressed,
        "output": dict(output),
    }


def finish(
    config: SourcesConfig,
    client: PxWebClient,
    fetched: list[FetchedSource],
    *,
    out_path: Path | None = None,
) -> FetchResult:
    """Assemble the fetched sources, write the table and its manifest."""
    frames = {f.frame.name: f.frame for f in fetched}
    table, report = assemble(config, frames)
    for column, entry in report.suppressed.items():
        log.warning(
            "%s: %d suppressed cell(s) from %s in area(s) %s set to NULL",
            column,
            entry["cells"],
            entry["table"],
            ", ".join(entry["areas"][:10]),
        )
    path = Path(out_path) if out_path is not None else default_output_path(config.year)
    digest = write_parquet(table, path)
    output = {
        "path": str(path),
        "sha256": digest,
        "rows": len(table),
        "columns": list(table.columns),
    }
    manifest = build_manifest(config, client, fetched, report, output)
    manifest_path = manifest_path_for(path)
    atomic_write(manifest_path, dump_json(manifest))
    return FetchResult(table, manifest, path, manifest_path)


def prepare(
    year: int,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    base_url: str | None = None,
    config_path: Path | None = None,
    pin: Path | Mapping[str, Any] | None = None,
    from_files: Path | None = None,
) -> tuple[SourcesConfig, PxWebClient, dict[str, Any] | None]:
    """Load the sources file and open the client (offline and pinned when a manifest is given)."""
    config = load_config(config_path or sources_config_path(year))
    if config.year != year:
        raise ConfigError(f"{config.path} is the sources file for {config.year}, not {year}")
    require_files(config)
    manifest = load_manifest(pin) if pin is not None else None
    pins = pins_from(manifest) if manifest is not None else None
    if manifest is not None and base_url is None:
        base_url = manifest.get("base_url")
    offline = offline or from_files is not None
    client = open_client(config, offline=offline, cache_dir=cache_dir, base_url=base_url, pins=pins)
    if from_files is None and any(isinstance(s, PxWebSource) for s in config.sources.values()):
        client.load_limits(manifest.get("limits") if manifest is not None else None)
    return config, client, manifest


def fetch_year(
    year: int,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    base_url: str | None = None,
    out_path: Path | None = None,
    config_path: Path | None = None,
    pin: Path | Mapping[str, Any] | None = None,
    fetch_one: Callable[..., FetchedSource] = fetch_source,
    from_files: Path | None = None,
) -> FetchResult:
    """Fetch (or, offline, replay from the cache) a year's sources and write the input table.

    `pin` is the manifest of an earlier run: the run then replays exactly the responses it lists,
    offline, and checks that file sources are unchanged. `fetch_one(source, client=, year=)`
    fetches one source; the Prefect flow passes a task. `from_files` is a folder of SCB's bulk
    downloads (PX files or their zips): each PxWeb source is then read from its table's file,
    offline, with the same selection.
    """
    config, client, manifest = prepare(
        year,
        offline=offline,
        cache_dir=cache_dir,
        base_url=base_url,
        config_path=config_path,
        pin=pin,
        from_files=from_files,
    )

    def one(source: Source) -> FetchedSource:
        if from_files is not None and isinstance(source, PxWebSource):
            return read_bulk_source(source, Path(from_files), year, client)
        return fetch_one(source, client=client, year=year)

    with client:
        fetched = [one(s) for s in config.sources.values()]
    check_pinned_files(fetched, manifest)
    result = finish(config, client, fetched, out_path=out_path)
    if from_files is not None:
        result.manifest["from_files"] = str(from_files)
        atomic_write(result.manifest_path, dump_json(result.manifest))
    return result
