"""Asset checks, evaluated inside the step of the asset they check.

Each asset validates its frame against its Pandera contract *before* the IO manager writes it:
a failing contract is reported as a failed blocking check (failure cases in its metadata) and
the step fails, so a bad day never lands and nothing downstream runs. Evaluating checks in the
asset's own step also spares a backfill a separate step per check that would reload the whole
range from the warehouse (measured in benchmarks/backfill.py).
"""

from collections.abc import Callable, Sequence

import dagster as dg
import pandas as pd

from budget_pipeline.defs.metadata import markdown_preview
from budget_pipeline.rules.attribution import (
    LEDGER_FOLLOW_UP_DAYS,
    MAX_UNASSIGNED_SHARE,
    ledger_paste_lines,
    unassigned_actors_over,
)
from budget_pipeline.rules.forecast_readout import run_rate_days, run_rate_warning
from budget_pipeline.rules.pricing import API_ESTIMATE, PRICE_TABLE
from budget_pipeline.text_safety import markdown_code_block
from budget_pipeline.warehouse import contracts as schemas
from budget_pipeline.warehouse.tables import FORECAST_OVER_BUDGET, OVER_BUDGET

ESTIMATE_TOLERANCE = 0.10

UNPRICED_MODELS = "priced_usage_models_are_priced"
CLOSE_TO_API_ESTIMATE = "priced_usage_close_to_api_estimate"
COST_IS_BILLED = "priced_usage_cost_is_billed"
UNASSIGNED_SHARE = "daily_spend_unassigned_share"
WITHIN_BUDGET = "budget_forecast_within_budget"


def warning_check(
    asset_key: str,
    check_name: str,
    found: pd.DataFrame,
    description: Callable[[], str],
    metadata: dict[str, object],
    evidence: Callable[[], dict[str, object]] = dict,
) -> dg.AssetCheckResult:
    """A warning that passes when `found` is empty. Otherwise `description` says what was found
    and `evidence` adds it to the metadata: both are called only then, as what they name may
    exist only when something was found."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=found.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=description() if not found.empty else None,
        metadata=metadata | (evidence() if not found.empty else {}),
    )


def schema_check_name(table: str) -> str:
    return f"{table}_matches_schema"


def schema_check_spec(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=schema_check_name(table),
        asset=table,
        blocking=True,
        description=f"Every row satisfies the {table} contract "
        "of budget_pipeline/warehouse/tables.py (types, ranges, allowed values, uniqueness); a "
        "failure stops the write.",
    )


def schema_check(table: str, frame: pd.DataFrame) -> dg.AssetCheckResult:
    cases = schemas.failure_cases(table, frame)
    return dg.AssetCheckResult(
        asset_key=table,
        check_name=schema_check_name(table),
        passed=cases.empty,
        metadata={
            "rows_checked": len(frame),
            "failure_cases": len(cases),
            **({"failures": markdown_preview(cases, limit=20)} if not cases.empty else {}),
        },
    )


PRICED_USAGE_WARNINGS = [
    dg.AssetCheckSpec(
        name=UNPRICED_MODELS,
        asset="priced_usage",
        description="Models missing from prices.csv are priced at the API's estimate; name them "
        "so the price table can be completed.",
    ),
    dg.AssetCheckSpec(
        name=CLOSE_TO_API_ESTIMATE,
        asset="priced_usage",
        description="A day whose price-table cost differs from the API's estimated cost by more "
        f"than {ESTIMATE_TOLERANCE:.0%} suggests the price table is stale.",
    ),
    dg.AssetCheckSpec(
        name=COST_IS_BILLED,
        asset="priced_usage",
        description="On the Enterprise source cost_usd is what the bill charges; names the days "
        "whose bill was unavailable (the cost endpoint closed), whose cost_usd is the usage at "
        "list prices instead. On the Console source cost_usd is the list-price estimate.",
    ),
]

DAILY_SPEND_WARNINGS = [
    dg.AssetCheckSpec(
        name=UNASSIGNED_SHARE,
        asset="daily_spend",
        description="Unassigned above the `thresholds` resource's max_unassigned_share (default "
        f"{MAX_UNASSIGNED_SHARE:.0%}) of a day's spend means the ownership ledger needs a refresh; "
        "names the largest unassigned actors.",
    )
]

BUDGET_FORECAST_WARNINGS = [
    dg.AssetCheckSpec(
        name=WITHIN_BUDGET,
        asset="budget_forecast",
        description="Names the workstreams whose month is forecast over budget or already over "
        "it, as of the last forecast day of the run.",
    )
]


def budgets_at_risk_check(budget_forecast: pd.DataFrame) -> dg.AssetCheckResult:
    """Warns with the workstreams heading past (or past) their budget on the latest as-of day."""
    latest = budget_forecast.loc[budget_forecast["as_of"] == budget_forecast["as_of"].max()]
    at_risk = latest.loc[latest["status"].isin([FORECAST_OVER_BUDGET, OVER_BUDGET])]
    named = ", ".join(
        f"{row.workstream} {row.status} (spent ${row.spent_to_date_usd:,.2f}, forecast "
        f"${row.forecast_usd:,.2f}, budget ${row.budget_usd:,.2f})"
        for row in at_risk.itertuples()
    )
    as_of = f"{latest['as_of'].max():%Y-%m-%d}" if not latest.empty else None
    days = run_rate_days(latest)
    early = run_rate_warning(days)
    return warning_check(
        "budget_forecast",
        WITHIN_BUDGET,
        at_risk,
        lambda: f"as of {as_of}: {named}" + (f"; {early}" if early else ""),
        metadata={
            "as_of": as_of or "no forecast in this run",
            "workstreams_at_risk": len(at_risk),
            **({"run_rate_days": days} if days is not None else {}),
        },
        evidence=lambda: {"at_risk": markdown_preview(at_risk)},
    )


def unpriced_models_check(priced_usage: pd.DataFrame) -> dg.AssetCheckResult:
    """`priced_usage` may be the table or its sums per usage_date × model × price_source."""
    unpriced = priced_usage.loc[priced_usage["price_source"] == API_ESTIMATE]
    by_model = unpriced.groupby("model")["cost_usd"].sum().round(2).sort_values(ascending=False)
    return warning_check(
        "priced_usage",
        UNPRICED_MODELS,
        unpriced,
        lambda: f"unpriced models: {', '.join(by_model.index)}",
        metadata={
            "unpriced_models": ", ".join(by_model.index) or "none",
            "unpriced_cost_usd": round(float(unpriced["cost_usd"].sum()), 2),
            "by_model": markdown_preview(by_model.rename("cost_usd").reset_index()),
        },
    )


def close_to_api_estimate_check(priced_usage: pd.DataFrame) -> dg.AssetCheckResult:
    """`priced_usage` may be the table or its sums per usage_date × model × price_source."""
    # Rows priced at the API's estimate agree with it by construction: compare the rest.
    from_table = priced_usage.loc[priced_usage["price_source"] == PRICE_TABLE]
    per_day = from_table.groupby("usage_date")[["cost_usd", "api_estimated_cost_usd"]].sum()
    per_day["difference"] = (per_day["cost_usd"] - per_day["api_estimated_cost_usd"]) / per_day[
        "api_estimated_cost_usd"
    ].where(per_day["api_estimated_cost_usd"] > 0)
    off = per_day.loc[per_day["difference"].abs() > ESTIMATE_TOLERANCE].round(4).reset_index()
    return warning_check(
        "priced_usage",
        CLOSE_TO_API_ESTIMATE,
        off,
        lambda: (
            f"{len(off)} day(s) differ from the API estimate by more than "
            f"{ESTIMATE_TOLERANCE:.0%}: is prices.csv stale?"
        ),
        metadata={
            "days_checked": len(per_day),
            "days_off": len(off),
            "largest_difference": round(float(per_day["difference"].abs().max()), 4)
            if per_day["difference"].notna().any()
            else 0.0,
        },
        evidence=lambda: {"days": markdown_preview(off, limit=31)},
    )


def cost_is_billed_check(closed_days: Sequence[str], *, billed: bool) -> dg.AssetCheckResult:
    """Warns with the days of a billed source whose bill was closed: their cost_usd is the usage
    at list prices, not what the organisation pays. A source that is not billed row by row (the
    Console's) passes, saying what its cost_usd is."""
    if not billed:
        description = (
            "cost_usd is the list-price estimate (tokens x prices.csv) on this source; the bill "
            "is set against it in bill_reconciliation"
        )
    elif closed_days:
        description = (
            f"the bill is unavailable for {len(closed_days)} day(s) ({', '.join(closed_days)}): "
            "cost_usd of those days is the usage at list prices, not what is billed"
        )
    else:
        description = "cost_usd is what the bill charges (0 where the seat covers the usage)"
    return dg.AssetCheckResult(
        asset_key="priced_usage",
        check_name=COST_IS_BILLED,
        passed=not closed_days,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "days_at_list_prices": len(closed_days),
            "days": ", ".join(closed_days) or "none",
        },
    )


def unassigned_share_check(
    daily_spend: pd.DataFrame,
    priced_usage: pd.DataFrame,
    ledger: pd.DataFrame,
    max_unassigned_share: float,
) -> dg.AssetCheckResult:
    """`priced_usage` must cover the LEDGER_FOLLOW_UP_DAYS days ending on the last day over the
    threshold: the actors are named with their spend over those days, as workstreams.csv lines."""
    over = daily_spend.loc[daily_spend["unassigned_share"] > max_unassigned_share]
    if not over.empty:
        actors = unassigned_actors_over(priced_usage, ledger, over["usage_date"].max())
        lines = ledger_paste_lines(actors["actor"])
        named = ", ".join(f"{row.actor} (${row.cost_usd:,.2f})" for row in actors.itertuples())
    return warning_check(
        "daily_spend",
        UNASSIGNED_SHARE,
        over,
        lambda: (
            f"{len(over)} day(s) above {max_unassigned_share:.0%} Unassigned; add to "
            f"workstreams.csv (spend over {LEDGER_FOLLOW_UP_DAYS} days): {named}"
        ),
        metadata={
            "days_over": len(over),
            "max_unassigned_share": round(float(daily_spend["unassigned_share"].max()), 4)
            if daily_spend["unassigned_share"].notna().any()
            else 0.0,
        },
        evidence=lambda: {
            "days": markdown_preview(over[["usage_date", "cost_usd", "unassigned_share"]]),
            "top_unassigned_actors": markdown_preview(actors.round(2)),
            "spend_days": LEDGER_FOLLOW_UP_DAYS,
            "workstreams_csv_lines": dg.MetadataValue.md(
                "Ready to paste into `workstreams.csv` (write each workstream after the "
                "comma):\n\n" + markdown_code_block("\n".join(lines))
            ),
        },
    )
