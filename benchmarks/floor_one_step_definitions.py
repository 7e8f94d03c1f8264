"""Dagster's floor computed in one step: the six assets of `floor_definitions.py`, same names,
partitions and dependencies, as one multi-asset that can be subset. Timed against the six-step
floor, it shows how much of Dagster's own cost is per step (docs/performance.md):

    home=$(mktemp -d) && cp dagster.yaml $home && DAGSTER_HOME=$home .venv/bin/dagster \
        asset materialize -m benchmarks.floor_one_step_definitions --select group:budget \
        --partition-range 2026-07-03...2026-09-30

and the same with `-m benchmarks.floor_definitions` for six steps.
"""

import dagster as dg

from benchmarks.floor_definitions import GRAPH, dependency
from budget_pipeline.defs.partitions import daily_partitions

# A multi-asset takes one partition mapping per upstream asset (same days aside): a lookback is
# drawn as the widest any downstream asset has on that upstream (idle_seats then reaches 30 days
# into daily_spend, as budget_forecast does, instead of 13).
WIDEST: dict[str, int] = {}
for _upstream in GRAPH.values():
    for _asset, _lookback in _upstream.items():
        WIDEST[_asset] = max(WIDEST.get(_asset, 0), _lookback)

SPECS = [
    dg.AssetSpec(
        name,
        group_name="budget",
        deps=[
            dependency(asset, WIDEST[asset] if lookback else 0)
            for asset, lookback in upstream.items()
        ],
    )
    for name, upstream in GRAPH.items()
]


@dg.multi_asset(
    specs=SPECS,
    can_subset=True,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def budget_floor(context: dg.AssetExecutionContext):
    # in topological order (GRAPH's), as a multi-asset must yield them
    for spec in SPECS:
        if spec.key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=spec.key)


defs = dg.Definitions(assets=[budget_floor], executor=dg.in_process_executor)
