"""Daily spend and the combined spend alert (docs/rules.md, "Combined spend alert")."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from budget_pipeline.rules.attribution import workstream_of
from budget_pipeline.warehouse.tables import DAILY_SPEND

HISTORY_DAYS = 7


@dataclass(frozen=True)
class AlertThresholds:
    floor_usd: float = 50.0
    same_weekday_ratio: float = 1.6
    ma7_ratio: float = 1.5


def day_totals(priced_usage: pd.DataFrame, days: pd.DatetimeIndex) -> pd.Series:
    """Total cost of each of `days`; a day without usage costs 0."""
    return (
        priced_usage.groupby("usage_date")["cost_usd"]
        .sum()
        .reindex(days, fill_value=0.0)
        .astype("float64")
    )


def alert_verdict(
    today: float, same_weekday_last_week: float, ma7: float, thresholds: AlertThresholds
) -> bool:
    """Fire only when all three hold, so that firing always means acting."""
    return bool(
        today >= thresholds.floor_usd
        and same_weekday_last_week > 0
        and today >= thresholds.same_weekday_ratio * same_weekday_last_week
        and ma7 > 0
        and today >= thresholds.ma7_ratio * ma7
    )


def spend_with_alert(
    totals: pd.Series,
    days: pd.DatetimeIndex,
    unassigned_share: pd.Series,
    thresholds: AlertThresholds = AlertThresholds(),
) -> pd.DataFrame:
    """One row per day of `days` with its baselines and verdict.

    `totals` holds the total of every *loaded* day the rows need (the days themselves and the
    7 before them); a day absent from it was never materialised, which is missing, not 0.
    Without all 7 preceding days the baselines and the verdict are NULL.
    """
    rows = []
    for day in days:
        history = pd.date_range(day - pd.Timedelta(days=HISTORY_DAYS), periods=HISTORY_DAYS)
        today = float(totals.get(day, 0.0))
        if history.isin(totals.index).all():
            previous = totals.reindex(history)
            last_week = float(previous.iloc[0])
            ma7 = float(previous.mean())
            alert: bool | None = alert_verdict(today, last_week, ma7, thresholds)
        else:
            last_week, ma7, alert = np.nan, np.nan, None
        rows.append((day, today, last_week, ma7, alert, float(unassigned_share.get(day, np.nan))))
    frame = pd.DataFrame(rows, columns=DAILY_SPEND.column_names)
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    frame["alert"] = frame["alert"].astype("boolean")
    for column in ("cost_usd", "same_weekday_last_week_usd", "ma7_usd", "unassigned_share"):
        frame[column] = frame[column].astype("float64")
    return frame


def top_movers(
    priced_usage: pd.DataFrame,
    ledger: pd.DataFrame,
    day: pd.Timestamp,
    by: str,
    limit: int = 3,
) -> list[dict]:
    """What grew most on `day` against the same weekday a week earlier, by workstream, actor
    or model: the explanation that turns an alert into an action."""
    window = priced_usage.loc[
        priced_usage["usage_date"].isin([day, day - pd.Timedelta(days=HISTORY_DAYS)]),
        ["usage_date", "actor", "model", "cost_usd"],
    ]
    if by == "workstream":
        window = window.assign(workstream=workstream_of(window["actor"], ledger))
    pivot = (
        window.assign(week=np.where(window["usage_date"] == day, "today", "last_week"))
        .pivot_table(index=by, columns="week", values="cost_usd", aggfunc="sum", fill_value=0.0)
        .reindex(columns=["today", "last_week"], fill_value=0.0)
    )
    pivot["change_usd"] = pivot["today"] - pivot["last_week"]
    top = pivot.sort_values(["change_usd"], ascending=False).head(limit)
    return [
        {
            "name": str(name),
            "today_usd": round(float(row.today), 2),
            "last_week_usd": round(float(row.last_week), 2),
            "change_usd": round(float(row.change_usd), 2),
        }
        for name, row in top.iterrows()
        if row.change_usd > 0
    ]
