"""Sources of the input table: Statistics Sweden's PxWeb API v2 and local files, cached on disk.

`fetch_year(year)` reads `data/sources/<year>.toml`, fetches every configured table (or replays
it from the cache with `offline=True`), assembles the input contract and writes it as Parquet
beside a manifest of the sources used. The Prefect flow is `areascreen.sources.tasks`.
"""

from __future__ import annotations

from .assemble import AssemblyError
from .cache import CacheCorruptError, CacheMissError, resolve_cache_dir
from .config import ConfigError, load_config, sources_config_path
from .fetch import FetchResult, PinError, SourceFileError, fetch_year
from .jsonstat import JsonStatError
from .pxweb import PxWebError, PxWebHTTPError, PxWebSelectionError, PxWebTransientError

# Every error a fetch raises for a reason a user can act on (the CLI can catch these).
SOURCE_ERRORS: tuple[type[Exception], ...] = (
    AssemblyError,
    CacheCorruptError,
    CacheMissError,
    ConfigError,
    JsonStatError,
    PinError,
    PxWebError,
    SourceFileError,
)

__all__ = [
    "SOURCE_ERRORS",
    "AssemblyError",
    "CacheCorruptError",
    "CacheMissError",
    "ConfigError",
    "FetchResult",
    "JsonStatError",
    "PinError",
    "PxWebError",
    "PxWebHTTPError",
    "PxWebSelectionError",
    "PxWebTransientError",
    "SourceFileError",
    "fetch_year",
    "load_config",
    "resolve_cache_dir",
    "sources_config_path",
]
