"""Schema changes of a warehouse written by an earlier release, applied in order when it is opened
for writing, so an upgrade keeps every row (docs/operations.md, "Upgrading").

A new table needs no migration: `ensure_tables` creates it from its definition. A change to a
table that already holds rows does, and ships here as the next numbered step, never as an edit
of an earlier one: `budget._schema_migrations` records which steps a warehouse has had. Each step
is written so that it also holds on a warehouse created by this release (where the table already
has its final shape and the step changes nothing).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from budget_pipeline.warehouse.tables import (
    BUDGET_FORECAST,
    CLAUDE_CODE_SOURCE,
    IDLE_SEATS,
    PRICED_USAGE,
    RAW_USAGE,
    SCHEMA,
)

MIGRATIONS_TABLE = f"{SCHEMA}._schema_migrations"
# Steps of one process share the database: one of them migrates, the others then find it done.
_MIGRATING = threading.Lock()


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _priced_usage_list_price(connection: duckdb.DuckDBPyConnection) -> None:
    # Until the bill arrived, every row's list-price worth was its cost (docs/rules.md).
    connection.execute(
        f"ALTER TABLE {PRICED_USAGE.qualified_name} "
        "ADD COLUMN IF NOT EXISTS list_price_cost_usd DOUBLE"
    )
    connection.execute(
        f"UPDATE {PRICED_USAGE.qualified_name} SET list_price_cost_usd = cost_usd "
        "WHERE list_price_cost_usd IS NULL"
    )


def _budget_forecast_run_rate_days(connection: duckdb.DuckDBPyConnection) -> None:
    # Rows forecast before the column existed did not record it: NULL, not a guess.
    connection.execute(
        f"ALTER TABLE {BUDGET_FORECAST.qualified_name} "
        "ADD COLUMN IF NOT EXISTS run_rate_days INTEGER"
    )


def _raw_usage_source(connection: duckdb.DuckDBPyConnection) -> None:
    # Every row written before the Enterprise source existed came from the Claude Code
    # Analytics API, which reports no other surface: other_activity stays NULL.
    connection.execute(
        f"ALTER TABLE {RAW_USAGE.qualified_name} ADD COLUMN IF NOT EXISTS source VARCHAR"
    )
    connection.execute(
        f"ALTER TABLE {RAW_USAGE.qualified_name} ADD COLUMN IF NOT EXISTS other_activity BIGINT"
    )
    connection.execute(
        f"UPDATE {RAW_USAGE.qualified_name} SET source = '{CLAUDE_CODE_SOURCE}' "
        "WHERE source IS NULL"
    )


def _idle_seats_other_activity(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(
        f"ALTER TABLE {IDLE_SEATS.qualified_name} ADD COLUMN IF NOT EXISTS other_activity DOUBLE"
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "priced_usage gains list_price_cost_usd (= cost_usd)", _priced_usage_list_price),
    Migration(
        2, "budget_forecast gains run_rate_days (NULL before)", _budget_forecast_run_rate_days
    ),
    Migration(
        3,
        "raw_usage gains source (claude_code before) and other_activity (NULL)",
        _raw_usage_source,
    ),
    Migration(4, "idle_seats gains other_activity (NULL before)", _idle_seats_other_activity),
)


def applied_versions(connection: duckdb.DuckDBPyConnection) -> set[int]:
    rows = connection.execute(f"SELECT version FROM {MIGRATIONS_TABLE}").fetchall()
    return {version for (version,) in rows}


def migrate(connection: duckdb.DuckDBPyConnection) -> list[Migration]:
    """Apply the migrations this warehouse has not had, each in its own transaction with its
    record (a failure leaves the warehouse as the previous step left it); returns those applied."""
    with _MIGRATING:
        return _migrate(connection)


def _migrate(connection: duckdb.DuckDBPyConnection) -> list[Migration]:
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
    )
    done = applied_versions(connection)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        connection.begin()
        try:
            migration.apply(connection)
            connection.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} VALUES (?, ?, now()::TIMESTAMP)",
                [migration.version, migration.description],
            )
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        applied.append(migration)
    return applied
