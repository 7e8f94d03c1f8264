"""Shared by the reliability tests: one clean reference run, table comparisons, the CLI."""

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from budget_pipeline.cli import main as cli
from budget_pipeline.defs.resources import AnalyticsApiResource
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.warehouse.tables import TABLES
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION, Pipeline

PROJECT = Path(__file__).resolve().parents[2]
# Eight days: the last one is the only day with a full 7-day baseline (docs/rules.md).
REFERENCE_START, REFERENCE_END = "2026-03-02", "2026-03-09"
SORT_KEYS = {
    "raw_usage": ["usage_date", "actor", "record_json"],
    "raw_token_usage": ["usage_date", "actor", "model", "record_json"],
    "priced_usage": ["usage_date", "actor", "model"],
    "workstream_cost": ["usage_date", "workstream"],
    "daily_spend": ["usage_date"],
    "idle_seats": ["as_of", "email"],
    "budget_forecast": ["as_of", "workstream"],
    "billed_cost": ["usage_date", "actor", "actor_type", "model"],
    "bill_reconciliation": ["usage_date"],
}


def read_tables(duckdb_file: Path) -> dict[str, pd.DataFrame]:
    """Every budget table, sorted by its grain; empty frames when the file was never written."""
    tables = {}
    connection = duckdb.connect(str(duckdb_file), read_only=True) if duckdb_file.exists() else None
    try:
        for name, table in TABLES.items():
            if connection is None:
                frame = pd.DataFrame(columns=table.column_names)
            else:
                frame = connection.execute(f"SELECT * FROM {table.qualified_name}").fetchdf()
            tables[name] = frame.sort_values(SORT_KEYS[name]).reset_index(drop=True)
    finally:
        if connection is not None:
            connection.close()
    return tables


def rows_of_days(tables: dict[str, pd.DataFrame], start: str, end: str) -> dict[str, pd.DataFrame]:
    selected = {}
    for name, frame in tables.items():
        day = pd.to_datetime(frame[TABLES[name].partition_column])
        keep = (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))
        selected[name] = frame.loc[keep].reset_index(drop=True)
    return selected


def assert_tables_equal(actual: dict, expected: dict) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(
            actual[name], expected[name], check_dtype=False, obj=f"budget.{name}"
        )


def day_counts(frame: pd.DataFrame, table: str) -> dict:
    return frame[TABLES[table].partition_column].value_counts().to_dict()


class Reference:
    """A clean run of REFERENCE_START … REFERENCE_END: what every faulted run must reproduce."""

    def __init__(self, duckdb_file: Path):
        self.duckdb_file = duckdb_file
        self.tables = read_tables(duckdb_file)

    def days(self, start: str, end: str) -> dict[str, pd.DataFrame]:
        return rows_of_days(self.tables, start, end)

    def copy_to(self, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.duckdb_file, destination)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Reference:
    root = tmp_path_factory.mktemp("reference")
    config = root / "config"
    config.mkdir()
    TEST_ORGANISATION.write_config(config)
    with (
        UsageApiServer(TEST_ORGANISATION, api_key=TEST_API_KEY) as server,
        dg.instance_for_test() as instance,
    ):
        clean = Pipeline(server, config, root / "warehouse.duckdb", instance)
        assert clean.materialize(REFERENCE_START, REFERENCE_END).success
    reference = Reference(clean.duckdb_file)
    # Too short for an idle-seat verdict, and March is not loaded from its 1st: no forecast.
    without_rows = {"idle_seats", "budget_forecast", "raw_token_usage"}
    assert all(len(reference.tables[name]) for name in TABLES if name not in without_rows)
    return reference


# -- the Enterprise source ------------------------------------------------------------------------

TEST_ANALYTICS_KEY = "sk-ant-analytics-TEST-2c8e41"
# Far enough ahead that the server's lag serves every test day.
ENTERPRISE_TODAY = dt.date(2026, 6, 1)


def enterprise_server() -> UsageApiServer:
    return UsageApiServer(
        TEST_ORGANISATION, api_key=TEST_ANALYTICS_KEY, today=ENTERPRISE_TODAY, seat_plan=True
    )


def enterprise_api(server: UsageApiServer, **settings) -> AnalyticsApiResource:
    defaults = {
        "source": "enterprise",
        "base_url": server.base_url,
        "analytics_api_key": TEST_ANALYTICS_KEY,
        "page_limit": 15,
        "timeout_seconds": 1.0,
        "max_attempts": 4,
        "base_delay_seconds": 0.05,
        "max_delay_seconds": 0.2,
    }
    return AnalyticsApiResource(**(defaults | settings))


@pytest.fixture(scope="session")
def enterprise_reference(tmp_path_factory) -> Reference:
    """A clean Enterprise run of REFERENCE_START … REFERENCE_END."""
    root = tmp_path_factory.mktemp("enterprise_reference")
    config = root / "config"
    config.mkdir()
    TEST_ORGANISATION.write_config(config)
    with enterprise_server() as server, dg.instance_for_test() as instance:
        clean = Pipeline(server, config, root / "warehouse.duckdb", instance)
        clean.api = enterprise_api(server)
        assert clean.materialize(REFERENCE_START, REFERENCE_END).success
    return Reference(clean.duckdb_file)


@pytest.fixture
def enterprise_pipeline(config_dir, duckdb_file, instance) -> Pipeline:
    with enterprise_server() as server:
        pipeline = Pipeline(server, config_dir, duckdb_file, instance)
        pipeline.api = enterprise_api(server)
        yield pipeline


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step → its error message and the messages of its causes, as the Dagster UI shows
    them (an IO manager's error is wrapped in DagsterExecutionHandleOutputError)."""
    failures = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error, messages = event.step_failure_data.error, []
            while error is not None:
                messages.append(error.message)
                error = error.cause
            failures[event.step_key] = "".join(messages)
    return failures


# -- the documented CLI in a subprocess ----------------------------------------------------------


def dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml (its `duckdb_warehouse` pool limit)."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    # Create the instance's SQLite storage once, as on any machine that ran Dagster before: two
    # CLI processes creating a brand-new storage at the same instant can race on its DDL.
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


def cli_environment(
    home: Path, server: UsageApiServer, config_dir: Path, duckdb_file: Path, **extra: str
) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "BUDGET_PIPELINE_", "DAGSTER_"))
    }
    return environment | {
        "DAGSTER_HOME": str(home),
        "ANTHROPIC_ADMIN_API_KEY": TEST_API_KEY,
        "ANTHROPIC_BASE_URL": server.base_url,
        "BUDGET_PIPELINE_CONFIG_DIR": str(config_dir),
        "BUDGET_PIPELINE_DUCKDB": str(duckdb_file),
        **extra,
    }


def materialize_command(start: str, end: str) -> list[str]:
    """The documented CLI backfill, built by the same function `budget-pipeline` uses."""
    return cli.materialize_command(dt.date.fromisoformat(start), dt.date.fromisoformat(end))


def start_materialize(
    start: str, end: str, environment: dict, cwd: Path, log: Path | None = None
) -> subprocess.Popen:
    """With `log`, the output goes to that file: a process nobody reads from while the test waits
    would otherwise block once its pipe is full (Dagster logs every event)."""
    output = log.open("w") if log is not None else subprocess.PIPE
    # Its own session, so that a SIGKILL reaches the whole process group.
    return subprocess.Popen(
        materialize_command(start, end),
        env=environment,
        cwd=cwd,
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run_materialize(
    start: str, end: str, environment: dict, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        materialize_command(start, end),
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
