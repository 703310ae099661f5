"""Where areascreen reads and writes.

Reading: the packaged defaults (SQL steps, expectation suites, rulesets, divisions, indicators,
the municipality list and the demo data) live in the checkout or, in a wheel, in the package's
`_resources/`. They are never written to.

Writing, and the user's own rulesets and sources files: the project folder (a folder holding
`areascreen.toml`, see `areascreen init`), given with `--project`, named by the environment
variable AREASCREEN_PROJECT, or the nearest parent of the working directory holding the config
file. Without a project, publications go to `./reports` of the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from areascreen.project import Project

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPOSITORY_ROOT = _PACKAGE_DIR.parents[1]
_BUNDLED = _PACKAGE_DIR / "_resources"

PROJECT_CONFIG = "areascreen.toml"
PROJECT_ENVIRONMENT_VARIABLE = "AREASCREEN_PROJECT"


def resource_root() -> Path:
    """Folder holding `sql/`, `data/` and `expectations/`: the checkout, or the copy in a wheel."""
    if (_REPOSITORY_ROOT / "sql").is_dir() and (_REPOSITORY_ROOT / "pyproject.toml").is_file():
        return _REPOSITORY_ROOT
    return _BUNDLED


ROOT = resource_root()
SQL_DIR = ROOT / "sql"
DATA_DIR = ROOT / "data"
RULESET_DIR = DATA_DIR / "rulesets"
SOURCES_DIR = DATA_DIR / "sources"
EXPECTATIONS_DIR = ROOT / "expectations"
MUNICIPALITIES_CSV = DATA_DIR / "municipalities.csv"
DEFAULT_INPUT = DATA_DIR / "synthetic" / "synthetic_areas_2018.parquet"

# The project in use: set by `use_project`; otherwise found from the environment or cwd.
_chosen: list[Project | None] = []


def use_project(project: Project | None) -> None:
    """Use this project (None: no project at all) until told otherwise."""
    _chosen[:] = [project]


@contextmanager
def project_in_use(project: Project | None) -> Iterator[None]:
    """Use this project inside the block, then whatever was in use before."""
    saved = list(_chosen)
    use_project(project)
    try:
        yield
    finally:
        _chosen[:] = saved


def forget_project() -> None:
    """Go back to finding the project from AREASCREEN_PROJECT or the working directory."""
    _chosen.clear()


def find_project_root(start: Path) -> Path | None:
    """The nearest folder from `start` upwards that holds `areascreen.toml`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_CONFIG).is_file():
            return folder
    return None


def current_project() -> Project | None:
    """The project in use, if any; a malformed config file raises an error naming it."""
    if _chosen:
        return _chosen[0]
    from areascreen.project import load_project

    named = os.environ.get(PROJECT_ENVIRONMENT_VARIABLE)
    if named:
        return load_project(Path(named))
    root = find_project_root(Path.cwd())
    return load_project(root) if root is not None else None


def reports_dir() -> Path:
    """Where publications go: the project's reports folder, else `./reports` of the cwd."""
    project = current_project()
    return project.reports if project else Path.cwd() / "reports"


def incoming_dir() -> Path:
    """Where the scheduled job looks for a year's input: the project's, else `./incoming`."""
    project = current_project()
    return project.incoming if project else Path.cwd() / "incoming"


def incoming_input() -> str:
    """The scheduled job's input path, `{year}` standing for the statistics year."""
    project = current_project()
    name = project.incoming_file if project else "area_statistics_{year}.parquet"
    return str(incoming_dir() / name)


def ruleset_dirs() -> list[Path]:
    """Folders searched for a ruleset by name: the project's `rulesets/`, then the shipped."""
    project = current_project()
    return [project.rulesets, RULESET_DIR] if project else [RULESET_DIR]


def find_ruleset(name: str) -> Path | None:
    """The ruleset file called `name` (without .toml), the project's before the shipped one."""
    for folder in ruleset_dirs():
        candidate = folder / f"{name}.toml"
        if candidate.is_file():
            return candidate
    return None


def ruleset_path(year: int) -> Path:
    """The ruleset of a screening year: the project's copy if it has one, else the shipped one."""
    return find_ruleset(str(year)) or RULESET_DIR / f"{year}.toml"


def sources_config_path(year: int) -> Path:
    """The sources file of a year: the project's if it has one, else the shipped one."""
    project = current_project()
    if project is not None and (project.sources / f"{year}.toml").is_file():
        return project.sources / f"{year}.toml"
    return SOURCES_DIR / f"{year}.toml"


def __getattr__(name: str) -> Any:
    """`DEFAULT_REPORTS_DIR`, computed when asked for: it follows the project in use."""
    if name == "DEFAULT_REPORTS_DIR":
        return reports_dir()
    raise AttributeError(f"module 'areascreen.paths' has no attribute {name!r}")
