import dagster as dg

from budget_pipeline.defs.config_files.assets import CONFIG_FILES

observe_config_files_job = dg.define_asset_job(
    name="observe_config_files_job",
    selection=dg.AssetSelection.assets(*CONFIG_FILES),
    description="Observes the configuration files: a changed file marks what it feeds stale.",
    tags={"team": "finops-data"},
)
