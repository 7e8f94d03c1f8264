"""The warehouse rows one month's report needs, read with SQL.

The report reads beyond its own month: the previous month (for "change against last month"),
the 7 days before the month (an alert on the 1st compares with the 7 days before it), the
loaded days before it (an idle-seat verdict needs its whole 14-day window loaded) and, for "how
far to trust the forecast", the spend of the months before it (a bounded number of them).
"""

from dataclasses import dataclass

import duckdb
import pandas as pd

from budget_pipeline.report.month import Month
from budget_pipeline.rules.forecast import RUN_RATE_DAYS
from budget_pipeline.rules.spend import HISTORY_DAYS
from budget_pipeline.warehouse.tables import (
    BILL_RECONCILIATION,
    BILLED_COST,
    BUDGET_FORECAST,
    DAILY_SPEND,
    IDLE_SEATS,
    PRICED_USAGE,
    RAW_USAGE,
    WORKSTREAM_COST,
    as_contract_dtypes,
)

# The longest look-back of anything the report explains: an idle-seat window of up to 31 days.
LOOKBACK_DAYS = 31
# The forecast's accuracy is shown for this many months before the report's month (and the month
# itself): enough to judge it, without reading a year of history for every report.
ACCURACY_MONTHS = 6


@dataclass(frozen=True)
class MonthTables:
    month: Month
    workstream_cost: pd.DataFrame  # previous month and this month
    daily_spend: pd.DataFrame  # from the previous month's start (or the look-back) to month end
    priced_usage: pd.DataFrame  # this month and the HISTORY_DAYS before it
    raw_usage: pd.DataFrame  # this month
    idle_seats: pd.DataFrame  # as-of days in this month
    organization_ids: tuple[str, ...]
    budget_forecast: pd.DataFrame | None = None  # as-of days in this month
    # For the forecast's accuracy: workstream cost (usage_date, workstream, cost_usd) and the
    # loaded days from `accuracy_start(month)` on, so each month's day-7 forecast has its window.
    cost_history: pd.DataFrame | None = None
    loaded_history: pd.DatetimeIndex | None = None
    # The bill: the month's reconciliation and the billed list amount per day × model.
    bill_reconciliation: pd.DataFrame | None = None
    billed_by_model: pd.DataFrame | None = None


def accuracy_months_start(month: Month) -> pd.Timestamp:
    """The first month whose forecast accuracy the report of `month` shows."""
    return month.start - pd.DateOffset(months=ACCURACY_MONTHS)


def accuracy_start(month: Month) -> pd.Timestamp:
    """The first day read for the accuracy: the run-rate window of the earliest month shown."""
    return accuracy_months_start(month) - pd.Timedelta(days=RUN_RATE_DAYS - 1)


def read_month(connection: duckdb.DuckDBPyConnection, month: Month) -> MonthTables:
    def rows(table, columns: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        frame = connection.execute(
            f"SELECT {columns} FROM {table.qualified_name} "
            f"WHERE {table.partition_column} BETWEEN ? AND ? ORDER BY ALL",
            [start.date(), end.date()],
        ).fetchdf()
        return as_contract_dtypes(table.name, frame)

    earliest = min(month.previous.start, month.start - pd.Timedelta(days=LOOKBACK_DAYS))
    organizations = connection.execute(
        "SELECT DISTINCT json_extract_string(record_json, '$.organization_id') AS id "
        f"FROM {RAW_USAGE.qualified_name} WHERE usage_date BETWEEN ? AND ? AND id IS NOT NULL "
        "ORDER BY id",
        [month.start.date(), month.end.date()],
    ).fetchall()
    return MonthTables(
        month=month,
        workstream_cost=rows(WORKSTREAM_COST, "*", month.previous.start, month.end),
        daily_spend=rows(DAILY_SPEND, "*", earliest, month.end),
        priced_usage=rows(
            PRICED_USAGE, "*", month.start - pd.Timedelta(days=HISTORY_DAYS), month.end
        ),
        raw_usage=rows(
            RAW_USAGE,
            "usage_date, actor, pull_requests, commits, lines_added, record_json, source, "
            "other_activity",
            month.start,
            month.end,
        ),
        idle_seats=rows(IDLE_SEATS, "*", month.start, month.end),
        organization_ids=tuple(organization for (organization,) in organizations),
        budget_forecast=rows(BUDGET_FORECAST, "*", month.start, month.end),
        cost_history=rows(
            WORKSTREAM_COST, "usage_date, workstream, cost_usd", accuracy_start(month), month.end
        ),
        loaded_history=pd.DatetimeIndex(
            rows(DAILY_SPEND, "usage_date", accuracy_start(month), month.end)["usage_date"]
        ),
        bill_reconciliation=rows(BILL_RECONCILIATION, "*", month.start, month.end),
        billed_by_model=as_contract_dtypes(
            BILLED_COST.name,
            connection.execute(
                "SELECT usage_date, model, sum(list_amount_usd) AS list_amount_usd "
                f"FROM {BILLED_COST.qualified_name} WHERE usage_date BETWEEN ? AND ? "
                "GROUP BY ALL ORDER BY ALL",
                [month.start.date(), month.end.date()],
            ).fetchdf(),
        ),
    )
