"""The scheduled job: a Prefect deployment of the screening flow, run once a year.

Two ways to run it: `prefect deploy` with the `prefect.yaml` of the repository or of a project
(a process work pool and its worker: the production way), or `areascreen serve` (the deployment
served from that one process: a quick start).
"""

from __future__ import annotations

from typing import Any

from prefect.schedules import Cron

from areascreen.flow import screening

DEPLOYMENT_NAME = "yearly-publication"
FLOW_ENTRYPOINT = "areascreen.flow:screening"
WORK_POOL = "areascreen"
# 06:00 Swedish time on 15 March, when the previous year's area statistics are out.
SCHEDULE_CRON = "0 6 15 3 *"
SCHEDULE_TIMEZONE = "Europe/Stockholm"
DESCRIPTION = "Screen the previous year's area statistics and publish the eligible municipalities."
TAGS = ("areascreen", "publication")
# No year: the flow screens the year before the run's scheduled year. The input is the
# project's incoming file (areascreen.toml: [paths] incoming, [schedule] input).
DEFAULT_PARAMETERS: dict[str, Any] = {"from_incoming": True}


def build_deployment(parameters: dict[str, Any] | None = None) -> Any:
    """The deployment: yearly cron schedule, one run at a time, the flow's parameters."""
    return screening.to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=Cron(SCHEDULE_CRON, timezone=SCHEDULE_TIMEZONE),
        parameters={**DEFAULT_PARAMETERS, **(parameters or {})},
        concurrency_limit=1,
        description=DESCRIPTION,
        tags=list(TAGS),
    )


def serve_deployment(parameters: dict[str, Any] | None = None) -> None:
    """Register the deployment with the Prefect server and run its flow runs in this process."""
    from prefect import serve

    serve(build_deployment(parameters))


PREFECT_YAML = """\
# The yearly publication as a Prefect deployment on a process work pool.
#
#   prefect work-pool create {pool} --type process
#   prefect deploy --all                 # from this folder: registers {flow}/{name}
#   prefect worker start --pool {pool}   # runs the scheduled flow runs
#
# With no `pull` steps, `prefect deploy` records the folder it runs in as the working directory
# of every flow run: the flow then finds the project there (areascreen.toml), reads
# <incoming>/<schedule.input> and publishes to the project's reports folder.
# `year` is not set: a run screens the year before its scheduled year (a March screening uses
# the previous year's statistics). Give it to rerun a year: -p year=2018.
name: areascreen
prefect-version: 3.4.0

build: null
push: null

deployments:
  - name: {name}
    description: {description}
    entrypoint: {entrypoint}
    tags: [{tags}]
    parameters:
      from_incoming: true
    work_pool:
      name: {pool}
    schedules:
      - cron: "{cron}"
        timezone: {timezone}
        active: true
    concurrency_limit: 1
"""


def prefect_yaml() -> str:
    """The text of `prefect.yaml`, as in the repository and in every project `init` writes."""
    return PREFECT_YAML.format(
        pool=WORK_POOL,
        flow=screening.name,
        name=DEPLOYMENT_NAME,
        description=DESCRIPTION,
        entrypoint=FLOW_ENTRYPOINT,
        tags=", ".join(TAGS),
        cron=SCHEDULE_CRON,
        timezone=SCHEDULE_TIMEZONE,
    )
