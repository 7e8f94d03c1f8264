"""The one entry point, for `dagster dev` and `dagster asset materialize -m ...definitions`."""

import dagster as dg

from budget_pipeline.defs.assets import budget_assets
from budget_pipeline.defs.checks import budget_checks
from budget_pipeline.defs.config_sources import config_sources
from budget_pipeline.defs.resources import build_resources

defs = dg.Definitions(
    assets=[*config_sources, *budget_assets],
    asset_checks=budget_checks,
    resources=build_resources(),
    # One process per run: steps share the DuckDB file (one writer per process) and a backfill
    # does not pay a subprocess start per step.
    executor=dg.in_process_executor,
)
