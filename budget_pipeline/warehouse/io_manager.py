"""The IO manager of the budget tables: dagster-duckdb's, with atomic day replacement and tables
typed by the contract."""

from collections.abc import Sequence
from contextlib import contextmanager

import pandas as pd
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb_pandas import DuckDBPandasTypeHandler

from budget_pipeline.dagster_internals import DbIOManager, DbTypeHandler, DuckDbClient, TableSlice
from budget_pipeline.warehouse.connection import connect, insert_frame, transaction
from budget_pipeline.warehouse.housekeeping import fail_dead_runs
from budget_pipeline.warehouse.tables import TABLES, as_contract_dtypes


class _AtomicDuckDbClient(DuckDbClient):
    """dagster-duckdb deletes a partition range and inserts its rows in two statements; a crash
    between them would leave those days empty. One transaction makes the replacement atomic."""

    @staticmethod
    @contextmanager
    def connect(context, _table_slice):
        with (
            connect(context.resource_config["database"]) as connection,
            transaction(connection),
        ):
            yield connection

    @staticmethod
    def ensure_schema_exists(context, table_slice, connection) -> None:
        # connect() already created the schema and every table from the contract.
        pass


class _WarehouseFrameHandler(DuckDBPandasTypeHandler):
    """Writes into tables created from the contract (so types never depend on a day's data and
    a day without rows is still a written day) and reads dates back as pandas datetimes."""

    def handle_output(self, context, table_slice: TableSlice, obj: pd.DataFrame, connection):
        insert_frame(connection, TABLES[table_slice.table], obj)
        return {"dagster/partition_row_count": len(obj)} if context.has_partition_key else {}

    def load_input(self, context, table_slice: TableSlice, connection) -> pd.DataFrame:
        frame = super().load_input(context, table_slice, connection)
        return as_contract_dtypes(table_slice.table, frame)


class WarehouseIOManager(DuckDBIOManager):
    """DuckDB IO manager for the budget tables: atomic day replacement, contract-typed tables.

    It is set up when a run starts, before any step waits for the `duckdb_warehouse` pool: that
    is where the run first does the warehouse's housekeeping (`fail_dead_runs`), so a slot held
    by a killed run is freed before this run queues behind it.
    """

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [_WarehouseFrameHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        if context.instance is not None:
            fail_dead_runs(context.instance, context.log)
        return DbIOManager(
            db_client=_AtomicDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )
