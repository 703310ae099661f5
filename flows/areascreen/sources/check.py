"""`areascreen sources check`: the codes of a sources file looked up in each table's metadata."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import PxWebSource, SourcesConfig, load_config, sources_config_path
from .fetch import open_client
from .jsonstat import Dataset, Dimension
from .pxweb import PxWebClient, PxWebError, find_region_variable, match_labels, region_codelist

SUGGESTIONS = 5


@dataclass(frozen=True)
class CodeCheck:
    """One configured value code: found or not, its label, and near matches when missing."""

    variable: str
    value: str
    code: str | None
    label: str | None
    suggestions: tuple[tuple[str, str], ...] = ()

    @property
    def found(self) -> bool:
        """Whether the table has the code (or a unique label equal to the value)."""
        return self.code is not None

    def line(self) -> str:
        """One report line."""
        if not self.found:
            near = "; ".join(f"{c} {label!r}" for c, label in self.suggestions) or "none"
            return f"  MISSING {self.variable} = {self.value!r}; labels that match: {near}"
        via = "" if self.code == self.value else f" (label resolved to code {self.code})"
        return f"  ok      {self.variable} = {self.value!r}: {self.label!r}{via}"


@dataclass(frozen=True)
class TableCheck:
    """What one PxWeb source's table has of the codes the sources file names."""

    source: str
    table_id: str
    updated: str | None
    from_cache: bool
    region_variable: str | None
    codelist: str | None
    codes: tuple[CodeCheck, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def missing(self) -> int:
        """Codes (and other problems) to fix."""
        return sum(not c.found for c in self.codes) + len(self.problems)

    def lines(self) -> list[str]:
        """The report of this table."""
        where = "cached" if self.from_cache else "live"
        head = (
            f"{self.source}: table {self.table_id}, updated {self.updated or 'unknown'} "
            f"({where} metadata); region variable {self.region_variable or '?'}, "
            f"codelist {self.codelist or 'none'}"
        )
        return [head, *(c.line() for c in self.codes), *(f"  PROBLEM {p}" for p in self.problems)]


def suggest(dimension: Dimension, value: str, limit: int = SUGGESTIONS) -> list[tuple[str, str]]:
    """Codes whose label has the value's words (whole words first) or resembles it."""
    labels = {code: dimension.labels.get(code, code) for code in dimension.codes}
    words = [w for w in value.lower().split() if len(w) > 2]

    def has_words(label: str, whole: bool) -> bool:
        text = label.lower()
        tokens = text.replace(",", " ").split()
        return bool(words) and all((w in tokens) if whole else (w in text) for w in words)

    whole = [c for c, label in labels.items() if has_words(label, True)]
    part = [c for c, label in labels.items() if has_words(label, False)]
    lowered = [label.lower() for label in labels.values()]
    near = set(difflib.get_close_matches(value.lower(), lowered, limit, 0.5))
    close = [c for c, label in labels.items() if label.lower() in near]
    codes = difflib.get_close_matches(value, list(labels), limit, 0.6)
    ordered = list(dict.fromkeys([*whole, *part, *close, *codes]))[:limit]
    return [(code, labels[code]) for code in ordered]


def check_value(dimension: Dimension, variable: str, value: str) -> CodeCheck:
    """Look one configured value up as a code, then as a unique label."""
    if value in dimension.codes:
        return CodeCheck(variable, value, value, dimension.labels.get(value, value))
    matches = match_labels(dimension, value)
    if len(matches) == 1:
        return CodeCheck(variable, value, matches[0], dimension.labels.get(matches[0]))
    return CodeCheck(variable, value, None, None, tuple(suggest(dimension, value)))


def check_table(source: PxWebSource, meta: Dataset, year: int) -> list[CodeCheck | str]:
    """Every selected value of a source checked against its table's metadata."""
    results: list[CodeCheck | str] = []
    selection = dict(source.selection)
    if meta.time_variable and meta.time_variable not in selection:
        selection[meta.time_variable] = (str(year),)
    for variable, values in selection.items():
        dimension = meta.dimensions.get(variable)
        if dimension is None:
            results.append(f"no variable {variable!r}; the table has {', '.join(meta.ids)}")
            continue
        results.extend(check_value(dimension, variable, value) for value in values)
    return results


def _check_source(client: PxWebClient, source: PxWebSource, year: int) -> TableCheck:
    """Fetch (or replay) a table's metadata and check the source's codes."""
    fetched = client.metadata(source.table_id, source.codelists)
    meta = fetched.dataset
    problems: list[str] = []
    try:
        region_var: str | None = find_region_variable(source, meta)
    except PxWebError as exc:
        region_var = None
        problems.append(str(exc))
    results = check_table(source, meta, year)
    problems += [r for r in results if isinstance(r, str)]
    return TableCheck(
        source=source.name,
        table_id=source.table_id,
        updated=meta.updated,
        from_cache=fetched.from_cache,
        region_variable=region_var,
        codelist=region_codelist(source, meta, region_var) if region_var else None,
        codes=tuple(r for r in results if isinstance(r, CodeCheck)),
        problems=tuple(problems),
    )


def check_sources(
    year: int,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    base_url: str | None = None,
    config_path: Path | None = None,
) -> list[TableCheck]:
    """Check every PxWeb source of a year's sources file against its table's metadata."""
    config: SourcesConfig = load_config(config_path or sources_config_path(year))
    with open_client(config, offline=offline, cache_dir=cache_dir, base_url=base_url) as client:
        return [
            _check_source(client, source, year)
            for source in config.sources.values()
            if isinstance(source, PxWebSource)
        ]


def report_lines(checks: Sequence[TableCheck]) -> list[str]:
    """The whole report, table by table, and a last line with the count of codes to fix."""
    lines = [line for check in checks for line in check.lines()]
    missing = sum(c.missing for c in checks)
    lines.append(
        "All codes found." if missing == 0 else f"{missing} code(s) or variable(s) to fix."
    )
    return lines
