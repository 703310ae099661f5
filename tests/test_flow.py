"""The Prefect flow under Prefect's test harness, and the deployment of the scheduled job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.flows import load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

from areascreen.deployment import (
    DEPLOYMENT_NAME,
    SCHEDULE_CRON,
    WORK_POOL,
    build_deployment,
    prefect_yaml,
)
from areascreen.flow import screening
from areascreen.project import init_project
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
    assert deployment.parameters == {
        "from_incoming": True,
        "reports_dir": "/srv/areascreen/reports",
    }
    assert deployment.concurrency_limit == 1


def test_prefect_yaml_defines_the_yearly_job_on_a_process_pool(tmp_path: Path):
    text = (REPOSITORY_ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert text == prefect_yaml()
    init_project(tmp_path / "office")
    assert (tmp_path / "office" / "prefect.yaml").read_text(encoding="utf-8") == text
    (deployment,) = yaml.safe_load(text)["deployments"]
    assert deployment["name"] == DEPLOYMENT_NAME
    assert deployment["entrypoint"] == "areascreen.flow:screening"
    assert ".py" not in deployment["entrypoint"]
    assert load_flow_from_entrypoint(deployment["entrypoint"]) is screening
    assert deployment["work_pool"] == {"name": WORK_POOL}
    assert deployment["schedules"] == [
        {"cron": "0 6 15 3 *", "timezone": "Europe/Stockholm", "active": True}
    ]
    assert deployment["parameters"] == {"from_incoming": True}  # no year: the previous one
    assert deployment["concurrency_limit"] == 1
    assert "pull" not in yaml.safe_load(text) and yaml.safe_load(text)["build"] is None


def prefect_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The `prefect` CLI of this environment against the module's server."""
    environment = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    command = [sys.executable, "-m", "prefect", "--no-prompt", *args]
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_deployed_run_on_a_process_work_pool_publishes_into_the_project(tmp_path: Path):
    init_project(tmp_path / "office")
    office = tmp_path / "office"
    fixture_frame().to_parquet(office / "incoming" / "area_statistics_2018.parquet", index=False)
    prefect_command("work-pool", "create", WORK_POOL, "--type", "process", cwd=office)
    prefect_command("deploy", "--all", cwd=office)
    try:
        flow_run = run_deployment(
            f"screening/{DEPLOYMENT_NAME}",
            parameters={"ruleset_path": str(fixture_ruleset(tmp_path))},
            scheduled_time=datetime(2019, 3, 15, 6, tzinfo=ZoneInfo("Europe/Stockholm")),
            timeout=0,
        )
        prefect_command("worker", "start", "--pool", WORK_POOL, "--run-once", cwd=tmp_path)
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run.id).state
            deployment = client.read_deployment_by_name(f"screening/{DEPLOYMENT_NAME}")
    finally:  # the served deployment of another test registers the same name
        with get_client(sync_client=True) as client:
            client.delete_deployment(
                client.read_deployment_by_name(f"screening/{DEPLOYMENT_NAME}").id
            )
    assert state is not None and state.is_completed(), state
    assert deployment.work_pool_name == WORK_POOL
    assert deployment.entrypoint == "areascreen.flow:screening"
    published = json.loads(
        (office / "reports" / "2018" / "eligible_municipalities.json").read_text()
    )
    assert [row["municipality_code"] for row in published] == ["0127", "0180", "1280"]
    manifest = json.loads((office / "reports" / "2018" / "manifest.json").read_text())
    assert manifest["input"]["path"] == str(
        office.resolve() / "incoming" / "area_statistics_2018.parquet"
    )
    assert manifest["prefect_flow_run_id"] == str(flow_run.id)


def documented_automation() -> str:
    """The automation YAML of docs/scheduling.md, as a user copies it."""
    text = (REPOSITORY_ROOT / "docs" / "scheduling.md").read_text(encoding="utf-8")
    block = text.split("   ```yaml\n", 1)[1].split("   ```\n", 1)[0]
    return "\n".join(line.removeprefix("   ") for line in block.splitlines()) + "\n"


def test_the_documented_failure_notification_is_created_on_the_server(tmp_path: Path):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    alerts = CustomWebhookNotificationBlock(
        name="areascreen-alerts", url="http://127.0.0.1:9/hook", json_data={"text": "{{body}}"}
    )
    block_id = alerts.save("areascreen-alerts", overwrite=True)
    automation = documented_automation().replace(
        "00000000-0000-0000-0000-000000000000", str(block_id)
    )
    (tmp_path / "automation.yaml").write_text(automation, encoding="utf-8")
    prefect_command("automation", "create", "--from-file", "automation.yaml", cwd=tmp_path)
    with get_client(sync_client=True) as client:
        (created,) = client.read_automations_by_name("areascreen yearly publication failed")
    assert created.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    (action,) = created.actions
    assert action.type == "send-notification" and action.block_document_id == block_id


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
