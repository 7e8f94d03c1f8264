"""The summary printed after `budget-pipeline demo` / `backfill`: the budgets as of the last day,
read from a warehouse filled by real materialisations."""

import datetime as dt

import pandas as pd

from budget_pipeline.cli.summary import budget_summary


def budgets_block(summary: str) -> list[str]:
    return summary.split("\n\n")[2].splitlines()


def budgets_block_after_loading(pipeline, start: str, end: str) -> list[str]:
    """The budgets block of the summary of `start`..`end`, once those days are materialised."""
    assert pipeline.materialize(start, end).success
    summary = budget_summary(
        str(pipeline.duckdb_file), dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    )
    return budgets_block(summary)


def test_the_summary_states_every_budget_as_of_the_last_day(pipeline):
    assert pipeline.materialize("2026-04-01", "2026-04-06").success
    rows = pipeline.table("budget_forecast")
    rows = rows.loc[rows["as_of"].dt.date == dt.date(2026, 4, 6)].set_index("workstream")

    summary = budget_summary(
        str(pipeline.duckdb_file),
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 6),
        config_dir=pipeline.config_dir,
    )
    block = budgets_block(summary)
    assert (
        block[0]
        == "Budgets as of 2026-04-06 (April 2026, 24 days left, run rate of 6 loaded days):"
    )
    warning, *block[1:] = block[1:]
    assert warning.startswith("  warning: the run rate stands on 6 loaded days only")
    with_budget = rows.loc[rows["budget_usd"].notna()]
    assert "Unassigned" not in with_budget.index and "TOTAL" in with_budget.index
    assert [line.split()[0] for line in block[1:]] == [
        *sorted(ws for ws in with_budget.index if ws != "TOTAL"),
        "TOTAL",
    ]
    for line in block[1:]:
        row = rows.loc[line.split()[0]]
        assert f"spent ${row.spent_to_date_usd:>11,.2f}" in line
        assert f"forecast ${row.forecast_usd:>11,.2f}" in line
        assert f"budget {f'${row.budget_usd:,.2f}':>11}" in line
        # TOTAL's spend holds the seats, unlike the tokens-only total above it: it says so
        seats = " (incl. 43 seats $6,500)" if row.name == "TOTAL" else ""
        assert line.endswith(row.status + seats)
    # early April: a team already heading past its budget, the organisation on track
    assert {"forecast over budget", "on track"} <= set(with_budget["status"])


def test_without_a_forecast_for_the_last_day_the_summary_says_why(pipeline):
    assert pipeline.materialize("2026-04-01", "2026-04-02").success
    without_forecast = "group:budget and not key:budget_forecast"
    assert pipeline.materialize("2026-04-03", selection=without_forecast).success
    path, start, end = str(pipeline.duckdb_file), dt.date(2026, 4, 1), dt.date(2026, 4, 3)
    config_dir = pipeline.config_dir

    assert budgets_block(budget_summary(path, start, end, config_dir=config_dir)) == [
        "Budgets: no forecast for 2026-04-03: budget_forecast has no rows for 2026-04-03: "
        "materialise it for that day (it is in group budget)"
    ]
    assert budgets_block(
        budget_summary(path, start, end, first_day=dt.date(2026, 4, 2), config_dir=config_dir)
    ) == [
        "Budgets: no forecast for 2026-04-03: the month began on 2026-04-01, before the first "
        "partition day 2026-04-02: its spend so far is unknown"
    ]
    assert pd.Timestamp("2026-04-03") not in set(pipeline.table("budget_forecast")["as_of"])


def test_a_forecast_from_two_loaded_weekdays_says_so_and_warns(pipeline):
    # a Monday and a Tuesday: the weekends of June are forecast at their mean
    block = budgets_block_after_loading(pipeline, "2026-06-01", "2026-06-02")
    assert (
        block[0] == "Budgets as of 2026-06-02 (June 2026, 28 days left, run rate of 2 loaded days):"
    )
    assert block[1] == (
        "  warning: the run rate stands on 2 loaded days only (fewer than 7): a weekday not "
        "loaded yet is forecast at the mean of those days, so a forecast over budget is an "
        "early guess"
    )
    assert block[-1].split()[0] == "TOTAL"


def test_a_week_of_loaded_days_is_enough_for_the_run_rate_to_stand_on(pipeline):
    block = budgets_block_after_loading(pipeline, "2026-06-01", "2026-06-07")
    assert (
        block[0] == "Budgets as of 2026-06-07 (June 2026, 23 days left, run rate of 7 loaded days):"
    )
    assert not any("warning" in line for line in block)


def test_the_summary_has_one_line_for_the_bill_of_the_last_30_days(pipeline):
    assert pipeline.materialize("2026-04-01", "2026-04-06").success
    reconciled = pipeline.table("bill_reconciliation")
    listed, billed = reconciled["billed_list_usd"].sum(), reconciled["billed_usd"].sum()
    outside = int(reconciled["within_tolerance"].eq(False).sum())
    assert outside > 0

    summary = budget_summary(str(pipeline.duckdb_file), dt.date(2026, 4, 1), dt.date(2026, 4, 6))

    [line] = [line for line in summary.splitlines() if line.startswith("The bill")]
    assert line == (
        f"The bill 2026-03-08 … 2026-04-06 (6 billed days): estimate "
        f"${reconciled['estimate_usd'].sum():,.2f}, billed at list ${listed:,.2f}, billed "
        f"${billed:,.2f} (discount 15.0%), {outside} day(s) outside tolerance"
    )
