"""Sources of the input table: Statistics Sweden's PxWeb API v2 and local files, cached on disk.

`fetch_year(year)` reads `data/sources/<year>.toml`, fetches every configured table (or replays
it from the cache with `offline=True`), assembles the input contract and writes it as Parquet
beside a manifest of the sources used. The Prefect flow is `areascreen.sources.tasks`.

The names below are loaded from their modules when first used, so that a process that only
reads a local file (e.g. `areascreen.sources.election`) does not import the HTTP client.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Each public name and the module of this package that defines it.
_HOMES: dict[str, str] = {
    "AssemblyError": "assemble",
    "CacheCorruptError": "cache",
    "CacheMissError": "cache",
    "resolve_cache_dir": "cache",
    "ConfigError": "config",
    "load_config": "config",
    "sources_config_path": "config",
    "FetchResult": "fetch",
    "PinError": "fetch",
    "SourceFileError": "fetch",
    "fetch_year": "fetch",
    "JsonStatError": "jsonstat",
    "PxWebError": "pxweb",
    "PxWebHTTPError": "pxweb",
    "PxWebSelectionError": "pxweb",
    "PxWebTransientError": "pxweb",
}
# Every error a fetch raises for a reason a user can act on (the CLI can catch these).
_SOURCE_ERROR_NAMES: tuple[str, ...] = (
    "AssemblyError",
    "CacheCorruptError",
    "CacheMissError",
    "ConfigError",
    "JsonStatError",
    "PinError",
    "PxWebError",
    "SourceFileError",
)

__all__ = ["SOURCE_ERRORS", *sorted(_HOMES)]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    if name == "SOURCE_ERRORS":
        return tuple(__getattr__(error) for error in _SOURCE_ERROR_NAMES)
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
