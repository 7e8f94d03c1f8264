import datetime as dt

import dagster as dg

from budget_pipeline.defs.hygiene.jobs import idle_seat_digest_job
from budget_pipeline.notify import seat_digest


def digest_day(scheduled_for: dt.datetime) -> dt.date:
    """Yesterday: on a Monday, the Sunday that closes the ISO week just ended."""
    return scheduled_for.date() - dt.timedelta(days=1)


@dg.schedule(
    name="idle_seat_digest_schedule",
    job=idle_seat_digest_job,
    cron_schedule="0 7 * * 1",
    execution_timezone="UTC",
    description="Mondays 07:00 UTC, after the 06:00 daily run: the idle-seat digest as of "
    "yesterday.",
    tags={"team": "finops-data"},
)
def idle_seat_digest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = digest_day(context.scheduled_execution_time)
    # run_key per ISO week: the schedule never launches the same week twice.
    return dg.RunRequest(run_key=seat_digest.iso_week(day), partition_key=day.isoformat())
