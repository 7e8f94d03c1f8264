"""The warehouse rows one month's report needs, read with SQL.

The report reads beyond its own month: the previous month (for "change against last month"),
the 7 days before the month (an alert on the 1st compares with the 7 days before it) and the
loaded days before it (an idle-seat verdict needs its whole 14-day window loaded).
"""

from dataclasses import dataclass

import duckdb
import pandas as pd

from budget_pipeline.report.month import Month
from budget_pipeline.rules.spend import HISTORY_DAYS
from budget_pipeline.warehouse.tables import (
    DAILY_SPEND,
    IDLE_SEATS,
    PRICED_USAGE,
    RAW_USAGE,
    WORKSTREAM_COST,
    as_contract_dtypes,
)

# The longest look-back of anything the report explains: an idle-seat window of up to 31 days.
LOOKBACK_DAYS = 31


@dataclass(frozen=True)
class MonthTables:
    month: Month
    workstream_cost: pd.DataFrame  # previous month and this month
    daily_spend: pd.DataFrame  # from the previous month's start (or the look-back) to month end
    priced_usage: pd.DataFrame  # this month and the HISTORY_DAYS before it
    raw_usage: pd.DataFrame  # this month
    idle_seats: pd.DataFrame  # as-of days in this month
    organization_ids: tuple[str, ...]


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
            "usage_date, actor, pull_requests, commits, lines_added, record_json",
            month.start,
            month.end,
        ),
        idle_seats=rows(IDLE_SEATS, "*", month.start, month.end),
        organization_ids=tuple(organization for (organization,) in organizations),
    )
