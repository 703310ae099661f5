"""The `areascreen` command line."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from areascreen import __version__, paths
from areascreen.errors import AreascreenError

EXIT_DATA_PROBLEM = 1
EXIT_LOCKED = 3


EXIT_COMMAND_LINE = 2
EPILOG = """\
project folder:
  Every command works in a project folder (see `areascreen init`): --project DIR, else the
  environment variable AREASCREEN_PROJECT, else the nearest folder from the working directory
  upwards holding areascreen.toml. Publications go to its reports folder and --ruleset NAME
  looks in its rulesets/ before the shipped ones. Without a project, publications go to
  ./reports of the working directory; nothing is ever written inside the installed package.

exit codes:
  0  done
  1  a data, ruleset, project or file problem (the message names the file and the problem)
  2  a wrong command line
  3  another run is publishing the same year
"""


def ruleset_argument(text: str) -> Path:
    """A ruleset file, or the name of a ruleset in the project's or the shipped rulesets/."""
    path = Path(text)
    if not path.exists() and path.suffix != ".toml":
        return paths.find_ruleset(text) or path
    return path


def resolve_rulesets(args: argparse.Namespace) -> None:
    """Ruleset names on the command line as files, once the project is known."""
    given = getattr(args, "ruleset", None)
    if isinstance(given, list):
        args.ruleset = [ruleset_argument(str(item)) for item in given]
    elif given is not None:
        args.ruleset = ruleset_argument(str(given))


def _reports(args: argparse.Namespace) -> Path:
    """The --out folder, or the project's reports folder, or ./reports."""
    return args.out if args.out is not None else paths.reports_dir()


OUT_HELP = (
    "folder holding the publications (default: the project's reports folder; without a "
    "project, ./reports of the working directory)"
)


def _year_range(text: str) -> list[int]:
    """`2018-2027` or `2018,2019` or `2020` as a list of years."""
    years: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if not first.strip().isdigit() or (last and not last.strip().isdigit()):
            raise argparse.ArgumentTypeError(f"not a year or range of years: {part!r}")
        years.extend(range(int(first), int(last or first) + 1))
    return years


SHEET_HELP = (
    "sheet of an .xlsx input: its name, or its 0-based position such as 0 for the first "
    "(default: the first sheet)"
)


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="screen a year and publish the eligible municipalities",
        description="Screen one year's area statistics and publish the results to OUT/<year>/. "
        "Nothing is published unless the input and output gates pass.",
    )
    run.add_argument("--year", type=int, default=2018, help="year to screen (default: 2018)")
    run.add_argument(
        "--input",
        type=Path,
        help="area statistics: CSV, Parquet or .xlsx (default: the embedded synthetic demo data)",
    )
    run.add_argument("--sheet", help=SHEET_HELP)
    run.add_argument(
        "--source",
        choices=("file", "scb"),
        default="file",
        help="'scb' fetches the year's statistics from Statistics Sweden's PxWeb API first "
        "(as `areascreen fetch`), then screens them (default: file)",
    )
    run.add_argument(
        "--offline", action="store_true", help="with --source scb: use only the local cache"
    )
    run.add_argument(
        "--ruleset",
        type=ruleset_argument,
        help="ruleset TOML file, or a ruleset name such as 2018-relative, looked up in the "
        "project's rulesets/ and then among the shipped ones (default: the year's ruleset, "
        "<year>.toml, found the same way); a ruleset other than the year's own publishes "
        "to OUT/<year>-<ruleset name>/ unless --publication says otherwise",
    )
    run.add_argument(
        "--publication", help="folder name of the publication under OUT (default: see --ruleset)"
    )
    run.add_argument(
        "--lang",
        choices=("en", "sv"),
        help="language of the report and summary (default: the project's, else en)",
    )
    run.add_argument("--out", type=Path, help=OUT_HELP)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="screen and report what would be published, without publishing; the files "
        "are written to OUT/dry-runs/<publication>/",
    )
    run.add_argument(
        "--engine",
        choices=("auto", "prefect", "plain"),
        default="auto",
        help="'prefect' runs the Prefect flow (without PREFECT_API_URL a temporary server is "
        "started for the run, about 10 s; `prefect server start` keeps one); 'plain' runs the same stages without orchestration; "
        "'auto' (default) uses Prefect when PREFECT_API_URL is set",
    )
    run.set_defaults(handler=_run)


def _add_validate(commands: argparse._SubParsersAction) -> None:
    validate = commands.add_parser(
        "validate",
        help="run the input gate alone on a file",
        description="Read a file of area statistics and run the input expectation suite on it.",
    )
    validate.add_argument("file", type=Path, help="CSV, Parquet or .xlsx file")
    validate.add_argument("--sheet", help=SHEET_HELP)
    validate.add_argument(
        "--ruleset",
        type=Path,
        help="ruleset file or name whose columns, division and quality limits apply "
        "(default: 2018.toml of the project's rulesets, else the shipped one)",
    )
    validate.add_argument("--docs", type=Path, help="write Great Expectations Data Docs here")
    validate.set_defaults(handler=_validate)


def _add_allocate(commands: argparse._SubParsersAction) -> None:
    allocate = commands.add_parser(
        "allocate",
        help="share the budget of several years among a publication's eligible municipalities",
        description="Read the list published in OUT/<year>/ and write the amounts of each "
        "requested year to one CSV (default OUT/allocation_<year>_list_<first>-<last>.csv); "
        "the publication itself is not changed.",
    )
    allocate.add_argument("--year", type=int, default=2018, help="publication to read")
    allocate.add_argument(
        "--years", type=_year_range, default=None, help="years, e.g. 2018-2027 (default: --year)"
    )
    allocate.add_argument(
        "--ruleset", type=Path, help="ruleset file or name (default: the year's ruleset)"
    )
    allocate.add_argument("--out", type=Path, help=OUT_HELP)
    allocate.add_argument("--output", type=Path, help="CSV file to write")
    allocate.set_defaults(handler=_allocate)


def _deltas(text: str) -> list[float]:
    """`1,2` as [1.0, 2.0]."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from error


def _add_sensitivity(commands: argparse._SubParsersAction) -> None:
    sensitivity = commands.add_parser(
        "sensitivity",
        help="re-screen with every threshold moved by ± some percentage points",
        description="Move each threshold by ±DELTA percentage points, one at a time and all "
        "together, re-screen in one DuckDB pass, and show which municipalities enter or leave "
        "the list and how stable each one's eligibility is. Publishes nothing.",
    )
    sensitivity.add_argument("--year", type=int, default=2018, help="year to screen")
    sensitivity.add_argument(
        "--delta", type=_deltas, default=[1.0, 2.0], help="percentage points, e.g. 1,2 (default)"
    )
    sensitivity.add_argument("--input", type=Path, help="area statistics (default: demo data)")
    sensitivity.add_argument(
        "--ruleset", type=Path, help="ruleset file or name (default: the year's ruleset)"
    )
    sensitivity.set_defaults(handler=_sensitivity)


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the yearly scheduled publication from a running Prefect server",
        description="Register the 'yearly-publication' deployment of the screening flow (cron "
        "0 6 15 3 *, Europe/Stockholm) with the Prefect server at PREFECT_API_URL and run its "
        "flow runs in this process until stopped.",
    )
    serve.add_argument(
        "--input",
        help="input path; {year} is replaced by the year screened (default: the project's "
        "incoming/area_statistics_{year}.parquet, see areascreen.toml)",
    )
    serve.add_argument("--out", type=Path, help=OUT_HELP)
    serve.set_defaults(handler=_serve)


PROJECT_HELP = (
    "project folder (default: AREASCREEN_PROJECT, else the nearest folder upwards holding "
    "areascreen.toml)"
)


def _with_quiet_option(
    add_parser: Callable[..., argparse.ArgumentParser],
) -> Callable[..., argparse.ArgumentParser]:
    """Let every subcommand also take -q and --project after its name."""

    def add(*args: object, **kwargs: object) -> argparse.ArgumentParser:
        parser = add_parser(*args, **kwargs)
        parser.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
            help="log warnings and errors only",
        )  # fmt: skip
        parser.add_argument(
            "--project", type=Path, metavar="DIR", default=argparse.SUPPRESS, help=PROJECT_HELP
        )
        return parser

    return add


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="areascreen",
        description="Screen small statistical areas against socioeconomic thresholds and "
        "publish the municipalities eligible for a grant.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"areascreen {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log details, including every library's"
    )
    parser.add_argument("--log-file", type=Path, help="also write the log to this file")
    parser.add_argument("--project", type=Path, metavar="DIR", help=PROJECT_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser = _with_quiet_option(commands.add_parser)  # type: ignore[method-assign]
    from areascreen.compare import register as register_compare
    from areascreen.sources.commands import register as register_sources

    for add in (
        _add_init,
        _add_run,
        _add_validate,
        register_compare,
        register_sources,
        _add_allocate,
        _add_sensitivity,
        _add_serve,
    ):
        add(commands)
    return parser


def _use_prefect(engine: str) -> bool:
    return engine == "prefect" or (engine == "auto" and bool(os.environ.get("PREFECT_API_URL")))


def _language(args: argparse.Namespace) -> str:
    """--lang, else the project's language, else English."""
    project = paths.current_project()
    return args.lang or (project.language if project else "en")


PREFECT_SERVER_NOTE = (
    "PREFECT_API_URL is not set: starting a temporary Prefect server for this run (about 10 s). "
    "For repeated runs start one with `prefect server start` and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api."
)


def _screen(args: argparse.Namespace) -> Any:
    """Run the screening, under Prefect or in-process, as --engine says."""
    from areascreen.pipeline import RunOptions, run_screening

    if _use_prefect(args.engine):
        from areascreen.flow import screening

        if not os.environ.get("PREFECT_API_URL"):
            logging.getLogger("areascreen").warning(PREFECT_SERVER_NOTE)
        return screening(
            year=args.year,
            input_path=str(args.input.resolve()) if args.input else None,
            ruleset_path=str(args.ruleset.resolve()) if args.ruleset else None,
            reports_dir=str(_reports(args).resolve()),
            sheet=args.sheet,
            dry_run=args.dry_run,
            language=_language(args),
            publication=args.publication,
        )
    settings: dict[str, Any] = {}
    project = paths.current_project()
    if project is not None and "csv_style" in RunOptions.__dataclass_fields__:
        settings["csv_style"] = project.csv_style
    options = RunOptions(
        year=args.year,
        input_path=args.input,
        ruleset_path=args.ruleset,
        reports_dir=_reports(args),
        sheet=args.sheet,
        dry_run=args.dry_run,
        language=_language(args),
        publication=args.publication,
        **settings,
    )
    return run_screening(options)


def _run(args: argparse.Namespace) -> int:
    from areascreen.sources.commands import fetch_statistics

    if args.source == "scb":
        args.input = fetch_statistics(
            args.year,
            offline=args.offline,
            config_path=paths.sources_config_path(args.year),
            out_path=paths.reports_dir() / "sources" / f"areas_{args.year}.parquet",
        )
    result = _screen(args)
    codes = result.eligible_codes
    names = result.tables["eligible_municipalities"]["municipality_name"].to_pylist()
    synthetic = result.manifest.get("synthetic")
    if synthetic:
        print(f"{synthetic.upper()}: the list below says nothing about these municipalities.")
    print(f"{len(codes)} eligible municipalities for {args.year}:")
    print(", ".join(f"{name} ({code})" for code, name in zip(codes, names, strict=True)))
    if result.publication_dir:
        print(f"Published: {result.publication_dir}/ (see summary.md)")
        return 0
    if "changes.md" in result.documents:
        print(result.documents["changes.md"])
    print(f"Dry run: nothing published; what would be published is in {result.dry_run_dir}/")
    return 0


def _add_init(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init",
        help="create a project folder: config, rulesets, sources, incoming, reports",
        description="Create a project folder DIR: areascreen.toml (every setting, documented), "
        "rulesets/ and sources/ (copies of the shipped ones, to edit), incoming/, "
        "deliveries/ (git-ignored), reports/, data/, a .gitignore, a README and a prefect.yaml. "
        "Existing files are never overwritten.",
    )
    init.add_argument("directory", type=Path, metavar="DIR", help="folder to create or fill")
    init.add_argument(
        "--lang", choices=("en", "sv"), default="en", help="default language (default: en)"
    )
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    from areascreen.project import init_project

    written = init_project(args.directory, language=args.lang)
    root = written[0].parent
    print(f"Project created in {root}/ ({len(written)} files)")
    print(f"Next: cd {root} && areascreen run   # publishes to {root / 'reports'}/")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from areascreen.ruleset import load_ruleset
    from areascreen.screening import read_input
    from areascreen.validate import validate_input

    ruleset = load_ruleset(args.ruleset or paths.ruleset_path(2018))
    data = read_input(args.file, ruleset, sheet=args.sheet, year=ruleset.year)
    report = validate_input(data.loaded, ruleset, docs_dir=args.docs)
    print(f"{args.file.name}: {data.rows} areas pass the input gate of {ruleset.name}")
    for line in report.summary_lines():
        print(line)
    return 0


def _allocate(args: argparse.Namespace) -> int:
    from areascreen.allocate import write_multi_year_allocation

    path = write_multi_year_allocation(
        year=args.year,
        years=args.years or [args.year],
        ruleset_path=args.ruleset or paths.ruleset_path(args.year),
        reports_dir=_reports(args),
        output=args.output,
    )
    print(f"Written: {path}")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from areascreen.formatting import markdown_table
    from areascreen.sensitivity import screen_sensitivity

    try:
        result = screen_sensitivity(
            args.input or paths.DEFAULT_INPUT,
            args.year,
            args.ruleset or paths.ruleset_path(args.year),
            args.delta,
        )
    except ValueError as error:
        raise SystemExit(f"areascreen sensitivity: error: {error}") from error
    variants = result.variants.select(
        ["variant", "selected_areas", "eligible_municipalities", "entered_municipalities",
         "left_municipalities"]
    )  # fmt: skip
    stability = result.municipality_stability.select(
        ["municipality_code", "municipality_name", "eligible_baseline", "stability", "differs_in"]
    )
    for title, table in (("Variants", variants), ("Stability of each municipality", stability)):
        print(f"## {title}\n")
        rows = ([*row.values()] for row in table.to_pylist())
        print(markdown_table(table.column_names, rows) + "\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from areascreen.deployment import serve_deployment

    project = paths.current_project()
    parameters = {
        "input_path": args.input,
        "reports_dir": str(_reports(args).resolve()),
        "project": str(project.root) if project else None,
    }
    serve_deployment({key: value for key, value in parameters.items() if value})
    return 0


# Libraries whose INFO lines (every HTTP request, every Prefect API call) are noise to a user.
NOISY_LOGGERS = ("httpx", "httpcore", "urllib3", "prefect.client", "great_expectations")


def configure_logging(args: argparse.Namespace) -> None:
    """Log level from -q/-v, library chatter kept quiet unless -v, and an optional log file."""
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if args.log_file is not None:
        handlers.append(logging.FileHandler(args.log_file, encoding="utf-8"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        handlers=handlers,
        force=True,
    )
    if not args.verbose:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def printable(text: str) -> str:
    """A message with control characters and terminal escape codes shown escaped, never raw."""
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)


def _chosen_project(args: argparse.Namespace) -> Any:
    """--project if given, else the project the environment or the working directory points at."""
    from areascreen.project import load_project

    if args.command == "init":
        return None
    if args.project is not None:
        return load_project(args.project)
    return paths.current_project()


def _resolve_sources_file(args: argparse.Namespace) -> None:
    """`sources check` reads the project's sources file of the year when it has one."""
    if getattr(args, "sources_command", None) == "check" and args.config is None:
        args.config = paths.sources_config_path(args.year)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand (the command line's without `argv`) and return its exit code: 0 done,
    1 a data problem (with a message), 2 a wrong command line, 3 a busy year."""
    return run_command(argv)


def command() -> NoReturn:
    """The `areascreen` command: the command line's subcommand, then the process ends with its
    exit code (see `finish`)."""
    finish(run_command(None))


def run_command(argv: Sequence[str] | None) -> int:
    """Parse the arguments and run the subcommand; the exit code."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(argv)
    configure_logging(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        with paths.project_in_use(_chosen_project(args)):
            resolve_rulesets(args)
            _resolve_sources_file(args)
            return handler(args)
    except AreascreenError as error:
        from areascreen.publish import PublicationLocked

        print(f"areascreen: error: {printable(str(error))}", file=sys.stderr)
        for note in getattr(error, "notes", ()):
            print(f"areascreen: note: {printable(str(note))}", file=sys.stderr)
        return EXIT_LOCKED if isinstance(error, PublicationLocked) else EXIT_DATA_PROBLEM


def other_threads_running() -> bool:
    """Whether a thread other than the main one would keep an ordinary exit waiting."""
    main_thread = threading.main_thread()
    return any(t is not main_thread and not t.daemon for t in threading.enumerate())


def finish(code: int) -> NoReturn:
    """End the command's process with its exit code, its work done and written.

    The handlers registered to run at exit run, and log files and the standard streams are
    flushed; what is skipped is the interpreter tearing down every imported module and object
    one by one (Great Expectations alone brings thousands of modules), which takes about a
    second and writes nothing. Where Prefect is loaded or another thread is still running, the
    process exits the ordinary way.
    """
    if "prefect" in sys.modules or other_threads_running():
        sys.exit(code)
    logging.shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    command()
