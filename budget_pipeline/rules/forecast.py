"""Monthly budgets and the month-end forecast.

Every as-of day D of month M forecasts what M will cost: the spend of the 1st of M … D plus, for
each remaining day of M, the workstream's typical cost on that weekday over the last four weeks.
Weekdays are kept apart because a team that spends nothing on weekends would otherwise be
forecast a weekend bill.

`TOTAL` is the whole organisation: all token cost, `Unassigned` included, plus every paid
seat's monthly cost. Seats are billed for the whole month, so they are counted in full from
the month's first day and never extrapolated: the run rate of `TOTAL` is its token cost only,
and `forecast - spent` is always token cost still to come.
"""

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd

from budget_pipeline.rules.attribution import UNASSIGNED
from budget_pipeline.warehouse.tables import (
    BUDGET_FORECAST,
    FORECAST_OVER_BUDGET,
    ON_TRACK,
    OVER_BUDGET,
)

TOTAL = "TOTAL"


RUN_RATE_DAYS = 28
# Below this many loaded days a weekday may have no day of its own in the window and takes the
# mean of all of them (two loaded weekdays put weekday spend on the weekends): readers are warned.
MIN_RUN_RATE_DAYS = 7
ACCURACY_DAYS = (7, 14, 21)

FORECAST_COLUMNS = tuple(BUDGET_FORECAST.column_names)
ACCURACY_COLUMNS = ("month", "workstream", "actual_usd", "mape", "forecasts")


class Forecast(NamedTuple):
    """The forecast rows, and why each as-of day without rows has none."""

    rows: pd.DataFrame
    skipped: dict[pd.Timestamp, str]


def month_start(day: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(day).normalize().replace(day=1)


def month_end(day: pd.Timestamp) -> pd.Timestamp:
    start = month_start(day)
    return start + pd.Timedelta(days=start.days_in_month - 1)


def budget_for(budgets: pd.DataFrame, workstream: str, month: pd.Timestamp) -> float | None:
    """The budget of `workstream` in the month of `month`: its row for that month, else its row
    with an empty month, else None."""
    return _BudgetLookup(budgets).get(workstream, month_start(month))


def budget_status(spent: float, forecast: float, budget: float | None) -> str | None:
    """Over budget already, heading past it, or on track; None without a budget.

    A budget of 0 follows the same rule: any spend is over it, and a month with no spend and
    nothing forecast is on track.
    """
    if budget is None or np.isnan(budget):
        return None
    if spent > budget:
        return OVER_BUDGET
    if forecast > budget:
        return FORECAST_OVER_BUDGET
    return ON_TRACK


def forecast_vs_budget(forecast: float, budget: float | None) -> float:
    """forecast / budget; NaN (NULL) without a budget or with a budget of 0."""
    if budget is None or np.isnan(budget) or budget == 0:
        return np.nan
    return forecast / budget


def forecast_unavailable_reason(
    as_of: pd.Timestamp, loaded_days: Iterable[pd.Timestamp], first_day: pd.Timestamp
) -> str | None:
    """Why day `as_of` cannot forecast its month, or None when it can.

    A forecast needs the month's spend so far: its first day on or after the first partition
    day, and every day from then to `as_of` loaded (a day never materialised is missing, not 0).
    """
    start = month_start(as_of)
    if start < first_day:
        return (
            f"the month began on {start:%Y-%m-%d}, before the first partition day "
            f"{pd.Timestamp(first_day):%Y-%m-%d}: its spend so far is unknown"
        )
    loaded = set(pd.DatetimeIndex(loaded_days))
    missing = [day for day in pd.date_range(start, as_of) if day not in loaded]
    if missing:
        shown = ", ".join(f"{day:%Y-%m-%d}" for day in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        return (
            f"{len(missing)} day(s) of the month so far not loaded ({shown}{more}): "
            "its spend so far is incomplete"
        )
    return None


def forecast_rows(
    as_of_days: Iterable[pd.Timestamp],
    daily_cost: pd.DataFrame,
    loaded_days: Iterable[pd.Timestamp],
    first_day: pd.Timestamp,
    workstreams: Iterable[str],
    seats_monthly_total: float,
    budgets: pd.DataFrame,
) -> Forecast:
    """The month-end forecast of every workstream, `Unassigned` and `TOTAL` for each as-of day.

    `daily_cost` holds workstream_cost rows (usage_date, workstream, cost_usd) covering, for
    every as-of day, its month so far and the 27 days before it; a loaded day or workstream
    absent from it spent nothing. `loaded_days` are the days with a daily_spend row.
    `workstreams` are the ledger's; cost of a workstream no longer in the ledger still counts
    in `TOTAL`. `budgets` is `load_budgets`'s frame (empty: no budgets).

    Run rate: over the loaded days of D-27 … D on or after `first_day`, the mean daily token
    cost of each weekday; a weekday absent from that window takes the mean of all its days.
    """
    first_day = pd.Timestamp(first_day)
    as_of_days = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(as_of_days))))
    loaded = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(loaded_days))))
    columns = [*sorted(set(workstreams) - {UNASSIGNED, TOTAL}), UNASSIGNED, TOTAL]
    lookup = _BudgetLookup(budgets)

    skipped: dict[pd.Timestamp, str] = {}
    ready = []
    for as_of in as_of_days:
        reason = forecast_unavailable_reason(as_of, loaded, first_day)
        if reason is None:
            ready.append(as_of)
        else:
            skipped[as_of] = reason
    if not ready:
        return Forecast(empty_forecast(), skipped)

    span = pd.date_range(
        min(month_start(ready[0]), ready[0] - pd.Timedelta(days=RUN_RATE_DAYS - 1)), ready[-1]
    )
    # Days × columns, each column's days contiguous: the sums below add a column's days in the
    # order (and with the arithmetic) of pandas' own column sums.
    costs = np.ascontiguousarray(_cost_matrix(daily_cost, span, columns).to_numpy().T)
    usable = span.isin(loaded) & (span >= first_day)
    months = [month_start(day) for day in ready]
    ends = span.get_indexer(pd.DatetimeIndex(ready))
    starts = span.get_indexer(pd.DatetimeIndex(months))

    spent = np.stack([costs[:, s : e + 1].sum(axis=1) for s, e in zip(starts, ends, strict=True)])
    spent[:, columns.index(TOTAL)] += seats_monthly_total
    forecast = spent + _cost_to_come(costs, usable, span.weekday.to_numpy(), ready, ends)
    budget = np.array([[lookup.get(ws, m) for ws in columns] for m in months], dtype=float)
    run_rate_days = np.array([usable[end - RUN_RATE_DAYS + 1 : end + 1].sum() for end in ends])
    frame = _forecast_frame(ready, months, columns, spent, forecast, budget, run_rate_days)
    return Forecast(frame, skipped)


def forecast_accuracy(
    daily_cost: pd.DataFrame,
    loaded_days: Iterable[pd.Timestamp],
    first_day: pd.Timestamp,
    workstreams: Iterable[str],
    seats_monthly_total: float,
) -> pd.DataFrame:
    """How far the forecasts of days 7, 14 and 21 were from what each complete month cost.

    A month is complete when its first day is on or after `first_day` and all its days are
    loaded. Per workstream, `mape` is the mean over those forecasts of
    |forecast - actual| / actual (0.1 = 10 %), `actual` being the month's spend on its last day.
    A workstream that spent nothing in the month is left out: a percentage of 0 has no meaning.
    The organisation's figure is the `TOTAL` row: the error of the forecast of the whole bill,
    seats included, which is the number an organisation budget is judged by.
    `forecasts` is how many forecasts the mean is over.
    """
    first_day = pd.Timestamp(first_day)
    loaded = pd.DatetimeIndex(sorted(set(pd.DatetimeIndex(loaded_days))))
    months = sorted({month_start(day) for day in loaded if month_start(day) >= first_day})
    as_of_days = []
    for start in months:
        last = month_end(start)
        if pd.date_range(start, last).isin(loaded).all():
            as_of_days += [start + pd.Timedelta(days=d - 1) for d in ACCURACY_DAYS] + [last]
    forecasts = forecast_rows(
        as_of_days,
        daily_cost,
        loaded,
        first_day,
        workstreams,
        seats_monthly_total,
        _empty_budgets(),
    ).rows
    if forecasts.empty:
        return empty_accuracy()
    is_last = forecasts["as_of"] == forecasts["month"].map(month_end)
    actual = forecasts.loc[is_last].set_index(["month", "workstream"])["spent_to_date_usd"]
    early = forecasts.loc[~is_last].join(
        actual.rename("actual_usd"), on=["month", "workstream"], how="inner"
    )
    early = early.loc[early["actual_usd"] > 0]
    early = early.assign(
        error=(early["forecast_usd"] - early["actual_usd"]).abs() / early["actual_usd"]
    )
    accuracy = early.groupby(["month", "workstream"], as_index=False, sort=False).agg(
        actual_usd=("actual_usd", "first"),
        mape=("error", "mean"),
        forecasts=("error", "size"),
    )
    return accuracy.astype({"forecasts": "int64"})[list(ACCURACY_COLUMNS)]


def empty_forecast() -> pd.DataFrame:
    return _typed(pd.DataFrame(columns=FORECAST_COLUMNS))


def empty_accuracy() -> pd.DataFrame:
    frame = pd.DataFrame(columns=ACCURACY_COLUMNS)
    return frame.astype(
        {
            "month": "datetime64[ns]",
            "workstream": "object",
            "actual_usd": "float64",
            "mape": "float64",
            "forecasts": "int64",
        }
    )


class _BudgetLookup:
    def __init__(self, budgets: pd.DataFrame):
        self._by_month: dict[tuple[str, pd.Timestamp], float] = {}
        self._default: dict[str, float] = {}
        for workstream, month, amount in budgets[["workstream", "month", "budget_usd"]].itertuples(
            index=False
        ):
            if pd.isna(month):
                self._default[workstream] = float(amount)
            else:
                self._by_month[(workstream, month_start(month))] = float(amount)

    def get(self, workstream: str, month: pd.Timestamp) -> float | None:
        by_month = self._by_month.get((workstream, month))
        return by_month if by_month is not None else self._default.get(workstream)


def _cost_matrix(daily_cost: pd.DataFrame, span: pd.DatetimeIndex, columns: list[str]):
    """Token cost per day of `span` (rows) and workstream (columns); `TOTAL` is every
    workstream's cost, including any the ledger no longer names."""
    dates = pd.to_datetime(daily_cost["usage_date"])
    in_span = daily_cost.loc[dates.between(span[0], span[-1])].assign(
        usage_date=dates[dates.between(span[0], span[-1])]
    )
    pivot = in_span.pivot_table(
        index="usage_date", columns="workstream", values="cost_usd", aggfunc="sum", fill_value=0.0
    ).reindex(index=span, fill_value=0.0)
    matrix = pivot.reindex(columns=columns, fill_value=0.0).fillna(0.0).astype("float64")
    matrix[TOTAL] = pivot.sum(axis=1).reindex(span, fill_value=0.0).astype("float64")
    return matrix


def _cost_to_come(
    costs: np.ndarray,
    usable: np.ndarray,
    weekdays: np.ndarray,
    ready: list[pd.Timestamp],
    ends: np.ndarray,
) -> np.ndarray:
    """Per as-of day (rows) and column: the sum over as_of+1 … month end of each day's weekday
    rate, the rate being the mean of that weekday's usable days in the 28 days to as_of, or the
    mean of all those days for a weekday without one.

    The arithmetic is pandas' for the same frames (`window.groupby(weekday).mean()`, `mean()`,
    `mul(...).sum()`), so the figures do not depend on how many days a run computes: a weekday's
    days are added in date order with Kahan compensation, as pandas' grouped mean does.
    """
    n_days, n_columns = len(ready), costs.shape[0]
    weekday_sum = np.zeros((n_days, 7, n_columns))
    compensation = np.zeros((n_days, 7, n_columns))
    weekday_days = np.zeros((n_days, 7), dtype=np.int64)
    every_day = np.arange(n_days)
    for offset in range(RUN_RATE_DAYS - 1, -1, -1):
        day = ends - offset
        counted = usable[day]
        rows, weekday = every_day[counted], weekdays[day[counted]]
        value = costs[:, day[counted]].T
        y = value - compensation[rows, weekday]
        t = weekday_sum[rows, weekday] + y
        compensation[rows, weekday] = t - weekday_sum[rows, weekday] - y
        weekday_sum[rows, weekday] = t
        weekday_days[rows, weekday] += 1

    to_come = np.zeros((n_days, n_columns))
    for row, (as_of, end) in enumerate(zip(ready, ends, strict=True)):
        remaining = pd.date_range(as_of + pd.Timedelta(days=1), month_end(as_of))
        if len(remaining) == 0:
            continue
        window = np.flatnonzero(usable[end - RUN_RATE_DAYS + 1 : end + 1]) + end - RUN_RATE_DAYS + 1
        with np.errstate(invalid="ignore", divide="ignore"):
            overall = costs[:, window].sum(axis=1) / len(window)
            by_weekday = weekday_sum[row] / weekday_days[row][:, None]
        rates = np.where(weekday_days[row][:, None] > 0, by_weekday, overall)
        days_left = np.bincount(remaining.weekday, minlength=7)
        to_come[row] = np.nan_to_num(rates * days_left[:, None], nan=0.0).sum(axis=0)
    return to_come


def _forecast_frame(ready, months, columns, spent, forecast, budget, run_rate_days) -> pd.DataFrame:
    """The rows of every as-of day: one per column, in the order of `columns`."""
    n_days, n_columns = spent.shape
    spent, forecast, budget = spent.ravel(), forecast.ravel(), budget.ravel()
    frame = pd.DataFrame(
        {
            "as_of": np.repeat(pd.DatetimeIndex(ready).to_numpy(), n_columns),
            "month": np.repeat(pd.DatetimeIndex(months).to_numpy(), n_columns),
            "workstream": np.tile(np.array(columns, dtype=object), n_days),
            "spent_to_date_usd": spent,
            "forecast_usd": forecast,
            "budget_usd": budget,
            "forecast_vs_budget": [
                forecast_vs_budget(f, b) for f, b in zip(forecast, budget, strict=True)
            ],
            "status": [
                budget_status(s, f, b) for s, f, b in zip(spent, forecast, budget, strict=True)
            ],
            "run_rate_days": np.repeat(run_rate_days, n_columns),
        }
    )
    return _typed(frame)


def _empty_budgets() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "workstream": pd.Series(dtype="object"),
            "month": pd.Series(dtype="datetime64[ns]"),
            "budget_usd": pd.Series(dtype="float64"),
        }
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(
        {
            "workstream": "object",
            "spent_to_date_usd": "float64",
            "forecast_usd": "float64",
            "budget_usd": "float64",
            "forecast_vs_budget": "float64",
            "status": "object",
            "run_rate_days": "int64",
        }
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["month"] = pd.to_datetime(frame["month"]).astype("datetime64[ns]")
    frame["status"] = frame["status"].where(frame["status"].notna(), None)
    return frame[list(FORECAST_COLUMNS)]
