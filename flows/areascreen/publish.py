"""Publish stage: write a year's results to a staging folder, then swap it into place atomically.

`reports/<year>/` is only ever replaced whole: the new publication is written beside it in a
hidden staging folder and exchanged with the old one in a single rename, after every gate has
passed. A lock file makes a second run for the same year fail at once instead of racing.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from areascreen.errors import AreascreenError

# Tables written as Parquet and CSV; the list of eligible municipalities also as JSON.
JSON_TABLES = ("eligible_municipalities",)
STAGING_PREFIX = ".staging-"
FAILED_DIR = "failed"


class PublicationLocked(AreascreenError):
    """Another run is publishing the same year."""


@contextmanager
def publication_lock(reports_dir: Path, year: int) -> Iterator[Path]:
    """Hold the year's publication lock for the duration of a run."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    lock_path = reports_dir / f".{year}.lock"
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise PublicationLocked(
                f"another run is publishing {year} ({lock_path} is locked); "
                "wait for it to finish and run again"
            ) from error
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield lock_path
    finally:
        handle.close()


def new_staging_dir(reports_dir: Path, year: int) -> Path:
    """A fresh hidden folder beside the publication, cleared of earlier runs' leftovers."""
    for leftover in reports_dir.glob(f"{STAGING_PREFIX}{year}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    staging = reports_dir / f"{STAGING_PREFIX}{year}-{os.getpid()}"
    staging.mkdir(parents=True)
    return staging


def write_table(table: pa.Table, folder: Path, name: str) -> list[Path]:
    """Write a table as Parquet and CSV (and JSON for the eligible list); return the files."""
    parquet_path = folder / f"{name}.parquet"
    pq.write_table(table, parquet_path, compression="zstd")
    frame = table.to_pandas()
    csv_path = folder / f"{name}.csv"
    for field in table.schema:
        if pa.types.is_list(field.type):
            frame[field.name] = frame[field.name].map(", ".join)
    frame.to_csv(csv_path, index=False, lineterminator="\n")
    files = [parquet_path, csv_path]
    if name in JSON_TABLES:
        json_path = folder / f"{name}.json"
        records = json.loads(frame.to_json(orient="records"))
        json_path.write_text(
            json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        files.append(json_path)
    return files


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> Path:
    """Write manifest.json with a checksum of every data file in the folder."""
    files = {
        path.name: sha256_of(path)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in {".parquet", ".csv", ".json", ".md"}
    }
    document = {**manifest, "files_sha256": files, "written_at": utc_now()}
    path = folder / "manifest.json"
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
    """Put the staging folder in the target's place in one step; the old one is then removed."""
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)
        return
    previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
    target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous)


def restore_interrupted(reports_dir: Path, year: int) -> None:
    """Put back a publication left aside by a run killed between two renames."""
    target = reports_dir / str(year)
    leftovers = sorted(reports_dir.glob(f".{year}.previous-*"))
    if leftovers and not target.exists():
        leftovers[-1].rename(target)
        leftovers = leftovers[:-1]
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)


def set_aside_failed(staging: Path, reports_dir: Path, year: int) -> Path:
    """Keep a failed run's files (its Data Docs) under reports/failed/, away from publications."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    destination = reports_dir / FAILED_DIR / f"{year}-{stamp}-{os.getpid()}"
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(destination)
    return destination
