"""The configuration files as observable source assets: each observation records the file's
content hash as its data version, so the UI marks downstream partitions stale when the ledger,
the price table or the seat roster changes."""

import dagster as dg

from budget_pipeline.defs.resources import ConfigFilesResource
from budget_pipeline.rules import config_files as config_rules

CONFIG_GROUP = "config"
OWNERS = ["team:finops-data"]


def _config_file_source(name: str, file_name: str, description: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        name=name,
        group_name=CONFIG_GROUP,
        description=description,
        owners=OWNERS,
        tags={"dagster/kind/csv": ""},
        metadata={"file": file_name},
    )
    def _observe(config_files: ConfigFilesResource) -> dg.DataVersion:
        return dg.DataVersion(config_rules.content_hash(config_files.path(file_name)))

    return _observe


workstreams_csv = _config_file_source(
    "workstreams_csv",
    config_rules.LEDGER_FILE,
    "Ownership ledger: actor → primary workstream. Actors missing here are Unassigned.",
)
prices_csv = _config_file_source(
    "prices_csv",
    config_rules.PRICES_FILE,
    "Price table: USD per million tokens per model family (input, output, cache write/read).",
)
seats_csv = _config_file_source(
    "seats_csv",
    config_rules.SEATS_FILE,
    "Roster of paid seats with their monthly cost and an optional human note.",
)

config_sources = [workstreams_csv, prices_csv, seats_csv]
