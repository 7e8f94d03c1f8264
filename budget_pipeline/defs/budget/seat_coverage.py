"""The warning check that the source sees the seats: on the Console source, a seat list most of
which the API never reports points to claude.ai sign-ins, which only the `enterprise` source
reads (docs/rules.md, "Idle seats")."""

import dagster as dg
import pandas as pd

from budget_pipeline import settings
from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL, failing_clearly
from budget_pipeline.defs.metadata import markdown_preview
from budget_pipeline.defs.partitions import first_day
from budget_pipeline.defs.resources import (
    AnalyticsApiResource,
    ConfigFilesResource,
    WarehouseResource,
)
from budget_pipeline.rules.idle_seats import MAX_NEVER_REPORTED_SHARE, seats_never_reported
from budget_pipeline.warehouse.tables import RAW_USAGE

SEATS_REPORTED = "idle_seats_most_seats_reported"


def reads_console_api(source: str) -> bool:
    """The source reads the Claude Code Analytics API, which does not report claude.ai sign-ins."""
    return not settings.is_enterprise(source)


SIGN_IN_ADVICE = (
    "The Claude Code Analytics API does not report people who sign in with a claude.ai "
    "subscription (the seats of a Team or Enterprise plan). If this organisation pays for such "
    "seats, read it with the enterprise source: BUDGET_PIPELINE_SOURCE=enterprise with "
    "ANTHROPIC_ANALYTICS_API_KEY."
)


@dg.asset_check(
    asset="idle_seats",
    name=SEATS_REPORTED,
    description=f"Console source only: warns when more than {MAX_NEVER_REPORTED_SHARE:.0%} of the "
    "seats in seats.csv never appear in any raw_usage record since the first day. "
    + SIGN_IN_ADVICE,
    pool=WAREHOUSE_POOL,
)
def idle_seats_most_seats_reported(
    analytics_api: AnalyticsApiResource,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    if not reads_console_api(analytics_api.source):
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"not checked: the {analytics_api.source} source reports every member "
            "of the organisation, whatever their sign-in",
            metadata={"source": analytics_api.source},
        )
    with failing_clearly():
        seats = config_files.seats()
    since = first_day()
    with warehouse.connect() as connection:
        reported = connection.execute(
            f"SELECT DISTINCT actor FROM {RAW_USAGE.qualified_name} WHERE usage_date >= ?",
            [since.date()],
        ).fetchdf()["actor"]
    return seats_reported_result(analytics_api.source, seats, reported, since)


def seats_reported_result(
    source: str, seats: pd.DataFrame, reported_actors: pd.Series, since: pd.Timestamp
) -> dg.AssetCheckResult:
    never = seats_never_reported(seats, reported_actors)
    too_many = len(never) > MAX_NEVER_REPORTED_SHARE * len(seats)
    return dg.AssetCheckResult(
        passed=not too_many,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(never)} of {len(seats)} seats in seats.csv never appear in any record "
        f"since {since:%Y-%m-%d}. {SIGN_IN_ADVICE}"
        if too_many
        else None,
        metadata={
            "source": source,
            "since": f"{since:%Y-%m-%d}",
            "seats": len(seats),
            "seats_never_reported": len(never),
            **({"never_reported": markdown_preview(never.to_frame())} if len(never) else {}),
        },
    )
