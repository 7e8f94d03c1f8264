"""Dagster's floor: the six daily assets of the `budget` group, doing no work.

Same names, partitions, backfill policy, executor and dependencies (partition mappings included)
as the real graph, but no IO manager writes, no checks, no resources, so `backfill.py` can
subtract what Dagster's own bookkeeping costs a run of the same range:

    raw_usage
    priced_usage    <- raw_usage
    workstream_cost <- priced_usage
    daily_spend     <- priced_usage (7 days back)
    idle_seats      <- raw_usage, daily_spend (the 14-day idle window)
    budget_forecast <- workstream_cost, daily_spend (30 days back)

The offsets are copied, not imported: importing `budget_pipeline.defs.budget` would load the
pipeline's libraries into the floor. `.venv/bin/dg list defs` shows the real ones.
"""

import dagster as dg

from budget_pipeline.defs.partitions import daily_partitions

# budget_pipeline/defs/budget/assets.py (daily_spend: HISTORY_DAYS; idle_seats:
# IdleSeatRules.window_days - 1) and forecast.py (budget_forecast: LOOKBACK_DAYS).
DAILY_SPEND_LOOKBACK = 7
IDLE_WINDOW_LOOKBACK = 13
FORECAST_LOOKBACK = 30


def _back(asset: str, days: int) -> dg.AssetDep:
    return dg.AssetDep(
        asset,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-days, allow_nonexistent_upstream_partitions=True
        ),
    )


def _floor_asset(name: str, deps: list[str | dg.AssetDep]) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name="budget",
        deps=deps,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _nothing() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    return _nothing


defs = dg.Definitions(
    assets=[
        _floor_asset("raw_usage", []),
        _floor_asset("priced_usage", ["raw_usage"]),
        _floor_asset("workstream_cost", ["priced_usage"]),
        _floor_asset("daily_spend", [_back("priced_usage", DAILY_SPEND_LOOKBACK)]),
        _floor_asset(
            "idle_seats",
            [
                _back("raw_usage", IDLE_WINDOW_LOOKBACK),
                _back("daily_spend", IDLE_WINDOW_LOOKBACK),
            ],
        ),
        _floor_asset(
            "budget_forecast",
            [
                _back("workstream_cost", FORECAST_LOOKBACK),
                _back("daily_spend", FORECAST_LOOKBACK),
            ],
        ),
    ],
    executor=dg.in_process_executor,
)
