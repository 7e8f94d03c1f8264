"""What a newcomer sees in the UI right after `budget-pipeline demo`: every partition fresh, read
through the UI's own GraphQL; then a real edit of a configuration file, observed by the sensor as
the daemon would, marks stale exactly what reads that file."""

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.config_files.jobs import observe_config_files_job
from budget_pipeline.defs.config_files.sensors import config_files_sensor
from budget_pipeline.defs.resources import ConfigFilesResource

PROJECT = Path(__file__).resolve().parents[2]
DEMO_DAYS = 3
BUDGET_ASSETS = (
    "raw_usage",
    "billed_cost",
    "priced_usage",
    "bill_reconciliation",
    "workstream_cost",
    "daily_spend",
    "idle_seats",
    "budget_forecast",
)
STALENESS = """
query($partitions: [String!]) {
  assetNodes(group: {groupName: "budget", repositoryName: "__repository__",
                     repositoryLocationName: "test_location"}) {
    assetKey { path }
    staleStatusByPartition(partitions: $partitions)
    staleCausesByPartition(partitions: $partitions) { key { path } reason }
  }
}
"""


@pytest.fixture
def demo_home(tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME filled by `budget-pipeline demo`, with the environment it ran in (the
    GraphQL code server started below inherits it)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    shutil.copytree(PROJECT / "config", tmp_path / "config")
    for name in (
        "ANTHROPIC_ADMIN_API_KEY",
        "BUDGET_PIPELINE_SOURCE",
        "BUDGET_PIPELINE_ALERT_WEBHOOK",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BUDGET_PIPELINE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("BUDGET_PIPELINE_DUCKDB", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("BUDGET_PIPELINE_REPORTS_DIR", str(tmp_path / "reports"))
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "budget-pipeline"), "demo", "--days", str(DEMO_DAYS)],
        env=dict(os.environ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return home


def demo_days() -> list[str]:
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return [str(yesterday - dt.timedelta(days=n)) for n in reversed(range(DEMO_DAYS))]


def observe_changed_files(instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    """One tick of config_files_sensor and the observation run it requests, as the daemon runs
    them once `dg dev` starts."""
    config_files = ConfigFilesResource(directory=os.environ["BUDGET_PIPELINE_CONFIG_DIR"])
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"config_files": config_files}
    ) as context:
        result = config_files_sensor(context)
    if not isinstance(result, dg.SensorResult):
        return cursor
    [request] = result.run_requests
    job = dg.Definitions(
        assets=config_sources,
        jobs=[observe_config_files_job],
        resources={"config_files": config_files},
    ).resolve_job_def(observe_config_files_job.name)
    assert job.execute_in_process(
        instance=instance, asset_selection=request.asset_selection
    ).success
    return result.cursor


def staleness_in_the_ui(instance: dg.DagsterInstance) -> dict[str, dict[str, tuple]]:
    """asset → partition → (status, causes), as the UI's asset graph reads them."""
    with define_out_of_process_context(
        str(PROJECT / "budget_pipeline" / "definitions.py"), "defs", instance
    ) as context:
        nodes = execute_dagster_graphql(context, STALENESS, {"partitions": demo_days()}).data[
            "assetNodes"
        ]
    return {
        "/".join(node["assetKey"]["path"]): {
            day: (status, [("/".join(c["key"]["path"]), c["reason"]) for c in causes])
            for day, status, causes in zip(
                demo_days(),
                node["staleStatusByPartition"],
                node["staleCausesByPartition"],
                strict=True,
            )
        }
        for node in nodes
    }


def test_after_the_demo_no_partition_is_stale_until_a_config_file_is_edited(demo_home):
    with dg.DagsterInstance.from_config(str(demo_home)) as instance:
        cursor = observe_changed_files(instance, cursor=None)
        fresh = staleness_in_the_ui(instance)
        assert sorted(fresh) == sorted(BUDGET_ASSETS)
        for asset, by_day in fresh.items():
            for day, (status, causes) in by_day.items():
                assert status == "FRESH", (asset, day, causes)

        prices = Path(os.environ["BUDGET_PIPELINE_CONFIG_DIR"]) / "prices.csv"
        lines = prices.read_text().splitlines()
        model, input_price, *rest = lines[1].split(",")
        lines[1] = ",".join([model, str(float(input_price) * 2), *rest])
        prices.write_text("\n".join(lines) + "\n")
        observe_changed_files(instance, cursor)

        edited = staleness_in_the_ui(instance)
        for day, (status, causes) in edited["priced_usage"].items():
            assert status == "STALE", day
            assert causes == [("prices_csv", "has a new data version")]
        # only what reads prices.csv: the rest waits for priced_usage to be re-materialised
        for asset in ("raw_usage", "workstream_cost", "daily_spend", "idle_seats"):
            assert {status for status, _ in edited[asset].values()} == {"FRESH"}, asset
