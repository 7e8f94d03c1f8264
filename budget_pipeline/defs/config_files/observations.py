"""Every run records the versions of the configuration files it is about to read, before its
first step starts. Each materialisation's provenance then names the files it was computed from,
so a partition turns stale in the UI only when a file really changed after it was written, not
because the sensor happened to observe the files for the first time after the run."""

import dagster as dg

from budget_pipeline.dagster_internals import DATA_VERSION_IS_USER_PROVIDED_TAG, DATA_VERSION_TAG
from budget_pipeline.defs.config_files.assets import ABSENT, CONFIG_FILES, budgets_csv, file_version
from budget_pipeline.defs.resources import ConfigFilesResource


def last_observed_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    records = instance.fetch_observations(key, limit=1).records
    if not records:
        return None
    return records[0].asset_observation.tags.get(DATA_VERSION_TAG)


def record_config_file_versions(
    instance: dg.DagsterInstance, config_files: ConfigFilesResource, run_id: str
) -> list[dg.AssetKey]:
    """Records an observation of each file whose content differs from its last observation;
    returns their keys. A required file that is missing or unreadable is left to the step that
    reads it: it fails, naming the file. So is a path that is not a regular file (a named pipe
    gives its content once: read here, the step would wait for it for ever)."""
    recorded = []
    for key in CONFIG_FILES:
        path = config_files.path(CONFIG_FILES[key][0])
        if path.exists() and not path.is_file():
            continue
        try:
            version = file_version(config_files, key)
        except OSError:
            continue
        if version == ABSENT and key != budgets_csv:
            continue
        if last_observed_version(instance, key) == version:
            continue
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=key,
                description=f"the version read by run {run_id}",
                tags={DATA_VERSION_TAG: version, DATA_VERSION_IS_USER_PROVIDED_TAG: "true"},
            )
        )
        recorded.append(key)
    return recorded
