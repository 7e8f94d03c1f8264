"""The short budget summary printed after a backfill: read straight from the warehouse."""

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from budget_pipeline import settings
from budget_pipeline.rules.bill import days_outside_tolerance, discount_received
from budget_pipeline.rules.config_files import SEATS_FILE, load_seats
from budget_pipeline.rules.forecast import TOTAL, month_start
from budget_pipeline.rules.forecast_readout import (
    days_left,
    has_budgets,
    in_reading_order,
    missing_forecast_reason,
    run_rate_days,
    run_rate_warning,
)
from budget_pipeline.rules.idle_seats import (
    BARELY_ACTIVE,
    COMPLETELY_IDLE,
    NO_CLAUDE_CODE_USE,
    IdleSeatRules,
    listed_monthly_cost,
)
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.tables import BILL_RECONCILIATION, BUDGET_FORECAST

# The bill's line covers this many days ending with the summary's last day.
BILL_SUMMARY_DAYS = 30


def bill_line(reconciled: pd.DataFrame, end: dt.date) -> str:
    """One line: the last BILL_SUMMARY_DAYS days' estimate against the bill (`reconciled`: their
    bill_reconciliation rows), over the days Anthropic has billed."""
    start = end - dt.timedelta(days=BILL_SUMMARY_DAYS - 1)
    billed = reconciled.loc[reconciled["billed_list_usd"].notna()]
    if billed.empty:
        return (
            f"The bill {start} … {end}: no bill yet (not billed, or the cost endpoint is closed: "
            "see the billed_cost_available check); figures are list-price estimates"
        )
    listed, paid = float(billed["billed_list_usd"].sum()), float(billed["billed_usd"].sum())
    discount = discount_received(paid, listed)
    outside = len(days_outside_tolerance(billed))
    return (
        f"The bill {start} … {end} ({len(billed)} billed days): estimate "
        f"${billed['estimate_usd'].sum():,.2f}, billed at list ${listed:,.2f}, billed "
        f"${paid:,.2f} (discount {discount:.1%}), {outside} day(s) outside tolerance"
        if discount is not None
        else f"The bill {start} … {end} ({len(billed)} billed days): estimate "
        f"${billed['estimate_usd'].sum():,.2f}, billed $0.00, {outside} day(s) outside tolerance"
    )


def seats_included_note(seats: pd.DataFrame) -> str:
    """What TOTAL adds to the tokens: every paid seat's monthly cost, from the month's first day."""
    if seats.empty:
        return ""
    count = len(seats)
    return (
        f"(incl. {count} seat{'s' if count != 1 else ''} ${seats['monthly_cost_usd'].sum():,.0f})"
    )


def budgets_lines(
    rows: pd.DataFrame,
    as_of: dt.date,
    loaded_days: pd.DatetimeIndex,
    first_day: dt.date,
    seats_included: str = "",
) -> list[str]:
    """The status of every budget as of `as_of` (`rows`: budget_forecast of that day), the
    organisation's always; or why that day has no forecast. `seats_included` follows TOTAL's
    line: its spend holds the seats, unlike the tokens-only total above it."""
    day = pd.Timestamp(as_of)
    if rows.empty:
        reason = missing_forecast_reason(day, loaded_days, pd.Timestamp(first_day))
        return [f"Budgets: no forecast for {as_of}: {reason}"]
    left = days_left(day)
    days = run_rate_days(rows)
    run_rate = "" if days is None else f", run rate of {days} loaded day{'s' if days != 1 else ''}"
    lines = [
        f"Budgets as of {as_of} ({day:%B %Y}, {left} day{'s' if left != 1 else ''} left{run_rate}):"
    ]
    if warning := run_rate_warning(days):
        lines.append(f"  warning: {warning}")
    shown = in_reading_order(rows)
    shown = shown.loc[shown["budget_usd"].notna() | (shown["workstream"] == TOTAL)]
    for row in shown.itertuples():
        budget = "—" if pd.isna(row.budget_usd) else f"${row.budget_usd:,.2f}"
        lines.append(
            f"  {row.workstream:<16} spent ${row.spent_to_date_usd:>11,.2f}  "
            f"forecast ${row.forecast_usd:>11,.2f}  budget {budget:>11}  "
            f"{row.status if isinstance(row.status, str) else 'no budget'}"
            + (f" {seats_included}" if row.workstream == TOTAL and seats_included else "")
        )
    if not has_budgets(rows):
        lines.append("  (no budgets set: add them to budgets.csv)")
    return lines


# Every column of the idle-seat listing is as wide as its longest cell, the status's as its
# longest status, so that one listing lines up whichever statuses it holds.
EMAIL_WIDTH = 28
STATUS_WIDTH = max(len(status) for status in (COMPLETELY_IDLE, NO_CLAUDE_CODE_USE, BARELY_ACTIVE))


def idle_seat_lines(seats: pd.DataFrame) -> list[str]:
    """One aligned line per listed seat (`seats`: idle_seats rows of one as-of day)."""
    email_width = max([EMAIL_WIDTH, *(len(email) for email in seats["email"])])
    costs = [f"${cost:,.0f}/mo" for cost in seats["monthly_cost_usd"]]
    cost_width = max((len(cost) for cost in costs), default=0)
    sessions_width = max([3, *(len(str(count)) for count in seats["sessions"])])
    lines_width = max([4, *(len(str(count)) for count in seats["lines_added"])])
    lines = []
    for row, cost in zip(seats.itertuples(), costs, strict=True):
        seen = (
            f"last active {row.last_active:%Y-%m-%d}"
            if pd.notna(row.last_active)
            # The Enterprise source reports every surface: never seen is never active.
            else "not active on any Claude surface"
            if row.status == COMPLETELY_IDLE and pd.notna(getattr(row, "other_activity", None))
            else "not reported by the API — check how this person signs in"
            if row.status == COMPLETELY_IDLE
            else ""
        )
        note = f" — {row.reason}" if isinstance(row.reason, str) and row.reason else ""
        lines.append(
            f"  {row.email:<{email_width}} {row.status:<{STATUS_WIDTH}} "
            f"{row.sessions:>{sessions_width}} sessions {row.lines_added:>{lines_width}} lines  "
            f"{cost:>{cost_width}}  {seen}{note}".rstrip()
        )
    return lines


def budget_summary(
    duckdb_path: str,
    start: dt.date,
    end: dt.date,
    first_day: dt.date | None = None,
    config_dir: Path | None = None,
) -> str:
    # Imported once the run is over: the checks are Dagster objects, and the command judges the
    # configuration files before paying for importing Dagster.
    from budget_pipeline.cli.failed_checks import failed_checks_lines, failed_warning_checks

    config_dir = config_dir or settings.config_dir()
    with warehouse.connect(duckdb_path, read_only=True) as connection:

        def query(sql: str, *params) -> pd.DataFrame:
            return connection.execute(sql, list(params)).fetchdf()

        by_workstream = query(
            "SELECT workstream, sum(cost_usd) AS cost_usd FROM budget.workstream_cost "
            "WHERE usage_date BETWEEN ? AND ? GROUP BY workstream ORDER BY cost_usd DESC",
            start,
            end,
        )
        spend = query(
            "SELECT * FROM budget.daily_spend WHERE usage_date BETWEEN ? AND ? ORDER BY usage_date",
            start,
            end,
        )
        latest_as_of = query(
            "SELECT max(as_of) AS as_of FROM budget.idle_seats WHERE as_of BETWEEN ? AND ?",
            start,
            end,
        )["as_of"].iloc[0]
        seats = (
            query("SELECT * FROM budget.idle_seats WHERE as_of = ?", latest_as_of)
            if pd.notna(latest_as_of)
            else pd.DataFrame()
        )
        try:
            forecast = query(f"SELECT * FROM {BUDGET_FORECAST.qualified_name} WHERE as_of = ?", end)
        except duckdb.CatalogException:
            # A warehouse written before budgets existed, opened read-only: no table, no rows.
            forecast = pd.DataFrame(columns=BUDGET_FORECAST.column_names)
        try:
            reconciled = query(
                f"SELECT * FROM {BILL_RECONCILIATION.qualified_name} "
                "WHERE usage_date BETWEEN ? AND ?",
                end - dt.timedelta(days=BILL_SUMMARY_DAYS - 1),
                end,
            )
        except duckdb.CatalogException:
            # A warehouse written before the bill, opened read-only: no table, no rows.
            reconciled = pd.DataFrame(columns=BILL_RECONCILIATION.column_names)
        loaded_this_month = pd.DatetimeIndex(
            query(
                "SELECT usage_date FROM budget.daily_spend WHERE usage_date BETWEEN ? AND ?",
                month_start(pd.Timestamp(end)).date(),
                end,
            )["usage_date"]
        )
        failed = failed_warning_checks(connection, start, end, forecast, config_dir)

    total = float(by_workstream["cost_usd"].sum())
    lines = [f"Budget summary {start} … {end} ({len(spend)} days loaded)", ""]
    lines.append(f"Spend per workstream (total ${total:,.2f}):")
    for row in by_workstream.itertuples():
        share = row.cost_usd / total if total else 0.0
        lines.append(f"  {row.workstream:<16} ${row.cost_usd:>12,.2f}  {share:6.1%}")

    lines += [
        "",
        *budgets_lines(
            forecast,
            end,
            loaded_this_month,
            first_day or settings.start_date(),
            seats_included_note(load_seats(config_dir / SEATS_FILE)),
        ),
    ]

    lines += ["", bill_line(reconciled, end)]

    alerts = spend.loc[spend["alert"].fillna(False).astype(bool)]
    lines += ["", f"Alert days: {len(alerts)}"]
    for row in alerts.itertuples():
        lines.append(
            f"  {row.usage_date:%Y-%m-%d} ${row.cost_usd:,.2f} = "
            f"{row.cost_usd / row.same_weekday_last_week_usd:.2f}× same weekday last week "
            f"(${row.same_weekday_last_week_usd:,.2f}), {row.cost_usd / row.ma7_usd:.2f}× 7-day "
            f"mean (${row.ma7_usd:,.2f})"
        )

    if seats.empty:
        lines += [
            "",
            f"Idle seats: no verdict yet (needs {IdleSeatRules.window_days} loaded days)",
        ]
    else:
        monthly = listed_monthly_cost(seats)
        lines += [
            "",
            f"Idle seats as of {latest_as_of:%Y-%m-%d}: {len(seats)} (${monthly:,.2f}/month)",
        ]
        lines += idle_seat_lines(seats)
        lines.append("  (a list to start a conversation about seats, not a performance review)")
    lines += ["", *failed_checks_lines(failed, start, end)]
    return "\n".join(lines)
