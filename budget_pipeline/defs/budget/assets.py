"""The daily assets of the `budget` group (docs/rules.md); `budget_forecast` lives in forecast.py.

Every asset covers a run's whole partition range at once (`BackfillPolicy.single_run()`), so a
backfill of 90 days is one fetch loop and one vectorised pass, not 90 of each.
"""

import json
import time
from contextlib import closing, nullcontext

import dagster as dg
import pandas as pd

from budget_pipeline.defs.budget import checks
from budget_pipeline.defs.budget.bill import (
    BILLED_COST_WARNINGS,
    FETCHES_API,
    bill_reconciliation,
    billed_cost_spec,
    billed_cost_written,
)
from budget_pipeline.defs.budget.building_blocks import (
    WAREHOUSE_POOL,
    add_range_metadata,
    budget_asset,
    budget_asset_spec,
    contract_checked,
    day_key,
    failing_clearly,
    loaded_days_between,
    staged_rows_contract_checked,
)
from budget_pipeline.defs.budget.enterprise import enterprise_priced_usage, enterprise_raw_usage
from budget_pipeline.defs.budget.forecast import budget_forecast
from budget_pipeline.defs.config_files.assets import prices_csv, seats_csv, workstreams_csv
from budget_pipeline.defs.metadata import PREVIEW_ROWS, markdown_preview
from budget_pipeline.defs.partitions import daily_partitions, days_of, first_day
from budget_pipeline.defs.resources import (
    AnalyticsApiResource,
    ConfigFilesResource,
    ThresholdsResource,
    WarehouseResource,
)
from budget_pipeline.ingest.client import AnalyticsClient
from budget_pipeline.ingest.cost import BillBesideUsage
from budget_pipeline.ingest.page_staging import raw_page_sink, refuse_duplicate_records
from budget_pipeline.ingest.records import model_usage
from budget_pipeline.rules.attribution import (
    LEDGER_FOLLOW_UP_DAYS,
    cost_per_workstream,
    unassigned_share,
)
from budget_pipeline.rules.idle_seats import (
    SHOWS_ACTIVITY_SQL,
    IdleSeatRules,
    idle_seats_as_of,
    verdict_days,
    window_start,
)
from budget_pipeline.rules.pricing import API_ESTIMATE, price_usage
from budget_pipeline.rules.spend import HISTORY_DAYS, day_totals, spend_with_alert, top_movers
from budget_pipeline.warehouse.batching import day_batches, read_ahead
from budget_pipeline.warehouse.connection import staged_replacement, staging_table
from budget_pipeline.warehouse.tables import (
    BILLED_COST,
    DAILY_SPEND,
    IDLE_SEATS,
    PRICED_USAGE,
    RAW_USAGE,
    WORKSTREAM_COST,
)

# Seconds between progress lines of a long fetch.
PROGRESS_EVERY = 30.0
# raw_usage records priced at once (days are never split): each becomes a few model rows in
# pandas, so this bounds priced_usage's memory whatever the size of the organisation.
PRICE_BATCH_RECORDS = 100_000


class _Progress:
    """A line every PROGRESS_EVERY seconds and one at the end, not one per day: each line in
    the run's log is an event-log write, which a 90-day backfill would pay 90 times."""

    def __init__(self, log, days: int):
        self.log, self.days = log, days
        self.done = 0
        self.started = self.last = time.monotonic()

    def day_done(self, records_staged: int) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY and self.done < self.days:
            self.last = now
            self.log.info(
                f"fetched {self.done} of {self.days} days ({records_staged:,} records staged)"
            )

    def finished(self, records_staged: int, pages_in_python: int) -> None:
        elapsed = time.monotonic() - self.started
        self.log.info(
            f"fetched and staged {self.done} days ({records_staged:,} records) in {elapsed:.1f} s"
            + (f"; {pages_in_python} page(s) parsed in Python" if pages_in_python else "")
        )


@dg.multi_asset(
    name="raw_layer",
    description="What the API reports, fetched day by day: the usage (raw_usage) and, side by "
    "side with it, the bill (billed_cost).",
    specs=[
        budget_asset_spec(RAW_USAGE, kinds={"httpx", "duckdb", "pandas"}, tags=FETCHES_API),
        billed_cost_spec(),
    ],
    check_specs=[
        checks.schema_check_spec(RAW_USAGE.name),
        checks.schema_check_spec(BILLED_COST.name),
        *BILLED_COST_WARNINGS,
    ],
    # The weekly bill refresh fetches the bill alone; a re-fetch of the usage may skip the bill.
    can_subset=True,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def raw_layer(
    context: dg.AssetExecutionContext,
    analytics_api: AnalyticsApiResource,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
):
    """Each day is fetched whole (every page) or the run fails; nothing partial is written.

    The bill's pages are fetched in a thread of their own while the usage's are, through one
    client: one step, and the bill's waits on the API overlap the usage's (reading the pages
    does not: both share the cores, see docs/performance.md, "The bill"). The usage is
    written first; a bill that cannot be had then fails the step with nothing of it written.
    The configuration files are judged first: a bad one stops the run before anything is
    fetched or written.
    """
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    days = days_of(context.partition_time_window)
    if RAW_USAGE.name in selected:
        with failing_clearly():
            config_files.judge_all()
    with (
        failing_clearly(),
        analytics_api.client(logger=context.log) as client,
        BillBesideUsage(client, [d.date() for d in days])
        if BILLED_COST.name in selected
        else nullcontext() as bill,
    ):
        if RAW_USAGE.name in selected:
            if analytics_api.is_enterprise:
                yield from enterprise_raw_usage(
                    context, client, analytics_api.source, warehouse, days
                )
            else:
                yield from _console_raw_usage(context, client, warehouse, days)
        if bill is not None:
            yield from billed_cost_written(context, bill.result(), warehouse, days)


def _console_raw_usage(
    context: dg.AssetExecutionContext,
    client: AnalyticsClient,
    warehouse: WarehouseResource,
    days: pd.DatetimeIndex,
):
    """raw_usage of the Console source. Days are staged as they arrive and swapped in at the
    end in one transaction: memory stays bounded by the days in flight, and a failure anywhere
    leaves the warehouse as it was."""
    staging = staging_table(RAW_USAGE)
    with (
        warehouse.connect() as connection,
        staged_replacement(connection, RAW_USAGE, days[0].date(), days[-1].date()),
    ):
        progress = _Progress(context.log, len(days))
        # The fetching threads spool pages; DuckDB stages them a batch at a time in the
        # background while the next days are fetched (ingest/page_staging.py).
        with raw_page_sink(connection, staging, client.max_concurrent_days) as sink:
            for _day, _ in client.load_days([d.date() for d in days], sink):
                progress.day_done(sink.records_staged)
            sink.flush()
        refuse_duplicate_records(connection, staging)
        # The Pandera contract on every staged row, before anything is swapped in.
        rows = yield from staged_rows_contract_checked(connection, RAW_USAGE, staging)
        per_day = {
            day_key(pd.Timestamp(day)): {
                "dagster/row_count": records,
                "actors": actors,
                "sessions": int(sessions),
            }
            for day, records, actors, sessions in connection.execute(
                f"SELECT usage_date, count(*), count(DISTINCT actor), sum(num_sessions) "
                f"FROM {staging} GROUP BY usage_date"
            ).fetchall()
        }
        preview = connection.execute(
            f"SELECT * EXCLUDE (record_json) FROM {staging} "
            f"ORDER BY usage_date, actor LIMIT {PREVIEW_ROWS}"
        ).fetchdf()
        progress.finished(sink.records_staged, sink.pages_in_python)
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_row_count": rows,
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


@budget_asset(
    PRICED_USAGE,
    kinds={"duckdb", "pandas"},
    warnings=checks.PRICED_USAGE_WARNINGS,
    # The bill is what an Enterprise organisation pays: its cost_usd is billed_cost's. One graph
    # for every source: the Console source does not read it.
    deps=["raw_usage", "billed_cost", prices_csv],
)
def priced_usage(
    context: dg.AssetExecutionContext,
    analytics_api: AnalyticsApiResource,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
):
    """Tokens per actor × model × day priced with prices.csv; unknown models fall back to the
    API's estimate (never $0). On the Enterprise source cost_usd is what the bill charges.

    Priced about 100,000 records at a time and swapped in at the end, so neither a year nor a
    large organisation sits in memory at once and a failure leaves the warehouse as it was.
    """
    days = days_of(context.partition_time_window)
    with failing_clearly():
        prices = config_files.prices()
    if analytics_api.is_enterprise:
        yield from enterprise_priced_usage(context, warehouse, prices, days)
        return
    # Per day × model × price source: all the warning checks and the metadata need.
    summaries: list[pd.DataFrame] = []
    rows_per_day: dict[str, int] = {}
    preview = pd.DataFrame()
    rows = 0
    with (
        warehouse.connect() as connection,
        staged_replacement(connection, PRICED_USAGE, days[0].date(), days[-1].date()) as write,
    ):
        records_per_day = {
            pd.Timestamp(day): count
            for day, count in connection.execute(
                f"SELECT usage_date, count(*) FROM {RAW_USAGE.qualified_name} "
                "WHERE usage_date BETWEEN ? AND ? GROUP BY usage_date",
                [days[0].date(), days[-1].date()],
            ).fetchall()
        }
        batches = day_batches(days, records_per_day, PRICE_BATCH_RECORDS)
        # The next batch's breakdown is parsed (by DuckDB, on a cursor of its own) while this
        # one is priced, checked and written; closed before its cursor when a batch fails.
        with (
            connection.cursor() as reader,
            closing(
                read_ahead(
                    model_usage(reader, batch[0].date(), batch[-1].date()) for batch in batches
                )
            ) as usage_of_batches,
        ):
            for usage in usage_of_batches:
                with failing_clearly():
                    frame = price_usage(usage, prices)
                yield from contract_checked("priced_usage", frame)
                write(frame)
                rows += len(frame)
                rows_per_day |= {
                    day_key(day): int(count)
                    for day, count in frame["usage_date"].value_counts().items()
                }
                preview = frame.head(PREVIEW_ROWS) if preview.empty else preview
                summaries.append(
                    frame.groupby(["usage_date", "model", "price_source"], as_index=False)[
                        ["cost_usd", "api_estimated_cost_usd"]
                    ].sum()
                )
    summary = pd.concat(summaries, ignore_index=True)
    totals = day_totals(summary, days)
    unpriced = summary.loc[summary["price_source"] == API_ESTIMATE]
    add_range_metadata(
        context,
        days,
        {
            day_key(day): {
                "dagster/row_count": rows_per_day.get(day_key(day), 0),
                "cost_usd": round(float(totals[day]), 2),
            }
            for day in days
        },
        {
            "range_row_count": rows,
            "range_cost_usd": round(float(summary["cost_usd"].sum()), 2),
            "unpriced_models": ", ".join(sorted(unpriced["model"].unique())) or "none",
            "unpriced_cost_usd": round(float(unpriced["cost_usd"].sum()), 2),
            "preview": markdown_preview(preview),
        },
    )
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=checks.schema_check_name("priced_usage"),
                passed=True,
                metadata={"rows_checked": rows, "failure_cases": 0},
            ),
            checks.unpriced_models_check(summary),
            checks.close_to_api_estimate_check(summary),
            checks.cost_is_billed_check([], billed=False),
        ],
    )


@budget_asset(
    WORKSTREAM_COST,
    kinds={"duckdb", "pandas"},
    deps=[workstreams_csv],
    ins={"priced_usage": dg.AssetIn(metadata={"columns": ["usage_date", "actor", "cost_usd"]})},
)
def workstream_cost(
    context: dg.AssetExecutionContext, priced_usage: pd.DataFrame, config_files: ConfigFilesResource
):
    """Cost per workstream and day through the ownership ledger; unknown actors are Unassigned."""
    days = days_of(context.partition_time_window)
    with failing_clearly():
        ledger = config_files.ledger()
    frame = cost_per_workstream(priced_usage, ledger)
    contract = yield from contract_checked("workstream_cost", frame)
    per_day = {}
    for day, of_day in frame.groupby("usage_date"):
        per_day[day_key(day)] = {"dagster/row_count": len(of_day)} | {
            f"cost_usd/{row.workstream}": round(float(row.cost_usd), 2)
            for row in of_day.itertuples()
        }
    by_workstream = frame.groupby("workstream")["cost_usd"].sum().sort_values(ascending=False)
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_row_count": len(frame),
            "range_cost_usd": round(float(frame["cost_usd"].sum()), 2),
            "cost_by_workstream": markdown_preview(
                by_workstream.round(2).rename("cost_usd").reset_index(), limit=50
            ),
            "preview": markdown_preview(frame),
        },
    )
    yield dg.Output(frame)
    yield contract


def _priced_usage_ending(
    warehouse_resource: WarehouseResource, end: pd.Timestamp, days: int
) -> pd.DataFrame:
    start = end - pd.Timedelta(days=days - 1)
    with warehouse_resource.connect() as connection:
        frame = connection.execute(
            f"SELECT usage_date, actor, cost_usd FROM {PRICED_USAGE.qualified_name} "
            "WHERE usage_date BETWEEN ? AND ?",
            [start.date(), end.date()],
        ).fetchdf()
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    return frame


@budget_asset(
    DAILY_SPEND,
    kinds={"duckdb", "pandas"},
    warnings=checks.DAILY_SPEND_WARNINGS,
    deps=[workstreams_csv],
    ins={
        "priced_usage": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-HISTORY_DAYS, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"columns": ["usage_date", "actor", "model", "cost_usd"]},
        )
    },
)
def daily_spend(
    context: dg.AssetExecutionContext,
    priced_usage: pd.DataFrame,
    thresholds: ThresholdsResource,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
):
    """One row per day with the combined alert. Baselines read the 7 days before the run from
    the warehouse, so re-running one day gives the same verdict as the backfill did."""
    days = days_of(context.partition_time_window)
    history_start = days[0] - pd.Timedelta(days=HISTORY_DAYS)
    with failing_clearly():
        ledger = config_files.ledger()
    earlier = loaded_days_between(warehouse, history_start, days[0] - pd.Timedelta(days=1))
    loaded = earlier[earlier >= first_day()].union(days)
    totals = day_totals(priced_usage, loaded)
    in_run = priced_usage.loc[priced_usage["usage_date"].isin(days)]
    shares = unassigned_share(cost_per_workstream(in_run, ledger), days)
    frame = spend_with_alert(totals, days, shares, thresholds.alert_thresholds())
    contract = yield from contract_checked("daily_spend", frame)

    # The rows top_movers compares (each alert day and its same weekday a week earlier), picked
    # once rather than from the whole range for each day and dimension.
    alert_dates = frame.loc[frame["alert"].fillna(False), "usage_date"]
    compared = priced_usage.loc[
        priced_usage["usage_date"].isin(
            alert_dates.tolist() + (alert_dates - pd.Timedelta(days=HISTORY_DAYS)).tolist()
        )
    ]
    per_day = {}
    for row in frame.itertuples():
        numbers = {
            "dagster/row_count": 1,
            "cost_usd": round(row.cost_usd, 2),
            "alert": None if pd.isna(row.alert) else bool(row.alert),
        }
        if not pd.isna(row.ma7_usd):
            numbers |= {
                "same_weekday_last_week_usd": round(row.same_weekday_last_week_usd, 2),
                "ma7_usd": round(row.ma7_usd, 2),
            }
        if not pd.isna(row.unassigned_share):
            numbers["unassigned_share"] = round(row.unassigned_share, 4)
        # The column is a pandas boolean: its values are numpy bools, never the `True` object.
        if numbers["alert"] is True:
            movers = {
                by: top_movers(compared, ledger, row.usage_date, by)
                for by in ("workstream", "actor", "model")
            }
            numbers["top_movers"] = dg.MetadataValue.json(movers)
        per_day[day_key(row.usage_date)] = numbers
    alert_days = [day_key(day) for day in alert_dates]
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_cost_usd": round(float(frame["cost_usd"].sum()), 2),
            "alert_days": ", ".join(alert_days) or "none",
            "days_without_baseline": int(frame["alert"].isna().sum()),
            "thresholds": dg.MetadataValue.json(json.loads(thresholds.model_dump_json())),
            "preview": markdown_preview(frame),
        },
    )
    yield dg.Output(frame)
    yield contract
    over = frame.loc[frame["unassigned_share"] > thresholds.max_unassigned_share, "usage_date"]
    # The ledger follow-up names spend over two weeks, more history than this asset loads; read
    # only when a day is over the threshold.
    recent = (
        _priced_usage_ending(warehouse, over.max(), LEDGER_FOLLOW_UP_DAYS)
        if not over.empty
        else in_run
    )
    yield checks.unassigned_share_check(frame, recent, ledger, thresholds.max_unassigned_share)


@budget_asset(
    IDLE_SEATS,
    kinds={"duckdb", "pandas"},
    deps=[
        dg.AssetDep(
            asset,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(IdleSeatRules.window_days - 1),
                allow_nonexistent_upstream_partitions=True,
            ),
        )
        for asset in ("raw_usage", "daily_spend")
    ]
    + [seats_csv, workstreams_csv],
)
def idle_seats(
    context: dg.AssetExecutionContext,
    config_files: ConfigFilesResource,
    thresholds: ThresholdsResource,
    warehouse: WarehouseResource,
):
    """Paid seats with no sessions (completely idle) or few lines (barely active) over the
    trailing window. For a conversation about reallocating seats, never for reviewing people."""
    days = days_of(context.partition_time_window)
    rules = thresholds.idle_seat_rules()
    span_start = window_start(days[0], rules)
    with failing_clearly():
        seats = config_files.seats()
        ledger = config_files.ledger()
    # The window reaches before the run: read it (and last_active) from the warehouse.
    with warehouse.connect() as connection:
        usage = connection.execute(
            "SELECT usage_date, actor, num_sessions, lines_added, other_activity "
            f"FROM {RAW_USAGE.qualified_name} WHERE usage_date BETWEEN ? AND ?",
            [span_start.date(), days[-1].date()],
        ).fetchdf()
        last_seen_before = connection.execute(
            f"SELECT actor, max(usage_date) AS last_seen "
            f"FROM {RAW_USAGE.qualified_name} WHERE usage_date < ? AND {SHOWS_ACTIVITY_SQL} "
            "GROUP BY actor",
            [span_start.date()],
        ).fetchdf()
    usage["usage_date"] = pd.to_datetime(usage["usage_date"]).astype("datetime64[ns]")
    usage["other_activity"] = usage["other_activity"].astype("float64")
    loaded = loaded_days_between(warehouse, span_start, days[-1])
    with_verdict = verdict_days(days, loaded, first_day(), rules)
    frame = idle_seats_as_of(
        with_verdict,
        usage,
        seats,
        ledger,
        last_seen_before.set_index("actor")["last_seen"],
        rules,
    )
    contract = yield from contract_checked("idle_seats", frame)
    per_day = {}
    for day in days:
        key = day_key(day)
        if day not in with_verdict:
            per_day[key] = {
                "dagster/row_count": 0,
                "verdict": "no verdict: the window reaches before the first day or a day in it "
                "was not loaded",
            }
            continue
        listed = frame.loc[frame["as_of"] == day]
        per_day[key] = {
            "dagster/row_count": len(listed),
            "idle_seats": len(listed),
            "idle_monthly_cost_usd": round(float(listed["monthly_cost_usd"].sum()), 2),
        }
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_row_count": len(frame),
            "days_with_verdict": len(with_verdict),
            "days_without_verdict": len(days) - len(with_verdict),
            "preview": markdown_preview(frame),
        },
    )
    yield dg.Output(frame)
    yield contract


budget_assets = [
    raw_layer,
    priced_usage,
    workstream_cost,
    daily_spend,
    idle_seats,
    budget_forecast,
    bill_reconciliation,
]
