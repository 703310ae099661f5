"""The `fetch` and `sources check` subcommands of the `areascreen` command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add `fetch` and `sources` (with `check`) to the CLI's subcommands."""
    _add_fetch(commands)


def _add_fetch(commands: argparse._SubParsersAction) -> None:
    fetch = commands.add_parser(
        "fetch",
        help="fetch and cache a year's statistics from Statistics Sweden's PxWeb API",
        description="Fetch every source in data/sources/<year>.toml, cache each raw response, "
        "and write the assembled input table (Parquet) beside a manifest of the sources used.",
    )
    fetch.add_argument("--year", type=int, default=2018, help="year to fetch (default: 2018)")
    fetch.add_argument("--offline", action="store_true", help="use only the local cache")
    fetch.add_argument(
        "--pin", type=Path, help="manifest of an earlier fetch: replay exactly its responses"
    )
    fetch.add_argument(
        "--cache",
        type=Path,
        help="cache folder (default: AREASCREEN_CACHE_DIR or ~/.cache/areascreen/pxweb)",
    )
    fetch.add_argument("--base-url", help="PxWeb API v2 base URL")
    fetch.add_argument("--output", type=Path, help="Parquet file to write")
    fetch.set_defaults(handler=_fetch)


def fetch_statistics(year: int, **options: object) -> Path:
    """Fetch a year's sources; source errors become input errors with the same message."""
    from areascreen.errors import InputError
    from areascreen.sources import SOURCE_ERRORS, fetch_year

    try:
        result = fetch_year(year, **options)  # type: ignore[arg-type]
    except SOURCE_ERRORS as error:
        raise InputError(str(error)) from error
    print(f"Fetched {len(result.frame)} areas for {year}: {result.path}")
    print(f"Sources used: {result.manifest_path}")
    return result.path


def _fetch(args: argparse.Namespace) -> int:
    fetch_statistics(
        args.year,
        offline=args.offline,
        pin=args.pin,
        cache_dir=args.cache,
        base_url=args.base_url,
        out_path=args.output,
    )
    return 0
