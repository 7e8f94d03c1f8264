"""Fills `budget.budget_forecast` for the tests of its readers (report, digest, summary): the rows
the forecast rules make from the warehouse's workstream_cost and daily_spend, written as the
asset writes a range of days (the days replaced in one transaction)."""

from pathlib import Path

import pandas as pd

from budget_pipeline import settings
from budget_pipeline.rules.config_files import (
    BUDGETS_FILE,
    LEDGER_FILE,
    SEATS_FILE,
    load_budgets_if_present,
    load_ledger,
    load_seats,
)
from budget_pipeline.rules.forecast import Forecast, forecast_rows
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.tables import BUDGET_FORECAST, DAILY_SPEND, WORKSTREAM_COST


def fill_budget_forecast(duckdb_file: Path, config_dir: Path, start: str, end: str) -> Forecast:
    ledger = load_ledger(Path(config_dir) / LEDGER_FILE)
    seats = load_seats(Path(config_dir) / SEATS_FILE)
    budgets = load_budgets_if_present(Path(config_dir) / BUDGETS_FILE, ledger["workstream"])
    with warehouse.connect(str(duckdb_file)) as connection:
        cost = connection.execute(
            f"SELECT usage_date, workstream, cost_usd FROM {WORKSTREAM_COST.qualified_name}"
        ).fetchdf()
        loaded = connection.execute(
            f"SELECT usage_date FROM {DAILY_SPEND.qualified_name}"
        ).fetchdf()["usage_date"]
        forecast = forecast_rows(
            pd.date_range(start, end),
            cost,
            pd.to_datetime(loaded),
            pd.Timestamp(settings.start_date()),
            ledger["workstream"].unique(),
            float(seats["monthly_cost_usd"].sum()),
            budgets,
        )
        with warehouse.transaction(connection):
            warehouse.delete_days(
                connection, BUDGET_FORECAST, pd.Timestamp(start).date(), pd.Timestamp(end).date()
            )
            warehouse.insert_frame(connection, BUDGET_FORECAST, forecast.rows)
    return forecast
