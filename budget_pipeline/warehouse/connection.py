"""Connections to the DuckDB warehouse and the transactions that replace whole days."""

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from budget_pipeline import settings
from budget_pipeline.warehouse.migrations import migrate
from budget_pipeline.warehouse.tables import SCHEMA, TABLES, Table

LOCK_WAIT_SECONDS = 120.0


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
    # From the table's definition, not its copy: the staging table may take the table's place,
    # and a copy would lose each column's storage setting.
    connection.execute(table.create_statement(staging, replace=True))
    try:
        yield lambda frame: insert_frame(connection, table, frame, into=staging)
        _swap_in(connection, table, staging, first, last)
    finally:
        with suppress(duckdb.Error):
            connection.execute(f"DROP TABLE IF EXISTS {staging}")


def _swap_in(connection, table: Table, staging: str, first: dt.date, last: dt.date) -> None:
    """Whichever moves fewer rows: the staged rows into the table (a short run on a long
    history), or the table's other days into the staging table, which then takes the table's
    place (a first backfill, or a range longer than the rest). Copying a backfill's staged
    raw_usage rows was a tenth of its run: every record_json is written again."""
    outside = f"{table.partition_column} NOT BETWEEN ? AND ?"
    [(kept,)] = connection.execute(
        f"SELECT count(*) FROM {table.qualified_name} WHERE {outside}", [first, last]
    ).fetchall()
    [(staged,)] = connection.execute(f"SELECT count(*) FROM {staging}").fetchall()
    if kept >= staged:
        with transaction(connection):
            delete_days(connection, table, first, last)
            connection.execute(
                f"INSERT INTO {table.qualified_name} BY NAME SELECT * FROM {staging}"
            )
        return
    # Committed before the swap but invisible until it: only this step writes the table.
    connection.execute(
        f"INSERT INTO {staging} BY NAME SELECT * FROM {table.qualified_name} WHERE {outside}",
        [first, last],
    )
    with transaction(connection):
        connection.execute(f"DROP TABLE {table.qualified_name}")
        connection.execute(f"ALTER TABLE {staging} RENAME TO {table.name}")


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table in TABLES.values():
        connection.execute(table.create_statement())
    # A warehouse of an earlier release gains what its existing tables lack, rows kept.
    migrate(connection)


@contextmanager
def connect(
    path: str, *, read_only: bool = False, lock_wait_seconds: float = LOCK_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a read-only open never creates the file or the tables."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = _connect_waiting_for_lock(path, read_only, lock_wait_seconds)
    try:
        # DuckDB's default is 80 % of the machine: without a limit it keeps a whole backfill's
        # uncommitted rows in memory instead of writing them to the file as it goes.
        connection.execute(f"SET memory_limit = '{settings.duckdb_memory_limit()}'")
        if not read_only:
            ensure_tables(connection)
        yield connection
    finally:
        connection.close()


def _connect_waiting_for_lock(
    path: str, read_only: bool, wait_seconds: float
) -> duckdb.DuckDBPyConnection:
    """DuckDB lets one process write a file at a time. Runs are serialised by a Dagster pool, but
    a person may hold the file open in a DuckDB shell: wait a while, then say so plainly."""
    deadline = time.monotonic() + wait_seconds
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
