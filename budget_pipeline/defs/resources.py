import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRunStatus
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster._core.storage.runs import SqliteRunStorage
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasTypeHandler
from pydantic import Field

from budget_pipeline import warehouse
from budget_pipeline.api.client import (
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_REQUEST_DEADLINE,
    AnalyticsClient,
    RetryPolicy,
)
from budget_pipeline.report import files as report_files
from budget_pipeline.rules import config_files

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEMO_API_KEY = "sk-ant-admin-demo"


class AnalyticsApiResource(dg.ConfigurableResource):
    """The Claude Code Analytics Admin API (SPEC §2), or the built-in demo organisation served
    through the same HTTP client by a loopback server (`source="demo"`)."""

    source: str = Field(
        default="demo", description="api: the real API; demo: built-in organisation"
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API base URL (proxies, tests)")
    api_key: str | None = Field(default=None, description="Admin key; set it through an EnvVar")
    max_concurrent_days: int = Field(
        default=16, description="days fetched at once (benchmarks/fetch_and_stage.py)"
    )
    page_limit: int = Field(default=1000, description="records per page (the API's maximum)")
    timeout_seconds: float = Field(default=30.0, description="connect/read timeout of one request")
    request_deadline_seconds: float = Field(
        default=DEFAULT_REQUEST_DEADLINE,
        description="longest one request may take, body included, before it is retried",
    )
    max_attempts: int = Field(default=6, description="attempts per page before the run fails")
    base_delay_seconds: float = Field(default=0.5, description="first backoff delay")
    max_delay_seconds: float = Field(default=30.0, description="backoff cap")
    max_retry_after_seconds: float = Field(
        default=DEFAULT_MAX_RETRY_AFTER,
        description="longest retry-after waited out; a longer one fails the run",
    )

    @contextmanager
    def client(self, logger=None) -> Iterator[AnalyticsClient]:
        with ExitStack() as stack:
            if self.source == "demo":
                # Imported lazily: production runs never load the synthetic organisation.
                from budget_pipeline.demo.organisation import DEMO_ORGANISATION
                from budget_pipeline.demo.server import UsageApiServer

                server = stack.enter_context(
                    UsageApiServer(DEMO_ORGANISATION, api_key=DEMO_API_KEY)
                )
                base_url, api_key = server.base_url, DEMO_API_KEY
            elif self.source == "api":
                if not self.api_key:
                    raise dg.Failure(
                        "BUDGET_PIPELINE_SOURCE is 'api' but ANTHROPIC_ADMIN_API_KEY is not set"
                    )
                base_url, api_key = self.base_url, self.api_key
            else:
                raise dg.Failure(f"unknown source {self.source!r}: expected 'api' or 'demo'")
            client = stack.enter_context(
                AnalyticsClient(
                    base_url,
                    api_key,
                    timeout=self.timeout_seconds,
                    request_deadline=self.request_deadline_seconds,
                    max_concurrent_days=self.max_concurrent_days,
                    page_limit=self.page_limit,
                    retry=RetryPolicy(
                        max_attempts=self.max_attempts,
                        base_delay=self.base_delay_seconds,
                        max_delay=self.max_delay_seconds,
                        max_retry_after=self.max_retry_after_seconds,
                    ),
                    logger=logger,
                )
            )
            yield client


class ConfigFilesResource(dg.ConfigurableResource):
    """The three configuration files of SPEC §3."""

    directory: str = Field(default="config", description="folder holding the three CSV files")

    def path(self, name: str) -> Path:
        return Path(self.directory) / name

    def ledger(self) -> pd.DataFrame:
        return config_files.load_ledger(self.path(config_files.LEDGER_FILE))

    def prices(self) -> pd.DataFrame:
        return config_files.load_prices(self.path(config_files.PRICES_FILE))

    def seats(self) -> pd.DataFrame:
        return config_files.load_seats(self.path(config_files.SEATS_FILE))


class WarehouseResource(dg.ConfigurableResource):
    """Direct SQL access to the DuckDB warehouse, for reads that reach beyond a run's own
    partitions (history for baselines, last_active)."""

    path: str = Field(default=warehouse.DEFAULT_DUCKDB_PATH, description="DuckDB file")

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.path) as connection:
            yield connection


class ReportsResource(dg.ConfigurableResource):
    """Where the monthly budget reports are written, one folder per month."""

    directory: str = Field(
        default=report_files.DEFAULT_REPORTS_DIR, description="folder of the monthly reports"
    )


class _AtomicDuckDbClient(DuckDbClient):
    """dagster-duckdb deletes a partition range and inserts its rows in two statements; a crash
    between them would leave those days empty. One transaction makes the replacement atomic."""

    @staticmethod
    @contextmanager
    def connect(context, _table_slice):
        with (
            warehouse.connect(context.resource_config["database"]) as connection,
            warehouse.transaction(connection),
        ):
            yield connection

    @staticmethod
    def ensure_schema_exists(context, table_slice, connection) -> None:
        # warehouse.connect already created the schema and every table from the contract.
        pass


class _WarehouseFrameHandler(DuckDBPandasTypeHandler):
    """Writes into tables created from the contract (so types never depend on a day's data and
    a day without rows is still a written day) and reads dates back as pandas datetimes."""

    def handle_output(self, context, table_slice: TableSlice, obj: pd.DataFrame, connection):
        warehouse.insert_frame(connection, warehouse.TABLES[table_slice.table], obj)
        return {"dagster/partition_row_count": len(obj)} if context.has_partition_key else {}

    def load_input(self, context, table_slice: TableSlice, connection) -> pd.DataFrame:
        frame = super().load_input(context, table_slice, connection)
        return warehouse.as_contract_dtypes(table_slice.table, frame)


class WarehouseIOManager(DuckDBIOManager):
    """DuckDB IO manager for the budget tables: atomic day replacement, contract-typed tables."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [_WarehouseFrameHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        if context.instance is not None:
            release_pool_slots_of_dead_runs(context.instance, context.log)
        return DbIOManager(
            db_client=_AtomicDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )


# The newest unfinished runs looked at by each run: a killed run is noticed by the next one.
UNFINISHED_RUNS_CHECKED = 50


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_pool_slots_of_dead_runs(instance: dg.DagsterInstance, log=None) -> list[str]:
    """Free the `duckdb_warehouse` pool slots held by runs whose process is gone, and mark every
    run whose process is gone as failed (a run killed between two steps holds no slot, but would
    show as started forever).

    A run killed mid-step (SIGKILL, OOM, a reboot) never frees its pool slot, and Dagster only
    frees slots of dead runs through the daemon's run monitoring, so every later run would wait
    on "Step blocked by limit for pool duckdb_warehouse" forever. DuckDB releases a dead
    process's file lock by itself; this makes the pool follow the same rule. Only for instances
    on local SQLite storage, whose runs all ran on this machine (so a pid can be checked).
    Returns the ids of the runs whose slots were freed.
    """
    if not isinstance(instance.run_storage, SqliteRunStorage):
        return []
    log = log or logging.getLogger("budget_pipeline.warehouse")
    released = []
    unfinished = instance.get_run_ids(
        filters=dg.RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]),
        limit=UNFINISHED_RUNS_CHECKED,
    )
    for run_id in sorted(
        set(instance.event_log_storage.get_concurrency_run_ids()) | set(unfinished)
    ):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status in FINISHED_STATUSES:
            pass
        elif run.status in (DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING):
            starts = instance.all_logs(run_id, of_type=DagsterEventType.RUN_START)
            pids = {e.dagster_event.pid for e in starts if e.dagster_event and e.dagster_event.pid}
            if not pids or any(_process_is_alive(pid) for pid in pids):
                continue
            instance.report_run_failed(
                run,
                message=f"The run's process (pid {', '.join(map(str, sorted(pids)))}) died "
                "without ending the run; marked failed (and its warehouse pool slot, if it held "
                "one, freed).",
            )
        else:
            continue
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        log.warning(f"run {run_id}: its process is gone; marked failed, its pool slot freed")
        released.append(run_id)
    return released


def source_from_environment() -> str:
    """SPEC §6: `api` when a key is set, else `demo`, unless BUDGET_PIPELINE_SOURCE says."""
    default = "api" if os.environ.get("ANTHROPIC_ADMIN_API_KEY") else "demo"
    return os.environ.get("BUDGET_PIPELINE_SOURCE", default)


def build_resources() -> dict[str, object]:
    source = source_from_environment()
    duckdb_path = warehouse.duckdb_path()
    return {
        "analytics_api": AnalyticsApiResource(
            source=source,
            base_url=os.environ.get("ANTHROPIC_BASE_URL", DEFAULT_BASE_URL),
            # An EnvVar is resolved at run time: the key never enters run config or the UI.
            api_key=dg.EnvVar("ANTHROPIC_ADMIN_API_KEY") if source == "api" else None,
        ),
        "config_files": ConfigFilesResource(directory=str(config_files.config_dir())),
        "warehouse": WarehouseResource(path=duckdb_path),
        "reports": ReportsResource(directory=report_files.reports_dir()),
        "io_manager": WarehouseIOManager(database=duckdb_path, schema=warehouse.SCHEMA),
    }
