"""Publish stage: write a year's results to a staging folder, then swap it into place atomically.

`reports/<year>/` is only ever replaced whole: the new publication is written beside it in a
hidden staging folder and exchanged with the old one in a single rename, after every gate has
passed. A lock file makes a second run for the same year fail at once instead of racing.

File-system trouble (a full disk, a read-only folder, a file or a symbolic link where a folder
should be) ends in a `PublicationError` that names the path and the problem, never a traceback,
and never after the new publication is in place.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from areascreen.errors import AreascreenError
from areascreen.excel import (
    EXCEL_MAX_ROWS,
    FORMULA_STARTS,
    WORKBOOK_NAME,
    neutralise_formula,
    own_dictionary,
    string_bytes,
    write_xlsx,
)
from areascreen.per_area import PerAreaTable
from areascreen.synthetic import mark_synthetic_table

__all__ = [
    "FAILED_RUNS_KEPT",
    "WORKBOOK_NAME",
    "DiskFull",
    "PublicationError",
    "PublicationLocked",
    "disk_full_error",
    "new_staging_dir",
    "promote",
    "publication_lock",
    "restore_interrupted",
    "set_aside_failed",
    "sha256_of",
    "utc_now",
    "write_csv",
    "write_csv_batches",
    "write_manifest",
    "write_table",
    "write_workbook",
]

# Tables written as Parquet and CSV; the list of eligible municipalities also as JSON.
JSON_TABLES = ("eligible_municipalities",)
STAGING_PREFIX = ".staging-"
FAILED_DIR = "failed"
# How many failed runs reports/failed/ keeps (the newest); older ones are removed.
FAILED_RUNS_KEPT = 5
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
FAILED_NAME = re.compile(r"^\d{4}-(\d{8}T\d{6}Z)-(\d+)(?:-(\d+))?$")

CsvStyle = Literal["standard", "swedish"]
CSV_STYLES: dict[str, tuple[str, str, str]] = {
    # style: (separator, decimal mark, text written before the header)
    "standard": (",", ".", ""),
    "swedish": (";", ",", "\ufeff"),
}
CSV_BATCH_ROWS = 65_536
# Text a CSV cell cannot hold as it is: a formula-like start, or the separator, a quote or a
# line break anywhere (the separator of each style).
_CSV_SPECIAL = {
    style: "^(?:"
    + "|".join(map(re.escape, FORMULA_STARTS))
    + ")|["
    + re.escape(separator + '"\n\r')
    + "]"
    for style, (separator, _, _) in CSV_STYLES.items()
}

log = logging.getLogger("areascreen")


class PublicationError(AreascreenError):
    """The publication folder cannot be written: the message names the path and the problem."""


class DiskFull(PublicationError):
    """The device holding the publication folder has no space left."""


class PublicationLocked(AreascreenError):
    """Another run is publishing the same year."""


def _describe(error: OSError) -> str:
    """An OSError's cause in words."""
    reasons = {
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOTDIR: "a file stands where a folder is needed",
        errno.EEXIST: "a file stands where a folder is needed",
        errno.ELOOP: "it is a symbolic link",
    }
    return reasons.get(error.errno or 0, error.strerror or str(error))


def _free_bytes(path: Path) -> str:
    """Free space on the device holding path (or its nearest existing parent), in words."""
    for folder in (path, *path.parents):
        try:
            return f"{shutil.disk_usage(folder).free:,} bytes free".replace(",", " ")
        except OSError:
            continue
    return "free space unknown"


def disk_full_error(error: BaseException, folder: Path) -> DiskFull | None:
    """The plain disk-full error when `error` (or anything that caused it) is a full disk."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DiskFull):
            return current
        number = getattr(current, "errno", None)
        if number in DISK_FULL_ERRNOS or "No space left on device" in str(current):
            return DiskFull(
                f"disk full: no space left on the device holding {folder} "
                f"({_free_bytes(folder)}); nothing was published and this run's partial files "
                "were removed; free some space and run again"
            )
        current = current.__cause__ or current.__context__
    return None


def file_system_error(error: OSError, path: Path, action: str = "write") -> PublicationError:
    """The project's error for an OSError met while writing `path`."""
    full = disk_full_error(error, path.parent)
    if full is not None:
        return full
    return PublicationError(f"cannot {action} {path}: {_describe(error)}")


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into a PublicationError."""
    try:
        yield
    except OSError as error:
        raise file_system_error(error, path) from error


def _prepare_reports_dir(reports_dir: Path) -> None:
    """Create the folder of publications, or say plainly why it cannot be used."""
    if reports_dir.exists() and not reports_dir.is_dir():
        raise PublicationError(
            f"cannot publish to {reports_dir}: it is a file, not a folder; "
            "give --out a folder (it is created if missing)"
        )
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise file_system_error(error, reports_dir, "create the folder") from error


def _open_lock(lock_path: Path) -> int:
    """Open the lock file without following a symbolic link; refuse anything but a plain file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(lock_path, flags, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise PublicationError(
                f"refusing the lock file {lock_path}: it is a symbolic link "
                f"(to {os.readlink(lock_path)}); remove it and run again"
            ) from error
        raise file_system_error(error, lock_path, "open the lock file") from error
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode) or status.st_nlink > 1:
        os.close(descriptor)
        what = "not a regular file" if not stat.S_ISREG(status.st_mode) else "a hard link"
        raise PublicationError(
            f"refusing the lock file {lock_path}: it is {what}; remove it and run again"
        )
    return descriptor


def _record_pid(descriptor: int, lock_path: Path) -> None:
    """Write this process's id into the lock file (for whoever wonders who holds it)."""
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    except OSError as error:
        raise file_system_error(error, lock_path) from error


@contextmanager
def publication_lock(reports_dir: Path, year: int) -> Iterator[Path]:
    """Hold the year's publication lock for the duration of a run.

    A full disk met anywhere inside the block leaves it as `DiskFull`, naming the folder.
    """
    _prepare_reports_dir(reports_dir)
    lock_path = reports_dir / f".{year}.lock"
    descriptor = _open_lock(lock_path)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise PublicationLocked(
                f"another run is publishing {year} ({lock_path} is locked); "
                "wait for it to finish and run again"
            ) from error
        _record_pid(descriptor, lock_path)
        try:
            yield lock_path
        except Exception as error:
            full = disk_full_error(error, reports_dir)
            if full is None or full is error:
                raise
            raise full from error
    finally:
        os.close(descriptor)


def _discard(path: Path) -> None:
    """Remove a folder of ours, or a link standing in its place; never raise."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
    except OSError as error:
        log.warning("Could not remove %s: %s", path, _describe(error))
    if os.path.lexists(path):
        log.warning("Could not remove all of %s; the next run clears it", path)


def _require_replaceable(target: Path) -> None:
    """A publication can only replace a real folder (or nothing)."""
    if target.is_symlink():
        raise PublicationError(
            f"cannot publish to {target}: it is a symbolic link (to {os.readlink(target)}); "
            "a publication replaces the folder whole in one rename, which would replace the "
            "link, not what it points to; remove the link, or give --out the folder that "
            "should hold the publications"
        )
    if target.exists() and not target.is_dir():
        raise PublicationError(
            f"cannot publish to {target}: a file of that name is in the way; move it aside"
        )


def new_staging_dir(reports_dir: Path, year: int) -> Path:
    """A fresh hidden folder beside the publication, cleared of earlier runs' leftovers."""
    _require_replaceable(reports_dir / str(year))
    for leftover in reports_dir.glob(f"{STAGING_PREFIX}{year}-*"):
        _discard(leftover)
    staging = reports_dir / f"{STAGING_PREFIX}{year}-{os.getpid()}"
    try:
        staging.mkdir(parents=True)
    except OSError as error:
        raise file_system_error(error, staging, "create the folder") from error
    return staging


def _quoted(separator: str) -> Callable[[str], str]:
    """Quote a text cell when it holds the separator, a quote or a line break."""
    special = (separator, '"', "\n", "\r")

    def quote(text: str) -> str:
        if any(mark in text for mark in special):
            return '"' + text.replace('"', '""') + '"'
        return text

    return quote


def _text_cell(value: Any) -> str:
    """A text (or list) value as CSV text, with formula-like text neutralised."""
    if isinstance(value, list):
        value = ", ".join("" if item is None else str(item) for item in value)
    return neutralise_formula(str(value))


def _csv_column(column: pa.Array, style: CsvStyle) -> pa.Array:
    """One column's cells as CSV text, empty for null: integers as integers, floats in full
    precision, each distinct text quoted and neutralised once."""
    _, decimal_mark, _ = CSV_STYLES[style]
    kind = column.type
    if pa.types.is_integer(kind):
        return pc.fill_null(pc.cast(column, pa.string()), "")
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, "true", "false"), "")
    quote = _quoted(CSV_STYLES[style][0])
    if pa.types.is_dictionary(kind):
        column = own_dictionary(column)
        texts = _csv_texts(column.dictionary.cast(pa.string()), style)
        return pc.fill_null(pc.take(texts, column.indices), "")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.fill_null(_csv_texts(column.cast(pa.string()), style), "")
    if pa.types.is_floating(kind):
        return _csv_floats(column, decimal_mark)
    values = column.to_pylist()
    return pa.array(["" if v is None else quote(_text_cell(v)) for v in values], pa.string())


def _csv_texts(texts: pa.Array, style: CsvStyle) -> pa.Array:
    """Text cells as CSV text: a text that needs quoting or looks like a formula is written by
    Python (`_quoted`, `_text_cell`); every other text stands as it is."""
    special = _CSV_SPECIAL[style]
    marked = pc.fill_null(pc.match_substring_regex(texts, special), False)
    if not pc.any(marked).as_py():
        return texts
    quote = _quoted(CSV_STYLES[style][0])
    values = pc.filter(texts, marked).to_pylist()
    written = pa.array([quote(_text_cell(value)) for value in values], pa.string())
    return pc.replace_with_mask(texts, marked, written)


def _csv_floats(column: pa.Array, decimal_mark: str) -> pa.Array:
    """A float column as CSV text: the shortest round-trip form as Python's `repr` writes it,
    empty for null and NaN.

    Arrow writes the same shortest digits; where it writes them without an exponent and
    Python would too (magnitudes from 1e-4 below 1e16, and zero), its text is taken, with the
    `.0` Python gives whole numbers. Every other value is written by `repr`.
    """
    values = pc.cast(column, pa.float64())
    texts = pc.cast(values, pa.string())
    size = pc.abs(values)
    fixed = pc.or_(
        pc.and_(pc.greater_equal(size, 1e-4), pc.less(size, 1e16)), pc.equal(values, 0.0)
    )
    by_arrow = pc.fill_null(pc.and_(fixed, pc.invert(pc.match_substring(texts, "e"))), True)
    texts = pc.if_else(
        pc.match_substring(texts, "."), texts, pc.binary_join_element_wise(texts, ".0", "")
    )
    by_python = pc.invert(by_arrow)
    if pc.any(by_python).as_py():
        others = pc.filter(values, by_python).to_numpy(zero_copy_only=False).tolist()
        written = pa.array(map(float.__repr__, others), pa.string(), size=len(others))
        texts = pc.replace_with_mask(texts, by_python, written)
    if decimal_mark != ".":
        texts = pc.replace_substring(texts, ".", decimal_mark)
    empty = pc.fill_null(pc.is_nan(values), True)
    return pc.if_else(empty, "", texts)


def _csv_lines(batch: pa.RecordBatch, style: CsvStyle) -> pa.Array:
    """A batch's rows as CSV lines, each ending with `\\n`."""
    separator = CSV_STYLES[style][0]
    columns = [_csv_column(column, style) for column in batch.columns]
    return pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, separator), "\n", "")


def write_csv(table: pa.Table, path: Path, csv_style: CsvStyle = "standard") -> Path:
    """Write a table as CSV in the given style, streaming one batch of rows at a time.

    `standard`: comma, decimal point, UTF-8. `swedish`: semicolon, decimal comma, UTF-8 with a
    byte-order mark so that Excel in a Swedish locale opens it as it is. Both end lines with
    `\\n`, write integers as integers, booleans as `true`/`false` and nulls as empty cells, and
    neutralise text that a spreadsheet would run as a formula.
    """
    batches = table.to_batches(max_chunksize=CSV_BATCH_ROWS) if table.num_columns else ()
    return write_csv_batches(table.column_names, batches, path, csv_style)


def write_csv_batches(
    column_names: list[str],
    batches: Iterable[pa.RecordBatch],
    path: Path,
    csv_style: CsvStyle = "standard",
) -> Path:
    """Write the header and then batch after batch as CSV, in the style of `write_csv`."""
    if csv_style not in CSV_STYLES:
        raise ValueError(f"unknown CSV style {csv_style!r}; choose one of {sorted(CSV_STYLES)}")
    separator, _, preamble = CSV_STYLES[csv_style]
    quote = _quoted(separator)
    header = preamble + separator.join(quote(_text_cell(n)) for n in column_names) + "\n"
    with _writing(path), path.open("wb") as handle:
        handle.write(header.encode("utf-8"))
        for batch in batches:
            handle.write(string_bytes(_csv_lines(batch, csv_style)))
    return path


def _json_value(value: Any) -> Any:
    """A value as JSON can hold it: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(table: pa.Table, path: Path) -> Path:
    """Write a table as a JSON array of records, values exactly as typed (lists stay lists)."""
    records = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
    with _writing(path):
        path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_table(
    table: pa.Table | PerAreaTable,
    folder: Path,
    name: str,
    *,
    csv_style: CsvStyle = "standard",
    note: str | None = None,
) -> list[Path]:
    """Write a table as Parquet and CSV (and JSON for the eligible list); return the files.

    A per-area table is written slice after slice from DuckDB, and its CSV from the Parquet
    file, so that neither is ever whole in memory. `note` marks the table as made from
    synthetic input (`areascreen.synthetic.mark_synthetic_table`).
    """
    parquet_path = folder / f"{name}.parquet"
    csv_path = folder / f"{name}.csv"
    if isinstance(table, PerAreaTable):
        slices = (mark_synthetic_table(piece, note) for piece in table.slices())
        write_parquet_slices(slices, parquet_path)
        texts = [f.name for f in pq.read_schema(parquet_path) if pa.types.is_string(f.type)]
        parquet = pq.ParquetFile(parquet_path, read_dictionary=texts)
        batches = parquet.iter_batches(batch_size=CSV_BATCH_ROWS)
        return [
            parquet_path,
            write_csv_batches(parquet.schema_arrow.names, batches, csv_path, csv_style),
        ]
    table = mark_synthetic_table(table, note)
    with _writing(parquet_path):
        pq.write_table(table, parquet_path, compression="zstd")
    files = [parquet_path, write_csv(table, csv_path, csv_style)]
    if name in JSON_TABLES:
        files.append(write_json(table, folder / f"{name}.json"))
    return files


def write_parquet_slices(slices: Iterable[pa.Table], path: Path) -> Path:
    """Write tables of one schema (there is at least one) into one Parquet file, in order."""
    with _writing(path):
        writer: pq.ParquetWriter | None = None
        try:
            for piece in slices:
                if writer is None:
                    writer = pq.ParquetWriter(path, piece.schema, compression="zstd")
                writer.write_table(piece)
        finally:
            if writer is not None:
                writer.close()
    return path


def write_workbook(
    tables: Mapping[str, pa.Table],
    folder: Path,
    labels: Mapping[str, str] | None = None,
    *,
    descriptions: Mapping[str, str] | None = None,
    max_rows: int = EXCEL_MAX_ROWS - 1,
) -> Path:
    """Write publication.xlsx into the folder: a sheet per table, then sheets that explain them.

    See `areascreen.excel.write_xlsx` for labels, descriptions and tables longer than a sheet.
    """
    path = folder / WORKBOOK_NAME
    with _writing(path):
        return write_xlsx(tables, path, labels, descriptions=descriptions, max_rows=max_rows)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> Path:
    """Write manifest.json with a checksum of every published file, by path in the folder."""
    files = {
        path.relative_to(folder).as_posix(): sha256_of(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }
    document = {**manifest, "files_sha256": files, "written_at": utc_now()}
    path = folder / "manifest.json"
    with _writing(path):
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def utc_now() -> str:
    """The time now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _exchange(first: Path, second: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_cwd, rename_exchange = -100, 2
    result = renameat2(at_cwd, bytes(first), at_cwd, bytes(second), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first))


def promote(staging: Path, target: Path) -> None:
    """Put the staging folder in the target's place in one step; the old one is then removed.

    Nothing after the swap raises: the new publication is in place, and what cannot be removed
    of the old one stays as a hidden leftover that the next run clears.
    """
    _require_replaceable(target)
    try:
        if not os.path.lexists(target):
            staging.rename(target)
            return
        if _exchange(staging, target):
            _discard(staging)
            return
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        target.rename(previous)
        try:
            staging.rename(target)
        except OSError:
            previous.rename(target)
            raise
    except OSError as error:
        raise file_system_error(error, target, "publish") from error
    _discard(previous)


def restore_interrupted(reports_dir: Path, year: int) -> None:
    """Put back a publication left aside by a run killed between two renames.

    Only a real folder is put back; a symbolic link of that name is removed like any leftover.
    """
    target = reports_dir / str(year)
    leftovers = sorted(reports_dir.glob(f".{year}.previous-*"))
    folders = [path for path in leftovers if path.is_dir() and not path.is_symlink()]
    if folders and not os.path.lexists(target):
        folders[-1].rename(target)
        leftovers.remove(folders[-1])
    for leftover in leftovers:
        _discard(leftover)


def _failed_runs(failed_dir: Path) -> list[Path]:
    """The failed runs kept under reports/failed/, oldest first (other entries are left alone)."""
    runs = []
    for path in failed_dir.iterdir():
        match = FAILED_NAME.match(path.name)
        if match and path.is_dir() and not path.is_symlink():
            runs.append((match.group(1), path.stat().st_ctime_ns, path.name, path))
    return [run[-1] for run in sorted(runs)]


def prune_failed(reports_dir: Path, keep: int = FAILED_RUNS_KEPT) -> list[Path]:
    """Remove all but the newest `keep` failed runs under reports/failed/; return the removed."""
    failed_dir = reports_dir / FAILED_DIR
    if not failed_dir.is_dir():
        return []
    runs = _failed_runs(failed_dir)
    removed = runs[: max(len(runs) - keep, 0)]
    for path in removed:
        _discard(path)
    return removed


def _failed_destination(failed_dir: Path, year: int) -> Path:
    """A new name under reports/failed/: year, UTC time and process id (numbered on a clash)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{year}-{stamp}-{os.getpid()}"
    destination, number = failed_dir / base, 1
    while os.path.lexists(destination):
        number += 1
        destination = failed_dir / f"{base}-{number}"
    return destination


def set_aside_failed(
    staging: Path,
    reports_dir: Path,
    year: int,
    *,
    keep: int = FAILED_RUNS_KEPT,
    error: BaseException | None = None,
) -> Path | None:
    """Keep a failed run's files (its Data Docs) under reports/failed/, away from publications.

    Only the newest `keep` failed runs are kept. Returns where the files are now, or None when
    nothing was kept: after a full disk (`error`, by default the exception being handled), or
    with `keep=0`. Never raises: a failed run's files that cannot be moved stay where they are.
    """
    error = error if error is not None else sys.exc_info()[1]
    if keep <= 0 or (error is not None and disk_full_error(error, reports_dir) is not None):
        _discard(staging)
        prune_failed(reports_dir, max(keep, 0))
        return None
    try:
        failed_dir = reports_dir / FAILED_DIR
        failed_dir.mkdir(exist_ok=True)
        destination = _failed_destination(failed_dir, year)
        staging.rename(destination)
    except OSError as move_error:
        log.warning("Could not move %s under %s: %s", staging, FAILED_DIR, _describe(move_error))
        if disk_full_error(move_error, reports_dir) is not None:
            _discard(staging)
            return None
        return staging if staging.exists() else None
    prune_failed(reports_dir, keep)
    return destination
