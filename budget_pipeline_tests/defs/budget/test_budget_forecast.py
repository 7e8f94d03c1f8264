"""`budget_forecast` materialised for real with the other daily assets: its rows follow the rules
from the warehouse's own tables, a single day reproduces the backfill, a day without a forecast
says why, and a bad budgets.csv stops the run before anything is written."""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pytest

from budget_pipeline.cli.summary import budget_summary
from budget_pipeline.rules.forecast import TOTAL, forecast_rows
from budget_pipeline_tests.conftest import TEST_ORGANISATION

START, END = "2026-03-01", "2026-04-15"  # March whole, April half: a mid-month preview


@pytest.fixture
def backfilled(pipeline):
    assert pipeline.materialize(START, END).success
    return pipeline


def forecast_table(pipeline) -> pd.DataFrame:
    frame = pipeline.table("budget_forecast")
    for column in ("as_of", "month"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.sort_values(["as_of", "workstream"]).reset_index(drop=True)


def latest_metadata(pipeline, partition: str) -> dict:
    [record] = pipeline.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("budget_forecast"), asset_partitions=[partition]
        ),
        limit=1,
    ).records
    return {key: value.value for key, value in record.asset_materialization.metadata.items()}


def test_every_day_forecasts_every_workstream_unassigned_and_total(backfilled):
    forecast = forecast_table(backfilled)
    ledger = pd.read_csv(backfilled.config_dir / "workstreams.csv")
    expected = {*ledger["workstream"], "Unassigned", TOTAL}
    assert forecast["as_of"].nunique() == 46
    for _, rows in forecast.groupby("as_of"):
        assert set(rows["workstream"]) == expected


def test_rows_are_the_rule_applied_to_the_warehouse_tables(backfilled):
    cost = backfilled.table("workstream_cost")
    cost["usage_date"] = pd.to_datetime(cost["usage_date"])
    seats = pd.read_csv(backfilled.config_dir / "seats.csv")
    ledger = pd.read_csv(backfilled.config_dir / "workstreams.csv")
    budgets = pd.read_csv(backfilled.config_dir / "budgets.csv", dtype={"month": str})
    budgets["month"] = pd.to_datetime(budgets["month"].fillna(""), format="%Y-%m", errors="coerce")
    days = pd.date_range(START, END)
    expected = forecast_rows(
        days,
        cost,
        days,
        pd.Timestamp("2026-01-01"),
        sorted(ledger["workstream"].unique()),
        float(seats["monthly_cost_usd"].sum()),
        budgets,
    ).rows.sort_values(["as_of", "workstream"])
    stored = forecast_table(backfilled)
    pd.testing.assert_frame_equal(
        stored.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_dtype=False,
        check_exact=False,
        atol=1e-9,
    )


def test_the_last_day_of_a_month_forecasts_what_was_spent_seats_included(backfilled):
    forecast = forecast_table(backfilled)
    march_31 = forecast.loc[forecast["as_of"] == "2026-03-31"].set_index("workstream")
    cost = backfilled.table("workstream_cost")
    march_tokens = cost.loc[pd.to_datetime(cost["usage_date"]).dt.month == 3, "cost_usd"].sum()
    seats = pd.read_csv(backfilled.config_dir / "seats.csv")["monthly_cost_usd"].sum()
    assert march_31.loc[TOTAL, "spent_to_date_usd"] == pytest.approx(march_tokens + seats)
    assert (march_31["forecast_usd"] == march_31["spent_to_date_usd"]).all()


def test_a_single_day_rerun_gives_the_rows_of_the_backfill(backfilled):
    before = forecast_table(backfilled)
    assert backfilled.materialize("2026-04-10", selection="budget_forecast").success
    after = forecast_table(backfilled)
    pd.testing.assert_frame_equal(before, after)


def test_partitions_carry_the_days_numbers_and_the_demo_shows_every_status(backfilled):
    day = latest_metadata(backfilled, "2026-04-15")
    forecast = forecast_table(backfilled)
    total = forecast.loc[(forecast["as_of"] == "2026-04-15") & (forecast["workstream"] == TOTAL)]
    assert day["spent_usd/TOTAL"] == round(float(total["spent_to_date_usd"].iloc[0]), 2)
    assert day["forecast_usd/TOTAL"] == round(float(total["forecast_usd"].iloc[0]), 2)
    # the demo budgets make one workstream heading past its budget and one already past it
    assert set(day["statuses"].values()) >= {"on track", "forecast over budget", "over budget"}
    for name, at_risk in day["at_risk"].items():
        assert at_risk["status"] == day["statuses"][name]
        assert at_risk["days_left"] == 15
        assert at_risk["top_spenders"], name
    # March is whole: the forecasts of its 7th, 14th and 21st are measured against what it cost
    assert 0 <= day["forecast_mape_total"] < 0.5
    assert "2026-03" in day["forecast_accuracy"]


def test_the_warning_check_names_the_workstreams_heading_past_their_budget(pipeline):
    result = pipeline.materialize(START, END)
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "budget_forecast_within_budget"
    ]
    forecast = forecast_table(pipeline)
    at_risk = forecast.loc[
        (forecast["as_of"] == END)
        & forecast["status"].isin(["forecast over budget", "over budget"])
    ]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description.startswith(f"as of {END}: ")
    for row in at_risk.itertuples():
        assert f"{row.workstream} {row.status} (spent ${row.spent_to_date_usd:,.2f}" in (
            evaluation.description
        )


def test_a_month_not_loaded_from_its_first_day_has_no_rows_and_says_why(pipeline):
    assert pipeline.materialize("2026-03-02", "2026-03-05").success
    assert forecast_table(pipeline).empty
    reason = latest_metadata(pipeline, "2026-03-05")["forecast"]
    assert reason.startswith("no forecast:") and "2026-03-01" in reason


def test_a_bad_budgets_file_stops_the_run_before_anything_is_written(pipeline):
    TEST_ORGANISATION.write_config(pipeline.config_dir)
    budgets = pipeline.config_dir / "budgets.csv"
    budgets.write_text(budgets.read_text() + "paymnets,2026-03,100\n")
    result = pipeline.materialize(START, "2026-03-03", raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    line = len(budgets.read_text().splitlines())
    assert message.startswith(f"{budgets}, line {line}: workstream paymnets is not in")
    assert pipeline.server.usage_requests() == []
    for table in ("raw_usage", "priced_usage", "budget_forecast"):
        assert pipeline.table(table).empty, table


def test_each_row_says_how_many_loaded_days_its_run_rate_stands_on(pipeline):
    # June 2026 begins on a Monday: two weekdays loaded, then a whole week
    assert pipeline.materialize("2026-06-01", "2026-06-07").success
    forecast = forecast_table(pipeline)
    by_day = forecast.groupby("as_of")["run_rate_days"].unique()
    assert {f"{day:%m-%d}": list(days) for day, days in by_day.items()} == {
        f"06-0{n}": [n] for n in range(1, 8)
    }


def test_the_run_rate_window_holds_at_most_28_days(backfilled):
    forecast = forecast_table(backfilled)
    assert set(forecast.loc[forecast["as_of"] == END, "run_rate_days"]) == {28}


def test_a_warehouse_written_before_run_rate_days_gains_the_column_in_place(pipeline):
    assert pipeline.materialize("2026-06-01", "2026-06-02").success
    # the warehouse as the previous release wrote it: the same tables without the new column,
    # and no record of the migration that adds it
    with duckdb.connect(str(pipeline.duckdb_file)) as connection:
        connection.execute("ALTER TABLE budget.budget_forecast DROP COLUMN run_rate_days")
        connection.execute(
            "DELETE FROM budget._schema_migrations WHERE description LIKE '%run_rate_days%'"
        )
    path, june_1 = str(pipeline.duckdb_file), dt.date(2026, 6, 1)
    summary = budget_summary(path, june_1, dt.date(2026, 6, 2))  # read-only: left as it is
    assert "Budgets as of 2026-06-02 (June 2026, 28 days left):" in summary

    assert pipeline.materialize("2026-06-03").success
    forecast = forecast_table(pipeline)
    run_rate = forecast.groupby("as_of")["run_rate_days"].first()
    assert run_rate.isna().tolist() == [True, True, False] and run_rate.iloc[-1] == 3
    assert "run rate of 3 loaded days" in budget_summary(path, june_1, dt.date(2026, 6, 3))
    # a range longer than the rest: the other days join the new rows, which take the table's place
    assert pipeline.materialize("2026-06-01", "2026-06-03", selection="budget_forecast").success
    assert forecast_table(pipeline)["run_rate_days"].notna().all()


def test_a_budget_warning_from_two_loaded_weekdays_says_it_is_an_early_guess(pipeline):
    result = pipeline.materialize("2026-06-01", "2026-06-02")
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "budget_forecast_within_budget"
    ]
    assert evaluation.metadata["run_rate_days"].value == 2
    assert not evaluation.passed  # weekday spend put on the weekends: heading past a budget
    assert evaluation.description.endswith(
        "; the run rate stands on 2 loaded days only (fewer than 7): a weekday not loaded yet "
        "is forecast at the mean of those days, so a forecast over budget is an early guess"
    )
