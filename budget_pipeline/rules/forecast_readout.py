"""What a reader is told about the month-end forecast: the rows of the latest as-of day, which
budgets are at risk, and why a day has no forecast. Shared by the report, the weekly digest and
the command-line summary so that all three say the same thing.
"""

from collections.abc import Iterable

import pandas as pd

from budget_pipeline.rules.attribution import UNASSIGNED
from budget_pipeline.rules.forecast import (
    MIN_RUN_RATE_DAYS,
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


def run_rate_days(rows: pd.DataFrame) -> int | None:
    """How many loaded days the run rate of these rows (one as-of day) stands on; None for rows
    written before the warehouse recorded it."""
    if "run_rate_days" not in rows.columns or rows["run_rate_days"].isna().all():
        return None
    return int(rows["run_rate_days"].dropna().min())


def run_rate_warning(days: int | None) -> str | None:
    """What to tell a reader of a forecast whose run rate stands on too few days, else None."""
    if days is None or days >= MIN_RUN_RATE_DAYS:
        return None
    return (
        f"the run rate stands on {days} loaded day{'s' if days != 1 else ''} only (fewer than "
        f"{MIN_RUN_RATE_DAYS}): a weekday not loaded yet is forecast at the mean of those "
        "days, so a forecast over budget is an early guess"
    )


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
