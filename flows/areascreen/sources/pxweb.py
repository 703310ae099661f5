"""A small client for Statistics Sweden's PxWeb API v2, JSON-stat2 responses, cached on disk.

Endpoints used (PxWeb API 2.0):
    GET  {base}/config                                            the live limits
    GET  {base}/tables/{id}/metadata?lang=sv                      the table's dimensions, `updated`
    POST {base}/tables/{id}/data?lang=sv&outputFormat=json-stat2  body {"selection": [...]}

The limits are read from `GET /config` at run time (`maxDataCells`, `maxCallsPerTimeWindow`,
`timeWindow`); the numbers in the sources file are a fallback for a server that does not serve
them. The client keeps to them: at most that many requests per window and cells per request (the
region list is split into chunks to stay under it, and a chunk the server still finds too large,
HTTP 400 "Too many cells selected", is split in two). HTTP 429, which the rate limiter may send as
plain text, waits for `Retry-After`; 5xx responses and connection errors are retried with
exponential back-off. Problem bodies are `{"type", "title", "status"}`, mostly without `detail`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .assemble import LEVEL_PATTERNS, split_vintage
from .cache import CacheEntry, CacheMissError, CanonicalRequest, ResponseCache
from .config import ApiSettings, PxWebSource
from .jsonstat import Dataset, Dimension, load_dataset

OUTPUT_FORMAT = "json-stat2"
USER_AGENT = "areascreen (segregation-grant area screening)"
CONFIG_TABLE = "config"
TOO_MANY_CELLS = "too many cells selected"
AREA_CODELIST = re.compile(r"^vs_(DeSO|RegSO)\d{4}$")

log = logging.getLogger("areascreen.sources.pxweb")


class PxWebError(RuntimeError):
    """The API could not give the data asked for."""


class PxWebTransientError(PxWebError):
    """Rate limiting, server errors or connection failures outlasted every retry."""


class PxWebHTTPError(PxWebError):
    """The API refused a request (4xx other than 429)."""


class PxWebSelectionError(PxWebError):
    """A configured selection does not fit the table's metadata or the cell limit."""


class PxWebTooManyCells(PxWebHTTPError):
    """The server refused a request as too large (HTTP 400 "Too many cells selected")."""


@dataclass(frozen=True)
class Limits:
    """The limits a run keeps to, and where they came from (server, cache, pin or fallback)."""

    max_cells: int
    max_calls: int
    window_seconds: float
    origin: str
    note: str = ""

    @classmethod
    def configured(cls, settings: ApiSettings, note: str = "") -> Limits:
        """The sources file's numbers, used when the server does not say."""
        return cls(
            settings.max_cells, settings.max_calls, settings.window_seconds, "configured", note
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any], origin: str) -> Limits:
        """Limits as a manifest recorded them."""
        return cls(
            int(record["max_cells"]),
            int(record["max_calls"]),
            float(record["window_seconds"]),
            origin,
            str(record.get("note", "")),
        )

    def record(self) -> dict[str, Any]:
        """What the manifest keeps."""
        return {
            "max_cells": self.max_cells,
            "max_calls": self.max_calls,
            "window_seconds": self.window_seconds,
            "origin": self.origin,
            "note": self.note,
        }


def limits_from_config(body: bytes, settings: ApiSettings, origin: str) -> Limits:
    """Limits from a `GET /config` body; a missing or zero number falls back to the setting."""
    try:
        config = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Limits.configured(settings, f"/config is not JSON ({exc})")
    if not isinstance(config, Mapping):
        return Limits.configured(settings, "/config is not a JSON object")
    fallback = []

    def number(key: str, default: float) -> float:
        value = config.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return value
        fallback.append(key)
        return default

    cells = number("maxDataCells", settings.max_cells)
    calls = number("maxCallsPerTimeWindow", settings.max_calls)
    window = number("timeWindow", settings.window_seconds)
    note = f"configured value used for {', '.join(fallback)}" if fallback else ""
    return Limits(int(cells), int(calls), float(window), origin, note)


class RateLimiter:
    """Sliding window: at most `max_calls` calls in any `window_seconds`."""

    def __init__(
        self,
        max_calls: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """A limiter with an injectable clock and sleep (for tests)."""
        self.max_calls = max_calls
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._calls: list[float] = []

    def wait(self) -> float:
        """Block until a call is allowed, record it, and return the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            self._calls = [t for t in self._calls if now - t < self.window_seconds]
            if len(self._calls) < self.max_calls:
                self._calls.append(now)
                return waited
            pause = self.window_seconds - (now - self._calls[0])
            self._sleep(pause)
            waited += pause


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class Fetched:
    """One response, from the network or the cache, with the dataset parsed from it."""

    kind: str
    table_id: str
    request: CanonicalRequest
    entry: CacheEntry
    dataset: Dataset
    from_cache: bool

    def record(self) -> dict[str, Any]:
        """What the manifest keeps about this response."""
        return {
            "kind": self.kind,
            "method": self.request.method,
            "url": self.request.url,
            "params": [list(p) for p in self.request.params],
            "request_key": self.entry.request_key,
            "sha256": self.entry.sha256,
            "cache_file": self.entry.cache_file,
            "updated": self.entry.updated,
            "fetched_at": self.entry.fetched_at,
            "from_cache": self.from_cache,
        }


class PxWebClient:
    """HTTP access to one PxWeb API v2 with caching, rate limiting and retries."""

    def __init__(
        self,
        settings: ApiSettings,
        *,
        cache: ResponseCache,
        base_url: str | None = None,
        offline: bool = False,
        pins: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A client; `pins` (request key -> body SHA-256) replays exactly those cached bodies."""
        self.settings = settings
        self.base_url = (base_url or settings.base_url).rstrip("/")
        self.cache = cache
        self.offline = offline or pins is not None
        self.pins = dict(pins) if pins is not None else None
        self._sleep = sleep
        self._limiter = RateLimiter(
            settings.max_calls, settings.window_seconds, clock=clock, sleep=sleep
        )
        self._http: httpx.Client | None = None
        self.requests_sent = 0
        self.limits = Limits.configured(settings)

    def __enter__(self) -> PxWebClient:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the HTTP connection pool."""
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool, if one was opened."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def config_url(self) -> str:
        """URL of the API's configuration."""
        return f"{self.base_url}/config"

    def use_limits(self, limits: Limits) -> Limits:
        """Keep to these limits from now on."""
        self.limits = limits
        self._limiter.max_calls = limits.max_calls
        self._limiter.window_seconds = limits.window_seconds
        return limits

    def load_limits(self, pinned: Mapping[str, Any] | None = None) -> Limits:
        """The limits of this run: pinned, else the server's (cached offline), else configured."""
        if pinned:
            return self.use_limits(Limits.from_record(pinned, "pinned"))
        request = CanonicalRequest.build("GET", self.config_url())
        if self.offline:
            entry = self.cache.latest(request.key)
            if entry is None:
                note = "offline and no cached /config"
                return self.use_limits(Limits.configured(self.settings, note))
            return self.use_limits(limits_from_config(entry.body, self.settings, "cache"))
        outcome = self._attempt(request, CONFIG_TABLE, raise_client_errors=False)
        if not isinstance(outcome, bytes):
            note = f"GET /config failed: {outcome.failure}"
            return self.use_limits(Limits.configured(self.settings, note))
        self.cache.store(request, outcome, table_id=CONFIG_TABLE, updated=None)
        return self.use_limits(limits_from_config(outcome, self.settings, "server"))

    def table_url(self, table_id: str, endpoint: str) -> str:
        """URL of a table endpoint (`metadata` or `data`)."""
        return f"{self.base_url}/tables/{table_id}/{endpoint}"

    def metadata(self, table_id: str, codelists: Mapping[str, str] | None = None) -> Fetched:
        """A table's metadata: always fresh online, from the cache offline."""
        params = [("lang", self.settings.language)]
        params += [(f"codelist[{var}]", cl) for var, cl in sorted((codelists or {}).items())]
        request = CanonicalRequest.build("GET", self.table_url(table_id, "metadata"), params)
        if self.offline:
            return self._replay("metadata", request, table_id, updated=None)
        body = self._send(request, table_id)
        dataset = load_dataset(body, context=_context(table_id, request))
        entry = self.cache.store(request, body, table_id=table_id, updated=dataset.updated)
        return Fetched("metadata", table_id, request, entry, dataset, from_cache=False)

    def data(self, table_id: str, selection: Mapping[str, Any], *, updated: str | None) -> Fetched:
        """Data for a selection; a cached body is reused while the table's `updated` is the same."""
        params = [("lang", self.settings.language), ("outputFormat", OUTPUT_FORMAT)]
        request = CanonicalRequest.build(
            "POST", self.table_url(table_id, "data"), params, selection
        )
        if self.offline:
            return self._replay("data", request, table_id, updated=updated)
        cached = self.cache.latest(request.key, updated=updated) if updated else None
        if cached is not None:
            return self._fetched_from(cached, "data", request, table_id)
        body = self._send(request, table_id)
        dataset = load_dataset(body, context=_context(table_id, request))
        entry = self.cache.store(request, body, table_id=table_id, updated=updated)
        return Fetched("data", table_id, request, entry, dataset, from_cache=False)

    def _replay(
        self, kind: str, request: CanonicalRequest, table_id: str, *, updated: str | None
    ) -> Fetched:
        """Serve a request from the cache only: the pinned body, or the newest matching one."""
        if self.pins is not None:
            digest = self.pins.get(request.key)
            entry = self.cache.pinned(request.key, digest) if digest else None
            why = "is not in the pinned manifest" if digest is None else f"body {digest} is gone"
        else:
            entry = self.cache.latest(request.key, updated=updated if kind == "data" else None)
            why = "has no cached response" + (f" for table version {updated}" if updated else "")
        if entry is None:
            raise CacheMissError(
                f"Offline: {request.describe()} (table {table_id}, request key "
                f"{request.key[:16]}…) {why} in {self.cache.root}. "
                "Run once online (without --offline) to fill the cache."
            )
        return self._fetched_from(entry, kind, request, table_id)

    def _fetched_from(
        self, entry: CacheEntry, kind: str, request: CanonicalRequest, table_id: str
    ) -> Fetched:
        """Wrap a cache entry, parsing its body."""
        dataset = load_dataset(entry.body, context=f"cached {_context(table_id, request)}")
        return Fetched(kind, table_id, request, entry, dataset, from_cache=True)

    def _client(self) -> httpx.Client:
        """The HTTP connection pool, opened on first use."""
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.settings.timeout_seconds,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                follow_redirects=True,
            )
        return self._http

    def _send(self, request: CanonicalRequest, table_id: str) -> bytes:
        """Send with rate limiting; retry 429 (after Retry-After), 5xx and connection errors."""
        attempt = 0
        while True:
            self._limiter.wait()
            outcome = self._attempt(request, table_id)
            if isinstance(outcome, bytes):
                return outcome
            attempt += 1
            if attempt > self.settings.max_retries:
                raise PxWebTransientError(
                    f"{_context(table_id, request)}: gave up after {attempt} attempts; "
                    f"last failure: {outcome.failure}"
                )
            backoff = self.settings.backoff_base_seconds * 2 ** (attempt - 1)
            wait = backoff if outcome.wait is None else outcome.wait
            log.info(
                "%s: %s; retry %s of %s in %.1f s",
                table_id, outcome.failure, attempt, self.settings.max_retries, wait,
            )  # fmt: skip
            self._sleep(wait)

    def _attempt(
        self, request: CanonicalRequest, table_id: str, *, raise_client_errors: bool = True
    ) -> bytes | _Retry:
        """One try: the body on success, else what failed and how long the server asks to wait."""
        self.requests_sent += 1
        log.info("%s: request %s %s", table_id, self.requests_sent, request.url)
        try:
            response = self._client().request(
                request.method, request.url, params=list(request.params), json=request.body
            )
        except httpx.TransportError as exc:
            return _Retry(f"connection error {type(exc).__name__}: {exc}")
        status = response.status_code
        if status == 200:
            return response.content
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            return _Retry(f"HTTP 429 Too Many Requests (Retry-After {wait} s)", wait)
        problem = _problem(response)
        if status >= 500 or not raise_client_errors:
            return _Retry(f"HTTP {status} {problem}")
        message = f"{_context(table_id, request)}: HTTP {status} {problem}"
        if status in (400, 403) and TOO_MANY_CELLS in problem.lower():
            raise PxWebTooManyCells(message)
        raise PxWebHTTPError(message)


@dataclass(frozen=True)
class _Retry:
    """A failed attempt worth retrying, and the wait the server asked for (if any)."""

    failure: str
    wait: float | None = None


def _context(table_id: str, request: CanonicalRequest) -> str:
    """How errors name a response: table and request."""
    return f"table {table_id}, {request.describe()}"


def _problem(response: httpx.Response) -> str:
    """Title and (rarely present) detail of a problem body, or the start of a plain-text body."""
    try:
        problem = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if not isinstance(problem, dict):
        return response.text.strip()[:200]
    parts = [str(problem[k]) for k in ("title", "detail") if problem.get(k)]
    unique = list(dict.fromkeys(parts))
    return " - ".join(unique) or response.text.strip()[:200]


# --- selecting and chunking -------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedSelection:
    """A source's selection checked against the table: region codes and every other variable.

    `codelists` are those sent with the selection (the configured ones and, for the region, the
    codelist of the source's division when the table offers it); `by_label` maps a value given by
    its label in the sources file to the code the table has for it.
    """

    region_variable: str
    time_variable: str
    regions: tuple[str, ...]
    others: dict[str, tuple[str, ...]] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    codelists: Mapping[str, str] = field(default_factory=dict)
    by_label: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def cells_per_region(self) -> int:
        """Cells each region adds to a request."""
        return math.prod(len(values) for values in self.others.values())

    @property
    def region_codelist(self) -> str | None:
        """The codelist the region codes are selected through, if any."""
        return self.codelists.get(self.region_variable)


def _holds_areas(dimension: Dimension) -> bool:
    """A variable of DeSO/RegSO areas: an area codelist, or codes shaped like area codes."""
    if any(AREA_CODELIST.match(c) for c in dimension.codelists):
        return True
    patterns = LEVEL_PATTERNS.values()
    return any(p.match(split_vintage(code)[0]) for code in dimension.codes for p in patterns)


def find_region_variable(source: PxWebSource, meta: Dataset) -> str:
    """The configured region variable, else the one variable holding area codes (not role.geo)."""
    if source.region_variable:
        _require_dimension(source, meta, source.region_variable, "region variable")
        return source.region_variable
    found = [var for var in meta.ids if _holds_areas(meta.dimensions[var])]
    if len(found) == 1:
        return found[0]
    what = "several variables with" if found else "no variable with"
    raise PxWebSelectionError(
        f"Table {source.table_id} ({source.name}) has {what} DeSO or RegSO codes "
        f"({', '.join(found or meta.ids)}); set sources.{source.name}.region_variable"
    )


def region_codelist(source: PxWebSource, meta: Dataset, region_var: str) -> str | None:
    """The configured region codelist, else `vs_<vintage>` when the table offers it."""
    if region_var in source.codelists:
        return source.codelists[region_var]
    wanted = f"vs_{source.vintage}"
    return wanted if wanted in meta.dimensions[region_var].codelists else None


def resolve_selection(source: PxWebSource, meta: Dataset, year: int) -> ResolvedSelection:
    """Check a configured selection against metadata; fill region codes and the year."""
    region_var = find_region_variable(source, meta)
    time_var = meta.time_variable
    if time_var is None:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}) has no dimension with role time"
        )
    selection = dict(source.selection)
    if time_var not in selection:
        selection[time_var] = (str(year),)
    unknown = sorted(set(selection) - set(meta.ids))
    if unknown:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}) has no variable(s) {', '.join(unknown)}; "
            f"it has {', '.join(meta.ids)}"
        )
    others: dict[str, tuple[str, ...]] = {}
    by_label: dict[str, dict[str, str]] = {}
    for var in meta.ids:
        if var == region_var:
            continue
        if var not in selection:
            raise PxWebSelectionError(
                f"Table {source.table_id} ({source.name}): variable {var!r} is not selected; "
                f"add sources.{source.name}.selection.{var} with some of "
                f"{_sample(meta.dimensions[var].codes)}"
            )
        codes, labels = resolve_values(source, meta, var, selection[var])
        others[var] = codes
        if labels:
            by_label[var] = labels
    codelists = dict(source.codelists)
    chosen = region_codelist(source, meta, region_var)
    if chosen is not None:
        codelists[region_var] = chosen
    regions = _select_regions(source, meta, region_var)
    return ResolvedSelection(region_var, time_var, regions, others, meta.ids, codelists, by_label)


def match_labels(dimension: Dimension, wanted: str) -> list[str]:
    """Codes whose label is the wanted text (case and spacing ignored)."""
    key = _normal(wanted)
    return [code for code in dimension.codes if _normal(dimension.labels.get(code, "")) == key]


def _normal(text: str) -> str:
    """Lower case, single spaces."""
    return " ".join(text.lower().split())


def resolve_values(
    source: PxWebSource, meta: Dataset, var: str, wanted: Sequence[str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Selected values in table order; a value given by its (unique) label becomes its code."""
    dimension = meta.dimensions[var]
    by_label: dict[str, str] = {}
    missing = []
    for value in wanted:
        if value in dimension.codes:
            continue
        matches = match_labels(dimension, value)
        if len(matches) == 1:
            by_label[value] = matches[0]
        else:
            missing.append(value)
    if missing:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}): {var} has no value(s) "
            f"{', '.join(missing)} (neither as code nor as a unique label); "
            f"available: {_sample(dimension.codes)}"
        )
    chosen = {by_label.get(v, v) for v in wanted}
    return tuple(code for code in dimension.codes if code in chosen), by_label


def _require_dimension(source: PxWebSource, meta: Dataset, var: str, what: str) -> None:
    """Fail clearly when the table lacks a variable the source needs."""
    if var not in meta.dimensions:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}) has no {what} {var!r}; "
            f"it has {', '.join(meta.ids)}"
        )


def _select_regions(source: PxWebSource, meta: Dataset, region_var: str) -> tuple[str, ...]:
    """All codes of the area level and vintage, or the explicit list, in table order."""
    codes = meta.dimensions[region_var].codes
    if not isinstance(source.region, str):
        return resolve_values(source, meta, region_var, source.region)[0]
    pattern = LEVEL_PATTERNS[source.region]
    parsed = [(code, *split_vintage(code)) for code in codes]
    level = [(code, vintage) for code, base, vintage in parsed if pattern.match(base)]
    suffixed = tuple(code for code, vintage in level if vintage == source.vintage)
    chosen = suffixed or tuple(code for code, vintage in level if vintage is None)
    if not chosen:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}): no {source.region} codes of vintage "
            f"{source.vintage} in {region_var}; sample of its codes: {_sample(codes)}"
        )
    return chosen


def _sample(codes: Sequence[str], limit: int = 12) -> str:
    """A few codes for an error message."""
    shown = ", ".join(codes[:limit])
    return shown + (f", … ({len(codes)} in all)" if len(codes) > limit else "")


def chunk_regions(
    regions: Sequence[str], cells_per_region: int, max_cells: int
) -> list[tuple[str, ...]]:
    """Split regions, in order, so that no request exceeds `max_cells` cells."""
    if cells_per_region > max_cells:
        raise PxWebSelectionError(
            f"One region alone needs {cells_per_region} cells, above the limit of {max_cells}"
        )
    size = max(1, max_cells // max(1, cells_per_region))
    return [tuple(regions[i : i + size]) for i in range(0, len(regions), size)]


def selection_body(
    resolved: ResolvedSelection, regions: Sequence[str], codelists: Mapping[str, str]
) -> dict[str, Any]:
    """The POST body for one chunk, variables in the table's order."""
    items = []
    for var in resolved.order:
        values = regions if var == resolved.region_variable else resolved.others[var]
        item: dict[str, Any] = {"variableCode": var, "valueCodes": list(values)}
        if var in codelists:
            item["codelist"] = codelists[var]
        items.append(item)
    return {"selection": items}


@dataclass(frozen=True)
class TableFetch:
    """Everything fetched for one PxWeb source."""

    source: PxWebSource
    metadata: Fetched
    resolved: ResolvedSelection
    chunks: tuple[Fetched, ...]
    limits: Limits | None = None

    @property
    def updated(self) -> str | None:
        """The table's `updated` timestamp, from its metadata."""
        return self.metadata.dataset.updated


def fetch_table(client: PxWebClient, source: PxWebSource, year: int) -> TableFetch:
    """Metadata, then the data in region chunks under the cell limit, in region order."""
    metadata = client.metadata(source.table_id, source.codelists)
    resolved = resolve_selection(source, metadata.dataset, year)
    chunks = chunk_regions(resolved.regions, resolved.cells_per_region, client.limits.max_cells)
    fetched = tuple(
        part
        for chunk in chunks
        for part in _fetch_chunk(client, source, resolved, chunk, metadata.dataset.updated)
    )
    return TableFetch(source, metadata, resolved, fetched, client.limits)


def _fetch_chunk(
    client: PxWebClient,
    source: PxWebSource,
    resolved: ResolvedSelection,
    regions: tuple[str, ...],
    updated: str | None,
) -> list[Fetched]:
    """One chunk; if the server finds it too many cells, its two halves, in order."""
    body = selection_body(resolved, regions, resolved.codelists)
    try:
        return [client.data(source.table_id, body, updated=updated)]
    except PxWebTooManyCells as exc:
        if len(regions) == 1:
            raise PxWebSelectionError(
                f"{exc}; one region alone is too many cells for the server"
            ) from exc
        half = len(regions) // 2
        return [
            *_fetch_chunk(client, source, resolved, regions[:half], updated),
            *_fetch_chunk(client, source, resolved, regions[half:], updated),
        ]
