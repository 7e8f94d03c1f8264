"""The one entry point (`dg`, `dagster dev`, `dagster asset materialize -m
budget_pipeline.definitions`): every Dagster object is found in the `defs` folder."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        # One process per run: steps share the DuckDB file (one writer per process) and a
        # backfill does not pay a subprocess start per step.
        dg.Definitions(executor=dg.in_process_executor),
    )
