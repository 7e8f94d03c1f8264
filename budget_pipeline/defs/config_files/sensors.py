"""Config changes show up without a click: the sensor hashes the configuration files every
minute and, when one changed, launches an observation of the changed ones, so the UI marks the
partitions they feed stale (docs/operations.md, "Re-pricing and re-forecasting")."""

import json

import dagster as dg

from budget_pipeline.defs.config_files.assets import CONFIG_FILES, file_version
from budget_pipeline.defs.config_files.jobs import observe_config_files_job
from budget_pipeline.defs.resources import ConfigFilesResource


@dg.sensor(
    name="config_files_sensor",
    job=observe_config_files_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Observes a configuration file as soon as its content changes, so stale "
    "partitions show in the UI without pressing 'Observe sources'.",
    tags={"team": "finops-data"},
)
def config_files_sensor(
    context: dg.SensorEvaluationContext, config_files: ConfigFilesResource
) -> dg.SensorResult | dg.SkipReason:
    versions = {key.to_user_string(): file_version(config_files, key) for key in CONFIG_FILES}
    seen = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, version in versions.items() if seen.get(name) != version)
    if not changed:
        return dg.SkipReason("no configuration file changed")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=json.dumps(versions, sort_keys=True),
                asset_selection=[dg.AssetKey(name) for name in changed],
                tags={"changed": ", ".join(changed)},
            )
        ],
        cursor=json.dumps(versions, sort_keys=True),
    )
