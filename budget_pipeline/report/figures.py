"""Every number on the budget-meeting page, computed once from the month's warehouse rows and the
configuration files. The page, the CSV exports and the asset's metadata all read these figures.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from budget_pipeline.report.bill import BillFigures, bill_figures
from budget_pipeline.report.month import Month
from budget_pipeline.report.tables import MonthTables, accuracy_months_start
from budget_pipeline.rules.attribution import (
    MAX_UNASSIGNED_SHARE,
    UNASSIGNED,
    top_unassigned_actors,
)
from budget_pipeline.rules.forecast import (
    TOTAL,
    empty_accuracy,
    empty_forecast,
    forecast_accuracy,
)
from budget_pipeline.rules.forecast_readout import (
    at_risk,
    days_left,
    has_budgets,
    in_reading_order,
    missing_forecast_reason,
)
from budget_pipeline.rules.idle_seats import IdleSeatRules, listed_monthly_cost, verdict_days
from budget_pipeline.rules.seat_value import SeatValue, seat_value, surface_use
from budget_pipeline.rules.spend import top_movers
from budget_pipeline.rules.value import model_mix, workstream_value

MOVER_DIMENSIONS = ("workstream", "actor", "model")
DEFAULT_IDLE_RULES = IdleSeatRules()


@dataclass(frozen=True)
class AlertDay:
    day: pd.Timestamp
    cost_usd: float
    same_weekday_last_week_usd: float
    ma7_usd: float
    movers: dict[str, list[dict]]

    @property
    def same_weekday_ratio(self) -> float:
        return self.cost_usd / self.same_weekday_last_week_usd

    @property
    def ma7_ratio(self) -> float:
        return self.cost_usd / self.ma7_usd


@dataclass(frozen=True)
class BudgetFigures:
    """The month's budgets against its spend and forecast, as of the latest day with a forecast."""

    month: Month
    as_of: pd.Timestamp | None  # None: no day of the month has a forecast
    rows: pd.DataFrame  # that day's budget_forecast rows: workstreams, Unassigned, TOTAL last
    burn_up: pd.DataFrame  # TOTAL per as-of day up to `as_of`: spent_to_date_usd, forecast_usd
    missing_reason: str | None  # why there is no forecast (as_of None), else None
    # Why loaded days after `as_of` have no forecast of their own (a gap, an asset not yet run).
    later_days_reason: str | None
    accuracy: pd.DataFrame  # month, workstream, actual_usd, mape, forecasts (rules.forecast)

    @property
    def total(self) -> pd.Series | None:
        row = self.rows.loc[self.rows["workstream"] == TOTAL]
        return None if row.empty else row.iloc[0]

    @property
    def workstream_rows(self) -> pd.DataFrame:
        return self.rows.loc[self.rows["workstream"] != TOTAL]

    @property
    def workstreams_at_risk(self) -> pd.DataFrame:
        """Workstreams (not the organisation) over their budget or heading past it."""
        return at_risk(self.workstream_rows)

    @property
    def has_budgets(self) -> bool:
        return has_budgets(self.rows)

    @property
    def days_left(self) -> int:
        return 0 if self.as_of is None else days_left(self.as_of)

    @property
    def is_preview(self) -> bool:
        """The forecast still has days to come: the month has not ended (or not all loaded)."""
        return self.as_of is not None and self.days_left > 0


def budget_figures(
    tables: MonthTables,
    *,
    ledger: pd.DataFrame,
    seats: pd.DataFrame,
    first_day: pd.Timestamp,
) -> BudgetFigures:
    month = tables.month
    forecast = tables.budget_forecast if tables.budget_forecast is not None else empty_forecast()
    loaded = pd.DatetimeIndex(tables.daily_spend["usage_date"])
    loaded_in_month = loaded[(loaded >= month.start) & (loaded <= month.end)]
    last_loaded = loaded_in_month.max() if len(loaded_in_month) else month.end
    as_of = forecast["as_of"].max() if not forecast.empty else None
    rows = (
        in_reading_order(forecast.loc[forecast["as_of"] == as_of])
        if as_of is not None
        else forecast
    )
    total = forecast.loc[forecast["workstream"] == TOTAL].set_index("as_of").sort_index()
    later_days_reason = (
        missing_forecast_reason(last_loaded, loaded, first_day)
        if as_of is not None and last_loaded > as_of
        else None
    )
    if tables.cost_history is None or tables.loaded_history is None:
        accuracy = empty_accuracy()
    else:
        accuracy = forecast_accuracy(
            tables.cost_history,
            tables.loaded_history,
            first_day,
            ledger["workstream"].unique(),
            float(seats["monthly_cost_usd"].sum()),
        )
        # Months earlier than the history read would be judged on a truncated run-rate window.
        accuracy = accuracy.loc[
            accuracy["month"].between(accuracy_months_start(month), month.start)
        ].reset_index(drop=True)
    return BudgetFigures(
        month=month,
        as_of=as_of,
        rows=rows,
        burn_up=total[["spent_to_date_usd", "forecast_usd"]],
        missing_reason=None
        if as_of is not None
        else missing_forecast_reason(last_loaded, loaded, first_day),
        later_days_reason=later_days_reason,
        accuracy=accuracy,
    )


@dataclass(frozen=True)
class ReportFigures:
    month: Month
    days_loaded: pd.DatetimeIndex
    previous_days_loaded: int
    workstreams: pd.DataFrame  # workstream, cost_usd, previous_cost_usd, change_usd, ...
    token_cost_usd: float
    previous_token_cost_usd: float  # NaN when no day of the previous month was loaded
    seat_cost_usd: float
    seats: int
    daily_cost: pd.DataFrame  # day × workstream, columns in the order of `workstreams`
    unassigned_share: pd.Series  # per loaded day; NaN on a day without spend
    unassigned_threshold: float
    unassigned_actors: pd.DataFrame  # actor, cost_usd — largest first
    alerts: list[AlertDay]
    idle_as_of: pd.Timestamp | None
    idle_seats: pd.DataFrame
    value: pd.DataFrame
    model_mix: pd.DataFrame
    budget: BudgetFigures
    # The Console source's API does not report claude.ai sign-ins: a seat it never saw is a
    # question about the sign-in. A source that reports every member makes it a never-active seat.
    console_source: bool = True
    idle_min_lines: int = DEFAULT_IDLE_RULES.min_lines  # the "barely active" threshold
    bill: BillFigures | None = None  # None: the tables were read without the bill
    # What the seats delivered against what they cost: seat-billed (Enterprise) sources only.
    seat_value: SeatValue | None = None
    surface_use: pd.DataFrame | None = None  # rules.seat_value.surface_use of the month

    @property
    def total_cost_usd(self) -> float:
        """The month's cost as the report states it: token spend plus one month of every seat."""
        return self.token_cost_usd + self.seat_cost_usd

    @property
    def whole_months(self) -> bool:
        """Both this month and the previous one are fully loaded: compare totals."""
        return _whole_months(self.month, len(self.days_loaded), self.previous_days_loaded)

    @property
    def change_basis(self) -> str:
        return "month totals" if self.whole_months else "per-day averages of the loaded days"

    @property
    def token_change_ratio(self) -> float:
        return change_ratio(
            self.token_cost_usd,
            self.previous_token_cost_usd,
            len(self.days_loaded),
            self.previous_days_loaded,
            self.whole_months,
        )

    @property
    def unassigned_share_of_month(self) -> float:
        if self.token_cost_usd <= 0:
            return np.nan
        row = self.workstreams.loc[self.workstreams["workstream"] == UNASSIGNED, "cost_usd"]
        return float(row.sum()) / self.token_cost_usd

    @property
    def days_over_threshold(self) -> pd.DatetimeIndex:
        over = self.unassigned_share > self.unassigned_threshold
        return pd.DatetimeIndex(self.unassigned_share.index[over.fillna(False)])

    @property
    def idle_monthly_cost_usd(self) -> float:
        return listed_monthly_cost(self.idle_seats)

    @property
    def complete(self) -> bool:
        return len(self.days_loaded) == len(self.month.days)


def _in(frame: pd.DataFrame, column: str, month: Month) -> pd.DataFrame:
    return frame.loc[frame[column].between(month.start, month.end)]


def change_ratio(now: float, before: float, days_now: int, days_before: int, whole: bool) -> float:
    """Relative change against the previous month: of the month totals when both months are
    fully loaded, else of the per-day averages of the loaded days (a half-loaded month compared
    by totals would look like a doubling). NaN without a previous month or spend in it."""
    if days_before == 0 or days_now == 0:
        return np.nan
    if not whole:
        now, before = now / days_now, before / days_before
    return now / before - 1 if before > 0 else np.nan


def workstream_changes(
    workstream_cost: pd.DataFrame, month: Month, days_now: int, days_before: int
) -> pd.DataFrame:
    """Month total per workstream against the previous month, largest first, Unassigned last."""
    now = _in(workstream_cost, "usage_date", month).groupby("workstream")["cost_usd"].sum()
    before = (
        _in(workstream_cost, "usage_date", month.previous).groupby("workstream")["cost_usd"].sum()
    )
    whole = _whole_months(month, days_now, days_before)
    names = now.index.union(before.index)
    frame = pd.DataFrame(
        {
            "workstream": names,
            "cost_usd": now.reindex(names, fill_value=0.0).to_numpy(dtype="float64"),
            "previous_cost_usd": before.reindex(names, fill_value=0.0).to_numpy(dtype="float64")
            if days_before
            else np.nan,
        }
    )
    # A difference in dollars only means something between two whole months.
    frame["change_usd"] = (frame["cost_usd"] - frame["previous_cost_usd"]) if whole else np.nan
    frame["change_ratio"] = [
        change_ratio(a, b, days_now, days_before, whole)
        for a, b in zip(frame["cost_usd"], frame["previous_cost_usd"], strict=True)
    ]
    total = frame["cost_usd"].sum()
    frame["share"] = frame["cost_usd"] / total if total > 0 else np.nan
    frame["unassigned_last"] = frame["workstream"] == UNASSIGNED
    frame = frame.sort_values(
        ["unassigned_last", "cost_usd", "workstream"], ascending=[True, False, True]
    )
    return frame.drop(columns="unassigned_last").reset_index(drop=True)


def _whole_months(month: Month, days_now: int, days_before: int) -> bool:
    return days_now == len(month.days) and days_before == len(month.previous.days)


def month_figures(
    tables: MonthTables,
    *,
    ledger: pd.DataFrame,
    prices: pd.DataFrame,
    seats: pd.DataFrame,
    first_day: pd.Timestamp,
    unassigned_threshold: float = MAX_UNASSIGNED_SHARE,
    idle_rules: IdleSeatRules = DEFAULT_IDLE_RULES,
    unassigned_actor_limit: int = 15,
    console_source: bool = True,
) -> ReportFigures:
    month = tables.month
    loaded = pd.DatetimeIndex(tables.daily_spend["usage_date"])
    days_loaded = loaded[(loaded >= month.start) & (loaded <= month.end)]
    previous_days_loaded = int(((loaded >= month.previous.start) & (loaded < month.start)).sum())

    workstreams = workstream_changes(
        tables.workstream_cost, month, len(days_loaded), previous_days_loaded
    )
    spend = _in(tables.daily_spend, "usage_date", month).set_index("usage_date").sort_index()
    previous_spend = _in(tables.daily_spend, "usage_date", month.previous)

    daily_cost = (
        _in(tables.workstream_cost, "usage_date", month)
        .pivot_table(index="usage_date", columns="workstream", values="cost_usd", aggfunc="sum")
        .reindex(index=days_loaded, columns=workstreams["workstream"])
        .fillna(0.0)
    )
    priced_month = _in(tables.priced_usage, "usage_date", month)

    alerts = [
        AlertDay(
            day=day,
            cost_usd=float(row.cost_usd),
            same_weekday_last_week_usd=float(row.same_weekday_last_week_usd),
            ma7_usd=float(row.ma7_usd),
            movers={
                by: top_movers(tables.priced_usage, ledger, day, by) for by in MOVER_DIMENSIONS
            },
        )
        for day, row in spend.loc[spend["alert"].fillna(False).astype(bool)].iterrows()
    ]

    with_verdict = verdict_days(month.days, loaded, first_day, idle_rules)
    idle_as_of = with_verdict.max() if len(with_verdict) else None
    idle = tables.idle_seats.loc[tables.idle_seats["as_of"] == idle_as_of].reset_index(drop=True)

    cost_by_workstream = workstreams.set_index("workstream")["cost_usd"]
    return ReportFigures(
        month=month,
        days_loaded=days_loaded,
        previous_days_loaded=previous_days_loaded,
        workstreams=workstreams,
        token_cost_usd=float(spend["cost_usd"].sum()),
        previous_token_cost_usd=float(previous_spend["cost_usd"].sum())
        if previous_days_loaded
        else np.nan,
        seat_cost_usd=float(seats["monthly_cost_usd"].sum()),
        seats=len(seats),
        daily_cost=daily_cost,
        unassigned_share=spend["unassigned_share"].astype("float64"),
        unassigned_threshold=unassigned_threshold,
        unassigned_actors=top_unassigned_actors(priced_month, ledger, unassigned_actor_limit),
        alerts=alerts,
        idle_as_of=idle_as_of,
        idle_seats=idle,
        value=workstream_value(cost_by_workstream, tables.raw_usage, priced_month, ledger, prices),
        model_mix=model_mix(priced_month, ledger),
        budget=budget_figures(tables, ledger=ledger, seats=seats, first_day=first_day),
        console_source=console_source,
        idle_min_lines=idle_rules.min_lines,
        seat_value=None
        if console_source
        else seat_value(priced_month.loc[priced_month["usage_date"].isin(days_loaded)], seats),
        surface_use=None if console_source else surface_use(tables.raw_usage),
        bill=bill_figures(
            _in(tables.bill_reconciliation, "usage_date", month),
            priced_month.groupby(["usage_date", "model"], as_index=False)[
                "list_price_cost_usd"
            ].sum(),
            tables.billed_by_model,
        )
        if tables.bill_reconciliation is not None and tables.billed_by_model is not None
        else None,
    )
