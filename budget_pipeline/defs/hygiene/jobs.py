import dagster as dg

from budget_pipeline.defs.partitions import daily_partitions

idle_seat_digest_job = dg.define_asset_job(
    name="idle_seat_digest_job",
    selection=dg.AssetSelection.assets("idle_seats", "idle_seat_digest"),
    partitions_def=daily_partitions,
    description="Refreshes idle_seats for one day (no API call) and sends that day's weekly "
    "idle-seat digest, unless its ISO week was already sent.",
    tags={"team": "finops-data"},
)
