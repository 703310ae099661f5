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
from areascreen.project import load_project
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


def run_options(
    year: int,
    input_path: str | None,
    ruleset_path: str | None,
    reports_dir: str | None,
    **settings: Any,
) -> RunOptions:
    """The pipeline's options; unset paths and language come from the project in use."""
    project = paths.current_project()
    root = project.root if project else Path.cwd()
    if settings.get("language") is None:
        settings["language"] = project.language if project else "en"
    if project is not None and "csv_style" in RunOptions.__dataclass_fields__:
        settings["csv_style"] = project.csv_style
    return RunOptions(
        year=year,
        input_path=root / input_path.format(year=year) if input_path else None,
        ruleset_path=root / ruleset_path if ruleset_path else None,
        reports_dir=root / reports_dir if reports_dir else paths.reports_dir(),
        **settings,
    )


@flow(name="screening", log_prints=True)
def screening(
    year: int | None = None,
    input_path: str | None = None,
    ruleset_path: str | None = None,
    reports_dir: str | None = None,
    sheet: str | None = None,
    dry_run: bool = False,
    language: str | None = None,
    publication: str | None = None,
    from_incoming: bool = False,
    project: str | None = None,
) -> RunResult:
    """Screen one year's area statistics and publish the eligible municipalities.

    Without a year, the year before the one the run was scheduled for is screened; `{year}` in
    input_path is replaced by it, so one deployment serves every year. `from_incoming` reads the
    project's incoming file (the scheduled job) unless input_path is given. `project` is the
    project folder (default: found from the working directory); relative paths are taken from
    it. A ruleset may be a file or the name of one in the project's or the shipped rulesets.
    """
    settings = {"sheet": sheet, "dry_run": dry_run, "language": language,
                "publication": publication}  # fmt: skip
    chosen = load_project(Path(project)) if project is not None else paths.current_project()
    with paths.project_in_use(chosen):
        return _screen(year, input_path, ruleset_path, reports_dir, from_incoming, settings)


def _screen(
    year: int | None,
    input_path: str | None,
    ruleset_path: str | None,
    reports_dir: str | None,
    from_incoming: bool,
    settings: dict[str, Any],
) -> RunResult:
    """The flow's body, with the project in use."""
    year = year or scheduled_year()
    if input_path is None and from_incoming:
        input_path = paths.incoming_input()
    if ruleset_path and not Path(ruleset_path).suffix:
        ruleset_path = str(paths.find_ruleset(ruleset_path) or ruleset_path)
    options = run_options(year, input_path, ruleset_path, reports_dir, **settings)
    result = run_screening(options, stage=run_as_task)
    record_artifacts(result)
    return result
