"""The documented command, end to end: `dagster asset materialize` in a subprocess against the
loopback API server, sharing one DAGSTER_HOME, then the summary."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from budget_pipeline.demo.organisation import DEMO_ORGANISATION
from budget_pipeline_tests.conftest import TEST_API_KEY

PROJECT = Path(__file__).resolve().parents[2]


def test_range_backfill_through_the_dagster_cli(api_server, config_dir, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    warehouse_file = tmp_path / "warehouse.duckdb"
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ANTHROPIC_ADMIN_API_KEY": TEST_API_KEY,
        "ANTHROPIC_BASE_URL": api_server.base_url,
        "BUDGET_PIPELINE_CONFIG_DIR": str(config_dir),
        "BUDGET_PIPELINE_DUCKDB": str(warehouse_file),
        "BUDGET_PIPELINE_START_DATE": "2026-03-01",
    }
    command = [str(Path(sys.executable).parent / "budget-pipeline"), "backfill"]
    completed = subprocess.run(
        [*command, "2026-03-02", "2026-04-15"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "--partition-range 2026-03-02...2026-04-15" in completed.stdout
    assert "Spend per workstream" in completed.stdout
    assert "Alert days: 2" in completed.stdout
    assert "idle.person@example.com" in completed.stdout
    assert TEST_API_KEY not in completed.stdout + completed.stderr

    with duckdb.connect(str(warehouse_file), read_only=True) as connection:
        counts = {
            table: connection.execute(f"SELECT count(*) FROM budget.{table}").fetchone()[0]
            for table in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend")
        }
        spend_days = connection.execute(
            "SELECT count(DISTINCT usage_date) FROM budget.daily_spend"
        ).fetchone()[0]
    assert all(counts.values()), counts
    assert spend_days == 45

    # one run, recorded in the shared instance the UI reads
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        assert runs[0].tags["dagster/asset_partition_range_start"] == "2026-03-02"
        assert runs[0].tags["dagster/asset_partition_range_end"] == "2026-04-15"
        assert runs[0].run_config == {} or TEST_API_KEY not in str(runs[0].run_config)


def test_committed_demo_config_is_the_demo_organisation(tmp_path):
    DEMO_ORGANISATION.write_config(tmp_path)
    for name in ("workstreams.csv", "prices.csv", "seats.csv"):
        assert (PROJECT / "config" / name).read_text() == (tmp_path / name).read_text(), name
        assert not pd.read_csv(PROJECT / "config" / name).empty
