"""`raw_usage` and `priced_usage` of the Enterprise source (docs/rules.md, "Which source"): the
same assets, tables and contracts as the Console source's, read from the Claude Enterprise
Analytics API and priced by its bill.

A range is fetched whole, judged by the contracts and only then written, both raw tables in one
go: a failure anywhere leaves the warehouse as it was.
"""

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing

import dagster as dg
import numpy as np
import pandas as pd

from budget_pipeline.defs.budget import checks
from budget_pipeline.defs.budget.building_blocks import (
    add_range_metadata,
    contract_checked,
    day_key,
    failing_clearly,
    staged_rows_contract_checked,
)
from budget_pipeline.defs.metadata import PREVIEW_ROWS, markdown_preview
from budget_pipeline.defs.resources import WarehouseResource
from budget_pipeline.ingest.client import AnalyticsClient
from budget_pipeline.ingest.enterprise import fetch_enterprise_pages, read_enterprise_day
from budget_pipeline.ingest.enterprise_staging import DayPages, enterprise_page_stager
from budget_pipeline.rules.enterprise import (
    EnterpriseRowError,
    day_frames,
    price_enterprise_usage,
    unpriced_enterprise_models,
)
from budget_pipeline.warehouse.connection import staged_replacement, staging_table
from budget_pipeline.warehouse.tables import (
    API_ESTIMATE,
    BILLED,
    BILLED_COST,
    PRICED_USAGE,
    RAW_TOKEN_USAGE,
    RAW_USAGE,
    as_contract_dtypes,
)

BILL_ASSET = dg.AssetKey("billed_cost")
AVAILABLE = "available"


# Page bytes staged at once (~5 days of 5,000 members): large enough that DuckDB's per-statement
# costs vanish, small enough to keep the spool and a chunk's tables small.
CHUNK_BYTES = 32 * 1024 * 1024


def enterprise_raw_usage(
    context: dg.AssetExecutionContext,
    client: AnalyticsClient,
    source: str,
    warehouse: WarehouseResource,
    days: pd.DatetimeIndex,
):
    """raw_usage of the Enterprise source, through the raw layer's one client (the bill is
    fetched beside it by the same client, so a 429 on either holds back both)."""
    first, last = days[0].date(), days[-1].date()
    raw_staging, token_staging = staging_table(RAW_USAGE), staging_table(RAW_TOKEN_USAGE)
    # Days are staged a chunk at a time as they arrive, by DuckDB (ingest/enterprise_staging.py)
    # or, for a chunk it doubts, in Python; both tables are swapped in at the end, so a failure
    # anywhere leaves the warehouse as it was. DuckDB stages a chunk in a thread of its own
    # while the next days are taken: the fetch never waits for it (a day starts only when one is
    # taken), and one chunk at most is being staged (leaving the block waits for it).
    with (
        failing_clearly(),
        warehouse.connect() as connection,
        staged_replacement(connection, RAW_USAGE, first, last) as write_raw,
        staged_replacement(connection, RAW_TOKEN_USAGE, first, last) as write_tokens,
        enterprise_page_stager(connection, raw_staging, token_staging) as stager,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="budget-enterprise-stage") as stage,
        # Closed first on the way out: the fetching threads stop before their spool goes.
        closing(
            fetch_enterprise_pages(client, [d.date() for d in days], stager.spool_page)
        ) as fetched,
    ):
        staging: tuple[Future, list[DayPages]] | None = None
        waiting: list[DayPages] = []
        waiting_bytes = 0

        def staged():
            """Wait for the chunk being staged; read it in Python if DuckDB doubted it."""
            nonlocal staging
            if staging is not None:
                future, chunk = staging
                staging = None
                if not future.result():
                    yield from _stage_in_python(chunk, write_raw, write_tokens)

        for day_pages in fetched:
            waiting.append(day_pages)
            waiting_bytes += sum(page.stat().st_size for page in [*day_pages[1], *day_pages[2]])
            if waiting_bytes >= CHUNK_BYTES:
                yield from staged()
                staging = (stage.submit(stager.stage, waiting), waiting)
                waiting, waiting_bytes = [], 0
        yield from staged()
        if waiting and not stager.stage(waiting):
            yield from _stage_in_python(waiting, write_raw, write_tokens)
        # The Pandera contracts on every staged row, before anything is swapped in.
        rows = yield from staged_rows_contract_checked(connection, RAW_USAGE, raw_staging)
        usage_rows_written = yield from staged_rows_contract_checked(
            connection, RAW_TOKEN_USAGE, token_staging
        )
        per_day = {
            day_key(pd.Timestamp(day)): {
                "dagster/row_count": count,
                "actors": actors,
                "sessions": int(sessions),
                "other_activity": int(other),
            }
            for day, count, actors, sessions, other in connection.execute(
                "SELECT usage_date, count(*), count(DISTINCT actor), sum(num_sessions), "
                f"coalesce(sum(other_activity), 0) FROM {raw_staging} GROUP BY usage_date"
            ).fetchall()
        }
        preview = connection.execute(
            f"SELECT * EXCLUDE (record_json) FROM {raw_staging} "
            f"ORDER BY usage_date, actor LIMIT {PREVIEW_ROWS}"
        ).fetchdf()
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "source": source,
            "range_row_count": rows,
            "usage_rows": usage_rows_written,
            "days_without_usage": len(days) - len(per_day),
            "preview": markdown_preview(preview),
        },
        asset_key=RAW_USAGE.name,
    )
    yield dg.MaterializeResult(
        asset_key=RAW_USAGE.name,
        check_results=[
            dg.AssetCheckResult(
                asset_key=RAW_USAGE.name,
                check_name=checks.schema_check_name("raw_usage"),
                passed=True,
                metadata={"rows_checked": rows, "failure_cases": 0},
            )
        ],
    )


def _stage_in_python(chunk: list[DayPages], write_raw, write_tokens):
    """A chunk DuckDB doubts, read in Python day by day: the first bad row, page or member
    fails the run naming it; what the readers accept is judged and staged."""
    for day, member_pages, token_pages in chunk:
        members, tokens = read_enterprise_day(
            day,
            [page.read_bytes() for page in member_pages],
            [page.read_bytes() for page in token_pages],
        )
        for page in [*member_pages, *token_pages]:
            page.unlink()
        try:
            raw, token = day_frames(day, members, tokens)
        except EnterpriseRowError as error:
            raise dg.Failure(f"{day.isoformat()}: {error}; nothing was written") from None
        yield from contract_checked("raw_usage", raw)
        yield from contract_checked("raw_token_usage", token)
        write_raw(raw)
        write_tokens(token)


def closed_bill_days(context: dg.AssetExecutionContext, days: pd.DatetimeIndex) -> list[str]:
    """The days whose latest bill was written empty because the cost endpoint is closed (its
    materialisation says why under `bill`)."""
    keys = [day_key(day) for day in days]
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=BILL_ASSET, asset_partitions=keys), limit=10 * len(keys)
    ).records
    latest: dict[str, dict] = {}
    for record in records:  # newest first
        materialization = record.asset_materialization
        if materialization is not None and materialization.partition not in latest:
            latest[materialization.partition] = materialization.metadata
    closed = []
    for key in keys:
        bill = latest.get(key, {}).get("bill")
        if bill is not None and getattr(bill, "value", bill) != AVAILABLE:
            closed.append(key)
    return closed


def _read(
    warehouse: WarehouseResource, table, days: pd.DatetimeIndex, exclude: tuple[str, ...] = ()
) -> pd.DataFrame:
    columns = ", ".join(name for name in table.column_names if name not in exclude)
    with warehouse.connect() as connection:
        frame = connection.execute(
            f"SELECT {columns} FROM {table.qualified_name} WHERE usage_date BETWEEN ? AND ?",
            [days[0].date(), days[-1].date()],
        ).fetchdf()
    return as_contract_dtypes(table.name, frame)


def enterprise_priced_usage(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    prices: pd.DataFrame,
    days: pd.DatetimeIndex,
):
    # Pricing needs the counts, not the records as received (~1 KB a row, 400,000 rows for 90
    # days of 5,000 members).
    tokens = _read(warehouse, RAW_TOKEN_USAGE, days, exclude=("record_json",))
    billed = _read(warehouse, BILLED_COST, days)
    closed = set(closed_bill_days(context, days))
    parts = []
    for is_closed in (False, True):
        chosen = [day for day in days if (day_key(day) in closed) == is_closed]
        if not chosen:
            continue
        with failing_clearly():
            part = price_enterprise_usage(
                tokens.loc[tokens["usage_date"].isin(chosen)],
                billed.loc[billed["usage_date"].isin(chosen)],
                prices,
                bill_closed=is_closed,
            )
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.astype({"price_model": "object"})
    yield from contract_checked("priced_usage", frame)
    with (
        warehouse.connect() as connection,
        staged_replacement(connection, PRICED_USAGE, days[0].date(), days[-1].date()) as write,
    ):
        write(frame)
    if closed:
        context.log.warning(
            f"the bill is unavailable for {len(closed)} day(s) ({', '.join(sorted(closed))}): "
            "cost_usd of those days is the usage at list prices, not what is billed"
        )
    unpriced = unpriced_enterprise_models(frame)
    per_day = {
        day_key(day): {
            "dagster/row_count": len(of_day),
            "cost_usd": round(float(of_day["cost_usd"].sum()), 2),
            "list_price_cost_usd": round(float(of_day["list_price_cost_usd"].sum()), 2),
        }
        for day, of_day in frame.groupby("usage_date")
    }
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_row_count": len(frame),
            "range_cost_usd": round(float(frame["cost_usd"].sum()), 2),
            "range_list_price_cost_usd": round(float(frame["list_price_cost_usd"].sum()), 2),
            "cost": "list prices: the bill is unavailable for "
            + ", ".join(sorted(closed))
            + " (the figures of those days are not what is billed)"
            if closed
            else "what the bill charges (0 where the seat covers the usage)",
            "unpriced_models": ", ".join(unpriced) or "none",
            "preview": markdown_preview(frame.head(PREVIEW_ROWS)),
        },
    )
    # Models prices.csv lacks are billed correctly; the check names them as unpriced.
    unpriced_rows = frame.assign(
        price_source=np.where(
            (frame["price_source"] == BILLED) & frame["price_model"].isna(), API_ESTIMATE, BILLED
        )
    )
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=checks.schema_check_name("priced_usage"),
                passed=True,
                metadata={"rows_checked": len(frame), "failure_cases": 0},
            ),
            checks.unpriced_models_check(unpriced_rows),
            checks.close_to_api_estimate_check(frame),
            checks.cost_is_billed_check(sorted(closed), billed=True),
        ],
    )
