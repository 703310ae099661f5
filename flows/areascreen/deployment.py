"""The scheduled job: a Prefect deployment of the screening flow, run once a year."""

from __future__ import annotations

from typing import Any

from prefect.schedules import Cron

from areascreen.flow import screening
from areascreen.paths import ROOT

DEPLOYMENT_NAME = "yearly-publication"
# 06:00 Swedish time on 15 March, when the previous year's area statistics are out.
SCHEDULE_CRON = "0 6 15 3 *"
SCHEDULE_TIMEZONE = "Europe/Stockholm"
# The yearly input is expected at this path; {year} is the year the run was scheduled for.
DEFAULT_PARAMETERS: dict[str, Any] = {
    "input_path": str(ROOT / "data" / "incoming" / "area_statistics_{year}.parquet"),
}


def build_deployment(parameters: dict[str, Any] | None = None) -> Any:
    """The deployment: yearly cron schedule, one run at a time, the flow's parameters."""
    return screening.to_deployment(
        name=DEPLOYMENT_NAME,
        schedule=Cron(SCHEDULE_CRON, timezone=SCHEDULE_TIMEZONE),
        parameters={**DEFAULT_PARAMETERS, **(parameters or {})},
        concurrency_limit=1,
        description="Screen the year's area statistics and publish the eligible municipalities.",
        tags=["areascreen", "publication"],
    )


def serve_deployment(parameters: dict[str, Any] | None = None) -> None:
    """Register the deployment with the Prefect server and run its flow runs in this process."""
    from prefect import serve

    serve(build_deployment(parameters))
