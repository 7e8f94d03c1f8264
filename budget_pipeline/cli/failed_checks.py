"""The warning checks of a range that failed, for the end of the CLI summary.

Each is recomputed from the warehouse with the check function the asset itself runs
(defs/budget/checks.py), so the summary and the UI's *Checks* tab say the same words for the
same days."""

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from budget_pipeline.defs.budget import bill, checks
from budget_pipeline.defs.resources import ThresholdsResource
from budget_pipeline.rules.attribution import LEDGER_FOLLOW_UP_DAYS
from budget_pipeline.rules.bill import days_at_list_prices, days_outside_tolerance, model_gaps
from budget_pipeline.rules.config_files import LEDGER_FILE, load_ledger
from budget_pipeline.warehouse.tables import (
    API_ESTIMATE,
    BILL_RECONCILIATION,
    BILLED,
    BILLED_COST,
    DAILY_SPEND,
    ENTERPRISE_SOURCE,
    PRICED_USAGE,
    RAW_USAGE,
)


def _frame(connection: duckdb.DuckDBPyConnection, sql: str, *params) -> pd.DataFrame:
    frame = connection.execute(sql, list(params)).fetchdf()
    for column in ("usage_date", "as_of", "month"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def _unassigned_share_check(
    connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, config_dir: Path
) -> dg.AssetCheckResult:
    daily_spend = _frame(
        connection,
        f"SELECT usage_date, cost_usd, unassigned_share FROM {DAILY_SPEND.qualified_name} "
        "WHERE usage_date BETWEEN ? AND ? ORDER BY usage_date",
        start,
        end,
    )
    threshold = ThresholdsResource().max_unassigned_share
    over = daily_spend.loc[daily_spend["unassigned_share"] > threshold, "usage_date"]
    if over.empty:
        return checks.unassigned_share_check(daily_spend, pd.DataFrame(), pd.DataFrame(), threshold)
    # As the asset does: the actors' spend over the follow-up days ending on the last day over.
    last = over.max()
    recent = _frame(
        connection,
        f"SELECT usage_date, actor, cost_usd FROM {PRICED_USAGE.qualified_name} "
        "WHERE usage_date BETWEEN ? AND ?",
        (last - pd.Timedelta(days=LEDGER_FOLLOW_UP_DAYS - 1)).date(),
        last.date(),
    )
    return checks.unassigned_share_check(
        daily_spend, recent, load_ledger(config_dir / LEDGER_FILE), threshold
    )


def _cost_is_billed_check(
    connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date
) -> dg.AssetCheckResult:
    # The warehouse says which days were priced without their bill: the Enterprise days whose
    # rows came from prices.csv. The asset reads the same from the bill's materialisations.
    priced = _frame(
        connection,
        f"SELECT DISTINCT usage_date, price_source FROM {PRICED_USAGE.qualified_name} "
        "WHERE usage_date BETWEEN ? AND ?",
        start,
        end,
    )
    raw = _frame(
        connection,
        f"SELECT DISTINCT usage_date, source FROM {RAW_USAGE.qualified_name} "
        "WHERE usage_date BETWEEN ? AND ?",
        start,
        end,
    )
    return checks.cost_is_billed_check(
        days_at_list_prices(priced, raw), billed=bool((raw["source"] == ENTERPRISE_SOURCE).any())
    )


def _bill_check(
    connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date
) -> dg.AssetCheckResult:
    try:
        reconciled = _frame(
            connection,
            f"SELECT * FROM {BILL_RECONCILIATION.qualified_name} "
            "WHERE usage_date BETWEEN ? AND ? ORDER BY usage_date",
            start,
            end,
        )
    except duckdb.CatalogException:
        # A warehouse written before the bill, opened read-only: nothing to judge.
        reconciled = pd.DataFrame(columns=BILL_RECONCILIATION.column_names)
    outside = days_outside_tolerance(reconciled)["usage_date"]
    gaps = pd.DataFrame(columns=["model", "estimate_usd", "billed_list_usd", "gap_usd"])
    if not outside.empty:
        # As the asset does: per model over the days outside, largest gap first.
        estimate = _frame(
            connection,
            "SELECT usage_date, model, sum(list_price_cost_usd) AS list_price_cost_usd "
            f"FROM {PRICED_USAGE.qualified_name} WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
            start,
            end,
        )
        billed = _frame(
            connection,
            "SELECT usage_date, model, sum(list_amount_usd) AS list_amount_usd "
            f"FROM {BILLED_COST.qualified_name} WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
            start,
            end,
        )
        gaps = model_gaps(estimate, billed, outside)
    return bill.within_tolerance_check(reconciled, gaps, ThresholdsResource().bill_tolerance)


def failed_warning_checks(
    connection: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    forecast: pd.DataFrame,
    config_dir: Path,
) -> list[dg.AssetCheckResult]:
    """The warning checks of `start` … `end` that fail, in lineage order; `forecast` holds the
    budget_forecast rows as of `end`."""
    # As the Enterprise asset does: a model prices.csv lacks is billed correctly (price_source
    # billed, price_model NULL), and the unpriced-models check names it like the API's estimate.
    priced = _frame(
        connection,
        f"SELECT usage_date, model, CASE WHEN price_source = '{BILLED}' AND price_model IS NULL "
        f"THEN '{API_ESTIMATE}' ELSE price_source END AS price_source, sum(cost_usd) AS cost_usd, "
        f"sum(api_estimated_cost_usd) AS api_estimated_cost_usd FROM {PRICED_USAGE.qualified_name} "
        "WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
        start,
        end,
    )
    results = [
        checks.unpriced_models_check(priced),
        checks.close_to_api_estimate_check(priced),
        _cost_is_billed_check(connection, start, end),
        _unassigned_share_check(connection, start, end, config_dir),
        checks.budgets_at_risk_check(forecast),
        _bill_check(connection, start, end),
    ]
    return [result for result in results if not result.passed]


def failed_checks_lines(
    results: list[dg.AssetCheckResult], start: dt.date, end: dt.date
) -> list[str]:
    if not results:
        return [f"Warning checks of {start} … {end}: none failed"]
    lines = [
        f"Warning checks of {start} … {end} that failed ({len(results)}; in the UI under each "
        "asset's Checks tab):"
    ]
    lines += [f"  {result.check_name}: {result.description}" for result in results]
    return lines
