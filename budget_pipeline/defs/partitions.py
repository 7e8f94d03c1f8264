import os

import dagster as dg
import pandas as pd

# The first day the pipeline knows about. Baselines and idle-seat verdicts need history, so the
# days right after it have NULL alerts and no idle-seat rows (SPEC §4.3, §4.4).
DEFAULT_START_DATE = "2026-01-01"


def start_date() -> str:
    return os.environ.get("BUDGET_PIPELINE_START_DATE", DEFAULT_START_DATE)


daily_partitions = dg.DailyPartitionsDefinition(start_date=start_date(), timezone="UTC")


def days_of(time_window: dg.TimeWindow) -> pd.DatetimeIndex:
    """The UTC days a run covers: one partition, or a whole backfill range."""
    start = pd.Timestamp(time_window.start).tz_localize(None).normalize()
    end = pd.Timestamp(time_window.end).tz_localize(None).normalize()
    return pd.date_range(start, end - pd.Timedelta(days=1))


def first_day() -> pd.Timestamp:
    return pd.Timestamp(start_date())


# The budget report is monthly, from the month of the first day. The current month is a partition
# too (end_offset=1), so a mid-month preview is possible; its page says how many days it has.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=pd.Timestamp(start_date()).strftime("%Y-%m"),
    fmt="%Y-%m",
    timezone="UTC",
    end_offset=1,
)
