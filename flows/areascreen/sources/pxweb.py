"""A small client for Statistics Sweden's PxWeb API v2, JSON-stat2 responses, cached on disk.

Endpoints used (PxWeb API 2.0):
    GET  {base}/tables/{id}/metadata?lang=sv                      the table's dimensions, `updated`
    POST {base}/tables/{id}/data?lang=sv&outputFormat=json-stat2  body {"selection": [...]}

The client keeps to the API's published limits: at most `max_calls` requests per
`window_seconds` (30 per 10 s) and at most `max_cells` cells per request (150,000; the region
list is split into chunks to stay under it). HTTP 429 waits for `Retry-After`; 5xx responses and
connection errors are retried with exponential back-off.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .assemble import LEVEL_PATTERNS, split_vintage
from .cache import CacheEntry, CacheMissError, CanonicalRequest, ResponseCache
from .config import ApiSettings, PxWebSource
from .jsonstat import Dataset, load_dataset

OUTPUT_FORMAT = "json-stat2"
USER_AGENT = "areascreen (segregation-grant area screening)"


class PxWebError(RuntimeError):
    """The API could not give the data asked for."""


class PxWebTransientError(PxWebError):
    """Rate limiting, server errors or connection failures outlasted every retry."""


class PxWebHTTPError(PxWebError):
    """The API refused a request (4xx other than 429)."""


class PxWebSelectionError(PxWebError):
    """A configured selection does not fit the table's metadata or the cell limit."""


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
            self._sleep(backoff if outcome.wait is None else outcome.wait)

    def _attempt(self, request: CanonicalRequest, table_id: str) -> bytes | _Retry:
        """One try: the body on success, else what failed and how long the server asks to wait."""
        self.requests_sent += 1
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
        if status >= 500:
            return _Retry(f"HTTP {status} {_problem(response)}")
        raise PxWebHTTPError(f"{_context(table_id, request)}: HTTP {status} {_problem(response)}")


@dataclass(frozen=True)
class _Retry:
    """A failed attempt worth retrying, and the wait the server asked for (if any)."""

    failure: str
    wait: float | None = None


def _context(table_id: str, request: CanonicalRequest) -> str:
    """How errors name a response: table and request."""
    return f"table {table_id}, {request.describe()}"


def _problem(response: httpx.Response) -> str:
    """The title and detail of an RFC 7807 problem body, or the start of the text."""
    try:
        problem = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(problem, dict):
        return " - ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
    return response.text[:200]


# --- selecting and chunking -------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedSelection:
    """A source's selection checked against the table: region codes and every other variable."""

    region_variable: str
    time_variable: str
    regions: tuple[str, ...]
    others: dict[str, tuple[str, ...]] = field(default_factory=dict)
    order: tuple[str, ...] = ()

    @property
    def cells_per_region(self) -> int:
        """Cells each region adds to a request."""
        return math.prod(len(values) for values in self.others.values())


def resolve_selection(source: PxWebSource, meta: Dataset, year: int) -> ResolvedSelection:
    """Check a configured selection against metadata; fill region codes and the year."""
    region_var = source.region_variable or meta.geo_variable or "Region"
    time_var = meta.time_variable
    _require_dimension(source, meta, region_var, "region variable")
    if time_var is None:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}) has no dimension with role time"
        )
    selection = dict(source.selection)
    if time_var not in selection:
        selection[time_var] = (str(year),)
    others: dict[str, tuple[str, ...]] = {}
    for var in meta.ids:
        if var == region_var:
            continue
        if var not in selection:
            raise PxWebSelectionError(
                f"Table {source.table_id} ({source.name}): variable {var!r} is not selected; "
                f"add sources.{source.name}.selection.{var} with some of "
                f"{_sample(meta.dimensions[var].codes)}"
            )
        others[var] = _ordered_values(source, meta, var, selection[var])
    unknown = sorted(set(selection) - set(meta.ids))
    if unknown:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}) has no variable(s) {', '.join(unknown)}; "
            f"it has {', '.join(meta.ids)}"
        )
    regions = _select_regions(source, meta, region_var)
    return ResolvedSelection(region_var, time_var, regions, others, meta.ids)


def _require_dimension(source: PxWebSource, meta: Dataset, var: str, what: str) -> None:
    """Fail clearly when the table lacks a variable the source needs."""
    if var not in meta.dimensions:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}) has no {what} {var!r}; "
            f"it has {', '.join(meta.ids)}"
        )


def _ordered_values(
    source: PxWebSource, meta: Dataset, var: str, wanted: Sequence[str]
) -> tuple[str, ...]:
    """Selected values, checked to exist, in the table's own order."""
    codes = meta.dimensions[var].codes
    missing = [v for v in wanted if v not in codes]
    if missing:
        raise PxWebSelectionError(
            f"Table {source.table_id} ({source.name}): {var} has no value(s) "
            f"{', '.join(missing)}; available: {_sample(codes)}"
        )
    return tuple(code for code in codes if code in set(wanted))


def _select_regions(source: PxWebSource, meta: Dataset, region_var: str) -> tuple[str, ...]:
    """All codes of the area level and vintage, or the explicit list, in table order."""
    codes = meta.dimensions[region_var].codes
    if not isinstance(source.region, str):
        return _ordered_values(source, meta, region_var, source.region)
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

    @property
    def updated(self) -> str | None:
        """The table's `updated` timestamp, from its metadata."""
        return self.metadata.dataset.updated


def fetch_table(client: PxWebClient, source: PxWebSource, year: int) -> TableFetch:
    """Metadata, then the data in region chunks under the cell limit, in region order."""
    metadata = client.metadata(source.table_id, source.codelists)
    resolved = resolve_selection(source, metadata.dataset, year)
    chunks = chunk_regions(resolved.regions, resolved.cells_per_region, client.settings.max_cells)
    fetched = tuple(
        client.data(
            source.table_id,
            selection_body(resolved, chunk, source.codelists),
            updated=metadata.dataset.updated,
        )
        for chunk in chunks
    )
    return TableFetch(source, metadata, resolved, fetched)
