"""The monthly budget-meeting report (group `report`).

It lives outside the `budget` group on purpose: a monthly asset in that group would
break `--select 'group:budget' --partition-range` over days.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from budget_pipeline import settings
from budget_pipeline.defs.budget.building_blocks import OWNERS, WAREHOUSE_POOL
from budget_pipeline.defs.config_files.assets import prices_csv, seats_csv, workstreams_csv
from budget_pipeline.defs.partitions import first_day, monthly_partitions
from budget_pipeline.defs.resources import (
    ConfigFilesResource,
    ReportsResource,
    ThresholdsResource,
    WarehouseResource,
)
from budget_pipeline.report.figures import ReportFigures, month_figures
from budget_pipeline.report.files import write_report
from budget_pipeline.report.focus import focus_cost_export
from budget_pipeline.report.month import Month
from budget_pipeline.report.page import money, percent, signed_percent
from budget_pipeline.report.tables import read_month
from budget_pipeline.rules.config_files import ConfigFileError
from budget_pipeline.rules.month_source import month_source
from budget_pipeline.text_safety import markdown_text

REPORT_GROUP = "report"


def _month_deps() -> list[dg.AssetDep]:
    # Day → month. Spend and workstream cost also feed "change against last month": their
    # mapping starts one month earlier (offsets count downstream partitions, i.e. months).
    def dep(asset: str, months_back: int) -> dg.AssetDep:
        return dg.AssetDep(
            asset,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-months_back, allow_nonexistent_upstream_partitions=True
            ),
        )

    return [
        dep("workstream_cost", 1),
        dep("daily_spend", 1),
        dep("idle_seats", 0),
        dep("priced_usage", 0),
        dep("raw_usage", 0),
        dep("budget_forecast", 0),
        dep("bill_reconciliation", 0),
        dep("billed_cost", 0),
    ]


def headline_markdown(figures: ReportFigures) -> str:
    """The page's first table, for the asset's metadata in the UI."""
    f = figures
    lines = [
        f"**{f.month.label}: {money(f.total_cost_usd)}** = tokens {money(f.token_cost_usd)} + "
        f"{f.seats} seats {money(f.seat_cost_usd)} ({len(f.days_loaded)} of "
        f"{len(f.month.days)} days loaded)",
        "",
        f"| workstream | {f.month.key} | share | {f.month.previous.key} | change |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in f.workstreams.itertuples():
        lines.append(
            f"| {markdown_text(row.workstream)} | {money(row.cost_usd)} | {percent(row.share)} | "
            f"{money(row.previous_cost_usd)} | {signed_percent(row.change_ratio)} |"
        )
    lines.append(
        f"| **tokens** | **{money(f.token_cost_usd)}** | | {money(f.previous_token_cost_usd)} | "
        f"{signed_percent(f.token_change_ratio)} |"
    )
    idle = f"{len(f.idle_seats)} idle seats ({money(f.idle_monthly_cost_usd)}/month)"
    lines += ["", f"Alert days: {len(f.alerts)} · {idle}"]
    return "\n".join(lines)


def _number(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)


@dg.asset(
    name="budget_report",
    description=(
        "One self-contained HTML page per month for the budget meeting (spend per workstream "
        "and its change, Unassigned and the ledger's to-do list, alert days explained, idle "
        "seats, value per workstream) plus CSV exports, one of them in FinOps FOCUS 1.2 columns."
    ),
    group_name=REPORT_GROUP,
    owners=OWNERS,
    kinds={"html", "csv", "duckdb"},
    partitions_def=monthly_partitions,
    deps=[*_month_deps(), workstreams_csv, prices_csv, seats_csv],
    pool=WAREHOUSE_POOL,
)
def budget_report(
    context: dg.AssetExecutionContext,
    thresholds: ThresholdsResource,
    config_files: ConfigFilesResource,
    warehouse: WarehouseResource,
    reports: ReportsResource,
) -> dg.MaterializeResult:
    month = Month.from_key(context.partition_key)
    try:
        ledger, prices, seats = config_files.ledger(), config_files.prices(), config_files.seats()
    except ConfigFileError as error:
        raise dg.Failure(description=str(error)) from error
    with warehouse.connect() as connection:
        tables = read_month(connection, month)
    # The month's own rows say which source they were read with, so the page cannot describe
    # them as another source's; a month without rows takes the configured source. The report
    # never calls the API, so it needs no key, whatever the source.
    source = month_source(tables.raw_usage, settings.is_enterprise(settings.source_or_demo()))
    if source.mixed:
        days = ", ".join(f"{count} day(s) {name}" for name, count in source.days.items())
        context.log.warning(
            f"{month.key} was read with more than one source ({days}): the page speaks for the "
            f"{source.source} source, that of its newest day"
        )
    figures = month_figures(
        tables,
        ledger=ledger,
        prices=prices,
        seats=seats,
        first_day=first_day(),
        unassigned_threshold=thresholds.max_unassigned_share,
        idle_rules=thresholds.idle_seat_rules(),
        console_source=not source.is_enterprise,
    )
    if len(figures.days_loaded) == 0:
        raise dg.Failure(
            description=f"no day of {month.key} is loaded: materialise the daily assets first, "
            f"e.g. --select 'group:budget' --partition-range "
            f"{month.start:%Y-%m-%d}...{month.end:%Y-%m-%d}"
        )
    focus = focus_cost_export(
        tables.priced_usage,
        ledger,
        prices,
        seats,
        month,
        billing_account_id=", ".join(tables.organization_ids) or None,
        enterprise=not figures.console_source,
    )
    generated_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    files = write_report(figures, focus, reports.directory, generated_at)
    if not figures.complete:
        context.log.warning(
            f"{month.key} has {len(figures.days_loaded)} of {len(month.days)} days loaded: "
            "the page says it is incomplete"
        )
    html = files.html.resolve()
    metadata = {
        "report": dg.MetadataValue.path(str(html)),
        "report_url": dg.MetadataValue.url(html.as_uri()),
        "headline": dg.MetadataValue.md(headline_markdown(figures)),
        "total_cost_usd": round(figures.total_cost_usd, 2),
        "token_cost_usd": round(figures.token_cost_usd, 2),
        "seat_cost_usd": round(figures.seat_cost_usd, 2),
        "idle_seats": len(figures.idle_seats),
        "idle_monthly_cost_usd": round(figures.idle_monthly_cost_usd, 2),
        "alert_days": len(figures.alerts),
        "days_loaded": len(figures.days_loaded),
        "focus_rows": len(focus),
        "source": source.source,
        "exports": dg.MetadataValue.json(
            {
                "workstream_cost": str(files.workstream_cost_csv.resolve()),
                "idle_seats": str(files.idle_seats_csv.resolve()),
                "focus": str(files.focus_csv.resolve()),
            }
        ),
    }
    # Ratios without a denominator are left out rather than shown as 0 on a plot.
    for name, value in (
        ("token_change_vs_last_month", figures.token_change_ratio),
        ("unassigned_share", figures.unassigned_share_of_month),
        *(
            (
                ("bill_estimate_usd", figures.bill.estimate_usd),
                ("billed_list_usd", figures.bill.billed_list_usd),
                ("billed_usd", figures.bill.billed_usd),
                ("bill_discount", figures.bill.discount),
                ("bill_days_outside_tolerance", len(figures.bill.days_outside)),
            )
            if figures.bill is not None and figures.bill.has_bill
            else ()
        ),
        *(
            (
                ("usage_at_list_price_usd", figures.seat_value.list_price_worth_usd),
                ("paid_usd", figures.seat_value.paid_usd),
                ("usage_at_list_price_per_dollar_paid", figures.seat_value.worth_per_dollar_paid),
            )
            if figures.seat_value is not None
            else ()
        ),
    ):
        if _number(value) is not None:
            metadata[name] = _number(value)
    return dg.MaterializeResult(metadata=metadata)


report_assets = [budget_report]
