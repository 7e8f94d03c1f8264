"""deploy/dagster.yaml against a real PostgreSQL (the `pgserver` package runs one from a
temporary data directory): a partition runs through an instance configured by that file."""

import shutil
from pathlib import Path

import dagster as dg
import pgserver
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def postgres_url(tmp_path):
    server = pgserver.get_server(tmp_path / "pgdata", cleanup_mode="stop")
    try:
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres ships psycopg2.
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        server.cleanup()


@pytest.fixture
def instance(tmp_path, postgres_url, monkeypatch):
    """Overrides conftest's instance: the `pipeline` fixture now runs against Postgres."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", postgres_url)
    with dg.DagsterInstance.from_config(str(home)) as postgres_instance:
        yield postgres_instance


def test_production_instance_keeps_the_development_queue_and_pool():
    development = yaml.safe_load((REPO / "dagster.yaml").read_text())
    production = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert production["concurrency"] == development["concurrency"]
    assert production["telemetry"] == {"enabled": False}


def test_a_partition_runs_through_the_postgres_instance(pipeline):
    instance = pipeline.instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)

    result = pipeline.materialize("2026-04-01")
    assert result.success
    [record] = instance.get_run_records()
    assert record.dagster_run.run_id == result.run_id
    for name in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend", "idle_seats"):
        [event] = instance.fetch_materializations(dg.AssetKey(name), limit=10).records
        assert event.partition_key == "2026-04-01"
    # the pool lives in Postgres too: one slot, free again after the run
    pool = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    assert pool.slot_count == 1 and pool.active_slot_count == 0
    assert len(pipeline.table("daily_spend")) == 1
