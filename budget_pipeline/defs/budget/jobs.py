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

bill_refresh_job = dg.define_asset_job(
    name="bill_refresh_job",
    # Within the daily group: the monthly report below it has other partitions.
    selection=dg.AssetSelection.assets("billed_cost").downstream()
    & dg.AssetSelection.groups(GROUP),
    partitions_def=daily_partitions,
    description="The bill fetched again, and everything computed from it, over a range of days: "
    "billed figures settle over about 30 days.",
    tags={"team": "finops-data"},
)
