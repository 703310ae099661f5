"""Area divisions as data: the code form of each division, how a code names its municipality, and
the list of valid codes where the project holds one (`data/divisions/<name>.toml`)."""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from areascreen import paths
from areascreen.errors import RulesetError

DIVISIONS_DIR = paths.DATA_DIR / "divisions"
_KEYS: dict[str, tuple[type, bool]] = {
    "name": (str, True),
    "label": (str, True),
    "description": (str, False),
    "code_pattern": (str, True),
    "municipality_code_length": (int, True),
    "codes_file": (str, False),
    "source_suffix": (str, False),
    "example": (str, True),
    "national_only_when_zero": (str, False),
}
# Codes are ASCII: a pattern may use only these characters, so `\d` (any Unicode digit) and
# other classes that match beyond ASCII cannot slip in.
_PATTERN_CHARACTERS = re.compile(r"[A-Za-z0-9\[\]{}\-,|()?]+")


@dataclass(frozen=True)
class Division:
    """One area division: which codes are valid and which municipality each belongs to."""

    name: str
    label: str
    description: str
    code_pattern: str
    municipality_code_length: int
    example: str
    path: Path
    source_suffix: str | None = None
    codes_file: Path | None = None
    # Rows with 0 in this column are no areas of the division but count in national totals
    # (the Election Authority's collection districts: 0 eligible voters, late votes).
    national_only_when_zero: str | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        """The whole-code pattern, ASCII only."""
        return re.compile(self.code_pattern, re.ASCII)

    def is_valid_form(self, code: str) -> bool:
        """Whether a code has the division's form."""
        return self.regex.fullmatch(code) is not None

    def municipality_of(self, code: str) -> str:
        """The municipality code a valid code names."""
        return code[: self.municipality_code_length]

    def known_codes(self) -> frozenset[str] | None:
        """The division's valid codes, or None when only the form is checked."""
        if self.codes_file is None:
            return None
        return _read_codes(self.codes_file)


def _fail(path: Path, problem: str) -> RulesetError:
    return RulesetError(f"{path}: {problem}")


def _checked(document: dict[str, Any], path: Path) -> dict[str, Any]:
    """The division file's keys, checked for name, type and presence."""
    for key in document:
        if key not in _KEYS:
            raise _fail(path, f"unknown key {key}")
    for key, (kind, required) in _KEYS.items():
        if key not in document:
            if required:
                raise _fail(path, f"missing key {key}")
            continue
        if isinstance(document[key], bool) or not isinstance(document[key], kind):
            raise _fail(path, f"{key} must be {kind.__name__}, got {document[key]!r}")
    return document


def parse_division(document: dict[str, Any], path: Path) -> Division:
    """Validate a parsed division file and build the division."""
    values = _checked(document, path)
    pattern = values["code_pattern"]
    if not _PATTERN_CHARACTERS.fullmatch(pattern):
        raise _fail(
            path,
            f"code_pattern may use only ASCII letters, digits, [ ] {{ }} - , | ( ) ?, got {pattern!r}",
        )
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as error:
        raise _fail(path, f"code_pattern is not a valid pattern: {error}") from error
    if not 1 <= values["municipality_code_length"] <= 8:
        raise _fail(path, "municipality_code_length must be from 1 to 8")
    if not compiled.fullmatch(values["example"]):
        raise _fail(path, f"example {values['example']!r} does not match code_pattern")
    codes_file = values.get("codes_file")
    return Division(
        name=values["name"],
        label=values["label"],
        description=values.get("description", ""),
        code_pattern=pattern,
        municipality_code_length=values["municipality_code_length"],
        example=values["example"],
        path=path,
        source_suffix=values.get("source_suffix"),
        codes_file=(path.parent / codes_file) if codes_file else None,
        national_only_when_zero=values.get("national_only_when_zero"),
    )


@cache
def load_division(name: str, folder: Path = DIVISIONS_DIR) -> Division:
    """The division declared in `<folder>/<name>.toml`; errors name the file and key."""
    path = folder / f"{name}.toml"
    if not re.fullmatch(r"[a-z0-9_]+", name) or not path.is_file():
        known = ", ".join(division_names(folder))
        raise RulesetError(f"unknown area division {name!r}; known divisions: {known}")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise _fail(path, f"not a readable division file: {error}") from error
    division = parse_division(document, path)
    if division.name != name:
        raise _fail(path, f"name must be {name!r} (the file's name), got {division.name!r}")
    return division


def division_names(folder: Path = DIVISIONS_DIR) -> list[str]:
    """Names of the divisions declared in a folder."""
    return sorted(p.stem for p in folder.glob("*.toml"))


@cache
def _read_codes(path: Path) -> frozenset[str]:
    """The `area_code` column of a division's code list."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if "area_code" not in (reader.fieldnames or []):
                raise RulesetError(f"{path}: the code list needs an area_code column")
            return frozenset(row["area_code"] for row in reader)
    except OSError as error:
        raise RulesetError(f"{path}: cannot read the code list ({error.strerror})") from error
