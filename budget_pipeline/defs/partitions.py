import dagster as dg
import pandas as pd

from budget_pipeline import settings

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.start_date().isoformat(), timezone="UTC"
)


def days_of(time_window: dg.TimeWindow) -> pd.DatetimeIndex:
    """The UTC days a run covers: one partition, or a whole backfill range."""
    start = pd.Timestamp(time_window.start).tz_localize(None).normalize()
    end = pd.Timestamp(time_window.end).tz_localize(None).normalize()
    return pd.date_range(start, end - pd.Timedelta(days=1))


def first_day() -> pd.Timestamp:
    return pd.Timestamp(settings.start_date())


# The budget report is monthly, from the month of the first day. The current month is a partition
# too (end_offset=1), so a mid-month preview is possible; its page says how many days it has.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=settings.start_date().strftime("%Y-%m"),
    fmt="%Y-%m",
    timezone="UTC",
    end_offset=1,
)
