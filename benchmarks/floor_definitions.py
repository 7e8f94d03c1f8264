"""Dagster's floor: the daily assets of the `budget` group, doing no work, in the same steps.

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
# raw_usage and billed_cost are one step (`raw_layer`), as in the pipeline.
GRAPH: dict[str, dict[str, int]] = {
    "raw_usage": {},
    "billed_cost": {},
    "priced_usage": {"raw_usage": 0, "billed_cost": 0},
    "bill_reconciliation": {"priced_usage": 0, "billed_cost": 0},
    "workstream_cost": {"priced_usage": 0},
    "daily_spend": {"priced_usage": DAILY_SPEND_LOOKBACK},
    "idle_seats": {"raw_usage": IDLE_WINDOW_LOOKBACK, "daily_spend": IDLE_WINDOW_LOOKBACK},
    "budget_forecast": {"workstream_cost": FORECAST_LOOKBACK, "daily_spend": FORECAST_LOOKBACK},
}
STEPS: dict[str, list[str]] = {"raw_layer": ["raw_usage", "billed_cost"]}


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


def _floor_step(name: str, assets: list[str]) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                asset,
                group_name="budget",
                deps=[dependency(up, lookback) for up, lookback in GRAPH[asset].items()],
            )
            for asset in assets
        ],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _nothing():
        for asset in assets:
            yield dg.MaterializeResult(asset_key=asset)

    return _nothing


_IN_STEPS = {asset for assets in STEPS.values() for asset in assets}

defs = dg.Definitions(
    assets=[
        *(_floor_step(name, assets) for name, assets in STEPS.items()),
        *(
            _floor_asset(name, upstream)
            for name, upstream in GRAPH.items()
            if name not in _IN_STEPS
        ),
    ],
    executor=dg.in_process_executor,
)
