"""The weekly idle-seat digest: a job that refreshes `idle_seats` for yesterday and sends the digest
in its last step, and the Monday schedule that runs it.

Why one job and not a run-status sensor: the digest reads the warehouse, and a step of a run
takes its turn on the `duckdb_warehouse` pool, while a sensor would contend for DuckDB's write
lock with whatever run is writing. Each sent digest is a materialisation of `idle_seat_digest`
(partition = its as-of day, metadata `iso_week`, `sent`), so "was this week sent?" is a lookup in
Dagster's event log that survives daemon restarts, re-runs and manual launches.
"""

import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from budget_pipeline import settings
from budget_pipeline.defs.budget.building_blocks import OWNERS, WAREHOUSE_POOL
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.defs.partitions import daily_partitions, days_of, first_day
from budget_pipeline.defs.resources import (
    ConfigFilesResource,
    ThresholdsResource,
    WarehouseResource,
)
from budget_pipeline.notify import seat_digest as digest
from budget_pipeline.rules.attribution import unassigned_actors_over
from budget_pipeline.rules.config_files import ConfigFileError
from budget_pipeline.rules.forecast import month_start
from budget_pipeline.rules.forecast_readout import at_risk, latest_forecast, missing_forecast_reason
from budget_pipeline.rules.idle_seats import IdleSeatRules, listed_monthly_cost, verdict_days
from budget_pipeline.rules.month_source import month_source
from budget_pipeline.text_safety import markdown_code_block
from budget_pipeline.warehouse.tables import (
    BUDGET_FORECAST,
    DAILY_SPEND,
    IDLE_SEATS,
    PRICED_USAGE,
    RAW_USAGE,
    as_contract_dtypes,
)

DIGEST_GROUP = "hygiene"
WEEK_DAYS = 7


class SeatDigestConfig(dg.Config):
    """How the digest is laid out; its thresholds come from the `thresholds` resource."""

    ledger_actors: int = Field(default=10, description="unassigned actors listed, largest first")


def _sent_before(instance: dg.DagsterInstance, as_of: dt.date) -> dg.EventLogRecord | None:
    """The materialisation that sent this ISO week's digest, if any (any day of the week counts,
    so a manual run for another day of the same week cannot send it twice)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("idle_seat_digest"),
            asset_partitions=[day.isoformat() for day in digest.iso_week_days(as_of)],
        ),
        limit=100,
    ).records
    for record in records:
        metadata = record.asset_materialization.metadata
        if "sent" in metadata and metadata["sent"].value is True:
            return record
    return None


def undelivered_digest_message(week: str, as_of: dt.date) -> str:
    return (
        f"the idle-seat digest of {week} was not delivered (the webhook's answer is logged "
        "above); nothing was recorded as sent. Re-run job idle_seat_digest_job for partition "
        f"{as_of} to send it (in the UI: re-execute this run), or: dagster asset materialize "
        f"-m budget_pipeline.definitions --select 'idle_seats,idle_seat_digest' --partition {as_of}"
    )


def _read(connection, sql: str, params: list, table: str) -> pd.DataFrame:
    return as_contract_dtypes(table, connection.execute(sql, params).fetchdf())


@dg.asset(
    name="idle_seat_digest",
    group_name=DIGEST_GROUP,
    owners=OWNERS,
    kinds={"slack", "duckdb"},
    tags={"team": "finops-data"},
    partitions_def=daily_partitions,
    # The same policy as idle_seats, so that their job stays one run; a range is refused below.
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    description="The weekly idle-seat digest sent through the alert notifier, once per ISO week: "
    "idle and barely active seats as of the partition day, their monthly cost, the change "
    "against 7 days earlier, the ledger follow-up and the month's budgets at risk. For "
    "reallocating seats, never for performance reviews.",
    deps=[
        dg.AssetDep(
            "idle_seats",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-WEEK_DAYS, allow_nonexistent_upstream_partitions=True
            ),
        ),
        dg.AssetDep(
            "daily_spend",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(IdleSeatRules.window_days - 1),
                allow_nonexistent_upstream_partitions=True,
            ),
        ),
        # the source the window's seats were read with, which words the digest
        dg.AssetDep(
            "raw_usage",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(IdleSeatRules.window_days - 1),
                allow_nonexistent_upstream_partitions=True,
            ),
        ),
        # the budgets at risk: the month's latest forecast up to the as-of day
        dg.AssetDep("budget_forecast"),
    ],
)
def idle_seat_digest(
    context: dg.AssetExecutionContext,
    config: SeatDigestConfig,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
    alert_notifier: AlertNotifier,
    thresholds: ThresholdsResource,
) -> dg.MaterializeResult:
    days = days_of(context.partition_time_window)
    if len(days) != 1:
        raise dg.Failure(
            description=f"the digest is sent for one as-of day, not {len(days)}: run it for "
            "one partition (the schedule runs it for yesterday)"
        )
    as_of = days[0].date()
    week = digest.iso_week(as_of)
    already = _sent_before(context.instance, as_of)
    if already is not None:
        context.log.info(
            f"the digest of {week} was already sent (run {already.run_id}): not sending it again"
        )
        return dg.MaterializeResult(metadata={"iso_week": week, "sent": False})

    rules = thresholds.idle_seat_rules()
    previous_as_of = as_of - dt.timedelta(days=WEEK_DAYS)
    window_start = pd.Timestamp(as_of) - pd.Timedelta(days=rules.window_days - 1)
    history_start = pd.Timestamp(previous_as_of) - pd.Timedelta(days=rules.window_days - 1)
    try:
        ledger = config_files.ledger()
    except ConfigFileError as error:
        raise dg.Failure(description=str(error)) from error
    with warehouse.connect() as connection:
        spend = _read(
            connection,
            f"SELECT * FROM {DAILY_SPEND.qualified_name} WHERE usage_date BETWEEN ? AND ?",
            [history_start.date(), as_of],
            "daily_spend",
        )
        seats = _read(
            connection,
            f"SELECT * FROM {IDLE_SEATS.qualified_name} WHERE as_of IN (?, ?)",
            [previous_as_of, as_of],
            "idle_seats",
        )
        usage = _read(
            connection,
            f"SELECT usage_date, actor, cost_usd FROM {PRICED_USAGE.qualified_name} "
            "WHERE usage_date BETWEEN ? AND ?",
            [window_start.date(), as_of],
            "priced_usage",
        )
        # The month's forecast as of the digest's day, or its latest day before it that month.
        this_month = [month_start(pd.Timestamp(as_of)).date(), as_of]
        forecast = _read(
            connection,
            f"SELECT * FROM {BUDGET_FORECAST.qualified_name} WHERE as_of BETWEEN ? AND ?",
            this_month,
            "budget_forecast",
        )
        # Which source the window's seats were read with: that of its newest day with rows,
        # whatever the setting says, so the digest cannot word them as another source's.
        window_rows = connection.execute(
            f"SELECT DISTINCT usage_date, source FROM {RAW_USAGE.qualified_name} "
            "WHERE usage_date BETWEEN ? AND ?",
            [window_start.date(), as_of],
        ).fetchdf()
        loaded_this_month = _read(
            connection,
            f"SELECT usage_date FROM {DAILY_SPEND.qualified_name} WHERE usage_date BETWEEN ? AND ?",
            this_month,
            "daily_spend",
        )["usage_date"]
    latest = latest_forecast(forecast, pd.Timestamp(as_of))
    budgets = digest.BudgetsThisMonth(
        as_of,
        latest,
        None
        if not latest.empty
        else missing_forecast_reason(pd.Timestamp(as_of), loaded_this_month, first_day()),
    )
    # The same rule as the idle_seats asset: no rows may mean "nobody idle" or "no verdict".
    with_verdict = verdict_days(
        pd.DatetimeIndex([pd.Timestamp(previous_as_of), pd.Timestamp(as_of)]),
        pd.DatetimeIndex(spend["usage_date"]),
        first_day(),
        rules,
    )
    if pd.Timestamp(as_of) not in with_verdict:
        raise dg.Failure(
            description=f"no idle-seat verdict as of {as_of}: the {rules.window_days} days "
            f"{window_start:%Y-%m-%d} … {as_of} are not all loaded. Load them with `dagster asset "
            "materialize -m budget_pipeline.definitions --select 'group:budget' --partition-range "
            f"{window_start:%Y-%m-%d}...{as_of}`, then re-run this job."
        )
    current = seats.loc[seats["as_of"] == pd.Timestamp(as_of)].reset_index(drop=True)
    previous = (
        seats.loc[seats["as_of"] == pd.Timestamp(previous_as_of)].reset_index(drop=True)
        if pd.Timestamp(previous_as_of) in with_verdict
        else None
    )
    in_window = spend.loc[spend["usage_date"] >= window_start]
    days_over = int((in_window["unassigned_share"] > thresholds.max_unassigned_share).sum())
    ledger_follow_up = digest.LedgerFollowUp(
        start=window_start.date(),
        end=as_of,
        threshold=thresholds.max_unassigned_share,
        days_over=days_over,
        actors=unassigned_actors_over(
            usage, ledger, pd.Timestamp(as_of), rules.window_days, config.ledger_actors
        ),
    )
    text = digest.digest_text(
        as_of,
        current,
        previous,
        rules.window_days,
        ledger_follow_up,
        alert_notifier.link(f"assets/idle_seats?partition={as_of}"),
        budgets,
        console_source=not month_source(
            window_rows, settings.is_enterprise(settings.source_or_demo())
        ).is_enterprise,
    )
    if not alert_notifier.notify(text, context.log):
        # A failed run, not a green one: the UI and the run-failure notification show it. Nothing
        # is materialised, so `_sent_before` still finds no digest for the week and a re-run
        # sends it; the schedule itself never launches the same week twice (its run_key).
        raise dg.Failure(description=undelivered_digest_message(week, as_of))
    return dg.MaterializeResult(
        metadata={
            "iso_week": week,
            "sent": True,
            "seats_listed": len(current),
            "listed_monthly_cost_usd": listed_monthly_cost(current),
            "unassigned_days_over": days_over,
            "budgets_at_risk": len(at_risk(latest)),
            "digest": dg.MetadataValue.md(markdown_code_block(text)),
        }
    )


digest_assets = [idle_seat_digest]
