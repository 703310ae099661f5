"""Prefect tasks and the `fetch_statistics` flow around the plain functions of `fetch`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from areascreen.retries import retry_on

from .config import Source
from .fetch import FetchedSource, fetch_source, fetch_year
from .pxweb import PxWebClient, PxWebTransientError

TASK_RETRIES = 2
TASK_BACKOFF_SECONDS = 30


@task(
    name="fetch-source",
    task_run_name="fetch-{source.name}",
    retries=TASK_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=TASK_BACKOFF_SECONDS),
    retry_condition_fn=retry_on(PxWebTransientError),
    cache_policy=NO_CACHE,
)
def fetch_source_task(source: Source, client: PxWebClient, year: int) -> FetchedSource:
    """Fetch one source (PxWeb table or file) through the shared, rate-limited client."""
    return fetch_source(source, client=client, year=year)


@flow(name="fetch-statistics")
def fetch_statistics(
    year: int,
    offline: bool = False,
    cache_dir: Path | None = None,
    base_url: str | None = None,
    out_path: Path | None = None,
    config_path: Path | None = None,
    pin: Path | None = None,
    from_files: Path | None = None,
) -> dict[str, Any]:
    """Fetch each source in a task, assemble and write the input table; return the manifest."""
    result = fetch_year(
        year,
        offline=offline,
        cache_dir=cache_dir,
        base_url=base_url,
        out_path=out_path,
        config_path=config_path,
        pin=pin,
        fetch_one=fetch_source_task,
        from_files=from_files,
    )
    return result.manifest
