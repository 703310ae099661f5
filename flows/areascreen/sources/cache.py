"""Content-addressed cache of raw API responses, kept on disk so that a year can be rerun offline.

An entry is addressed by the SHA-256 of its canonical request (method, URL, sorted query, body)
and by the SHA-256 of the response bytes. Each entry is two files in one flat folder:

    <request key>-<body sha256>.json        the raw response bytes, as received
    <request key>-<body sha256>.meta.json   the sidecar: request, table id, the table's
                                            `updated`, the body's SHA-256, fetched-at

Entries are never overwritten or deleted, so a table revised upstream adds a new entry beside
the old one, and a manifest naming the old body still reproduces the old run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CACHE_ENV_VAR = "AREASCREEN_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/areascreen/pxweb")
BODY_SUFFIX = ".json"
SIDECAR_SUFFIX = ".meta.json"


class CacheMissError(LookupError):
    """A request has no usable entry in the cache (raised in offline mode)."""


class CacheCorruptError(RuntimeError):
    """A cached body no longer matches the SHA-256 recorded in its sidecar."""


def resolve_cache_dir(cache_dir: Path | str | None = None) -> Path:
    """The cache folder: argument, else $AREASCREEN_CACHE_DIR, else ~/.cache/areascreen/pxweb."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from_env = os.environ.get(CACHE_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return DEFAULT_CACHE_DIR.expanduser()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CanonicalRequest:
    """An HTTP request reduced to what identifies it: method, URL, sorted query and JSON body."""

    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        params: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        body: Mapping[str, Any] | None = None,
    ) -> CanonicalRequest:
        """A request with its query sorted and its method upper-cased."""
        pairs = params.items() if isinstance(params, Mapping) else params
        return cls(method.upper(), url, tuple(sorted((str(k), str(v)) for k, v in pairs)), body)

    def as_dict(self) -> dict[str, Any]:
        """The request as plain JSON-ready data."""
        return {
            "method": self.method,
            "url": self.url,
            "params": [list(pair) for pair in self.params],
            "body": self.body,
        }

    def canonical_bytes(self) -> bytes:
        """Stable serialisation: sorted keys, no whitespace, UTF-8."""
        return json.dumps(
            self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @property
    def key(self) -> str:
        """SHA-256 of the canonical request: the cache address."""
        return sha256_hex(self.canonical_bytes())

    def describe(self) -> str:
        """Short human description for error messages: method, URL with query, body size."""
        query = "&".join(f"{k}={v}" for k, v in self.params)
        text = f"{self.method} {self.url}" + (f"?{query}" if query else "")
        if self.body is not None:
            text += f" with body {_summarise_body(self.body)}"
        return text


def _summarise_body(body: Mapping[str, Any]) -> str:
    """A body summary naming each selected variable and how many values it has."""
    selection = body.get("selection")
    if not isinstance(selection, list):
        return json.dumps(body, sort_keys=True, ensure_ascii=False)[:200]
    parts = []
    for item in selection:
        codes = item.get("valueCodes", [])
        shown = ",".join(codes[:3]) + (f",… ({len(codes)} values)" if len(codes) > 3 else "")
        parts.append(f"{item.get('variableCode')}=[{shown}]")
    return "{" + "; ".join(parts) + "}"


@dataclass(frozen=True)
class CacheEntry:
    """One cached response: its bytes, where they are, and the sidecar facts."""

    request_key: str
    sha256: str
    body: bytes
    table_id: str
    updated: str | None
    fetched_at: str
    body_path: Path
    sidecar_path: Path

    @property
    def cache_file(self) -> str:
        """File name of the raw body inside the cache folder."""
        return self.body_path.name


def _utc_now() -> str:
    """Current UTC time, ISO 8601 to the microsecond with a Z (entries sort by it)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file through a temporary sibling and a rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResponseCache:
    """Raw responses on disk, addressed by request key and body hash."""

    def __init__(self, root: Path) -> None:
        """Use (and create on first write) the folder `root`."""
        self.root = Path(root)

    def _stem(self, request_key: str, sha256: str) -> str:
        """Common file-name stem of an entry."""
        return f"{request_key}-{sha256}"

    def store(
        self,
        request: CanonicalRequest,
        body: bytes,
        *,
        table_id: str,
        updated: str | None,
        fetched_at: str | None = None,
    ) -> CacheEntry:
        """Keep a response; an identical body for the same request reuses the existing entry."""
        digest = sha256_hex(body)
        stem = self._stem(request.key, digest)
        body_path = self.root / f"{stem}{BODY_SUFFIX}"
        sidecar_path = self.root / f"{stem}{SIDECAR_SUFFIX}"
        if sidecar_path.is_file() and body_path.is_file():
            return self._read_entry(sidecar_path)
        sidecar = {
            "request": request.as_dict(),
            "request_key": request.key,
            "table_id": table_id,
            "updated": updated,
            "sha256": digest,
            "fetched_at": fetched_at or _utc_now(),
            "body_file": body_path.name,
            "size": len(body),
        }
        atomic_write(body_path, body)
        atomic_write(sidecar_path, dump_json(sidecar))
        return self._read_entry(sidecar_path)

    def entries(self, request_key: str) -> list[CacheEntry]:
        """Every entry kept for a request, oldest first (by fetched-at, then body hash)."""
        if not self.root.is_dir():
            return []
        found = [self._read_entry(p) for p in self.root.glob(f"{request_key}-*{SIDECAR_SUFFIX}")]
        return sorted(found, key=lambda e: (e.fetched_at, e.sha256))

    def latest(self, request_key: str, *, updated: str | None = None) -> CacheEntry | None:
        """Newest entry for a request, optionally only among those with a given `updated`."""
        candidates = [
            e for e in self.entries(request_key) if updated is None or e.updated == updated
        ]
        return candidates[-1] if candidates else None

    def pinned(self, request_key: str, sha256: str) -> CacheEntry | None:
        """The entry for a request whose body has exactly this SHA-256, if kept."""
        sidecar_path = self.root / f"{self._stem(request_key, sha256)}{SIDECAR_SUFFIX}"
        return self._read_entry(sidecar_path) if sidecar_path.is_file() else None

    def _read_entry(self, sidecar_path: Path) -> CacheEntry:
        """Load an entry and check its body against the recorded SHA-256."""
        sidecar = json.loads(sidecar_path.read_bytes())
        body_path = sidecar_path.with_name(sidecar["body_file"])
        if not body_path.is_file():
            raise CacheCorruptError(f"Cache entry {sidecar_path} has lost its body {body_path}")
        body = body_path.read_bytes()
        if sha256_hex(body) != sidecar["sha256"]:
            raise CacheCorruptError(
                f"Cached body {body_path} does not match the SHA-256 in {sidecar_path.name} "
                f"(table {sidecar['table_id']}); delete both files and fetch again"
            )
        return CacheEntry(
            request_key=sidecar["request_key"],
            sha256=sidecar["sha256"],
            body=body,
            table_id=sidecar["table_id"],
            updated=sidecar["updated"],
            fetched_at=sidecar["fetched_at"],
            body_path=body_path,
            sidecar_path=sidecar_path,
        )


def dump_json(data: Any) -> bytes:
    """Pretty, sorted, UTF-8 JSON bytes with a final newline."""
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
