"""Asset checks. Each asset also validates its frame before returning it, so a bad day never
lands; the blocking checks here re-validate what landed and show the failure cases in the UI."""

import dagster as dg
import pandas as pd
from pydantic import Field

from budget_pipeline import schemas
from budget_pipeline.defs.assets import (
    daily_spend,
    idle_seats,
    priced_usage,
    raw_usage,
    workstream_cost,
)
from budget_pipeline.defs.metadata import markdown_preview
from budget_pipeline.defs.partitions import daily_partitions
from budget_pipeline.defs.resources import ConfigFilesResource
from budget_pipeline.rules.attribution import top_unassigned_actors
from budget_pipeline.rules.pricing import API_ESTIMATE, PRICE_TABLE

ESTIMATE_TOLERANCE = 0.10


def _schema_result(table: str, frame: pd.DataFrame) -> dg.AssetCheckResult:
    cases = schemas.failure_cases(table, frame)
    return dg.AssetCheckResult(
        passed=cases.empty,
        metadata={
            "rows_checked": len(frame),
            "failure_cases": len(cases),
            **({"failures": markdown_preview(cases, limit=20)} if not cases.empty else {}),
        },
    )


def _schema_check(asset: dg.AssetsDefinition):
    """A blocking check; the decorated function's parameter must be named after the asset."""
    return dg.asset_check(
        asset=asset,
        name=f"{asset.key.path[-1]}_matches_schema",
        description=f"Every row satisfies the Pandera contract "
        f"budget_pipeline.schemas.{schemas.SCHEMAS[asset.key.path[-1]].__name__}.",
        blocking=True,
        partitions_def=daily_partitions,
    )


@_schema_check(raw_usage)
def raw_usage_matches_schema(raw_usage: pd.DataFrame) -> dg.AssetCheckResult:
    return _schema_result("raw_usage", raw_usage)


@_schema_check(priced_usage)
def priced_usage_matches_schema(priced_usage: pd.DataFrame) -> dg.AssetCheckResult:
    return _schema_result("priced_usage", priced_usage)


@_schema_check(workstream_cost)
def workstream_cost_matches_schema(workstream_cost: pd.DataFrame) -> dg.AssetCheckResult:
    return _schema_result("workstream_cost", workstream_cost)


@_schema_check(daily_spend)
def daily_spend_matches_schema(daily_spend: pd.DataFrame) -> dg.AssetCheckResult:
    return _schema_result("daily_spend", daily_spend)


@_schema_check(idle_seats)
def idle_seats_matches_schema(idle_seats: pd.DataFrame) -> dg.AssetCheckResult:
    return _schema_result("idle_seats", idle_seats)


schema_checks = [
    raw_usage_matches_schema,
    priced_usage_matches_schema,
    workstream_cost_matches_schema,
    daily_spend_matches_schema,
    idle_seats_matches_schema,
]


@dg.asset_check(
    asset=priced_usage,
    description="Models missing from prices.csv are priced at the API's estimate; name them so "
    "the price table can be completed.",
    partitions_def=daily_partitions,
)
def priced_usage_models_are_priced(priced_usage: pd.DataFrame) -> dg.AssetCheckResult:
    unpriced = priced_usage.loc[priced_usage["price_source"] == API_ESTIMATE]
    by_model = unpriced.groupby("model")["cost_usd"].sum().round(2).sort_values(ascending=False)
    return dg.AssetCheckResult(
        passed=unpriced.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"unpriced models: {', '.join(by_model.index)}" if not unpriced.empty else None
        ),
        metadata={
            "unpriced_models": ", ".join(by_model.index) or "none",
            "unpriced_cost_usd": round(float(unpriced["cost_usd"].sum()), 2),
            "by_model": markdown_preview(by_model.rename("cost_usd").reset_index()),
        },
    )


@dg.asset_check(
    asset=priced_usage,
    description="A day whose price-table cost differs from the API's estimated cost by more than "
    "10 % suggests the price table is stale.",
    partitions_def=daily_partitions,
)
def priced_usage_close_to_api_estimate(priced_usage: pd.DataFrame) -> dg.AssetCheckResult:
    # Rows priced at the API's estimate agree with it by construction: compare the rest.
    from_table = priced_usage.loc[priced_usage["price_source"] == PRICE_TABLE]
    per_day = from_table.groupby("usage_date")[["cost_usd", "api_estimated_cost_usd"]].sum()
    per_day["difference"] = (per_day["cost_usd"] - per_day["api_estimated_cost_usd"]) / per_day[
        "api_estimated_cost_usd"
    ].where(per_day["api_estimated_cost_usd"] > 0)
    off = per_day.loc[per_day["difference"].abs() > ESTIMATE_TOLERANCE].round(4).reset_index()
    return dg.AssetCheckResult(
        passed=off.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(off)} day(s) differ from the API estimate by more than 10 %: is prices.csv "
            "stale?"
            if not off.empty
            else None
        ),
        metadata={
            "days_checked": len(per_day),
            "days_off": len(off),
            "largest_difference": round(float(per_day["difference"].abs().max()), 4)
            if per_day["difference"].notna().any()
            else 0.0,
            **({"days": markdown_preview(off, limit=31)} if not off.empty else {}),
        },
    )


class UnassignedShareConfig(dg.Config):
    max_unassigned_share: float = Field(
        default=0.15, description="warn when Unassigned exceeds this share of a day's spend"
    )


@dg.asset_check(
    asset=daily_spend,
    description="Unassigned above 15 % of a day's spend means the ownership ledger needs a "
    "refresh; names the largest unassigned actors.",
    partitions_def=daily_partitions,
    additional_ins={
        "priced_usage": dg.AssetIn(metadata={"columns": ["usage_date", "actor", "cost_usd"]})
    },
)
def daily_spend_unassigned_share(
    config: UnassignedShareConfig,
    daily_spend: pd.DataFrame,
    priced_usage: pd.DataFrame,
    config_files: ConfigFilesResource,
) -> dg.AssetCheckResult:
    over = daily_spend.loc[daily_spend["unassigned_share"] > config.max_unassigned_share]
    actors = top_unassigned_actors(
        priced_usage.loc[priced_usage["usage_date"].isin(over["usage_date"])], config_files.ledger()
    )
    return dg.AssetCheckResult(
        passed=over.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(over)} day(s) above {config.max_unassigned_share:.0%} Unassigned; add to "
            f"workstreams.csv: {', '.join(actors['actor'])}"
            if not over.empty
            else None
        ),
        metadata={
            "days_over": len(over),
            "max_unassigned_share": round(float(daily_spend["unassigned_share"].max()), 4)
            if daily_spend["unassigned_share"].notna().any()
            else 0.0,
            **(
                {
                    "days": markdown_preview(over[["usage_date", "cost_usd", "unassigned_share"]]),
                    "top_unassigned_actors": markdown_preview(actors.round(2)),
                }
                if not over.empty
                else {}
            ),
        },
    )


budget_checks = [
    *schema_checks,
    priced_usage_models_are_priced,
    priced_usage_close_to_api_estimate,
    daily_spend_unassigned_share,
]
