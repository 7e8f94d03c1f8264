"""The warehouse contract (SPEC §5): the five tables, their DuckDB types and what each column means.

One definition serves three readers: the DDL that creates the tables (so column types never depend
on what pandas happened to infer for a day, e.g. an all-NULL column on a quiet day), the column
schemas shown in the Dagster UI, and the order of the columns the assets return.
"""

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

SCHEMA = "budget"
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
LOCK_WAIT_SECONDS = 120.0
DEFAULT_MEMORY_LIMIT = "256MB"


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    partition_column: str
    columns: tuple[Column, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def qualified_name(self) -> str:
        return f"{SCHEMA}.{self.name}"

    def create_statement(self) -> str:
        body = ",\n  ".join(f"{c.name} {c.sql_type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified_name} (\n  {body}\n)"


RAW_USAGE = Table(
    name="raw_usage",
    partition_column="usage_date",
    description="One API record (actor × day) as received from the Analytics API.",
    columns=(
        Column("usage_date", "DATE", "UTC day of the record"),
        Column("actor", "VARCHAR", "email address (user) or API key name (api_key)"),
        Column("actor_type", "VARCHAR", "user or api_key"),
        Column("customer_type", "VARCHAR", "customer_type as reported by the API"),
        Column("terminal_type", "VARCHAR", "terminal_type as reported by the API"),
        Column("num_sessions", "BIGINT", "core_metrics.num_sessions"),
        Column("lines_added", "BIGINT", "core_metrics.lines_of_code.added"),
        Column("lines_removed", "BIGINT", "core_metrics.lines_of_code.removed"),
        Column("commits", "BIGINT", "core_metrics.commits_by_claude_code"),
        Column("pull_requests", "BIGINT", "core_metrics.pull_requests_by_claude_code"),
        Column("record_json", "VARCHAR", "the record exactly as received (unknown fields kept)"),
    ),
)

PRICED_USAGE = Table(
    name="priced_usage",
    partition_column="usage_date",
    description="Tokens per actor × model × day, priced with the price table (SPEC §4.1).",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("actor", "VARCHAR", "email address or API key name"),
        Column("actor_type", "VARCHAR", "user or api_key"),
        Column("model", "VARCHAR", "model id as reported by the API"),
        Column("input_tokens", "BIGINT", "input tokens"),
        Column("output_tokens", "BIGINT", "output tokens"),
        Column("cache_read_tokens", "BIGINT", "prompt-cache read tokens"),
        Column("cache_creation_tokens", "BIGINT", "prompt-cache write tokens"),
        Column(
            "price_model", "VARCHAR", "prices.csv row used (exact or longest prefix), NULL if none"
        ),
        Column("price_source", "VARCHAR", "price_table, or api_estimate for an unpriced model"),
        Column("cost_usd", "DOUBLE", "cost in USD (SPEC §4.1; API estimate when unpriced)"),
        Column("api_estimated_cost_usd", "DOUBLE", "the API's estimated_cost.amount / 100"),
    ),
)

WORKSTREAM_COST = Table(
    name="workstream_cost",
    partition_column="usage_date",
    description="Cost per workstream and day; actors missing from the ledger are Unassigned.",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("workstream", "VARCHAR", "ledger workstream, or Unassigned"),
        Column("cost_usd", "DOUBLE", "sum of priced_usage.cost_usd"),
        Column("share", "DOUBLE", "cost_usd / the day's total (NULL when the day cost nothing)"),
        Column("actors", "BIGINT", "distinct actors with usage"),
    ),
)

DAILY_SPEND = Table(
    name="daily_spend",
    partition_column="usage_date",
    description="Total spend per day with the combined alert (SPEC §4.4).",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("cost_usd", "DOUBLE", "the day's total cost (0 on a day without usage)"),
        Column("same_weekday_last_week_usd", "DOUBLE", "total of D-7 (NULL without 7 days)"),
        Column("ma7_usd", "DOUBLE", "mean total of D-7 … D-1 (NULL without 7 loaded days)"),
        Column("alert", "BOOLEAN", "combined alert verdict (NULL without history)"),
        Column("unassigned_share", "DOUBLE", "Unassigned cost / total (NULL without spend)"),
    ),
)

IDLE_SEATS = Table(
    name="idle_seats",
    partition_column="as_of",
    description="Paid seats idle or barely active over the 14 days ending on as_of (SPEC §4.3).",
    columns=(
        Column("as_of", "DATE", "last day of the window"),
        Column("email", "VARCHAR", "seat email (seats.csv)"),
        Column("workstream", "VARCHAR", "ledger workstream, or Unassigned"),
        Column("sessions", "BIGINT", "sessions in the window"),
        Column("lines_added", "BIGINT", "lines added in the window"),
        Column("status", "VARCHAR", "completely idle or barely active"),
        Column("reason", "VARCHAR", "the seat's human note from seats.csv"),
        Column("monthly_cost_usd", "DOUBLE", "what the seat costs per month"),
        Column("last_active", "DATE", "last day up to as_of with any record; NULL: never seen"),
    ),
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (RAW_USAGE, PRICED_USAGE, WORKSTREAM_COST, DAILY_SPEND, IDLE_SEATS)
}


def as_contract_dtypes(table_name: str, frame):
    """Frames read back from DuckDB with the dtypes the assets produce: nanosecond datetimes for
    dates, and nullable booleans (a BOOLEAN column without NULLs comes back as plain bool)."""
    sql_types = {column.name: column.sql_type for column in TABLES[table_name].columns}
    for column in frame.columns:
        if sql_types.get(column) == "DATE":
            frame[column] = frame[column].astype("datetime64[ns]")
        elif sql_types.get(column) == "BOOLEAN":
            frame[column] = frame[column].astype("boolean")
    return frame


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Replacing days is a DELETE then INSERTs: one transaction, so a crash or an error between
    them leaves the previous rows, never an empty or half-written day."""
    connection.begin()
    try:
        yield connection
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def delete_days(connection, table: Table, first: dt.date, last: dt.date) -> None:
    connection.execute(
        f"DELETE FROM {table.qualified_name} WHERE {table.partition_column} BETWEEN ? AND ?",
        [first, last],
    )


def insert_frame(connection, table: Table, frame, *, into: str | None = None) -> None:
    """Insert by column name into a table created from the contract (types never drift)."""
    if frame.empty:
        return
    connection.register("frame_to_insert", frame[table.column_names])
    try:
        connection.execute(
            f"INSERT INTO {into or table.qualified_name} BY NAME SELECT * FROM frame_to_insert"
        )
    finally:
        # After a failed INSERT DuckDB refuses every statement of the aborted transaction, this
        # one too: suppress that, or its "transaction is aborted" would hide the INSERT's error.
        with suppress(duckdb.TransactionException):
            connection.unregister("frame_to_insert")


def staging_table(table: Table) -> str:
    """Where `staged_replacement` gathers the new rows of `table` before the swap."""
    return f"{SCHEMA}._staging_{table.name}"


@contextmanager
def staged_replacement(
    connection, table: Table, first: dt.date, last: dt.date
) -> Iterator[Callable[[object], None]]:
    """Replace the days first..last of `table` with the frames passed to the yielded writer.

    DuckDB keeps a transaction's new rows in memory until it commits (measured: ~1 KB a raw
    record, whatever memory_limit says), so a year of a large organisation cannot be one
    transaction of inserts. The frames go to a staging table, committed batch by batch, and one
    short transaction then swaps them in: readers see the old days or the new ones, never a
    mix, and a failure before the swap leaves the table untouched.
    """
    staging = staging_table(table)
    connection.execute(
        f"CREATE OR REPLACE TABLE {staging} AS SELECT * FROM {table.qualified_name} LIMIT 0"
    )
    try:
        yield lambda frame: insert_frame(connection, table, frame, into=staging)
        with transaction(connection):
            delete_days(connection, table, first, last)
            connection.execute(f"INSERT INTO {table.qualified_name} SELECT * FROM {staging}")
    finally:
        with suppress(duckdb.Error):
            connection.execute(f"DROP TABLE IF EXISTS {staging}")


def memory_limit() -> str:
    return os.environ.get("BUDGET_PIPELINE_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)


def duckdb_path() -> str:
    return os.environ.get("BUDGET_PIPELINE_DUCKDB", DEFAULT_DUCKDB_PATH)


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table in TABLES.values():
        connection.execute(table.create_statement())


@contextmanager
def connect(path: str, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a read-only open never creates the file or the tables."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = _connect_waiting_for_lock(path, read_only)
    try:
        # DuckDB's default is 80 % of the machine: without a limit it keeps a whole backfill's
        # uncommitted rows in memory instead of writing them to the file as it goes.
        connection.execute(f"SET memory_limit = '{memory_limit()}'")
        if not read_only:
            ensure_tables(connection)
        yield connection
    finally:
        connection.close()


def _connect_waiting_for_lock(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """DuckDB lets one process write a file at a time. Runs are serialised by a Dagster pool, but
    a person may hold the file open in a DuckDB shell: wait a while, then say so plainly."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.1
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise WarehouseLockedError(
                    f"cannot open the warehouse {path}: {str(error).splitlines()[0]}"
                ) from error
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class WarehouseLockedError(RuntimeError):
    pass
