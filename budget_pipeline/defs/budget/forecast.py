"""`budget_forecast`: where each month will end against its budget, as of every day
(docs/rules.md, "Budgets and the month-end forecast").

The forecast of day D reads the month so far and the 28-day run-rate window from the warehouse,
so a single-day run gives the rows the backfill gave. Each partition's metadata carries the day's
numbers per workstream (the UI plots them over partitions) and, for every workstream heading past
its budget, what the budget alert sensor needs to say so.
"""

import dagster as dg
import numpy as np
import pandas as pd

from budget_pipeline.defs.budget import checks
from budget_pipeline.defs.budget.building_blocks import (
    add_range_metadata,
    budget_asset,
    contract_checked,
    day_key,
    failing_clearly,
    loaded_days_between,
)
from budget_pipeline.defs.config_files.assets import budgets_csv, seats_csv, workstreams_csv
from budget_pipeline.defs.metadata import markdown_preview
from budget_pipeline.defs.partitions import days_of, first_day
from budget_pipeline.defs.resources import ConfigFilesResource, WarehouseResource
from budget_pipeline.rules.attribution import workstream_of
from budget_pipeline.rules.forecast import (
    RUN_RATE_DAYS,
    TOTAL,
    forecast_accuracy,
    forecast_rows,
    month_end,
    month_start,
)
from budget_pipeline.warehouse.tables import (
    BUDGET_FORECAST,
    FORECAST_OVER_BUDGET,
    OVER_BUDGET,
    PRICED_USAGE,
    WORKSTREAM_COST,
)

AT_RISK = (FORECAST_OVER_BUDGET, OVER_BUDGET)
# A budget alert names the workstream's biggest spenders of the month so far.
TOP_SPENDERS = 3
# The lineage the UI draws: the month so far (up to 30 days back) and the run-rate window.
LOOKBACK_DAYS = max(30, RUN_RATE_DAYS - 1)


def _lookback(asset: str) -> dg.AssetDep:
    return dg.AssetDep(
        asset,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-LOOKBACK_DAYS, allow_nonexistent_upstream_partitions=True
        ),
    )


def _daily_cost(warehouse: WarehouseResource, end: pd.Timestamp) -> pd.DataFrame:
    """Token cost per workstream and day since the first day: the month so far and the run-rate
    window of every as-of day, and the whole history the accuracy looks back on (a few rows per
    day)."""
    with warehouse.connect() as connection:
        frame = connection.execute(
            f"SELECT usage_date, workstream, cost_usd FROM {WORKSTREAM_COST.qualified_name} "
            "WHERE usage_date BETWEEN ? AND ?",
            [first_day().date(), end.date()],
        ).fetchdf()
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    return frame


def _spend_by_actor(
    warehouse: WarehouseResource, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    with warehouse.connect() as connection:
        frame = connection.execute(
            f"SELECT usage_date, actor, sum(cost_usd) AS cost_usd "
            f"FROM {PRICED_USAGE.qualified_name} WHERE usage_date BETWEEN ? AND ? "
            "GROUP BY usage_date, actor",
            [start.date(), end.date()],
        ).fetchdf()
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    return frame


class MonthToDateSpend:
    """Spend per actor from the 1st of the month to an as-of day, as running totals over the
    days × actors matrix: a range's alerts cost one cumulative sum per month and one ranking per
    as-of day, not a pass per day and workstream (that was 10 s of a 30-day run at 20,000
    seats). Each total adds the actor's days in date order, as summing them by hand would."""

    def __init__(self, by_actor: pd.DataFrame, ledger: pd.DataFrame):
        per_day = by_actor.groupby(["usage_date", "actor"])["cost_usd"].sum().unstack("actor")
        self._days = pd.DatetimeIndex(per_day.index)
        self._actors = per_day.columns.to_numpy()  # in actor order
        costs = per_day.fillna(0.0).to_numpy(dtype="float64")
        spent = per_day.notna().to_numpy()
        self._totals = np.empty_like(costs)
        self._spent = np.empty_like(spent)
        months = self._days.to_period("M")
        for month in months.unique():
            in_month = np.flatnonzero(months == month)
            rows = slice(in_month[0], in_month[-1] + 1)  # consecutive: the days are sorted
            self._totals[rows] = np.cumsum(costs[rows], axis=0)
            self._spent[rows] = np.logical_or.accumulate(spent[rows], axis=0)
        self._workstreams = workstream_of(pd.Series(self._actors), ledger).to_numpy()
        self._as_of: pd.Timestamp | None = None
        self._ranked = pd.Series(dtype="float64")
        self._ranked_workstreams = np.array([], dtype=object)

    def ranked(self, as_of: pd.Timestamp) -> pd.Series:
        """Spend per actor from the 1st to as_of, largest first, equal amounts in actor order
        (ranked once per day, whatever the number of workstreams asked)."""
        if as_of == self._as_of:
            return self._ranked
        self._as_of = as_of
        # The last day with spend on or before as_of, if it is in as_of's month.
        row = self._days.searchsorted(as_of, side="right") - 1
        if row < 0 or self._days[row] < month_start(as_of):
            actors, totals = np.array([], dtype=int), np.array([])
        else:
            actors = np.flatnonzero(self._spent[row])
            actors = actors[np.lexsort((actors, -self._totals[row, actors]))]
            totals = self._totals[row, actors]
        self._ranked = pd.Series(totals, index=self._actors[actors], dtype="float64")
        self._ranked_workstreams = self._workstreams[actors]
        return self._ranked

    def top_spenders(self, workstream: str, as_of: pd.Timestamp) -> list[list]:
        """The workstream's (TOTAL: the organisation's) biggest spenders from the 1st to as_of;
        equal amounts in actor order."""
        ranked = self.ranked(as_of)
        if workstream != TOTAL:
            ranked = ranked.loc[self._ranked_workstreams == workstream]
        return [[actor, round(float(cost), 2)] for actor, cost in ranked.head(TOP_SPENDERS).items()]


def _day_numbers(rows: pd.DataFrame, spend: MonthToDateSpend) -> dict:
    as_of = rows["as_of"].iloc[0]
    numbers: dict[str, object] = {"dagster/row_count": len(rows)}
    statuses, at_risk = {}, {}
    for row in rows.itertuples():
        numbers[f"spent_usd/{row.workstream}"] = round(row.spent_to_date_usd, 2)
        numbers[f"forecast_usd/{row.workstream}"] = round(row.forecast_usd, 2)
        if not pd.isna(row.budget_usd):
            numbers[f"budget_usd/{row.workstream}"] = round(row.budget_usd, 2)
            statuses[row.workstream] = row.status
        if row.status in AT_RISK:
            at_risk[row.workstream] = {
                "status": row.status,
                "month": f"{row.month:%Y-%m}",
                "spent_usd": round(row.spent_to_date_usd, 2),
                "forecast_usd": round(row.forecast_usd, 2),
                "budget_usd": round(row.budget_usd, 2),
                "days_left": (month_end(as_of) - as_of).days,
                "top_spenders": spend.top_spenders(row.workstream, as_of),
            }
    numbers["statuses"] = dg.MetadataValue.json(statuses)
    numbers["at_risk"] = dg.MetadataValue.json(at_risk)
    return numbers


def _accuracy_markdown(accuracy: pd.DataFrame) -> dg.MetadataValue:
    shown = accuracy.assign(
        month=accuracy["month"].dt.strftime("%Y-%m"),
        mape=(accuracy["mape"] * 100).round(1).astype(str) + " %",
    )[["month", "workstream", "mape", "forecasts"]]
    return markdown_preview(shown, limit=60)


@budget_asset(
    BUDGET_FORECAST,
    kinds={"duckdb", "pandas"},
    warnings=checks.BUDGET_FORECAST_WARNINGS,
    deps=[
        _lookback("workstream_cost"),
        _lookback("daily_spend"),
        workstreams_csv,
        seats_csv,
        budgets_csv,
    ],
)
def budget_forecast(
    context: dg.AssetExecutionContext,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
):
    """The month-end forecast of every workstream, Unassigned and TOTAL against its budget, as of
    each day: spent so far plus each remaining day's weekday run rate over the last four weeks."""
    days = days_of(context.partition_time_window)
    with failing_clearly():
        ledger = config_files.ledger()
        seats = config_files.seats()
        budgets = config_files.budgets(ledger)
    daily_cost = _daily_cost(warehouse, days[-1])
    loaded = loaded_days_between(warehouse, first_day(), days[-1])
    workstreams = sorted(ledger["workstream"].unique())
    seats_total = float(seats["monthly_cost_usd"].sum())
    forecast = forecast_rows(
        days, daily_cost, loaded, first_day(), workstreams, seats_total, budgets
    )
    frame = forecast.rows
    contract = yield from contract_checked("budget_forecast", frame)

    spend = MonthToDateSpend(_spend_by_actor(warehouse, month_start(days[0]), days[-1]), ledger)
    per_day = {}
    for day in days:
        rows = frame.loc[frame["as_of"] == day]
        if rows.empty:
            reason = forecast.skipped.get(day, "no rows")
            per_day[day_key(day)] = {"dagster/row_count": 0, "forecast": f"no forecast: {reason}"}
        else:
            per_day[day_key(day)] = _day_numbers(rows, spend)
    accuracy = forecast_accuracy(daily_cost, loaded, first_day(), workstreams, seats_total)
    total_accuracy = accuracy.loc[accuracy["workstream"] == TOTAL]
    summary: dict[str, object] = {
        "range_row_count": len(frame),
        "days_without_forecast": len(forecast.skipped),
        "budgets_set": int(budgets["workstream"].nunique()),
        "forecast_accuracy": _accuracy_markdown(accuracy)
        if not accuracy.empty
        else "no fully loaded month yet",
        "preview": markdown_preview(frame.loc[frame["as_of"] == frame["as_of"].max()], limit=50)
        if not frame.empty
        else "no rows",
    }
    if not total_accuracy.empty:
        summary["forecast_mape_total"] = round(float(total_accuracy["mape"].mean()), 4)
    add_range_metadata(context, days, per_day, summary)
    yield dg.Output(frame)
    yield contract
    yield checks.budgets_at_risk_check(frame)
