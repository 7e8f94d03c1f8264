"""Shared fixtures: a real loopback API server, a real DuckDB file, a real Dagster instance."""

import datetime as dt
import signal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from budget_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    DefsStateStorage,
)
from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.resources import (
    AnalyticsApiResource,
    ConfigFilesResource,
    ThresholdsResource,
    WarehouseResource,
)
from budget_pipeline.demo.organisation import SyntheticOrganisation
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.warehouse.io_manager import WarehouseIOManager
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

TEST_API_KEY = "sk-ant-admin-TEST-7f3a9c"

# The fast tier (`pytest -m fast`, well under 90 s): the rules, the message texts, the API client
# against its loopback server, page staging, the definitions loading in-process. No Dagster run,
# no subprocess.
FAST_TIER = (
    "budget_pipeline_tests/rules/",
    "budget_pipeline_tests/notify/",
    "budget_pipeline_tests/ingest/",
    "budget_pipeline_tests/demo/",
    "budget_pipeline_tests/cli/test_progress.py",
    "budget_pipeline_tests/test_definitions.py",
    "budget_pipeline_tests/test_dagster_internals.py",
    "budget_pipeline_tests/test_text_safety.py",
    "budget_pipeline_tests/test_redaction.py",
    "budget_pipeline_tests/warehouse/",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(item.path).as_posix()
        if any(f"/{prefix}" in path or path.startswith(prefix) for prefix in FAST_TIER):
            item.add_marker(pytest.mark.fast)


TEST_ORGANISATION = SyntheticOrganisation(seats=40, seed=11)


@pytest.fixture(autouse=True, scope="session")
def processes_started_by_tests_can_be_terminated():
    """Dagster's in-process execution gives SIGTERM whatever SIGINT has when it is done. A
    shell that runs the suite in the background ignores SIGINT, so after the first
    materialisation the test process ignored SIGTERM, and so did every process a test started
    afterwards: `terminate()` no longer stopped them. Python's own SIGINT handler avoids that
    (a handler, unlike an ignored signal, is not inherited by a new program)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture
def api_server():
    with UsageApiServer(TEST_ORGANISATION, api_key=TEST_API_KEY) as server:
        yield server


@pytest.fixture
def receiver():
    """A webhook endpoint on 127.0.0.1 that records what it is sent."""
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    TEST_ORGANISATION.write_config(directory)
    return directory


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "warehouse.duckdb"


@pytest.fixture
def instance():
    """A fresh test instance; on teardown, a check that the test closed every instance it opened.

    An instance that is opened and never closed (`build_schedule_context(instance=...)` outside
    `with` opens one from the instance's ref) stays Dagster's "current" one. When the garbage
    collector finally finds it, it hands that role back to the closed instance of its test, and
    definitions resolved later outside an instance fail with "Attempted to resolve undefined
    DagsterInstance weakref", in whichever test happens to run then. Checked here, while this
    instance should still be the current one, the fault is reported in the test that made it."""
    with dg.instance_for_test() as test_instance:
        yield test_instance
        assert DefsStateStorage.get() is test_instance.defs_state_storage, (
            "the test opened a Dagster instance and never closed it: open contexts built with "
            "an instance with `with`, e.g. `with dg.build_schedule_context(...) as context:`"
        )


class Pipeline:
    """Materialises the real assets and checks against the test server, files and instance."""

    def __init__(self, server: UsageApiServer, config_dir: Path, duckdb_file: Path, instance):
        self.server = server
        self.config_dir = config_dir
        self.duckdb_file = duckdb_file
        self.instance = instance
        self.api = AnalyticsApiResource(
            source="api",
            base_url=server.base_url,
            api_key=TEST_API_KEY,
            page_limit=15,  # several pages per day, like a large organisation
            base_delay_seconds=0.05,
            max_delay_seconds=0.5,
        )

    def resources(self) -> dict[str, object]:
        return {
            "analytics_api": self.api,
            "config_files": ConfigFilesResource(directory=str(self.config_dir)),
            "warehouse": WarehouseResource(path=str(self.duckdb_file)),
            "io_manager": WarehouseIOManager(database=str(self.duckdb_file), schema="budget"),
            "thresholds": ThresholdsResource(),
        }

    def materialize(
        self,
        start: str,
        end: str | None = None,
        *,
        selection: str = "group:budget",
        run_config: dict | None = None,
        raise_on_error: bool = True,
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*config_sources, *budget_assets],
            selection=selection,
            resources=self.resources(),
            instance=self.instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: start,
                ASSET_PARTITION_RANGE_END_TAG: end or start,
            },
            run_config=run_config,
            raise_on_error=raise_on_error,
        )

    def table(self, name: str) -> pd.DataFrame:
        if not self.duckdb_file.exists():
            return pd.DataFrame()
        with duckdb.connect(str(self.duckdb_file), read_only=True) as connection:
            return connection.execute(f"SELECT * FROM budget.{name}").fetchdf()


@pytest.fixture
def pipeline(api_server, config_dir, duckdb_file, instance) -> Pipeline:
    return Pipeline(api_server, config_dir, duckdb_file, instance)


def days(start: str, end: str) -> list[dt.date]:
    return [d.date() for d in pd.date_range(start, end)]
