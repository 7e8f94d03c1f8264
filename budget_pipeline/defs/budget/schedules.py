import datetime as dt

import dagster as dg

from budget_pipeline import settings
from budget_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from budget_pipeline.defs.budget.jobs import bill_refresh_job, budget_daily_job
from budget_pipeline.defs.partitions import first_day

# Usage data can arrive late: each morning re-fetches the two days before yesterday.
LATE_DAYS = 2
# Billed figures keep moving for about 30 days: each week the bill of the last 31 loaded days is
# fetched again (docs/operations.md, "Schedules").
BILL_SETTLING_DAYS = 31


def daily_range(scheduled_for: dt.datetime, lag_days: int = 1) -> tuple[str, str]:
    """The newest day the source serves (yesterday, or `lag_days` back) and the LATE_DAYS days
    before it, never before the first partition."""
    newest = scheduled_for.date() - dt.timedelta(days=max(lag_days, 1))
    start = max(newest - dt.timedelta(days=LATE_DAYS), first_day().date())
    return start.isoformat(), newest.isoformat()


def source_lag_days() -> int:
    """How many days after its end the source serves a day: the Claude Enterprise Analytics
    API's lag (BUDGET_PIPELINE_ENTERPRISE_LAG_DAYS), else 1 (yesterday)."""
    if settings.is_enterprise(settings.source()):
        return settings.enterprise_lag_days()
    return 1


@dg.schedule(
    name="budget_daily_schedule",
    job=budget_daily_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="06:00 UTC: yesterday plus the two days before it (late data), in one run; on "
    "the enterprise source the day its lag allows (default 3 days back) and the two before it.",
    tags={"team": "finops-data"},
)
def budget_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    start, end = daily_range(context.scheduled_execution_time, source_lag_days())
    # A range tag pair, not three partition keys: with BackfillPolicy.single_run() the three days
    # are one run, one fetch loop and one DuckDB write per asset.
    return dg.RunRequest(
        run_key=f"{start}...{end}",
        tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
    )


def newest_loaded_day(instance: dg.DagsterInstance) -> dt.date | None:
    """The newest day of daily_spend materialised (from the event log: the schedule never opens
    the warehouse, whose write lock a running backfill may hold)."""
    partitions = instance.get_materialized_partitions(dg.AssetKey("daily_spend"))
    return max((dt.date.fromisoformat(key) for key in partitions), default=None)


def bill_refresh_range(newest: dt.date) -> tuple[str, str]:
    """The BILL_SETTLING_DAYS days ending with `newest`, never before the first partition."""
    start = max(newest - dt.timedelta(days=BILL_SETTLING_DAYS - 1), first_day().date())
    return start.isoformat(), newest.isoformat()


@dg.schedule(
    name="bill_weekly_schedule",
    job=bill_refresh_job,
    cron_schedule="0 7 * * 1",
    execution_timezone="UTC",
    description="Mondays 07:00 UTC: the bill of the 31 days ending with the newest loaded day, "
    "fetched again (billed figures settle over about 30 days), and what depends on it.",
    tags={"team": "finops-data"},
)
def bill_weekly_schedule(
    context: dg.ScheduleEvaluationContext,
) -> dg.RunRequest | dg.SkipReason:
    newest = newest_loaded_day(context.instance)
    if newest is None:
        return dg.SkipReason("no day is loaded yet: nothing to re-fetch the bill of")
    start, end = bill_refresh_range(newest)
    return dg.RunRequest(
        run_key=f"bill:{start}...{end}",
        tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
    )
