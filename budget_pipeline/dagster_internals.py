"""Every private Dagster name the project uses, in one place.

Dagster moves its internals between releases; `budget_pipeline_tests/test_dagster_internals.py`
imports each name and checks it still does what the project relies on, so an upgrade that moves
one fails there, loudly, instead of somewhere in a run.
"""

from dagster._core.definitions.data_version import (
    DATA_VERSION_IS_USER_PROVIDED_TAG,
    DATA_VERSION_TAG,
    StaleStatus,
)
from dagster._core.definitions.observe import observe
from dagster._core.events import EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster._core.storage.defs_state.base import DefsStateStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._core.storage.sqlite_storage import _event_logs_directory as event_logs_directory
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils.test.data_versions import get_stale_status_resolver
from dagster_duckdb.io_manager import DuckDbClient

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "DATA_VERSION_IS_USER_PROVIDED_TAG",
    "DATA_VERSION_TAG",
    "INDEX_SHARD_NAME",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "ConfigurableClassData",
    "DagsterSqliteStorage",
    "DbIOManager",
    "DbTypeHandler",
    "DefsStateStorage",
    "DuckDbClient",
    "EngineEventData",
    "ExecuteRunWithPlanIterable",
    "InProcessExecutor",
    "InstanceConcurrencyContext",
    "InstanceRef",
    "PlanExecutionContextManager",
    "SqliteEventLogStorage",
    "SqliteRunStorage",
    "StaleStatus",
    "TableSlice",
    "event_logs_directory",
    "get_stale_status_resolver",
    "inner_plan_execution_iterator",
    "observe",
]
