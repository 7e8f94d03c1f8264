"""What every daily asset of the `budget` group shares: how it is declared, how it fails, how
its contract blocks a bad write, and how its metadata is spread over the partitions of a run."""

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager

import dagster as dg
import pandas as pd

from budget_pipeline.defs.budget import checks
from budget_pipeline.defs.metadata import table_asset_metadata
from budget_pipeline.defs.partitions import daily_partitions
from budget_pipeline.defs.resources import WarehouseResource
from budget_pipeline.ingest.errors import ApiError
from budget_pipeline.rules.config_files import ConfigFileError
from budget_pipeline.rules.pricing import UnpricedUsageError
from budget_pipeline.warehouse.tables import DAILY_SPEND, Table, as_contract_dtypes

GROUP = "budget"
OWNERS = ["team:finops-data"]
WAREHOUSE_POOL = "duckdb_warehouse"


def budget_asset(
    table: Table, *, kinds: set[str], warnings: Sequence[dg.AssetCheckSpec] = (), **kwargs
) -> Callable:
    return dg.asset(
        name=table.name,
        description=table.description,
        group_name=GROUP,
        owners=OWNERS,
        kinds=kinds,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata=table_asset_metadata(table),
        pool=WAREHOUSE_POOL,
        check_specs=[checks.schema_check_spec(table.name), *warnings],
        **kwargs,
    )


def budget_asset_spec(table: Table, *, kinds: set[str], **kwargs) -> dg.AssetSpec:
    """One asset of a multi-asset step, declared like `budget_asset`'s (the step's decorator
    takes the partitions, the backfill policy, the pool and the checks)."""
    return dg.AssetSpec(
        key=table.name,
        description=table.description,
        group_name=GROUP,
        owners=OWNERS,
        kinds=kinds,
        metadata=table_asset_metadata(table),
        **kwargs,
    )


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Bad config files and API errors end the run with their own message, not a stack trace."""
    try:
        yield
    except (ConfigFileError, ApiError, UnpricedUsageError) as error:
        raise dg.Failure(description=str(error)) from error


def contract_checked(
    table: str, frame: pd.DataFrame
) -> Generator[dg.AssetCheckResult, None, dg.AssetCheckResult]:
    """The blocking schema check, before anything is written: on failure the check is reported
    with its failure cases and the step fails, so the IO manager never sees the frame. Returns
    the passing result (`contract = yield from contract_checked(...)`), for the asset to
    report once its output is written."""
    result = checks.schema_check(table, frame)
    if not result.passed:
        yield result
        raise dg.Failure(
            description=f"{table} breaks its Pandera contract "
            f"({result.metadata['failure_cases'].value} failure cases, see the check "
            f"{result.check_name}); nothing was written",
        )
    return result


# Staged rows read back per Pandera call (DuckDB vectors of 2,048 rows, ~100,000 rows): large
# enough that per-call costs vanish, small enough that a year of a large organisation never
# sits in memory.
STAGED_CHUNK_VECTORS = 50


def staged_rows_contract_checked(
    connection, table: Table, staging: str
) -> Generator[dg.AssetCheckResult, None, int]:
    """`contract_checked` on every row staged for `table`, a chunk at a time, before anything is
    swapped in; returns how many rows there are. record_json comes as its first character, all
    its contract reads (it must start with '{'): the whole text (~800 bytes a row) tripled the
    cost of reading it back."""
    result = connection.execute(
        f"SELECT * REPLACE (left(record_json, 1) AS record_json) FROM {staging}"
    )
    rows = 0
    while not (frame := result.fetch_df_chunk(STAGED_CHUNK_VECTORS)).empty:
        yield from contract_checked(table.name, as_contract_dtypes(table.name, frame))
        rows += len(frame)
    return rows


def day_key(day: pd.Timestamp) -> str:
    return day.strftime("%Y-%m-%d")


def add_range_metadata(
    context: dg.AssetExecutionContext,
    days: pd.DatetimeIndex,
    per_day: dict[str, dict],
    summary: dict[str, object],
    asset_key: str | None = None,
) -> None:
    """Each day's own numbers on its partition (the UI plots them over partitions); the run's
    summary (totals, preview) only on the last day's, the materialisation the UI shows first.

    A range run writes one event per partition: metadata given to the whole output would be
    copied into every one of them (a 90-day backfill wrote its preview 90 times per asset, and
    each day claimed the range's row count). `asset_key`: which asset of a multi-asset step.
    """
    last = day_key(days[-1])
    summary = {"range": f"{day_key(days[0])} … {last} ({len(days)} days)", **summary}
    for day in days:
        key = day_key(day)
        numbers = per_day.get(key, {"dagster/row_count": 0})
        context.add_asset_metadata(
            {**numbers, **summary} if key == last else numbers,
            asset_key=asset_key,
            partition_key=key,
        )


def loaded_days_between(
    warehouse_resource: WarehouseResource, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DatetimeIndex:
    """Days in [start, end] already materialised: each loaded day has a daily_spend row, even a
    day without usage, so a missing row means the day was never loaded."""
    with warehouse_resource.connect() as connection:
        rows = connection.execute(
            f"SELECT usage_date FROM {DAILY_SPEND.qualified_name} WHERE usage_date BETWEEN ? AND ?",
            [start.date(), end.date()],
        ).fetchall()
    return pd.DatetimeIndex([pd.Timestamp(day) for (day,) in rows])
