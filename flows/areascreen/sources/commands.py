"""The `fetch` and `sources check` subcommands of the `areascreen` command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add `fetch` and `sources` (with `check`) to the CLI's subcommands."""
    _add_fetch(commands)
    _add_sources(commands)


def _add_sources(commands: argparse._SubParsersAction) -> None:
    sources = commands.add_parser(
        "sources",
        help="inspect the sources file of a year",
        description="Work with data/sources/<year>.toml.",
    )
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="look every configured code up in its table's metadata",
        description="Read each PxWeb table's metadata (live, or from the cache with --offline) "
        "and report, per variable and value code of the sources file, whether the table has it, "
        "its label and the table's `updated`; for a missing code, the codes whose labels match.",
    )
    check.add_argument("--year", type=int, default=2018, help="year of the sources file")
    check.add_argument("--offline", action="store_true", help="read metadata from the cache only")
    check.add_argument(
        "--config", type=Path, help="sources file (default: data/sources/<year>.toml)"
    )
    check.add_argument("--cache", type=Path, help="cache folder")
    check.add_argument("--base-url", help="PxWeb API v2 base URL")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from areascreen.errors import InputError
    from areascreen.sources import SOURCE_ERRORS
    from areascreen.sources.check import check_sources, report_lines

    try:
        checks = check_sources(
            args.year,
            offline=args.offline,
            cache_dir=args.cache,
            base_url=args.base_url,
            config_path=args.config,
        )
    except SOURCE_ERRORS as error:
        raise InputError(str(error)) from error
    for line in report_lines(checks):
        print(line)
    missing = sum(check.missing for check in checks)
    if missing:
        raise InputError(f"sources check: {missing} code(s) or variable(s) not in their tables")
    return 0


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
    fetch.add_argument(
        "--from-files",
        type=Path,
        metavar="DIR",
        help="read each PxWeb table from files in DIR instead of the API, offline: SCB's bulk "
        "download (TAB683_sv.zip or a .px file) or PxWeb's CSV or xlsx export (with the "
        "table's metadata beside it as TAB683_metadata.json, or in the cache)",
    )
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
        from_files=args.from_files,
    )
    return 0
