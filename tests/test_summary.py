"""summary.md: its content on the hand-made fixture (screened by the real SQL steps), both
languages, and escaping of names from the data and the ruleset so they cannot inject markup.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from areascreen import paths
from areascreen.ruleset import Ruleset, load_ruleset
from areascreen.summary import render_summary
from tests.fixture_areas import fixture_frame
from tests.test_report import (
    EVIL,
    IDENTIFIERS,
    PROVENANCE,
    SYNTHETIC,
    Screening,
    publish_previous,
    screen,
)

VALIDATION = [Path("validation/input/index.html"), Path("validation/output/index.html")]


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(paths.ruleset_path(2018))


@pytest.fixture(scope="module")
def screening(ruleset: Ruleset, tmp_path_factory: pytest.TempPathFactory) -> Screening:
    previous = publish_previous(
        tmp_path_factory.mktemp("reports") / "2017", fixture_frame(), ruleset
    )
    return screen(fixture_frame(), ruleset, previous)


def summary(ruleset: Ruleset, screening: Screening, **options: Any) -> str:
    """The summary with the usual arguments, any of them overridden."""
    arguments: dict[str, Any] = {
        "year": 2018,
        "ruleset": ruleset,
        "input_name": "fixture_areas.parquet",
        "tables": screening.tables,
        "areas": screening.areas,
        "validation_links": VALIDATION,
        "notes": [],
        "provenance": PROVENANCE,
    }
    return render_summary(**(arguments | options))


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the Markdown table under a heading, split on unescaped pipes."""
    lines = text[text.index(heading) :].splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return [
        [c.strip().replace("\0", "\\|") for c in line.replace("\\|", "\0").strip("|").split("|")]
        for line in table[2:]
    ]


def test_list_with_amounts_and_counts(ruleset: Ruleset, screening: Screening):
    text = summary(ruleset, screening)
    rows = table_rows(text, "## Eligible municipalities (3)")
    assert [row[:6] for row in rows[:3]] == [
        ["0127", "Botkyrka", "Stockholms län", "2", "4 900", "71.0"],
        ["0180", "Stockholm", "Stockholms län", "1", "2 100", "32.3"],
        ["1280", "Malmö", "Skåne län", "1", "1 800", "45.6"],
    ]
    assert sum(float(row[6]) for row in rows[:3]) == pytest.approx(425.0)
    assert "- selected: 4\n" in text
    assert "- not screened: below the minimum population: 1\n" in text
    assert "one criterion): 2\n" in text  # borderline: 0180C1020 and 1280C1020
    assert "Since the previous publication: 0 municipalities entered the list and 1 left." in text


def test_rule_in_words_labels_not_identifiers(ruleset: Ruleset, screening: Screening):
    text = summary(ruleset, screening)
    assert "- Employment rate below 60 %\n" in text
    assert "all 4 criteria crossed and at least 200 residents" in text
    for identifier in IDENTIFIERS:
        assert identifier not in text
    averages = {row[0]: row for row in table_rows(text, "## National averages")}
    assert averages["Employment rate"][1:4] == ["61.14", "77.9", "-16.76"]


def test_links_provenance_and_synthetic_banner(ruleset: Ruleset, screening: Screening):
    text = summary(ruleset, screening, notes=[SYNTHETIC])
    assert text.startswith("> **SYNTHETIC DATA:")
    assert "- [validation/input/index.html](validation/input/index.html)\n" in text
    assert "[report.html](report.html)" in text
    assert f"- ruleset SHA-256: `{ruleset.sha256}`\n" in text
    assert "- git commit: `0123456789abcdef`\n" in text
    plain = summary(ruleset, screening, provenance=None)
    assert "SYNTHETIC" not in plain and "## Provenance" not in plain


def test_swedish_summary(ruleset: Ruleset, screening: Screening):
    text = summary(ruleset, screening, language="sv")
    assert text.startswith("# Urval 2018: kommuner som får söka bidraget\n")
    assert "- Förvärvsintensitet under 60 %\n" in text
    rows = table_rows(text, "## Kommuner som får söka bidraget (3)")
    assert rows[0][5] == "71,0"
    assert "- utvalt: 4\n" in text


def test_names_and_ruleset_fields_cannot_inject_markup(ruleset: Ruleset):
    frame = fixture_frame()
    first = ruleset.criteria[0]
    indicator = dataclasses.replace(first.indicator, label_en=f"Jobs | {EVIL}")
    criteria = (dataclasses.replace(first, indicator=indicator), *ruleset.criteria[1:])
    marked = dataclasses.replace(
        ruleset, name=f"rules `{EVIL}`", description=f"[click](javascript:x) {EVIL}",
        criteria=criteria,
    )  # fmt: skip
    text = summary(
        marked,
        screen(frame, marked),
        input_name=f"{EVIL}.csv",
        notes=[f"note\n# {EVIL}"],
    )
    assert "<script>" not in text and "</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text)
    assert "\\[click\\](javascript:x)" in text
    # The pipe in the label is escaped, so the averages row keeps its six cells.
    averages = table_rows(text, "## National averages")
    assert averages[0][0] == "Jobs \\| &lt;script&gt;alert(1)&lt;/script&gt;"
    assert all(len(row) == 6 for row in averages)
    # A note cannot start a heading of its own: its line break is folded.
    assert not re.search(r"^# &lt;script", text, re.M)
    assert "> note # &lt;script&gt;" in text


def test_compiled_templates_are_kept_on_disk_and_checked_against_their_source(tmp_path):
    import jinja2

    from areascreen.summary import TemplateCache

    folder = tmp_path / "templates"
    (folder / "page.j2").parent.mkdir()
    (folder / "page.j2").write_text("{{ name }}!", encoding="utf-8")
    cache_dir = tmp_path / "cache"

    def render(cache: TemplateCache, name: str = "<x>") -> str:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder), autoescape=True, bytecode_cache=cache
        )
        return env.get_template("page.j2").render(name=name)

    first = TemplateCache("html", cache_dir)
    assert render(first) == "&lt;x&gt;!"
    [kept] = list(cache_dir.iterdir())
    assert kept.name.startswith("html-") and kept.read_bytes() == next(iter(first.store.values()))
    written = kept.stat().st_ino
    assert render(TemplateCache("html", cache_dir)) == "&lt;x&gt;!"
    assert kept.stat().st_ino == written  # read from disk, not compiled and written again
    (folder / "page.j2").write_text("{{ name }}?", encoding="utf-8")
    assert render(TemplateCache("html", cache_dir)) == "&lt;x&gt;?"
    kept.write_bytes(kept.read_bytes()[:20])  # a damaged file is compiled afresh
    assert render(TemplateCache("html", cache_dir)) == "&lt;x&gt;?"
    assert render(TemplateCache("html", folder / "page.j2" / "cache")) == "&lt;x&gt;?"
    assert [p.name for p in cache_dir.iterdir() if p.name.startswith(".")] == []
