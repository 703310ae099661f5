"""The HTML report: its content on the hand-made fixture, escaping of names from the data, and the
page itself in headless Chromium (no console errors, charts drawn, tables sortable, a screenshot).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from areascreen import db, paths, rollup
from areascreen.allocate import allocate_year, grants_table, recipients_from
from areascreen.changes import compare_with
from areascreen.flag import flag_areas, load_areas
from areascreen.load import read_area_statistics
from areascreen.report import render_report
from areascreen.rollup import roll_up
from areascreen.ruleset import Ruleset, load_ruleset
from areascreen.sensitivity import SensitivityResult, run_sensitivity
from tests.conftest import REPOSITORY_ROOT
from tests.fixture_areas import fixture_frame

RESULT_TABLES = (
    "eligible_municipalities",
    "municipality_results",
    "area_results",
    "area_criteria",
    "national_averages",
)
EVIL = "<script>alert(1)</script>"
EVIL_AREA = 'Tom & Jerry\'s "<b>area</b>"'
ARTIFACT = REPOSITORY_ROOT / "reports" / "test-artifacts" / "report.png"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclasses.dataclass(frozen=True)
class Screened:
    """A screening's tables and sensitivity, as the publication would hand them to the report."""

    tables: dict[str, pa.Table]
    sensitivity: SensitivityResult | None


def screen(
    frame: Any, ruleset: Ruleset, previous: Path | None = None, sensitivity: bool = True
) -> Screened:
    """Flag, roll up, allocate, compare and run the sensitivity on one connection."""
    con = db.connect()
    load_areas(con, frame)
    flag_areas(con, ruleset)
    roll_up(con, ruleset)
    tables = {name: db.fetch_table(con, name) for name in RESULT_TABLES}
    recipients = recipients_from(tables["eligible_municipalities"])
    grants = allocate_year(recipients, ruleset.budget_per_year[2018], 2018, ruleset.allocation)
    tables["allocation"] = grants_table(grants)
    if previous is not None:
        tables |= compare_with(con, previous)
    return Screened(tables, run_sensitivity(con, ruleset, [1, 2]) if sensitivity else None)


def publish_previous(folder: Path, frame: Any, ruleset: Ruleset) -> Path:
    """A 'previous publication' screened with at least 3 of 4 criteria: just its two tables."""
    folder.mkdir(parents=True)
    earlier = screen(frame, dataclasses.replace(ruleset, criteria_required=3), sensitivity=False)
    for name in ("area_results", "municipality_results"):
        pq.write_table(earlier.tables[name], folder / f"{name}.parquet")
    return folder


class Tables(HTMLParser):
    """The text of every cell of every table with an id, and the attributes of every element."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "table":
            self._table = dict(attrs).get("id")
            self.rows[self._table or ""] = []
        elif tag == "tr" and self._table:
            self.rows[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.rows[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data + " ")

    def body(self, table_id: str) -> list[list[str]]:
        """The rows of a table below its heading row."""
        return self.rows[table_id][1:]


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(paths.ruleset_path(2018))


@pytest.fixture(scope="module")
def fixture_report(ruleset: Ruleset, tmp_path_factory: pytest.TempPathFactory) -> str:
    previous = publish_previous(
        tmp_path_factory.mktemp("reports") / "2017", fixture_frame(), ruleset
    )
    screened = screen(fixture_frame(), ruleset, previous)
    return render_report(
        year=2018,
        ruleset=ruleset,
        tables=screened.tables,
        sensitivity=screened.sensitivity,
        input_name="fixture_areas.parquet",
    )


@pytest.fixture(scope="module")
def parsed(fixture_report: str) -> Tables:
    return Tables(fixture_report)


def test_headline_gives_the_counts_population_and_budget(parsed: Tables, fixture_report: str):
    figures = re.search(r'<ul class="figures" id="headline">(.*?)</ul>', fixture_report, re.S)
    assert figures is not None
    values = re.findall(r"<strong>(.*?)</strong>(.*?)</li>", figures.group(1))
    # Selected: 0180C1010 (2,100), 1280C1020 (1,800), 0127C1010 (2,300), 0127C1020 (2,600).
    assert values == [
        ("4", "selected areas"),
        ("3", "eligible municipalities"),
        ("8 800", "residents of selected areas"),
        ("425.0 MSEK", "budget 2018"),
    ]
    assert "segregation-grant-2018" in fixture_report


def test_national_averages_beside_the_published_ones(parsed: Tables):
    rows = {row[0]: row for row in parsed.body("averages-table")}
    # Employment: 8,009 employed of 13,100 aged 20-64 = 61.14 %, published 77.9 %.
    assert rows["employment_rate"][1:5] == ["61.14", "77.9", "-16.76", "14"]
    assert rows["long_term_unemployment_rate"][5] == "1"


def test_each_criterion_has_a_chart_and_the_number_of_areas_crossing(fixture_report: str):
    crossing = dict(
        re.findall(
            r'<figure data-criterion="(\w+)">.*?<figcaption data-crossing="(\d+)"',
            fixture_report,
            re.S,
        )
    )
    # By hand from the fixture's rates (suppressed values excluded):
    # employment < 60: 50, 55, 59.9, 40, 45, 52, 48, 51, 58 -> 9 of 14;
    # long-term unemployment > 10: 15, 15, 10.1, 20, 12, 11, 14 -> 7 of 14;
    # low education > 28: 35, 35, 28.1, 40, 40, 30, 33, 31, 32 -> 9 of 15;
    # turnout < 75: 60, 60, 74.9, 50, 55, 70, 62, 68, 72 -> 9 of 15.
    assert crossing == {
        "employment_rate": "9",
        "long_term_unemployment_rate": "7",
        "low_education_rate": "9",
        "voter_turnout": "9",
    }
    assert "9</strong> of 14 areas with values cross" in fixture_report
    assert fixture_report.count('<svg class="chart"') == 5
    # Every chart's ids are its own, so inline SVGs do not collide.
    ids = re.findall(r' id="([^"]+)"', fixture_report)
    assert len(ids) == len(set(ids))


def test_eligible_municipalities_table(parsed: Tables, fixture_report: str):
    rows = parsed.body("eligible-table")
    assert [row[:6] for row in rows] == [
        ["0127", "Botkyrka", "Stockholms län", "2", "4 900", "71.0"],
        ["0180", "Stockholm", "Stockholms län", "1", "2 100", "32.3"],
        ["1280", "Malmö", "Skåne län", "1", "1 800", "45.6"],
    ]
    # Shares: 4,900 of 6,900; 2,100 of 6,500; 1,800 of 3,950 (1280C1030 counts, unscreened).
    # Criteria counts from criteria_in_selected_areas: every selected area crosses all four.
    assert [row[6:10] for row in rows] == [["2"] * 4, ["1"] * 4, ["1"] * 4]
    # Allocation: half of 425 MSEK equally (70.83 each), half by the 8,800 residents.
    amounts = [float(row[10]) for row in rows]
    assert sum(amounts) == pytest.approx(425.0)
    assert amounts == [
        pytest.approx(212.5 / 3 + 212.5 * 4900 / 8800, abs=0.1),
        pytest.approx(212.5 / 3 + 212.5 * 2100 / 8800, abs=0.1),
        pytest.approx(212.5 / 3 + 212.5 * 1800 / 8800, abs=0.1),
    ]
    assert 'data-sort="4900"' in fixture_report


def test_selected_areas_are_explained_with_margins(parsed: Tables):
    rows = {row[0]: row for row in parsed.body("selected-areas-table")}
    assert list(rows) == ["0127C1010", "0127C1020", "0180C1010", "1280C1020"]
    assert rows["0180C1010"][2:5] == ["0180 Stockholm", "2 100", "selected"]
    assert rows["0180C1010"][5:] == [
        "50.0 % crossed by 10.00 pp",
        "15.0 % crossed by 5.00 pp",
        "35.0 % crossed by 7.00 pp",
        "60.0 % crossed by 15.00 pp",
    ]
    assert rows["1280C1020"][5:] == [
        "59.9 % crossed by 0.10 pp",
        "10.1 % crossed by 0.10 pp",
        "28.1 % crossed by 0.10 pp",
        "74.9 % crossed by 0.10 pp",
    ]


def test_areas_that_missed_by_one_criterion_are_explained(parsed: Tables):
    rows = {row[0]: row for row in parsed.body("near-miss-table")}
    # Three criteria crossed and at least 200 residents; 1280C1030 (150 residents) is not listed.
    assert list(rows) == ["0180C1020", "1880C1010", "1880C1020"]
    assert rows["0180C1020"][5] == "60.0 % exactly at the threshold: not crossed"
    assert rows["1880C1010"][4] == ("not selected: suppressed values could have changed the result")
    assert rows["1880C1010"][6] == "suppressed"
    assert rows["1880C1020"][6] == "5.0 % short by 5.00 pp"


def test_changes_since_the_previous_publication(parsed: Tables, fixture_report: str):
    # The previous publication required 3 of 4: Örebro was eligible with two areas; now none.
    rows = {row[0]: row for row in parsed.body("changes-table")}
    assert rows["1880"][1:5] == ["Örebro", "left", "2", "0"]
    assert rows["0180"][2:5] == ["stayed", "2", "1"]
    assert "0 municipalities entered the list and 1 left" in fixture_report


def test_sensitivity_section_lists_stability_least_stable_first(parsed: Tables):
    rows = parsed.body("stability-table")
    # Hand-worked in tests/test_sensitivity.py: Malmö 10/20, Botkyrka 18/20, Stockholm 20/20.
    assert [row[:5] for row in rows] == [
        ["1280", "Malmö", "yes", "10 of 20", "50"],
        ["0127", "Botkyrka", "yes", "18 of 20", "90"],
        ["0180", "Stockholm", "yes", "20 of 20", "100"],
    ]
    variants = parsed.body("variants-table")
    assert len(variants) == 21
    assert variants[13][1:] == [
        "long_term_unemployment_rate +2 pp (12 %)",
        "long_term_unemployment_rate > 12 %",
        "1",
        "1",
        "–",
        "0127 Botkyrka, 1280 Malmö",
    ]


def test_optional_sections_say_when_they_are_absent(ruleset: Ruleset):
    screened = screen(fixture_frame(), ruleset, sensitivity=False)
    tables = {k: v for k, v in screened.tables.items() if k != "allocation"}
    page = render_report(
        year=2018, ruleset=ruleset, tables=tables, sensitivity=None, input_name="x.csv"
    )
    assert "No previous publication to compare with." in page
    assert "areascreen sensitivity --year 2018 --delta 1,2" in page
    assert "amount (MSEK)" not in page
    assert page.count('<svg class="chart"') == 4
    # The same results give the same page: no dates, fixed ids.
    again = render_report(
        year=2018, ruleset=ruleset, tables=tables, sensitivity=None, input_name="x.csv"
    )
    assert again == page


def test_the_report_loads_nothing_from_outside(fixture_report: str):
    assert fixture_report.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(link|iframe|img|object|embed)\b", fixture_report)
    assert not re.search(r"\bsrc=", fixture_report)
    assert not re.search(r"@import|url\((?!#)", fixture_report)
    assert not re.search(r'href="(?!#)', fixture_report)
    assert fixture_report.count("<script>") == 1
    assert "script-src 'sha256-" in fixture_report


@pytest.fixture(scope="module")
def evil(ruleset: Ruleset, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Screened]:
    """The fixture with Stockholm and one area renamed to markup, and the report of it."""
    reference = paths.MUNICIPALITIES_CSV.read_text(encoding="utf-8")
    evil_csv = tmp_path_factory.mktemp("reference") / "municipalities.csv"
    evil_csv.write_text(reference.replace("0180,Stockholm,", f"0180,{EVIL},"), encoding="utf-8")
    original = rollup.register_municipalities
    frame = fixture_frame()
    frame.loc[frame["area_code"] == "0180C1010", "area_name"] = EVIL_AREA
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rollup, "register_municipalities", lambda con: original(con, evil_csv))
        screened = screen(frame, ruleset)
    page = render_report(
        year=2018,
        ruleset=dataclasses.replace(ruleset, name=f"rules {EVIL}"),
        tables=screened.tables,
        sensitivity=screened.sensitivity,
        input_name=f"{EVIL}.csv",
        notes=[f"note {EVIL}"],
    )
    return page, screened


def test_names_from_the_data_are_escaped(evil: tuple[str, Screened]):
    page, screened = evil
    assert screened.tables["eligible_municipalities"]["municipality_name"][1].as_py() == EVIL
    assert "<script>alert" not in page
    assert "<b>area" not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    # Headline (ruleset, input, note), the list, the areas, the allocation-free stability table.
    assert page.count(escaped) >= 6
    assert "Tom &amp; Jerry&#x27;s &quot;&lt;b&gt;area&lt;/b&gt;&quot;" in page
    rows = {row[0]: row for row in Tables(page).body("eligible-table")}
    assert rows["0180"][1] == EVIL
    stability = {row[0]: row for row in Tables(page).body("stability-table")}
    assert stability["0180"][1] == EVIL


# --- the page in headless Chromium -------------------------------------------------------------


def chromium_path() -> str | None:
    """Debian's Chromium (or $CHROMIUM), if installed."""
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    candidates.append(shutil.which("chromium-browser"))
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh headless Chromium profile; skips when Chromium or Playwright is absent."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set CHROMIUM=/path)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (Python) is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def synthetic_report(ruleset: Ruleset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the synthetic default data, with changes and sensitivity, as a file."""
    frame = read_area_statistics(paths.DEFAULT_INPUT).frame
    previous = publish_previous(tmp_path_factory.mktemp("reports") / "2017", frame, ruleset)
    screened = screen(frame, ruleset, previous)
    path = tmp_path_factory.mktemp("publication") / "report.html"
    page = render_report(
        year=2018,
        ruleset=ruleset,
        tables=screened.tables,
        sensitivity=screened.sensitivity,
        input_name=paths.DEFAULT_INPUT.name,
        notes=["Synthetic demo data, not official statistics."],
    )
    path.write_text(page, encoding="utf-8")
    return path


def open_page(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """A new tab showing a file, and the console errors, exceptions and dialogs it raises."""
    page = browser.new_page()
    problems: list[str] = []

    def on_dialog(dialog: Any) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", on_dialog)
    page.goto(path.as_uri(), wait_until="load")
    return page, problems


def column_values(page: Any, table_id: str, index: int) -> list[str]:
    """The sort keys of one column, in the order shown."""
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "(rows, i) => rows.map(r => r.cells[i].getAttribute('data-sort') ?? r.cells[i].textContent)",
        index,
    )


def test_report_in_headless_chromium(browser, synthetic_report: Path, tmp_path: Path):
    browser_page, problems = open_page(browser, synthetic_report)
    charts = browser_page.eval_on_selector_all(
        "figure svg.chart",
        """svgs => svgs.map(svg => {
            const box = svg.getBoundingClientRect();
            return {width: box.width, height: box.height,
                    drawn: svg.querySelectorAll('path, use, rect, line, polygon').length};
        })""",
    )
    assert len(charts) == 5  # four criteria and the sensitivity variants
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 100 and chart["drawn"] > 20, chart

    codes_before = column_values(browser_page, "eligible-table", 0)
    browser_page.click("#eligible-table thead th:nth-child(5) button")
    population = [int(v) for v in column_values(browser_page, "eligible-table", 4)]
    assert population == sorted(population)
    assert column_values(browser_page, "eligible-table", 0) != codes_before
    browser_page.click("#eligible-table thead th:nth-child(5) button")
    population = [int(v) for v in column_values(browser_page, "eligible-table", 4)]
    assert population == sorted(population, reverse=True)
    browser_page.click("#eligible-table thead th:nth-child(2) button")
    names = column_values(browser_page, "eligible-table", 1)
    assert names[0] != names[-1] and len(names) == 27

    screenshot = tmp_path / "report.png"
    browser_page.screenshot(path=str(screenshot), full_page=True)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACT)
    assert screenshot.stat().st_size > 50_000
    assert problems == []


def test_escaped_names_render_as_text_in_chromium(browser, evil, tmp_path: Path):
    page, _ = evil
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    browser_page, problems = open_page(browser, path)
    shown = browser_page.eval_on_selector_all(
        "#eligible-table tbody tr", "rows => rows.map(r => r.cells[1].textContent)"
    )
    assert EVIL in shown
    assert browser_page.eval_on_selector_all("b", "bs => bs.length") == 0
    assert problems == []
