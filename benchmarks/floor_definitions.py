"""Dagster's floor: five daily assets shaped like the budget group that do no work.

Same partitions, backfill policy, executor and dependency shape as the real graph, no IO manager
writes and no checks, so `backfill.py` can subtract what Dagster's own bookkeeping costs.
"""

import dagster as dg

from budget_pipeline.defs.partitions import daily_partitions


def _floor_asset(name: str, deps: list[str]) -> dg.AssetsDefinition:
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
        _floor_asset("daily_spend", ["priced_usage"]),
        _floor_asset("idle_seats", ["raw_usage", "daily_spend"]),
    ],
    executor=dg.in_process_executor,
)
