"""Data Docs that work offline: GX's CDN scripts, stylesheets and images served from local files.

GX writes every page with links to bootstrap, jQuery, bootstrap-table, Vega, Font Awesome and
more on public CDNs, and copies its own `static/` folder (fonts, images, styles) into every
site. `make_offline` rewrites each written page to load these from one shared assets folder
(`validation/assets/` of a publication), writes the assets there once, and removes the
per-site `static/` folder (its styles are inlined in the pages, its fonts are unused).

The assets come from installed Python packages where one ships the library (jQuery, Bootstrap,
Font Awesome, GX's own images) and from npm packages otherwise (bootstrap-table,
bootstrap-datepicker, Vega, bootstrap-dark): `install_npm_assets` (`python -m
areascreen.datadocs`) fetches those with `npm pack`, checks their integrity and keeps the
needed files in a cache folder. A library whose files are not at hand keeps its CDN link, and
a warning names the command that installs it.

The pages are rendered by GX's Jinja views; `VIEW_CLASSES` are those views with one cache of
compiled templates per view class, so a template is compiled once, not once per view, site and
gate (GX gives every view an environment of its own), and kept on disk for the next run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.resources
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from areascreen.summary import template_cache

ASSETS_FOLDER = "assets"
GX_STATIC_FOLDER = "static"
CACHE_VARIABLE = "AREASCREEN_ASSET_CACHE"
INSTALL_COMMAND = "python -m areascreen.datadocs"

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Library:
    """One library's files: where they come from and where they go under the assets folder.

    `package` is an importable Python package holding the files, or an npm package name
    with `version` and `integrity` (the registry's sha512). `files` maps a path inside the
    package to a path under the assets folder.
    """

    name: str
    package: str
    files: Mapping[str, str]
    version: str | None = None
    integrity: str | None = None

    @property
    def from_npm(self) -> bool:
        """Whether the files come from an npm package."""
        return self.integrity is not None


_FONTAWESOME_FONTS = {
    f"static/fontawesomefree/webfonts/{font}.{kind}": f"fontawesome/webfonts/{font}.{kind}"
    for font in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
    for kind in ("woff2", "ttf")
}

LIBRARIES: tuple[Library, ...] = (
    Library("jquery", "xstatic.pkg.jquery", {"data/jquery.min.js": "jquery/jquery.min.js"}),
    Library(
        "bootstrap",
        "xstatic.pkg.bootstrap",
        {
            "data/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
            # The bundle includes Popper, which GX loads separately.
            "data/js/bootstrap.bundle.min.js": "bootstrap/js/bootstrap.bundle.min.js",
        },
    ),
    Library(
        "fontawesome",
        "fontawesomefree",
        {
            "static/fontawesomefree/css/all.min.css": "fontawesome/css/all.min.css",
            **_FONTAWESOME_FONTS,
        },
    ),
    Library(
        "gx",
        "great_expectations.render.view",
        {
            "static/images/favicon.ico": "gx/images/favicon.ico",
            "static/images/logo-long.png": "gx/images/logo-long.png",
        },
    ),
    Library(
        "bootstrap-table",
        "bootstrap-table",
        {
            "package/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
            "package/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
            "package/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
                "bootstrap-table/filter-control/bootstrap-table-filter-control.min.css"
            ),
            "package/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
                "bootstrap-table/filter-control/bootstrap-table-filter-control.min.js"
            ),
        },
        version="1.19.1",
        integrity="sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
    ),
    Library(
        "bootstrap-datepicker",
        "bootstrap-datepicker",
        {
            "package/dist/css/bootstrap-datepicker.min.css": (
                "bootstrap-datepicker/css/bootstrap-datepicker.min.css"
            ),
            "package/dist/js/bootstrap-datepicker.min.js": (
                "bootstrap-datepicker/js/bootstrap-datepicker.min.js"
            ),
        },
        version="1.9.0",
        integrity="sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
    ),
    Library(
        "vega",
        "vega",
        {"package/build/vega.min.js": "vega/vega.min.js"},
        version="5.33.1",
        integrity="sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
    ),
    Library(
        "vega-lite",
        "vega-lite",
        {"package/build/vega-lite.min.js": "vega-lite/vega-lite.min.js"},
        version="5.23.0",
        integrity="sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
    ),
    Library(
        "vega-embed",
        "vega-embed",
        {"package/build/vega-embed.min.js": "vega-embed/vega-embed.min.js"},
        version="6.29.0",
        integrity="sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
    ),
    Library(
        "bootstrap-dark",
        "@forevolve/bootstrap-dark",
        {
            "package/dist/css/bootstrap-prefers-dark.min.css": (
                "bootstrap-dark/bootstrap-prefers-dark.min.css"
            )
        },
        version="1.1.0",
        integrity="sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
    ),
)

_GX_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"
_BOOTSTRAP_TABLE = "https://unpkg.com/bootstrap-table@1.19.{minor}/dist"
_FILTER_CONTROL = "extensions/filter-control/bootstrap-table-filter-control"
_DATEPICKER = "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0"

# GX's links (query left off) and the asset each is replaced by; None drops the element.
CDN_ASSETS: dict[str, str | None] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap/js/bootstrap.bundle.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": None,
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome/css/all.min.css"
    ),
    f"{_BOOTSTRAP_TABLE.format(minor=1)}/bootstrap-table.min.css": (
        "bootstrap-table/bootstrap-table.min.css"
    ),
    f"{_BOOTSTRAP_TABLE.format(minor=1)}/bootstrap-table.min.js": (
        "bootstrap-table/bootstrap-table.min.js"
    ),
    f"{_BOOTSTRAP_TABLE.format(minor=1)}/{_FILTER_CONTROL}.min.js": (
        "bootstrap-table/filter-control/bootstrap-table-filter-control.min.js"
    ),
    f"{_BOOTSTRAP_TABLE.format(minor=0)}/{_FILTER_CONTROL}.min.css": (
        "bootstrap-table/filter-control/bootstrap-table-filter-control.min.css"
    ),
    f"{_BOOTSTRAP_TABLE.format(minor=0)}/{_FILTER_CONTROL}.css": (
        "bootstrap-table/filter-control/bootstrap-table-filter-control.min.css"
    ),
    f"{_DATEPICKER}/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css"
    ),
    f"{_DATEPICKER}/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/vega-embed.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark/bootstrap-prefers-dark.min.css"
    ),
    f"{_GX_ASSETS}/logo-long.png": "gx/images/logo-long.png",
    f"{_GX_ASSETS}/full_logo_dark.png": "gx/images/logo-long.png",
}

_TAG = re.compile(r"<(?P<name>script|link|img)\b(?P<attrs>[^>]*)>(?P<close></script>)?", re.I)
_REFERENCE = re.compile(r"""\b(?P<attr>src|href)=(?P<q>["'])(?P<url>[^"']*)(?P=q)""", re.I)
_CSS_URL = re.compile(r"""url\((?P<q>['"]?)(?P<url>https?://[^'")]+)(?P=q)\)""")
_SECURITY = re.compile(r"""\s+(?:integrity|crossorigin)(?:=(?:"[^"]*"|'[^']*'|[^\s>]+))?""", re.I)
_GX_STATIC = re.compile(r"^(?:\./|(?:\.\./)*)static/images/(?P<file>[^?#]+)")


# --- the views GX renders the pages with -------------------------------------------------------

# The GX view each cached view derives from, by the name GX loads it under from this module.
VIEW_CLASSES = {
    "CachedJinjaPageView": "DefaultJinjaPageView",
    "CachedJinjaIndexPageView": "DefaultJinjaIndexPageView",
}


def view_settings(name: str) -> dict[str, str]:
    """The site builder setting that renders with the cached view `name`."""
    return {"module_name": __name__, "class_name": name}


@cache
def cached_view(name: str) -> type:
    """A GX Jinja view class whose environments share one cache of compiled templates, kept
    between runs (see `areascreen.summary.TemplateCache`)."""
    from great_expectations.render import view

    base = getattr(view, VIEW_CLASSES[name])
    templates = template_cache(f"gx-{name}")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)
        self.env.bytecode_cache = templates

    return type(
        name, (base,), {"__init__": __init__, "__module__": __name__, "templates": templates}
    )


def __getattr__(name: str) -> type:
    """The cached views, made when GX loads them (GX is imported only by a gate)."""
    if name in VIEW_CLASSES:
        return cached_view(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- where the files are -----------------------------------------------------------------------


def cache_dir() -> Path:
    """Where the files of npm packages are kept: $AREASCREEN_ASSET_CACHE, else the user cache."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "areascreen" / "datadocs"


def npm_folder(library: Library) -> Path:
    """The cache folder of one npm package version."""
    return cache_dir() / f"{library.package.replace('/', '+')}@{library.version}"


def source_path(library: Library, inner: str) -> Path | None:
    """The file `inner` of a library where it is installed, or None when it is not at hand."""
    if library.from_npm:
        path = npm_folder(library) / inner
        return path if path.is_file() else None
    try:
        root = importlib.resources.files(library.package)
    except ModuleNotFoundError:
        return None
    path = Path(str(root.joinpath(inner)))
    return path if path.is_file() else None


def available_assets() -> dict[str, Path]:
    """Every asset whose library is at hand with all its files: asset path -> source file."""
    found: dict[str, Path] = {}
    for library in LIBRARIES:
        sources = {target: source_path(library, inner) for inner, target in library.files.items()}
        if all(sources.values()):
            found.update({t: s for t, s in sources.items() if s is not None})
        else:
            _LOG.warning(
                "Data Docs: %s is not installed, its pages load it from the network; "
                "install it with `%s`",
                library.name,
                INSTALL_COMMAND if library.from_npm else f"pip install {library.package}",
            )
    return found


# --- installing npm packages -------------------------------------------------------------------


def install_npm_assets(libraries: Iterable[Library] = LIBRARIES) -> list[Path]:
    """Fetch the npm packages not yet in the cache with `npm pack`; their cache folders."""
    folders = []
    for library in libraries:
        if not library.from_npm:
            continue
        folder = npm_folder(library)
        if not all((folder / inner).is_file() for inner in library.files):
            _install_npm_package(library, folder)
        folders.append(folder)
    return folders


def _install_npm_package(library: Library, folder: Path) -> None:
    """Fetch one package's tarball, check its sha512 and unpack the files needed."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch the Data Docs assets; install Node.js and npm")
    with tempfile.TemporaryDirectory() as work:
        spec = f"{library.package}@{library.version}"
        subprocess.run(
            [npm, "pack", spec, "--silent", "--pack-destination", work],
            check=True,
            capture_output=True,
            timeout=300,
        )
        tarball = next(Path(work).glob("*.tgz"))
        _check_integrity(tarball, library)
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(tarball) as archive:
            for inner in library.files:
                member = archive.extractfile(inner)
                if member is None:
                    raise RuntimeError(f"{spec}: {inner} is not a file in the package")
                target = partial / inner
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(member.read())
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)


def _check_integrity(tarball: Path, library: Library) -> None:
    """Raise when the tarball's sha512 is not the one recorded for the package."""
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != library.integrity:
        raise RuntimeError(f"{library.package}@{library.version}: the tarball's sha512 differs")


# --- rewriting the pages -----------------------------------------------------------------------


def make_offline(docs_dir: Path, assets_dir: Path) -> dict[str, Path]:
    """Point every page of a Data Docs site at local assets, write those once, drop `static/`.

    Returns the assets written or already there (asset path -> file).
    """
    available = available_assets()
    written = write_assets(assets_dir, available)
    for page in sorted(docs_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        local = rewrite_page(text, relative_prefix(page.parent, assets_dir), set(written))
        if local != text:
            page.write_text(local, encoding="utf-8")
    shutil.rmtree(docs_dir / GX_STATIC_FOLDER, ignore_errors=True)
    return written


def write_assets(assets_dir: Path, sources: Mapping[str, Path]) -> dict[str, Path]:
    """Copy each asset into the assets folder unless the same file is there already."""
    written = {}
    for target, source in sources.items():
        path = assets_dir / target
        if not path.is_file() or path.stat().st_size != source.stat().st_size:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
        written[target] = path
    return written


def relative_prefix(folder: Path, assets_dir: Path) -> str:
    """The relative URL from a page's folder to the assets folder, ending with `/`."""
    return Path(os.path.relpath(assets_dir.resolve(), folder.resolve())).as_posix() + "/"


def local_asset(url: str) -> str | None:
    """The asset that replaces a link, `""` for an element to drop, None to keep it as is."""
    if _GX_STATIC.match(url):
        return f"gx/images/{_GX_STATIC.match(url).group('file')}"
    base = url.split("?", 1)[0].split("#", 1)[0]
    if base not in CDN_ASSETS:
        return None
    return CDN_ASSETS[base] or ""


def rewrite_page(text: str, prefix: str, present: set[str]) -> str:
    """A page's text with CDN and `static/` links replaced by `prefix` + the local asset."""

    def tag(match: re.Match[str]) -> str:
        attrs = match.group("attrs")
        reference = _REFERENCE.search(attrs)
        if reference is None:
            return match.group(0)
        asset = local_asset(reference.group("url"))
        if asset == "":
            return ""
        if asset is None or asset not in present:
            return match.group(0)
        q = reference.group("q")
        new = f"{reference.group('attr')}={q}{prefix}{asset}{q}"
        attrs = _SECURITY.sub("", attrs.replace(reference.group(0), new, 1))
        return f"<{match.group('name')}{attrs}>{match.group('close') or ''}"

    def css(match: re.Match[str]) -> str:
        asset = local_asset(match.group("url"))
        if not asset or asset not in present:
            return match.group(0)
        return f"url('{prefix}{asset}')"

    return _CSS_URL.sub(css, _TAG.sub(tag, text))


def main(argv: list[str] | None = None) -> int:
    """Fetch the npm packages of the Data Docs assets into the cache."""
    parser = argparse.ArgumentParser(prog=INSTALL_COMMAND, description=main.__doc__)
    parser.parse_args(argv)
    for folder in install_npm_assets():
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
