"""`dagster dev` with the project's dagster.yaml and workspace.yaml, driven through GraphQL.

A UI backfill (GraphQL `launchPartitionBackfill`, run by the daemon through the run queue) and a
CLI backfill (`dagster asset materialize`, which bypasses the queue) start together: both must
succeed, and the `duckdb_warehouse` pool must keep their DuckDB-writing steps from overlapping.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest

from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.rules import config_files as config_rules
from budget_pipeline_tests.commands import new_dagster_home, start_dev, stop_process_group
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION

REPO = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")
BUDGET_ASSETS = [
    "raw_usage",
    "priced_usage",
    "workstream_cost",
    "daily_spend",
    "idle_seats",
    "budget_forecast",
    "billed_cost",
    "bill_reconciliation",
]
RAW_LAYER_ASSETS = ("raw_usage", "billed_cost")
# One step per asset, but raw_usage and billed_cost are fetched side by side in one step.
BUDGET_STEPS = ["raw_layer", *(name for name in BUDGET_ASSETS if name not in RAW_LAYER_ASSETS)]
UI_DAYS = ["2026-04-06", "2026-04-07", "2026-04-08"]
CLI_RANGE = "2026-04-01...2026-04-03"
STARTUP_TIMEOUT = 180
RUN_TIMEOUT = 300
# Slow pages keep each run inside raw_usage for a while, so the two runs' steps interleave.
PAGE_LATENCY = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webserver:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str, **variables) -> dict:
        response = httpx.post(self.url, json={"query": text, "variables": variables}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_until_loaded(self, process: subprocess.Popen, log: Path) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert process.poll() is None, f"dagster dev exited:\n{log.read_text()[-3000:]}"
            try:
                data = self.query(
                    "{ workspaceOrError { ... on Workspace { locationEntries { name "
                    "loadStatus locationOrLoadError { __typename } } } } }"
                )
                entries = data["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        pytest.fail(f"dagster dev not ready after {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}")


ASSET_GRAPH = """
{
  assetNodes(group: {groupName: "budget", repositoryName: "__repository__",
                     repositoryLocationName: "budget_pipeline"}) {
    assetKey { path }
    groupName
    partitionDefinition { type name }
    partitionKeysByDimension { partitionKeys }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes { name location { name } schedules { name cronSchedule executionTimezone }
              sensors { name sensorType } }
    }
  }
}
"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""

BACKFILL_STATUS = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 10) { runId status tags { key value } } }
  }
}
"""

RUNS = """
{ runsOrError { ... on Runs { results { runId status jobName } } } }
"""


@pytest.fixture
def slow_api_server():
    with UsageApiServer(TEST_ORGANISATION, api_key=TEST_API_KEY, page_latency=PAGE_LATENCY) as s:
        yield s


@pytest.fixture
def dagster_dev(tmp_path, slow_api_server):
    home = new_dagster_home(tmp_path)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    TEST_ORGANISATION.write_config(config_dir)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BUDGET_PIPELINE_DUCKDB": str(tmp_path / "data" / "warehouse.duckdb"),
        "BUDGET_PIPELINE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": slow_api_server.base_url,
        "ANTHROPIC_ADMIN_API_KEY": TEST_API_KEY,
    }
    env.pop("BUDGET_PIPELINE_ALERT_WEBHOOK", None)
    port = free_port()
    log = tmp_path / "dagster_dev.log"
    # From the repository root without -m: the project's workspace.yaml is what loads.
    process = start_dev(DAGSTER, port, REPO, env, log)
    try:
        webserver = Webserver(port)
        webserver.wait_until_loaded(process, log)
        yield webserver, env, home, log
    finally:
        stop_process_group(process)


def launch_ui_backfill(webserver: Webserver, days: list[str] = UI_DAYS) -> dict:
    """A backfill of the budget assets over `days`, launched through GraphQL as the UI does."""
    launched = webserver.query(
        LAUNCH_BACKFILL,
        params={
            "partitionsByAssets": [
                {
                    "assetKey": {"path": [name]},
                    "partitions": {"range": {"start": days[0], "end": days[-1]}},
                }
                for name in BUDGET_ASSETS
            ],
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    return launched


def duckdb_lock_error(text: str) -> bool:
    # DuckDB's "Could not set lock on file ... Conflicting lock is held", or the warehouse's own
    # WarehouseLockedError after waiting; "Step blocked by limit for pool" is the pool working.
    text = text.lower()
    return "conflicting lock" in text or "cannot open the warehouse" in text


def pool_step_windows(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float]]:
    """(start, end) of each step that holds the warehouse pool: the budget assets' steps."""
    started, windows = {}, []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key not in BUDGET_STEPS:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
        ):
            windows.append((started[event.step_key], entry.timestamp))
    return windows


def test_ui_and_cli_backfills_together_through_dagster_dev(dagster_dev, slow_api_server):
    webserver, env, home, log = dagster_dev

    graph = webserver.query(ASSET_GRAPH)
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graph["assetNodes"]}
    assert sorted(nodes) == sorted(BUDGET_ASSETS)
    for node in nodes.values():
        assert node["partitionDefinition"]["type"] == "TIME_WINDOW"
        keys = node["partitionKeysByDimension"][0]["partitionKeys"]
        assert keys[0] == "2026-01-01" and "2026-04-08" in keys
        assert node["assetChecksOrError"]["checks"], node
    [repository] = graph["repositoriesOrError"]["nodes"]
    assert repository["location"]["name"] == "budget_pipeline"
    schedules = {
        s["name"]: (s["cronSchedule"], s["executionTimezone"]) for s in repository["schedules"]
    }
    assert schedules["budget_daily_schedule"] == ("0 6 * * *", "UTC")
    assert schedules["bill_weekly_schedule"] == ("0 7 * * 1", "UTC")
    sensors = {s["name"]: s["sensorType"] for s in repository["sensors"]}
    assert sensors["spend_alert_sensor"] == "STANDARD"
    assert sensors["run_failure_notifier"] == "STANDARD"  # reads run failures itself
    assert sensors["budget_alert_sensor"] == "STANDARD"
    assert sensors["config_files_sensor"] == "STANDARD"

    # The UI backfill and the CLI backfill start together. The API holds its pages until the CLI
    # run has started, so the UI run is still inside raw_usage (holding the pool slot) when the
    # CLI run arrives however slowly the CLI process starts up.
    slow_api_server.hold_timeout = 90  # past the client's 30 s timeout: it retries, and waits
    slow_api_server.hold.clear()
    launched = launch_ui_backfill(webserver)
    # the CLI backfill starts while the UI's run is executing (it holds the pool slot)
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        ui_runs = webserver.query(BACKFILL_STATUS, id=launched["backfillId"])[
            "partitionBackfillOrError"
        ]["runs"]
        if any(run["status"] == "STARTED" for run in ui_runs):
            break
        assert time.monotonic() < deadline, f"no UI run started:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    ui_run_ids = {run["runId"] for run in ui_runs}
    cli = subprocess.Popen(
        [
            *(DAGSTER, "asset", "materialize", "-m", "budget_pipeline.definitions"),
            *("--select", "group:budget", "--partition-range", CLI_RANGE),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + RUN_TIMEOUT
    while not any(
        run["status"] == "STARTED"
        and run["runId"] not in ui_run_ids
        and run["jobName"] != "observe_config_files_job"
        for run in webserver.query(RUNS)["runsOrError"]["results"]
    ):
        assert cli.poll() is None, cli.communicate()[0].decode()[-3000:]
        assert time.monotonic() < deadline, "the CLI run never started"
        time.sleep(0.2)
    slow_api_server.hold.set()
    try:
        cli_output, _ = cli.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(cli.pid, signal.SIGKILL)
        pytest.fail("the CLI backfill did not finish in time")
    cli_output = cli_output.decode()
    assert cli.returncode == 0, cli_output[-3000:]

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        backfill = webserver.query(BACKFILL_STATUS, id=launched["backfillId"])
        backfill = backfill["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED",) and all(
            run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in backfill["runs"]
        ):
            break
        assert time.monotonic() < deadline, f"backfill still {backfill}:\n{log.read_text()[-3000:]}"
        time.sleep(2)
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    # BackfillPolicy.single_run(): the three days are one run over a partition range
    [run] = backfill["runs"]
    assert run["status"] == "SUCCESS"
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags["dagster/asset_partition_range_start"] == UI_DAYS[0]
    assert tags["dagster/asset_partition_range_end"] == UI_DAYS[-1]

    assert not duckdb_lock_error(cli_output)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # config_files_sensor runs by default: its observation runs are not backfills
        [cli_run] = [
            record.dagster_run
            for record in instance.get_run_records()
            if record.dagster_run.run_id != run["runId"]
            and record.dagster_run.job_name != "observe_config_files_job"
        ]
        ui_windows = pool_step_windows(instance, run["runId"])
        cli_windows = pool_step_windows(instance, cli_run.run_id)
        assert len(ui_windows) == len(cli_windows) == len(BUDGET_STEPS)
        # the two runs really ran at the same time...
        ui_record, cli_record = (
            instance.get_run_record_by_id(run_id) for run_id in (run["runId"], cli_run.run_id)
        )
        assert cli_record.start_time < ui_record.end_time
        assert ui_record.start_time < cli_record.end_time
        # one pool slot: no DuckDB-writing step of one run overlaps one of the other
        for start, end in ui_windows:
            for other_start, other_end in cli_windows:
                assert end <= other_start or other_end <= start
        for run_id in (run["runId"], cli_run.run_id):
            for entry in instance.all_logs(run_id):
                assert not duckdb_lock_error(entry.user_message or "")


STALENESS = """
query($partitions: [String!]) {
  assetNodes(group: {groupName: "budget", repositoryName: "__repository__",
                     repositoryLocationName: "budget_pipeline"}) {
    assetKey { path }
    staleStatusByPartition(partitions: $partitions)
  }
}
"""


def last_observed_version(home: Path, asset: str) -> str | None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_observations(dg.AssetKey(asset), limit=1).records
    return records[0].asset_observation.tags.get("dagster/data_version") if records else None


def test_a_ui_backfill_right_after_an_edit_stays_fresh_once_the_sensor_sees_the_edit(dagster_dev):
    """The sensor observes a file up to a minute after it changes; a backfill launched from the
    UI in that minute computes with the edited file, and records so before its first step."""
    webserver, env, home, log = dagster_dev
    deadline = time.monotonic() + RUN_TIMEOUT
    while (first := last_observed_version(home, "prices_csv")) is None:
        assert time.monotonic() < deadline, f"prices.csv never observed:\n{log.read_text()[-3000:]}"
        time.sleep(1)

    prices = Path(env["BUDGET_PIPELINE_CONFIG_DIR"]) / "prices.csv"
    prices.write_text(prices.read_text().replace("claude-opus-4-1,15,", "claude-opus-4-1,16,"))
    edited = config_rules.content_hash(prices)
    launched = launch_ui_backfill(webserver)
    deadline = time.monotonic() + RUN_TIMEOUT
    while (
        status := webserver.query(BACKFILL_STATUS, id=launched["backfillId"])[
            "partitionBackfillOrError"
        ]["status"]
    ) == "REQUESTED":
        assert time.monotonic() < deadline, f"backfill still running:\n{log.read_text()[-3000:]}"
        time.sleep(2)
    assert status == "COMPLETED_SUCCESS", log.read_text()[-3000:]

    # then the sensor's next tick observes the edited file (a run already recorded it)
    deadline = time.monotonic() + RUN_TIMEOUT
    while last_observed_version(home, "prices_csv") != edited:
        assert time.monotonic() < deadline, "the edited prices.csv was never observed"
        time.sleep(2)
    assert edited != first
    nodes = webserver.query(STALENESS, partitions=UI_DAYS)["assetNodes"]
    for node in nodes:
        assert set(node["staleStatusByPartition"]) == {"FRESH"}, node
