import datetime as dt

import dagster as dg

from budget_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from budget_pipeline.defs.budget.jobs import budget_daily_job
from budget_pipeline.defs.partitions import first_day

# Usage data can arrive late: each morning re-fetches the two days before yesterday.
LATE_DAYS = 2


def daily_range(scheduled_for: dt.datetime) -> tuple[str, str]:
    """Yesterday and the LATE_DAYS days before it, never before the first partition."""
    yesterday = scheduled_for.date() - dt.timedelta(days=1)
    start = max(yesterday - dt.timedelta(days=LATE_DAYS), first_day().date())
    return start.isoformat(), yesterday.isoformat()


@dg.schedule(
    name="budget_daily_schedule",
    job=budget_daily_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="06:00 UTC: yesterday plus the two days before it (late data), in one run.",
    tags={"team": "finops-data"},
)
def budget_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    start, end = daily_range(context.scheduled_execution_time)
    # A range tag pair, not three partition keys: with BackfillPolicy.single_run() the three days
    # are one run, one fetch loop and one DuckDB write per asset.
    return dg.RunRequest(
        run_key=f"{start}...{end}",
        tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
    )
