"""The short budget summary printed after a backfill: read straight from the warehouse."""

import datetime as dt

import pandas as pd

from budget_pipeline.rules.idle_seats import COMPLETELY_IDLE, IdleSeatRules, listed_monthly_cost
from budget_pipeline.warehouse import connection as warehouse


def budget_summary(duckdb_path: str, start: dt.date, end: dt.date) -> str:
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

    total = float(by_workstream["cost_usd"].sum())
    lines = [f"Budget summary {start} … {end} ({len(spend)} days loaded)", ""]
    lines.append(f"Spend per workstream (total ${total:,.2f}):")
    for row in by_workstream.itertuples():
        share = row.cost_usd / total if total else 0.0
        lines.append(f"  {row.workstream:<16} ${row.cost_usd:>12,.2f}  {share:6.1%}")

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
        for row in seats.itertuples():
            seen = (
                f"last active {row.last_active:%Y-%m-%d}"
                if pd.notna(row.last_active)
                else "not reported by the API — check how this person signs in"
                if row.status == COMPLETELY_IDLE
                else ""
            )
            note = f" — {row.reason}" if isinstance(row.reason, str) and row.reason else ""
            lines.append(
                f"  {row.email:<28} {row.status:<15} {row.sessions:>3} sessions "
                f"{row.lines_added:>4} lines  ${row.monthly_cost_usd:,.0f}/mo  {seen}{note}"
            )
        lines.append("  (a list to start a conversation about seats, not a performance review)")
    return "\n".join(lines)
