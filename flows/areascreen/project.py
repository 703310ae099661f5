"""A project folder: the user's own config, rulesets, sources, deliveries and publications.

`areascreen init DIR` writes one; every command then finds it (`--project DIR`, the environment
variable AREASCREEN_PROJECT, or the nearest parent of the working directory holding
`areascreen.toml`) and reads and writes there, never inside the installed package.
"""

from __future__ import annotations

import re
import shutil
import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from areascreen import __version__, paths
from areascreen.errors import AreascreenError

LANGUAGES = ("en", "sv")
CSV_STYLES = ("standard", "swedish")
FOLDERS = ("rulesets", "sources", "incoming", "deliveries", "reports", "data")
# Each key of areascreen.toml: (table, key) -> default.
DEFAULTS: dict[tuple[str, str], str] = {
    ("paths", "reports"): "reports",
    ("paths", "incoming"): "incoming",
    ("paths", "rulesets"): "rulesets",
    ("paths", "sources"): "sources",
    ("paths", "deliveries"): "deliveries",
    ("run", "language"): "en",
    ("run", "csv_style"): "standard",
    ("schedule", "input"): "area_statistics_{year}.parquet",
}
CHOICES = {("run", "language"): LANGUAGES, ("run", "csv_style"): CSV_STYLES}


class ProjectError(AreascreenError):
    """A project folder or its areascreen.toml is missing or malformed."""


@dataclass(frozen=True)
class Project:
    """A project folder and the settings of its areascreen.toml, paths made absolute."""

    root: Path
    reports: Path
    incoming: Path
    rulesets: Path
    sources: Path
    deliveries: Path
    language: str
    csv_style: str
    incoming_file: str

    @property
    def config_path(self) -> Path:
        """The project's areascreen.toml."""
        return self.root / paths.PROJECT_CONFIG


def load_project(folder: Path) -> Project:
    """The project in `folder` (which must hold areascreen.toml), its settings checked."""
    config = Path(folder).expanduser().resolve() / paths.PROJECT_CONFIG
    if not config.is_file():
        raise ProjectError(
            f"{config.parent}: not an areascreen project (no {paths.PROJECT_CONFIG}); "
            f"create one with `areascreen init {folder}`"
        )
    return _load_cached(config, config.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_cached(config: Path, _mtime_ns: int) -> Project:
    """Parse and check a config file; cached while the file is unchanged."""
    try:
        document = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(f"{config}: cannot read the project config ({error})") from error
    values = _settings(config, document)
    root = config.parent

    def folder(key: str) -> Path:
        return (root / Path(values[("paths", key)]).expanduser()).resolve()

    return Project(
        root=root,
        reports=folder("reports"),
        incoming=folder("incoming"),
        rulesets=folder("rulesets"),
        sources=folder("sources"),
        deliveries=folder("deliveries"),
        language=values[("run", "language")],
        csv_style=values[("run", "csv_style")],
        incoming_file=values[("schedule", "input")],
    )


def _settings(config: Path, document: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Every key's value (or default), refusing unknown keys, wrong types and bad choices."""
    tables = {table for table, _ in DEFAULTS}
    values = dict(DEFAULTS)
    for table, content in document.items():
        if table not in tables or not isinstance(content, dict):
            known = ", ".join(f"[{name}]" for name in sorted(tables))
            raise ProjectError(f"{config}: unknown entry {table!r} (the tables are {known})")
        for key, value in content.items():
            if (table, key) not in DEFAULTS:
                known = ", ".join(sorted(k for t, k in DEFAULTS if t == table))
                raise ProjectError(f"{config}: unknown key {table}.{key} (allowed: {known})")
            if not isinstance(value, str) or not value.strip():
                raise ProjectError(f"{config}: {table}.{key} must be a non-empty string")
            choices = CHOICES.get((table, key))
            if choices and value not in choices:
                raise ProjectError(
                    f"{config}: {table}.{key} = {value!r}; choose one of {', '.join(choices)}"
                )
            values[(table, key)] = value
    _check_pattern(config, values[("schedule", "input")])
    return values


def _check_pattern(config: Path, pattern: str) -> None:
    """`schedule.input` may hold `{year}` and no other placeholder."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
    except ValueError as error:
        raise ProjectError(f"{config}: schedule.input {pattern!r}: {error}") from error
    if fields - {"year"}:
        raise ProjectError(
            f"{config}: schedule.input {pattern!r} may hold only the placeholder {{year}}"
        )


# --- areascreen init -----------------------------------------------------------------------

CONFIG_TEXT = """\
# areascreen project configuration (areascreen {version}).
# Every path is relative to this folder; an absolute path works too.
# A key left out takes the default shown here.

[paths]
# Publications, one folder per year, plus dry-runs/ and failed/.
reports = "reports"
# Where the scheduled job finds each year's input (see [schedule]).
incoming = "incoming"
# Rulesets: `--ruleset NAME` looks here first, then among the rulesets shipped with areascreen.
rulesets = "rulesets"
# Sources files of `areascreen fetch` (<year>.toml); the shipped one is used for a year without.
sources = "sources"
# Register deliveries that are not published (e.g. the Public Employment Service's file).
# Git-ignored: they never enter the repository of this project.
deliveries = "deliveries"

[run]
# Language of the report and the summary: "en" or "sv" (`--lang` overrides it).
language = "{language}"
# CSV style of the published tables: "standard" (comma, decimal point, UTF-8) or "swedish"
# (semicolon, decimal comma, UTF-8 with BOM, as a Swedish-locale Excel expects).
csv_style = "standard"

[schedule]
# The scheduled job's input, in the incoming folder; {{year}} is the statistics year.
input = "area_statistics_{{year}}.parquet"
"""

GITIGNORE_TEXT = """\
# Register deliveries are not published: never commit them.
/deliveries/*
!/deliveries/README.md
# Work folders of the publications: staging, locks, dry runs, failed runs.
/reports/.*
/reports/dry-runs/
/reports/failed/
# Prefect's local state, caches.
.prefect/
__pycache__/
"""

README_TEXT = """\
# areascreen project

A working folder of [areascreen](https://pypi.org/project/areascreen/) {version}.

- `areascreen.toml` – settings: folders, language, CSV style, the scheduled job's input.
- `rulesets/` – copies of the shipped rulesets; edit them, or add a new year's.
  `areascreen run --ruleset NAME` looks here before the shipped ones.
- `sources/` – sources files of `areascreen fetch`, one per year.
- `deliveries/` – register deliveries (git-ignored); the sources files point here.
- `incoming/` – the scheduled job reads `area_statistics_<year>.parquet` from here.
- `reports/` – publications, one folder per year.
- `data/` – data files a copied ruleset reads by default (e.g. election results).
- `prefect.yaml` – the yearly job for `prefect deploy` on a process work pool.

Run from this folder (or any folder below it, or with `--project DIR`):

```sh
areascreen run --year 2018            # publishes to reports/2018/
areascreen validate incoming/area_statistics_2018.parquet
prefect deploy --all                  # registers the yearly job (see prefect.yaml)
```
"""

DELIVERIES_README = """\
# Register deliveries

Files delivered by registers that are not published (e.g. long-term unemployment by DeSO from
the Public Employment Service). The sources files in `../sources/` point here. Everything in
this folder except this README is git-ignored.
"""

_DEFAULT_INPUT_LINE = re.compile(r'^(default_input\s*=\s*")([^"]+)(")', re.MULTILINE)
_DELIVERY_PATH_LINE = re.compile(r'^(path\s*=\s*")files/', re.MULTILINE)


def prefect_yaml_text() -> str:
    """The deployment definition for `prefect deploy`, as in the repository's prefect.yaml."""
    from areascreen.deployment import prefect_yaml

    return prefect_yaml()


def _ruleset_copies() -> dict[str, tuple[str, list[Path]]]:
    """Each shipped ruleset's text, `default_input` pointed at the project's data/ copy."""
    copies: dict[str, tuple[str, list[Path]]] = {}
    for shipped in sorted(paths.RULESET_DIR.glob("*.toml")):
        text = shipped.read_text(encoding="utf-8")
        data_files: list[Path] = []

        def relocate(match: re.Match[str], source: Path = shipped, found=data_files) -> str:
            target = (source.parent / match.group(2)).resolve()
            found.append(target)
            return f"{match.group(1)}../data/{target.name}{match.group(3)}"

        copies[shipped.name] = (_DEFAULT_INPUT_LINE.sub(relocate, text), data_files)
    return copies


def planned_files(language: str) -> dict[Path, str | Path]:
    """Every file `init` writes, relative to the project: its text, or the file to copy."""
    files: dict[Path, str | Path] = {
        Path(paths.PROJECT_CONFIG): CONFIG_TEXT.format(version=__version__, language=language),
        Path(".gitignore"): GITIGNORE_TEXT,
        Path("README.md"): README_TEXT.format(version=__version__),
        Path("prefect.yaml"): prefect_yaml_text(),
        Path("deliveries") / "README.md": DELIVERIES_README,
    }
    for name, (text, data_files) in _ruleset_copies().items():
        files[Path("rulesets") / name] = text
        for data_file in data_files:
            files[Path("data") / data_file.name] = data_file
    for shipped in sorted(paths.SOURCES_DIR.glob("*.toml")):
        text = shipped.read_text(encoding="utf-8")
        files[Path("sources") / shipped.name] = _DELIVERY_PATH_LINE.sub(r"\1../deliveries/", text)
    return files


def init_project(folder: Path, language: str = "en") -> list[Path]:
    """Create a project in `folder` (new or empty of these files); return the files written."""
    if language not in LANGUAGES:
        raise ProjectError(f"language {language!r}: choose one of {', '.join(LANGUAGES)}")
    root = Path(folder).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root}: exists and is not a folder")
    files = planned_files(language)
    existing = sorted(str(name) for name in files if (root / name).exists())
    if existing:
        raise ProjectError(
            f"{root}: already holds {', '.join(existing)}; nothing was written "
            "(init never overwrites a file)"
        )
    try:
        for name in FOLDERS:
            (root / name).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            target = root / name
            if isinstance(content, Path):
                shutil.copyfile(content, target)
            else:
                target.write_text(content, encoding="utf-8")
    except OSError as error:
        raise ProjectError(f"{root}: cannot create the project ({error})") from error
    return [root / name for name in files]
