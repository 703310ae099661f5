"""Locations of the project's own files, resolved from the package, never the working directory."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPOSITORY_ROOT = _PACKAGE_DIR.parents[1]
_BUNDLED = _PACKAGE_DIR / "_resources"


def resource_root() -> Path:
    """Folder holding `sql/`, `data/` and `expectations/`: the checkout, or the copy in a wheel."""
    if (_REPOSITORY_ROOT / "sql").is_dir() and (_REPOSITORY_ROOT / "pyproject.toml").is_file():
        return _REPOSITORY_ROOT
    return _BUNDLED


ROOT = resource_root()
SQL_DIR = ROOT / "sql"
DATA_DIR = ROOT / "data"
RULESET_DIR = DATA_DIR / "rulesets"
EXPECTATIONS_DIR = ROOT / "expectations"
MUNICIPALITIES_CSV = DATA_DIR / "municipalities.csv"
DEFAULT_INPUT = DATA_DIR / "synthetic" / "synthetic_areas_2018.parquet"
DEFAULT_REPORTS_DIR = _REPOSITORY_ROOT / "reports"


def ruleset_path(year: int) -> Path:
    """The ruleset shipped for a screening year."""
    return RULESET_DIR / f"{year}.toml"
