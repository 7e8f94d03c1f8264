"""One do-nothing asset in the `duckdb_warehouse` pool, run by the executor named in
`BENCHMARK_EXECUTOR`: `dagster` (Dagster's in-process executor) or `project` (the project's,
`budget_pipeline/warehouse/pool_wait.py`). `benchmarks/pool_wait.py` times a run of it that
waits for the pool."""

import os

import dagster as dg

from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL
from budget_pipeline.warehouse.pool_wait import pool_waiting_in_process_executor

EXECUTORS = {"dagster": dg.in_process_executor, "project": pool_waiting_in_process_executor}


@dg.asset(pool=WAREHOUSE_POOL)
def waits_for_the_pool() -> None:
    return None


defs = dg.Definitions(
    assets=[waits_for_the_pool],
    executor=EXECUTORS[os.environ.get("BENCHMARK_EXECUTOR", "project")],
)
