"""`billed_cost` and `bill_reconciliation`: what Anthropic bills beside the estimate, per day
(docs/rules.md, "The bill").

The bill is fetched beside the usage, in the raw layer's step, through the same client (retries,
retry-after cap, deadline, key redaction, concurrency). A closed cost endpoint is not a failure:
the days are written empty, the reason goes in the metadata and a warning check says the bill is
unavailable.
"""

import dagster as dg
import pandas as pd

from budget_pipeline.defs.budget.building_blocks import (
    add_range_metadata,
    budget_asset,
    budget_asset_spec,
    contract_checked,
    day_key,
)
from budget_pipeline.defs.budget.checks import warning_check
from budget_pipeline.defs.metadata import PREVIEW_ROWS, markdown_preview
from budget_pipeline.defs.partitions import days_of
from budget_pipeline.defs.resources import ThresholdsResource, WarehouseResource
from budget_pipeline.ingest.cost import FetchedBill
from budget_pipeline.rules.bill import (
    days_outside_tolerance,
    model_gap_lines,
    model_gaps,
    reconciliation,
)
from budget_pipeline.warehouse.connection import staged_replacement
from budget_pipeline.warehouse.tables import BILL_RECONCILIATION, BILLED_COST, PRICED_USAGE

FETCHES_API = {"fetches": "api"}
BILL_AVAILABLE = "billed_cost_available"
WITHIN_TOLERANCE = "bill_reconciliation_within_tolerance"

BILLED_COST_WARNINGS = [
    dg.AssetCheckSpec(
        name=BILL_AVAILABLE,
        asset="billed_cost",
        description="The cost endpoint answers for this organisation. It is closed to "
        "HIPAA-ready organisations and where the beta is not enabled: then the bill is empty, "
        "every other figure is computed as usual, and the estimate stays unreconciled.",
    )
]

BILL_RECONCILIATION_WARNINGS = [
    dg.AssetCheckSpec(
        name=WITHIN_TOLERANCE,
        asset="bill_reconciliation",
        description="Names every day whose estimate and billed list amount differ by more than "
        "the `thresholds` resource's bill_tolerance, and per model the estimate against the "
        "billed list amount over those days, largest gap first: a model at the top is one "
        "whose row in prices.csv is stale.",
    )
]


def _usd(value: float) -> float:
    return round(float(value), 2)


def billed_cost_spec() -> dg.AssetSpec:
    """`billed_cost`, an asset of the raw layer's step (a spec at module level would be loaded
    as an asset of its own)."""
    return budget_asset_spec(BILLED_COST, kinds={"httpx", "duckdb", "pandas"}, tags=FETCHES_API)


def billed_cost_written(
    context: dg.AssetExecutionContext,
    fetched: FetchedBill,
    warehouse: WarehouseResource,
    days: pd.DatetimeIndex,
):
    """`billed_cost` of the raw layer's step (defs/budget/assets.py): each day's bill was
    fetched whole (every page) or the run fails; nothing partial is written. Re-fetching a day
    replaces its rows: billed figures settle over about 30 days."""
    frame, closed = fetched.frame, fetched.closed
    contract = yield from contract_checked("billed_cost", frame)
    with (
        warehouse.connect() as connection,
        staged_replacement(connection, BILLED_COST, days[0].date(), days[-1].date()) as write,
    ):
        write(frame)
    per_day = {}
    for day, of_day in frame.groupby("usage_date"):
        per_day[day_key(day)] = {
            "dagster/row_count": len(of_day),
            "amount_usd": _usd(of_day["amount_usd"].sum()),
            "list_amount_usd": _usd(of_day["list_amount_usd"].sum()),
        }
    if closed is not None:
        context.log.warning(f"the bill is unavailable ({closed}); the days are written empty")
        per_day = {day_key(day): {"dagster/row_count": 0, "bill": closed} for day in days}
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_row_count": len(frame),
            "range_amount_usd": _usd(frame["amount_usd"].sum()),
            "range_list_amount_usd": _usd(frame["list_amount_usd"].sum()),
            "days_without_bill": len(days) - len(per_day) if closed is None else len(days),
            "bill": f"unavailable: {closed}" if closed is not None else "available",
            "preview": markdown_preview(frame.head(PREVIEW_ROWS)),
        },
        asset_key=BILLED_COST.name,
    )
    yield dg.MaterializeResult(
        asset_key=BILLED_COST.name,
        check_results=[
            contract,
            dg.AssetCheckResult(
                asset_key=BILLED_COST.name,
                check_name=BILL_AVAILABLE,
                passed=closed is None,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    f"The bill is unavailable: {closed}. The days are written empty and every "
                    "other figure is computed as usual; the estimate is not reconciled. Ask the "
                    "organisation's admin to enable the Usage and Cost Analytics API (it is not "
                    "offered to HIPAA-ready organisations)."
                    if closed is not None
                    else None
                ),
                metadata={"reason": closed or "none"},
            ),
        ],
    )


def _sums_per_day_model(
    warehouse: WarehouseResource, table: str, sums: str, days: pd.DatetimeIndex
) -> pd.DataFrame:
    """`sums` (SQL aggregates of `table`) per usage_date × model over `days`."""
    with warehouse.connect() as connection:
        frame = connection.execute(
            f"SELECT usage_date, model, {sums} FROM {table} WHERE usage_date BETWEEN ? AND ? "
            "GROUP BY usage_date, model",
            [days[0].date(), days[-1].date()],
        ).fetchdf()
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    return frame


def within_tolerance_check(
    reconciled: pd.DataFrame, gaps: pd.DataFrame, tolerance: float
) -> dg.AssetCheckResult:
    outside = days_outside_tolerance(reconciled)
    named_days = ", ".join(
        f"{row.usage_date:%Y-%m-%d} ({row.gap_share:+.1%})"
        if not pd.isna(row.gap_share)
        else f"{row.usage_date:%Y-%m-%d} (billed $0.00)"
        for row in outside.itertuples()
    )
    lines = model_gap_lines(gaps)
    return warning_check(
        "bill_reconciliation",
        WITHIN_TOLERANCE,
        outside,
        lambda: (
            f"{len(outside)} day(s) where the estimate and the billed list amount differ by "
            f"more than {tolerance:.0%}: {named_days}. Per model over those days, largest gap "
            f"first: {'; '.join(lines[:5])}. A model whose estimate is off is one whose row in "
            "prices.csv no longer matches Anthropic's price."
        ),
        metadata={
            "bill_tolerance": tolerance,
            "days_checked": int(reconciled["within_tolerance"].notna().sum()),
            "days_without_bill": int(reconciled["within_tolerance"].isna().sum()),
            "days_outside": len(outside),
        },
        evidence=lambda: {
            "days": markdown_preview(outside, limit=31),
            "by_model": markdown_preview(gaps.round(4), limit=20),
        },
    )


@budget_asset(
    BILL_RECONCILIATION,
    kinds={"duckdb", "pandas"},
    warnings=BILL_RECONCILIATION_WARNINGS,
    deps=["priced_usage", "billed_cost"],
)
def bill_reconciliation(
    context: dg.AssetExecutionContext,
    thresholds: ThresholdsResource,
    warehouse: WarehouseResource,
):
    """The estimate (usage at list prices) against the bill, day by day: both at list price, so
    they agree when prices.csv is right; a discount shows in billed_usd, not as a gap."""
    days = days_of(context.partition_time_window)
    tolerance = thresholds.bill_tolerance
    estimate = _sums_per_day_model(
        warehouse,
        PRICED_USAGE.qualified_name,
        "sum(list_price_cost_usd) AS list_price_cost_usd",
        days,
    )
    billed = _sums_per_day_model(
        warehouse,
        BILLED_COST.qualified_name,
        "sum(list_amount_usd) AS list_amount_usd, sum(amount_usd) AS amount_usd",
        days,
    )
    frame = reconciliation(
        estimate.groupby("usage_date")["list_price_cost_usd"].sum(), billed, days, tolerance
    )
    contract = yield from contract_checked("bill_reconciliation", frame)
    gaps = model_gaps(estimate, billed, days_outside_tolerance(frame)["usage_date"])
    per_day = {}
    for row in frame.itertuples():
        # Numbers on every partition, so the UI plots the estimate and the bill over time.
        numbers: dict[str, object] = {
            "dagster/row_count": 1,
            "estimate_usd": _usd(row.estimate_usd),
        }
        if not pd.isna(row.billed_list_usd):
            numbers |= {
                "billed_list_usd": _usd(row.billed_list_usd),
                "billed_usd": _usd(row.billed_usd),
                "within_tolerance": bool(row.within_tolerance),
            }
        if not pd.isna(row.gap_share):
            numbers["gap_share"] = round(float(row.gap_share), 4)
        per_day[day_key(row.usage_date)] = numbers
    billed_days = frame.loc[frame["billed_list_usd"].notna()]
    add_range_metadata(
        context,
        days,
        per_day,
        {
            "range_estimate_usd": _usd(frame["estimate_usd"].sum()),
            "range_billed_list_usd": _usd(billed_days["billed_list_usd"].sum()),
            "range_billed_usd": _usd(billed_days["billed_usd"].sum()),
            "days_outside_tolerance": ", ".join(
                day_key(day) for day in days_outside_tolerance(frame)["usage_date"]
            )
            or "none",
            "preview": markdown_preview(frame),
        },
    )
    yield dg.Output(frame)
    yield contract
    yield within_tolerance_check(frame, gaps, tolerance)
