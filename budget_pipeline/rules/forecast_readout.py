"""What a reader is told about the month-end forecast: the rows of the latest as-of day, which
budgets are at risk, and why a day has no forecast. Shared by the report, the weekly digest and
the command-line summary so that all three say the same thing.
"""

from collections.abc import Iterable

import pandas as pd

from budget_pipeline.rules.attribution import UNASSIGNED
from budget_pipeline.rules.forecast import (
    TOTAL,
    forecast_unavailable_reason,
    month_end,
    month_start,
)
from budget_pipeline.warehouse.tables import FORECAST_OVER_BUDGET, OVER_BUDGET

AT_RISK = (OVER_BUDGET, FORECAST_OVER_BUDGET)


def latest_forecast(rows: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The rows of the latest as-of day on or before `as_of` in the month of `as_of`, ledger
    workstreams first (by name), then Unassigned, then TOTAL; empty when that month has none."""
    as_of = pd.Timestamp(as_of)
    days = pd.to_datetime(rows["as_of"])
    candidates = rows.loc[(days >= month_start(as_of)) & (days <= as_of)]
    if candidates.empty:
        return candidates.reset_index(drop=True)
    latest = candidates.loc[pd.to_datetime(candidates["as_of"]) == candidates["as_of"].max()]
    return in_reading_order(latest)


def in_reading_order(rows: pd.DataFrame) -> pd.DataFrame:
    rank = rows["workstream"].map({UNASSIGNED: 1, TOTAL: 2}).fillna(0)
    return (
        rows.assign(_rank=rank)
        .sort_values(["_rank", "workstream"])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def at_risk(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows over their budget or heading past it: over budget first, then by how far the
    forecast goes past the budget."""
    risky = rows.loc[rows["status"].isin(AT_RISK)]
    return (
        risky.assign(_over=risky["status"] != OVER_BUDGET)
        .sort_values(["_over", "forecast_vs_budget"], ascending=[True, False])
        .drop(columns="_over")
        .reset_index(drop=True)
    )


def has_budgets(rows: pd.DataFrame) -> bool:
    return bool(rows["budget_usd"].notna().any())


def days_left(as_of: pd.Timestamp) -> int:
    """Days of the month still to come after `as_of`."""
    return int((month_end(as_of) - pd.Timestamp(as_of).normalize()).days)


def missing_forecast_reason(
    as_of: pd.Timestamp, loaded_days: Iterable[pd.Timestamp], first_day: pd.Timestamp
) -> str:
    """Why the warehouse holds no forecast as of `as_of`: the forecast rule's own reason, or,
    when the rule would make one, that the asset has not been materialised for that day."""
    as_of = pd.Timestamp(as_of)
    reason = forecast_unavailable_reason(as_of, loaded_days, pd.Timestamp(first_day))
    if reason is not None:
        return reason
    return (
        f"budget_forecast has no rows for {as_of:%Y-%m-%d}: materialise it for that day "
        "(it is in group budget)"
    )
