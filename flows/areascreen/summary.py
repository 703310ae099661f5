"""The run summary (`summary.md`), and what it shares with the report: templates and their texts.

Both documents are Jinja2 templates in `areascreen/templates/` (or a folder of the user's own,
searched first). Python hands them plain data: lists of dicts of formatted text. Fixed texts come
from `templates/messages.toml`, one table per language. In Markdown every value is escaped on
output (by the environment's `finalize`), so names from the data or the ruleset cannot inject
markup; in HTML, Jinja2's autoescaping does the same.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import pyarrow as pa
from markupsafe import Markup

from areascreen.area_facts import AreaFacts
from areascreen.formatting import integer, number
from areascreen.ruleset import Criterion, Ruleset

LANGUAGES = ("en", "sv")
MESSAGES_FILE = "messages.toml"
STATUSES = (
    "selected",
    "too_few_criteria_crossed",
    "required_criterion_not_crossed",
    "undetermined_suppressed",
    "index_class_not_selected",
    "below_minimum_population",
)
PROVENANCE_ORDER = (
    "package_version",
    "git_commit",
    "ruleset",
    "ruleset_sha256",
    "input",
    "input_sha256",
    "run_time",
    "libraries",
)
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
CODE_SAFE = re.compile(r"[A-Za-z0-9 ._/:+=-]*")


# --- templates and texts ------------------------------------------------------------------------


class Messages:
    """The fixed texts of one language; `messages(key, **values)` fills in the placeholders."""

    def __init__(self, language: str, texts: Mapping[str, Any]) -> None:
        self.language = language
        self._texts = texts

    def __call__(self, key: str, **values: object) -> str:
        """A text by key (dotted for nested tables), with placeholders filled in."""
        found: Any = self._texts
        for part in key.split("."):
            found = found[part]
        return str(found).format(**values) if values else str(found)

    def get(self, key: str, default: str) -> str:
        """A text by key, or the default when the catalogue has none."""
        try:
            return self(key)
        except KeyError:
            return default


def check_language(language: str) -> str:
    """The language if it is one the catalogue has, else a ValueError."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language


def _merged(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_messages(language: str, template_dir: Path | None = None) -> Messages:
    """The packaged texts of a language, with a user folder's messages.toml laid over them."""
    check_language(language)
    packaged = jinja2.PackageLoader("areascreen", "templates")
    source, _, _ = packaged.get_source(jinja2.Environment(), MESSAGES_FILE)
    texts = tomllib.loads(source)
    if template_dir is not None and (template_dir / MESSAGES_FILE).is_file():
        texts = _merged(texts, tomllib.loads((template_dir / MESSAGES_FILE).read_text("utf-8")))
    english = texts["en"]
    return Messages(language, _merged(english, texts.get(language, {})))


def template_loader(template_dir: Path | None) -> jinja2.BaseLoader:
    """The user's folder first (if given), then the templates inside the package."""
    packaged = jinja2.PackageLoader("areascreen", "templates")
    if template_dir is None:
        return packaged
    return jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(template_dir)), packaged])


def markdown_text(value: object) -> str:
    """Text safe inside Markdown: HTML special characters as entities, Markdown ones escaped."""
    if isinstance(value, Markup):
        return str(value)
    text = " ".join(("–" if value is None else str(value)).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_code(value: object) -> Markup:
    """Plain identifiers and checksums as a code span; any other text escaped as usual."""
    text = " ".join(str(value).split())
    if text and CODE_SAFE.fullmatch(text):
        return Markup(f"`{text}`")
    return Markup(markdown_text(text))


def link_target(path: str | Path) -> Markup:
    """A relative link target, percent-encoded; anything with a scheme or a host is refused."""
    text = Path(path).as_posix() if isinstance(path, Path) else str(path)
    if ":" in text or text.startswith("//") or text.startswith("/"):
        raise ValueError(f"links must be relative paths inside the publication, got {text!r}")
    return Markup(quote(text, safe="/._-~#"))


# The folder of compiled templates kept between runs; an empty value keeps them in memory only.
TEMPLATE_CACHE_VARIABLE = "AREASCREEN_TEMPLATE_CACHE"


class TemplateCache(jinja2.BytecodeCache):
    """Compiled templates kept in memory and, when a folder is given, on disk between runs.

    Jinja checks each against its source's checksum and the Jinja and Python versions, so a
    changed template is compiled afresh. `kind` names the environment's settings (escaping,
    whitespace), which shape the compiled code: environments of other settings use another
    kind. A file that cannot be read or written is compiled as if there were no cache.
    """

    def __init__(self, kind: str, folder: Path | None) -> None:
        self.kind = kind
        self.folder = folder
        self.store: dict[str, bytes] = {}

    def path(self, key: str) -> Path | None:
        """The file of one compiled template, or None without a folder."""
        return None if self.folder is None else self.folder / f"{self.kind}-{key}.bin"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Fill the bucket from memory or from its file, when the template was compiled before."""
        data = self.store.get(bucket.key)
        path = self.path(bucket.key)
        if data is None and path is not None:
            try:
                data = path.read_bytes()
            except OSError:
                return
        if data is None:
            return
        try:
            bucket.bytecode_from_string(data)
        except Exception:  # a damaged file: compile again
            bucket.reset()
            return
        self.store[bucket.key] = data

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep a newly compiled template; its file is replaced whole, never half written."""
        data = bucket.bytecode_to_string()
        self.store[bucket.key] = data
        path = self.path(bucket.key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(partial, path)
        except OSError:
            return


def template_cache_dir() -> Path | None:
    """Where compiled templates are kept between runs: $AREASCREEN_TEMPLATE_CACHE (empty: not
    kept), else the user cache; one folder per Jinja version."""
    configured = os.environ.get(TEMPLATE_CACHE_VARIABLE)
    if configured is not None:
        return Path(configured) if configured else None
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home folder
        return None
    return Path(base) / "areascreen" / "templates" / f"jinja2-{jinja2.__version__}"


@cache
def template_cache(kind: str) -> TemplateCache:
    """The process's cache of compiled templates for one kind of environment."""
    return TemplateCache(kind, template_cache_dir())


def environment(template_dir: Path | None, *, html: bool) -> jinja2.Environment:
    """A Jinja2 environment: autoescaping for HTML, escaping on output for Markdown."""
    env = jinja2.Environment(
        loader=template_loader(template_dir),
        autoescape=html,
        finalize=None if html else markdown_text,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=template_cache("html" if html else "markdown"),
    )
    env.filters["code"] = markdown_code
    env.filters["link"] = link_target
    return env


# --- numbers and words --------------------------------------------------------------------------


def localised(text: str, language: str) -> str:
    """A formatted number in a language: decimal comma in Swedish."""
    return text.replace(".", ",") if language == "sv" else text


def decimal(value: float | None, language: str, decimals: int = 1) -> str:
    """A number as people read it in the language."""
    return localised(number(value, decimals), language)


def short_number(value: float, language: str) -> str:
    """A threshold or weight as written in a ruleset (60, 1.5), in the language."""
    return localised(f"{value:g}", language)


def threshold_text(criterion: Criterion, messages: Messages) -> str:
    """The threshold in words in the report's language."""
    if messages.language == "en":
        return criterion.threshold.describe(criterion.direction)
    direction = messages(f"direction_{criterion.direction}")
    value = short_number(criterion.threshold.value, messages.language)
    return messages(f"threshold.{criterion.threshold.kind}", direction=direction, value=value)


def criterion_text(criterion: Criterion, messages: Messages) -> str:
    """The criterion in words, e.g. 'Employment rate below 60 %'."""
    if messages.language == "en":
        return criterion.describe()
    return f"{criterion.indicator.label_sv} {threshold_text(criterion, messages)}"


def rule_text(ruleset: Ruleset, messages: Messages) -> str:
    """The selection rule in words in the report's language."""
    if messages.language == "en":
        return ruleset.rule_text
    if ruleset.selection.method == "index" and ruleset.index is not None:
        classes = ", ".join(str(c) for c in ruleset.selection.selected_classes)
        return messages("rule.index", classes=classes, count=ruleset.index.classes)
    required = sum(c.required for c in ruleset.criteria)
    optional = len(ruleset.criteria) - required
    k = ruleset.selection.criteria_required
    parts = [messages("rule.required", count=required)] if required else []
    if optional:
        other = "_other" if required else ""
        key = "rule.all" if k == optional else "rule.at_least"
        parts.append(messages(key + other, count=optional, k=k))
    return messages("rule.joiner").join(parts)


def status_text(status: str | None, messages: Messages) -> str:
    """An area's selection status in words."""
    return messages.get(f"status_{status}", str(status))


# --- data shared by the report and the summary ----------------------------------------------


@dataclass(frozen=True)
class Notes:
    """The run's notes, the synthetic-data ones apart (they become a banner)."""

    synthetic: list[str]
    other: list[str]


def split_notes(notes: Sequence[str]) -> Notes:
    """Notes that mention synthetic data mark the whole publication as synthetic."""
    synthetic = [n for n in notes if "synthetic" in n.lower() or "syntetisk" in n.lower()]
    return Notes(synthetic, [n for n in notes if n not in synthetic])


def municipality_rule_sentences(ruleset: Ruleset, messages: Messages) -> list[str]:
    """When a municipality is eligible, one sentence per condition."""
    rule = ruleset.municipality
    lang = messages.language
    sentences = [
        messages(
            "municipality_sentence",
            areas=rule.minimum_selected_areas,
            population=integer(rule.minimum_population_in_selected_areas),
        )
    ]
    if rule.minimum_share_in_selected_areas is not None:
        share = short_number(rule.minimum_share_in_selected_areas, lang)
        sentences.append(messages("municipality_share_sentence", share=share))
    if rule.share_standard_deviations is not None:
        sd = short_number(rule.share_standard_deviations, lang)
        sentences.append(messages("municipality_share_sd_sentence", sd=sd))
    if rule.index_spread_standard_deviations is not None:
        sd = short_number(rule.index_spread_standard_deviations, lang)
        sentences.append(messages("municipality_spread_sentence", sd=sd))
    return sentences


def index_context(ruleset: Ruleset, messages: Messages) -> dict[str, Any] | None:
    """The composite index in words, or None without one."""
    index = ruleset.index
    if index is None:
        return None
    lang = messages.language
    cuts = ", ".join(short_number(c, lang) for c in index.class_cuts)
    return {
        "sentence": messages("index_sentence", classes=index.classes, cuts=cuts),
        "components": [
            messages(
                "index_component",
                label=c.indicator.label(lang),
                weight=short_number(c.weight, lang),
                direction=messages(f"direction_{c.direction}"),
            )
            for c in index.components
        ],
        "classes": [
            {"number": n, "label": label, "selected": n in ruleset.selection.selected_classes}
            for n, label in enumerate(index.class_labels, start=1)
        ],
    }


def ruleset_context(ruleset: Ruleset, messages: Messages) -> dict[str, Any]:
    """The ruleset in words: name, checksum, the rule and each criterion."""
    lang = messages.language
    return {
        "name": ruleset.name,
        "file": ruleset.path.name,
        "sha256": ruleset.sha256,
        "description": ruleset.description,
        "source": ruleset.source,
        "division": ruleset.division.label,
        "rule": messages(
            "rule_sentence",
            rule=rule_text(ruleset, messages),
            population=integer(ruleset.selection.minimum_population),
        ),
        "municipality_rule": municipality_rule_sentences(ruleset, messages),
        "borderline": messages("borderline_sentence", persons=ruleset.selection.borderline_persons),
        "criteria": [
            {
                "name": c.name,
                "label": c.indicator.label(lang),
                "text": criterion_text(c, messages),
                "required": c.required,
            }
            for c in ruleset.criteria
        ],
        "index": index_context(ruleset, messages),
    }


def indicator_labels(ruleset: Ruleset, language: str) -> dict[str, str]:
    """Indicator name to label, for every indicator the ruleset uses."""
    return {i.name: i.label(language) for i in ruleset.indicators}


def averages_rows(national_averages: pa.Table, labels: Mapping[str, str], language: str) -> list:
    """National averages computed from counts beside the published ones, formatted."""
    return [
        {
            "indicator": row["indicator"],
            "label": labels.get(row["indicator"], row["label"] or row["indicator"]),
            "computed": decimal(row["national_average"], language, 2),
            "computed_sort": row["national_average"],
            "published": decimal(row["published_national_average"], language, 1),
            "published_sort": row["published_national_average"],
            "difference": decimal(row["difference_from_published_pp"], language, 2),
            "difference_sort": row["difference_from_published_pp"],
            "known": integer(row["areas_known"]),
            "known_sort": row["areas_known"],
            "suppressed": integer(row["areas_suppressed"]),
            "suppressed_sort": row["areas_suppressed"],
        }
        for row in national_averages.to_pylist()
    ]


def amounts_by_code(allocation: pa.Table | None) -> dict[str, float]:
    """Municipality code to amount, from the allocation table."""
    if allocation is None or "amount" not in allocation.column_names:
        return {}
    codes = allocation["municipality_code"].to_pylist()
    return dict(zip(codes, allocation["amount"].to_pylist(), strict=True))


def criteria_counts(text: str | None) -> dict[str, int]:
    """`employment_rate: 2, voter_turnout: 1` as a mapping."""
    counts: dict[str, int] = {}
    for part in (text or "").split(","):
        name, _, count = part.strip().rpartition(":")
        if name and count.strip().isdigit():
            counts[name.strip()] = int(count)
    return counts


def eligible_rows(
    ruleset: Ruleset, eligible: pa.Table, allocation: pa.Table | None, language: str
) -> list[dict[str, Any]]:
    """The eligible municipalities with their amounts and the selected areas per criterion."""
    amounts = amounts_by_code(allocation)
    rows = []
    for row in eligible.to_pylist():
        counts = criteria_counts(row["criteria_in_selected_areas"])
        amount = amounts.get(row["municipality_code"])
        rows.append(
            {
                "code": row["municipality_code"],
                "name": row["municipality_name"],
                "county": row["county_name"],
                "selected_areas": integer(row["selected_areas"]),
                "selected_areas_sort": row["selected_areas"],
                "population": integer(row["population_in_selected_areas"]),
                "population_sort": row["population_in_selected_areas"],
                "share": decimal(row["share_of_population_in_selected_areas"], language),
                "share_sort": row["share_of_population_in_selected_areas"],
                "crossing": [
                    {"text": integer(counts.get(c.name, 0)), "sort": counts.get(c.name, 0)}
                    for c in ruleset.criteria
                ],
                "amount": decimal(amount, language),
                "amount_sort": amount,
            }
        )
    return rows


def status_counts(counted: Mapping[str, int], messages: Messages) -> list[dict[str, Any]]:
    """How many areas ended in each status (every status the rule can give)."""
    known = [s for s in STATUSES if s in counted or s in ("selected", "too_few_criteria_crossed")]
    known += sorted(s for s in counted if s not in STATUSES)
    return [
        {"status": s, "label": status_text(s, messages), "count": integer(counted.get(s, 0))}
        for s in known
    ]


def provenance_rows(
    provenance: Mapping[str, str] | None, ruleset: Ruleset, input_name: str, messages: Messages
) -> list[dict[str, str]]:
    """Where the publication comes from: the ruleset and input always, then what was passed in."""
    given = {"ruleset": ruleset.name, "ruleset_sha256": ruleset.sha256, "input": input_name}
    given |= {k: str(v) for k, v in (provenance or {}).items() if v is not None}
    order = [k for k in PROVENANCE_ORDER if k in given] + [
        k for k in given if k not in PROVENANCE_ORDER
    ]
    return [
        {"key": k, "label": messages.get(f"provenance_{k}", k.replace("_", " ")), "value": given[k]}
        for k in order
    ]


def change_counts(changes: pa.Table | None) -> dict[str, int] | None:
    """Municipalities that entered and left the list, or None without a comparison."""
    if changes is None:
        return None
    kinds = changes["change"].to_pylist()
    return {kind: kinds.count(kind) for kind in ("entered", "left", "stayed")}


def link_rows(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Relative links: target (percent-encoded) and the text shown."""
    rows = []
    for path in paths:
        text = Path(path).as_posix() if isinstance(path, Path) else str(path)
        rows.append({"href": link_target(text), "text": text})
    return rows


# --- the summary ------------------------------------------------------------------------------


def summary_context(
    *,
    year: int,
    ruleset: Ruleset,
    input_name: str,
    tables: Mapping[str, pa.Table],
    areas: AreaFacts,
    validation_links: Sequence[Path],
    notes: Sequence[str],
    provenance: Mapping[str, str] | None,
    messages: Messages,
) -> dict[str, Any]:
    """Everything summary.md shows, as plain data."""
    lang = messages.language
    allocation = tables.get("allocation")
    return {
        "t": messages,
        "year": year,
        "input_name": input_name,
        "notes": split_notes(notes),
        "ruleset": ruleset_context(ruleset, messages),
        "averages": averages_rows(
            tables["national_averages"], indicator_labels(ruleset, lang), lang
        ),
        "statuses": status_counts(areas.statuses, messages),
        "areas": integer(areas.areas),
        "population_selected": integer(areas.selected_population),
        "municipalities": integer(tables["municipality_results"].num_rows),
        "eligible_count": tables["eligible_municipalities"].num_rows,
        "borderline": integer(areas.borderline),
        "borderline_persons": ruleset.selection.borderline_persons,
        "eligible": eligible_rows(ruleset, tables["eligible_municipalities"], allocation, lang),
        "criteria_labels": [c.indicator.label(lang) for c in ruleset.criteria],
        "has_amounts": allocation is not None,
        "amount_heading": messages("col_amount", year=year, unit=ruleset.budget_unit),
        "validation": link_rows(validation_links),
        "changes": change_counts(tables.get("municipality_changes")),
        "provenance": provenance_rows(provenance, ruleset, input_name, messages)
        if provenance is not None
        else [],
    }


def render_summary(
    *,
    year: int,
    ruleset: Ruleset,
    input_name: str,
    tables: Mapping[str, pa.Table],
    areas: AreaFacts,
    validation_links: Sequence[Path],
    notes: Sequence[str] = (),
    provenance: Mapping[str, str] | None = None,
    language: str = "en",
    template_dir: Path | None = None,
) -> str:
    """The whole summary.md, from `summary.md.j2`.

    `tables` holds the small tables (the eligible municipalities, every municipality, the
    national averages, the allocation and the changes); what the summary says of the areas is
    in `areas` (`areascreen.area_facts.area_facts`).
    """
    messages = load_messages(language, template_dir)
    context = summary_context(
        year=year,
        ruleset=ruleset,
        input_name=input_name,
        tables=tables,
        areas=areas,
        validation_links=validation_links,
        notes=notes,
        provenance=provenance,
        messages=messages,
    )
    template = environment(template_dir, html=False).get_template("summary.md.j2")
    return template.render(context).rstrip("\n") + "\n"
