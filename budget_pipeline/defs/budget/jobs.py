import dagster as dg

from budget_pipeline import settings
from budget_pipeline.defs.budget.building_blocks import GROUP
from budget_pipeline.defs.partitions import daily_partitions

budget_daily_job = dg.define_asset_job(
    name="budget_daily_job",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=daily_partitions,
    description="Every asset of group budget (and their checks) over a day or a range of days.",
    tags={"team": "finops-data"},
)


def bill_refresh_selection(source: str) -> dg.AssetSelection:
    """On the Enterprise source the bill is the cost: everything computed from it. On the
    Console source the bill is only set against the estimate: the bill and the reconciliation
    (recomputing the estimate's assets would also write days that were never loaded)."""
    if settings.is_enterprise(source):
        # Within the daily group: the monthly report below it has other partitions.
        return dg.AssetSelection.assets("billed_cost").downstream() & dg.AssetSelection.groups(
            GROUP
        )
    return dg.AssetSelection.assets("billed_cost", "bill_reconciliation")


bill_refresh_job = dg.define_asset_job(
    name="bill_refresh_job",
    selection=bill_refresh_selection(settings.source_or_demo()),
    partitions_def=daily_partitions,
    description="The bill fetched again, and everything computed from it, over a range of days: "
    "billed figures settle over about 30 days.",
    tags={"team": "finops-data"},
)
