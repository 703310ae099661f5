"""The Prefect flow under Prefect's test harness, and the deployment of the scheduled job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

from areascreen.deployment import DEPLOYMENT_NAME, SCHEDULE_CRON, build_deployment
from areascreen.flow import screening
from tests.conftest import REPOSITORY_ROOT
from tests.fixture_areas import fixture_frame, fixture_ruleset
from tests.helpers import snapshot_tree

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def prefect_server():
    """One temporary Prefect server for the module."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_the_flow_publishes_and_records_its_run(tmp_path: Path):
    source = tmp_path / "areas_{year}.parquet"
    fixture_frame().to_parquet(tmp_path / "areas_2018.parquet", index=False)
    state = screening(
        year=2018,
        input_path=str(source),
        ruleset_path=str(fixture_ruleset(tmp_path)),
        reports_dir=str(tmp_path / "reports"),
        return_state=True,
    )
    assert state.is_completed()
    result = state.result()
    assert result.eligible_codes == ["0127", "0180", "1280"]
    manifest = json.loads((tmp_path / "reports" / "2018" / "manifest.json").read_text())
    assert manifest["prefect_flow_run_id"] == str(state.state_details.flow_run_id)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert set(by_key) == {"eligible-municipalities-2018", "screening-summary-2018"}
    assert "Botkyrka" in str(by_key["eligible-municipalities-2018"].data)


def test_a_failing_gate_fails_the_flow_run_and_publishes_nothing(tmp_path: Path):
    good = tmp_path / "good.parquet"
    fixture_frame().to_parquet(good, index=False)
    reports = tmp_path / "reports"
    rules = str(fixture_ruleset(tmp_path))
    screening(year=2018, input_path=str(good), ruleset_path=rules, reports_dir=str(reports))
    before = snapshot_tree(reports / "2018")
    bad = fixture_frame()
    bad.loc[3, "voters"] = -1
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    state = screening(
        year=2018, input_path=str(tmp_path / "bad.parquet"), ruleset_path=rules,
        reports_dir=str(reports), return_state=True,
    )  # fmt: skip
    assert state.is_failed()
    assert "1280C1010" in str(state.message) or "voters" in str(state.message)
    assert snapshot_tree(reports / "2018") == before


def test_the_deployment_loads_with_its_yearly_schedule():
    deployment = build_deployment({"reports_dir": "/srv/areascreen/reports"})
    assert deployment.name == DEPLOYMENT_NAME
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == SCHEDULE_CRON == "0 6 15 3 *"
    assert schedule.schedule.timezone == "Europe/Stockholm"
    assert deployment.parameters["reports_dir"] == "/srv/areascreen/reports"
    assert deployment.parameters["input_path"].endswith("area_statistics_{year}.parquet")
    assert deployment.concurrency_limit == 1


def test_a_run_of_the_served_deployment_completes_through_the_server(tmp_path: Path):
    fixture_frame().to_parquet(tmp_path / "areas_2018.parquet", index=False)
    reports = tmp_path / "reports"
    environment = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    command = [sys.executable, "-m", "areascreen.cli", "-q", "serve", "--out", str(reports),
               "--input", str(tmp_path / "areas_{year}.parquet")]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPOSITORY_ROOT, env=environment)
    try:
        flow_run = None
        deadline = time.monotonic() + 120
        while flow_run is None:
            try:
                flow_run = run_deployment(
                    f"screening/{DEPLOYMENT_NAME}",
                    parameters={"year": 2018, "ruleset_path": str(fixture_ruleset(tmp_path))},
                    timeout=180,
                    poll_interval=1,
                )
            except Exception:  # the deployment is not registered until `serve` has started
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
        published = json.loads((reports / "2018" / "eligible_municipalities.json").read_text())
        assert [row["municipality_code"] for row in published] == ["0127", "0180", "1280"]
    finally:
        server.terminate()
        server.wait(timeout=30)
