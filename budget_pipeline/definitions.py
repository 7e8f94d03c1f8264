"""The one entry point, for `dagster dev` and `dagster asset materialize -m ...definitions`."""

import dagster as dg

from budget_pipeline.defs.assets import budget_assets
from budget_pipeline.defs.config_sources import config_sources
from budget_pipeline.defs.digest import (
    digest_assets,
    idle_seat_digest_job,
    idle_seat_digest_schedule,
)
from budget_pipeline.defs.notifier import notifier_from_environment
from budget_pipeline.defs.report import report_assets
from budget_pipeline.defs.resources import build_resources
from budget_pipeline.defs.schedules import budget_daily_job, budget_daily_schedule
from budget_pipeline.defs.sensors import run_failure_notifier, spend_alert_sensor

defs = dg.Definitions(
    assets=[*config_sources, *budget_assets, *report_assets, *digest_assets],
    resources={**build_resources(), "alert_notifier": notifier_from_environment()},
    jobs=[budget_daily_job, idle_seat_digest_job],
    schedules=[budget_daily_schedule, idle_seat_digest_schedule],
    sensors=[spend_alert_sensor, run_failure_notifier],
    # One process per run: steps share the DuckDB file (one writer per process) and a backfill
    # does not pay a subprocess start per step.
    executor=dg.in_process_executor,
)
