"""Dagster's floor computed in one step: the six assets of `floor_definitions.py`, same names,
partitions and dependencies, as one multi-asset that can be subset. Timed against the six-step
floor, it shows how much of Dagster's own cost is per step (docs/performance.md):

    home=$(mktemp -d) && cp dagster.yaml $home && DAGSTER_HOME=$home .venv/bin/dagster \
        asset materialize -m benchmarks.floor_one_step_definitions --select group:budget \
        --partition-range 2026-07-03...2026-09-30

and the same with `-m benchmarks.floor_definitions` for six steps.
"""

import dagster as dg

from benchmarks.floor_definitions import (
    DAILY_SPEND_LOOKBACK,
    FORECAST_LOOKBACK,
    IDLE_WINDOW_LOOKBACK,
    _back,
)
from budget_pipeline.defs.partitions import daily_partitions

SPECS = [
    dg.AssetSpec("raw_usage", group_name="budget"),
    dg.AssetSpec("priced_usage", group_name="budget", deps=["raw_usage"]),
    dg.AssetSpec("workstream_cost", group_name="budget", deps=["priced_usage"]),
    dg.AssetSpec(
        "daily_spend", group_name="budget", deps=[_back("priced_usage", DAILY_SPEND_LOOKBACK)]
    ),
    dg.AssetSpec(
        "idle_seats",
        group_name="budget",
        deps=[
            _back("raw_usage", IDLE_WINDOW_LOOKBACK),
            # One multi-asset takes one partition mapping per upstream asset: budget_forecast's
            # 30 days stand for idle_seats' 13 too (a wider lineage than the real graph draws).
            _back("daily_spend", FORECAST_LOOKBACK),
        ],
    ),
    dg.AssetSpec(
        "budget_forecast",
        group_name="budget",
        deps=[
            _back("workstream_cost", FORECAST_LOOKBACK),
            _back("daily_spend", FORECAST_LOOKBACK),
        ],
    ),
]


@dg.multi_asset(
    specs=SPECS,
    can_subset=True,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def budget_floor(context: dg.AssetExecutionContext):
    # in topological order, as a multi-asset must yield them
    for spec in SPECS:
        if spec.key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=spec.key)


defs = dg.Definitions(assets=[budget_floor], executor=dg.in_process_executor)
