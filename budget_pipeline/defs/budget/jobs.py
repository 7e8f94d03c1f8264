import dagster as dg

from budget_pipeline.defs.budget.building_blocks import GROUP
from budget_pipeline.defs.partitions import daily_partitions

budget_daily_job = dg.define_asset_job(
    name="budget_daily_job",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=daily_partitions,
    description="Every asset of group budget (and their checks) over a day or a range of days.",
    tags={"team": "finops-data"},
)
