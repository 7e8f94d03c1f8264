"""Dagster's floor: the six daily assets of the `budget` group, doing no work.

Same names, partitions, backfill policy, executor and dependencies (partition mappings included)
as the real graph, but no IO manager writes, no checks, no resources, so `backfill.py` can
subtract what Dagster's own bookkeeping costs a run of the same range.

The lookbacks are copied, not imported: importing `budget_pipeline.defs.budget` would load the
pipeline's libraries into the floor. `.venv/bin/dg list defs` shows the real ones.
"""

import dagster as dg

from budget_pipeline.defs.partitions import daily_partitions

# budget_pipeline/defs/budget/assets.py (daily_spend: HISTORY_DAYS; idle_seats:
# IdleSeatRules.window_days - 1) and forecast.py (budget_forecast: LOOKBACK_DAYS).
DAILY_SPEND_LOOKBACK = 7
IDLE_WINDOW_LOOKBACK = 13
FORECAST_LOOKBACK = 30

# Each asset and its upstream assets, with the days each reaches back (0: the same days).
GRAPH: dict[str, dict[str, int]] = {
    "raw_usage": {},
    "priced_usage": {"raw_usage": 0},
    "workstream_cost": {"priced_usage": 0},
    "daily_spend": {"priced_usage": DAILY_SPEND_LOOKBACK},
    "idle_seats": {"raw_usage": IDLE_WINDOW_LOOKBACK, "daily_spend": IDLE_WINDOW_LOOKBACK},
    "budget_forecast": {"workstream_cost": FORECAST_LOOKBACK, "daily_spend": FORECAST_LOOKBACK},
}


def dependency(upstream: str, lookback: int) -> str | dg.AssetDep:
    if lookback == 0:
        return upstream
    return dg.AssetDep(
        upstream,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-lookback, allow_nonexistent_upstream_partitions=True
        ),
    )


def _floor_asset(name: str, upstream: dict[str, int]) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name="budget",
        deps=[dependency(asset, lookback) for asset, lookback in upstream.items()],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _nothing() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    return _nothing


defs = dg.Definitions(
    assets=[_floor_asset(name, upstream) for name, upstream in GRAPH.items()],
    executor=dg.in_process_executor,
)
