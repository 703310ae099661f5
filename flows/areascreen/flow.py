"""The Prefect flow `screening`: the pipeline's straight line with each stage as a task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from areascreen import paths
from areascreen.pipeline import (
    RunOptions,
    RunResult,
    publish_stage,
    read_stage,
    run_screening,
)
from areascreen.retries import retry_on

# Only stages that do file I/O are retried: a failed gate or a wrong number never is.
RETRIED_STAGES = {read_stage, publish_stage}


def run_as_task(stage: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a stage as a Prefect task named after it."""
    retried = stage in RETRIED_STAGES
    prefect_task = task(
        stage,
        name=stage.__name__.removesuffix("_stage").replace("_", " "),
        cache_policy=NO_CACHE,
        retries=2 if retried else 0,
        retry_delay_seconds=exponential_backoff(backoff_factor=2) if retried else 0,
        retry_condition_fn=retry_on(OSError) if retried else None,
    )
    return prefect_task(*args, **kwargs)


@task(name="record artifacts", cache_policy=NO_CACHE)
def record_artifacts(result: RunResult) -> None:
    """Record the published list and summary as Prefect artifacts, visible in the UI."""
    eligible = result.tables["eligible_municipalities"].select(
        ["municipality_code", "municipality_name", "selected_areas", "population_in_selected_areas"]
    )
    where = result.publication_dir or "nowhere (dry run)"
    create_table_artifact(
        key=f"eligible-municipalities-{result.year}",
        table=eligible.to_pylist(),
        description=f"Eligible municipalities {result.year}, published to {where}",
    )
    create_markdown_artifact(
        key=f"screening-summary-{result.year}",
        markdown=f"Published to `{where}`\n\n" + result.documents["summary.md"],
        description=f"Screening summary {result.year}",
    )


def scheduled_year() -> int:
    """The statistics year of a run: the calendar year before the one the run was scheduled
    for, since a March screening uses the previous year's statistics."""
    return flow_run.scheduled_start_time.year - 1


@flow(name="screening", log_prints=True)
def screening(
    year: int | None = None,
    input_path: str | None = None,
    ruleset_path: str | None = None,
    reports_dir: str | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
) -> RunResult:
    """Screen one year's area statistics and publish the eligible municipalities.

    Without a year, the year before the one the run was scheduled for is screened; `{year}` in input_path is
    replaced by it, so one deployment serves every year.
    """
    year = year or scheduled_year()
    options = RunOptions(
        year=year,
        input_path=Path(input_path.format(year=year)) if input_path else None,
        ruleset_path=Path(ruleset_path) if ruleset_path else None,
        reports_dir=Path(reports_dir) if reports_dir else paths.DEFAULT_REPORTS_DIR,
        sheet=sheet,
        dry_run=dry_run,
    )
    result = run_screening(options, stage=run_as_task)
    record_artifacts(result)
    return result
