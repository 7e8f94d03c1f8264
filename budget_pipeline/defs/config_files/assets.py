"""The configuration files as observable source assets: each observation records a file's content
hash as its data version, so the UI marks downstream partitions stale when the ledger, the price
table, the seat roster or the budgets change."""

import dagster as dg

from budget_pipeline.defs.resources import ConfigFilesResource
from budget_pipeline.rules import config_files as config_rules

CONFIG_GROUP = "config"
OWNERS = ["team:finops-data"]

workstreams_csv = dg.AssetKey("workstreams_csv")
prices_csv = dg.AssetKey("prices_csv")
seats_csv = dg.AssetKey("seats_csv")
budgets_csv = dg.AssetKey("budgets_csv")

CONFIG_FILES: dict[dg.AssetKey, tuple[str, str]] = {
    workstreams_csv: (
        config_rules.LEDGER_FILE,
        "Ownership ledger: actor → primary workstream. Actors missing here are Unassigned.",
    ),
    prices_csv: (
        config_rules.PRICES_FILE,
        "Price table: USD per million tokens per model family (input, output, cache write/read).",
    ),
    seats_csv: (
        config_rules.SEATS_FILE,
        "Roster of paid seats with their monthly cost and an optional human note.",
    ),
    budgets_csv: (
        config_rules.BUDGETS_FILE,
        "Monthly budgets per workstream, Unassigned or TOTAL (optional: without it, forecasts "
        "are still made).",
    ),
}
# Without the optional file, the observation still records a version, so adding it later
# marks the forecasts stale. A missing required file is a version too: its observation fails.
ABSENT = "absent"


def file_version(config_files: ConfigFilesResource, key: dg.AssetKey) -> str:
    """The content hash of the file behind `key` (its data version)."""
    file_name, _ = CONFIG_FILES[key]
    path = config_files.path(file_name)
    if not path.exists():
        return ABSENT
    return config_rules.content_hash(path)


@dg.multi_observable_source_asset(
    name="config_files",
    specs=[
        dg.AssetSpec(
            key,
            group_name=CONFIG_GROUP,
            description=description,
            owners=OWNERS,
            kinds={"csv"},
            metadata={"file": file_name},
        )
        for key, (file_name, description) in CONFIG_FILES.items()
    ],
    can_subset=True,
)
def config_files(context: dg.AssetExecutionContext, config_files: ConfigFilesResource):
    for key in context.selected_asset_keys:
        if key != budgets_csv:
            # A required file that is missing fails the observation, naming the file.
            config_rules.content_hash(config_files.path(CONFIG_FILES[key][0]))
        yield dg.ObserveResult(
            asset_key=key, data_version=dg.DataVersion(file_version(config_files, key))
        )


config_sources = [config_files]
