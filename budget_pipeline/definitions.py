"""The one entry point (`dg`, `dagster dev`, `dagster asset materialize -m
budget_pipeline.definitions`): every Dagster object is found in the `defs` folder."""

from functools import cache
from pathlib import Path

import dagster as dg

from budget_pipeline.warehouse.pool_wait import pool_waiting_in_process_executor


@dg.definitions
def defs() -> dg.Definitions:
    return _project_definitions()


# Dagster calls the entry point again each time it reconstructs the code location: five times
# in one `dagster asset materialize` process, each walking the defs folder and building every
# definition anew. Nothing they read changes within a process (resources resolve their
# environment variables when a run starts), so the first load serves them all.
@cache
def _project_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        # One process per run: steps share the DuckDB file (one writer per process) and a
        # backfill does not pay a subprocess start per step. Dagster's in-process executor,
        # but a run waiting for the warehouse pool sleeps instead of spinning (pool_wait.py).
        dg.Definitions(executor=pool_waiting_in_process_executor),
    )
