"""Data Docs that work offline: every page loads its scripts, stylesheets, fonts and images from
one shared assets folder of the publication, nothing is copied twice, and in headless Chromium
with the network blocked the index lists the validation results and a result page draws its
pass/fail icons in the local Font Awesome.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from areascreen import datadocs, paths
from areascreen.errors import ValidationFailed
from areascreen.load import read_area_statistics
from areascreen.ruleset import load_ruleset
from areascreen.validate import validate_input
from tests.conftest import REPOSITORY_ROOT

BAD_INPUT = REPOSITORY_ROOT / "tests" / "bad_inputs" / "numerator_gt_denominator.csv"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")


class References(HTMLParser):
    """The URLs a page loads: script src, link href, img src, and url() in its style blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the loaded URL of script, link and img elements."""
        values = dict(attrs)
        loaded = {"script": "src", "link": "href", "img": "src"}.get(tag)
        if loaded and values.get(loaded):
            self.urls.append(values[loaded] or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        """Leave a style block."""
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        """Record url() references of a style block."""
        if self._in_style:
            self.urls += CSS_URL.findall(data)


def references(page: Path) -> list[str]:
    """Every URL a page loads."""
    parser = References()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.urls


@pytest.fixture(scope="module")
def publication(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A publication's validation folder: the default data's input gate, and a failed gate."""
    datadocs.install_npm_assets()
    validation = tmp_path_factory.mktemp("publication") / "validation"
    ruleset = load_ruleset(paths.ruleset_path(2018))
    validate_input(
        read_area_statistics(paths.DEFAULT_INPUT), ruleset, docs_dir=validation / "input"
    )
    with pytest.raises(ValidationFailed):
        validate_input(read_area_statistics(BAD_INPUT), ruleset, docs_dir=validation / "failed")
    return validation


def pages(folder: Path) -> list[Path]:
    """Every written page."""
    return sorted(folder.rglob("*.html"))


def test_every_reference_of_every_page_is_a_local_file(publication: Path) -> None:
    written = pages(publication)
    assert len(written) >= 6
    for page in written:
        urls = references(page)
        assert any("assets/fontawesome/css/all.min.css" in url for url in urls), page
        for url in urls:
            assert not re.match(r"(?i)(https?:)?//", url), f"{page}: {url}"
            assert (page.parent / url.split("?")[0]).resolve().is_file(), f"{page}: {url}"


def test_stylesheets_of_the_assets_reference_local_files_only(publication: Path) -> None:
    sheets = sorted((publication / "assets").rglob("*.css"))
    assert len(sheets) >= 6
    fonts = 0
    for sheet in sheets:
        for url in CSS_URL.findall(sheet.read_text(encoding="utf-8")):
            if url.startswith("data:"):
                continue
            fonts += 1
            assert not re.match(r"(?i)(https?:)?//", url), f"{sheet}: {url}"
            assert (sheet.parent / url.split("?")[0].split("#")[0]).resolve().is_file(), url
    assert fonts >= 8


def test_assets_are_written_once_per_publication(publication: Path) -> None:
    assert sorted(p.name for p in publication.iterdir()) == ["assets", "failed", "input"]
    assert not (publication / "input" / "static").exists()
    assert not (publication / "failed" / "static").exists()
    digests: dict[str, Path] = {}
    for path in sorted(p for p in publication.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest not in digests or path.suffix == ".html", f"{path} = {digests[digest]}"
        digests[digest] = path
    assets = sum(p.stat().st_size for p in (publication / "assets").rglob("*") if p.is_file())
    assert assets < 3_000_000


# --- in headless Chromium with the network blocked -----------------------------------------------


def chromium_path() -> str | None:
    """Debian's Chromium (or $CHROMIUM), if installed."""
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str]]]:
    """Headless Chromium that aborts every request not for a file:// URL, and lists them."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set CHROMIUM=/path)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    blocked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith("file://"):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.route("**/*", route)
        try:
            yield context, blocked
        finally:
            context.close()


ICON_STYLE = """el => {
    const style = getComputedStyle(el, '::before');
    return {width: el.getBoundingClientRect().width, family: style.fontFamily,
            content: style.content};
}"""


def test_data_docs_work_in_chromium_with_the_network_blocked(
    offline_browser: tuple[Any, list[str]], publication: Path
) -> None:
    context, blocked = offline_browser
    page = context.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto((publication / "input" / "index.html").as_uri())
    # bootstrap-table draws one clickable row per validation result from the page's data.
    rows = page.locator("tr.clickable-row[data-href^='validations/area_statistics/']")
    rows.first.wait_for(state="visible")
    assert rows.count() == 2
    assert all(rows.nth(n).is_visible() for n in range(2))
    targets = [str(rows.nth(n).get_attribute("data-href")) for n in range(2)]
    assert all((publication / "input" / target).is_file() for target in targets)
    assert rows.locator("i.fa-check-circle").count() == 2

    rows.filter(has_text="area_statistics.critical").click()
    page.wait_for_load_state("load")
    assert "/validations/area_statistics/critical/" in page.url
    icons = page.locator("i.fa-check-circle")
    assert icons.count() >= 50
    drawn = icons.first.evaluate(ICON_STYLE)
    assert drawn["width"] > 0
    assert "Font Awesome 6 Free" in drawn["family"]
    assert drawn["content"] not in ("", "none", "normal")
    loaded = page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    assert loaded

    assert blocked == []
    assert [url for url in failed if not url.endswith(".map")] == []
    page.close()


def test_pages_are_rendered_by_views_sharing_compiled_templates(publication: Path) -> None:
    from great_expectations.render.view import DefaultJinjaPageView

    cached = datadocs.cached_view("CachedJinjaPageView")
    assert cached.templates.store, "the gates' pages were rendered by the cached view"
    compiled = len(cached.templates.store)
    block = {
        "content_block_type": "string_template",
        "string_template": {"template": "$value & more", "params": {"value": "<x>"}},
    }
    expected = DefaultJinjaPageView().render_content_block({}, block)
    assert "&lt;x&gt; & more" in expected
    assert [cached().render_content_block({}, block) for _ in range(2)] == [expected] * 2
    assert len(cached.templates.store) <= compiled + 1
    index_view = datadocs.cached_view("CachedJinjaIndexPageView")
    assert index_view.templates.store and index_view.templates is not cached.templates
