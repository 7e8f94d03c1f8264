"""The page's "The bill" section against the warehouse: the month's estimate, billed at list,
billed and the discount to the cent, the days outside the tolerance and the model to blame."""

import dataclasses

import numpy as np
import pandas as pd

from budget_pipeline.demo.organisation import BILL_DISCOUNT, STALE_PRICE_MODEL
from budget_pipeline.report import page
from budget_pipeline_tests.report.test_budget_report import dollars, month_rows, parse, table_with
from budget_pipeline_tests.report.test_budget_section import page_for


def test_the_bill_section_states_estimate_bill_and_discount_to_the_cent(march_report):
    reconciled = month_rows(march_report.pipeline.table("bill_reconciliation"))
    assert reconciled["billed_list_usd"].notna().all()
    table = table_with(parse(march_report.html), "The bill")
    billed_list = reconciled["billed_list_usd"].sum()
    billed = reconciled["billed_usd"].sum()
    assert table["Estimate (tokens × prices.csv)"][1] == dollars(reconciled["estimate_usd"].sum())
    assert table["Billed at list price"][1] == dollars(billed_list)
    assert table["Billed (after discounts, before credits)"][1] == dollars(billed)
    discount = table["Discount received (1 − billed ÷ billed at list)"][1]
    assert discount == f"{1 - billed / billed_list:.1%}" == f"{BILL_DISCOUNT:.1%}"

    outside = reconciled.loc[reconciled["within_tolerance"].eq(False)]
    assert len(outside) > 10
    assert f"{len(outside)} day(s) outside the tolerance" in march_report.html
    models = table_with(parse(march_report.html), "Model")
    assert next(iter(models)) == STALE_PRICE_MODEL
    assert models[STALE_PRICE_MODEL][3].startswith("−$")  # the stale row underestimates

    metadata = march_report.result.asset_materializations_for_node("budget_report")[0].metadata
    assert metadata["billed_usd"].value == round(billed, 4)
    assert metadata["bill_days_outside_tolerance"].value == len(outside)


def without_bill(tables, price_source=None, billed_from=None):
    """The month's tables with no bill row; on the Enterprise source `price_source` says how its
    usage was priced: `billed` (the bill open) or `price_table` (closed), from `billed_from` on
    (the days before it keep the other)."""
    empty = tables.bill_reconciliation.assign(
        billed_list_usd=float("nan"), billed_usd=float("nan"), within_tolerance=pd.NA
    )
    priced = tables.priced_usage
    if price_source is not None:
        later = priced["usage_date"] >= pd.Timestamp(billed_from or "2000-01-01")
        other = "price_table" if price_source == "billed" else "billed"
        priced = priced.assign(price_source=np.where(later, price_source, other))
    return dataclasses.replace(
        tables,
        bill_reconciliation=empty,
        billed_by_model=tables.billed_by_model.head(0),
        priced_usage=priced,
    )


def seventh_section(html: str) -> str:
    return html.split("<h2>7. The bill</h2>")[1].split("<h2>")[0]


def test_a_console_month_without_a_bill_says_its_figures_are_estimates(march_report):
    section = seventh_section(page_for(march_report, "2026-03", without_bill))
    assert section == f"<p>{page.NO_BILL_CONSOLE}</p>"
    assert "Every figure above is a list-price estimate." in section


def test_an_enterprise_month_whose_bill_was_closed_says_its_token_spend_is_at_list_prices(
    march_report,
):
    def closed(tables):
        return without_bill(tables, "price_table")

    section = seventh_section(page_for(march_report, "2026-03", closed, console_source=False))
    assert section.startswith(
        "<p>No bill for this month: Anthropic's Usage and Cost Analytics API is closed to the "
        "organisation (see the <em>billed_cost_available</em> check), so the token spend of 31 of "
        "the 31 loaded day(s) is the usage at list prices (tokens × prices.csv), not what is "
        "billed. What the usage was worth at list prices is in section 8.</p>"
    )
    assert "list-price estimate" not in section and "$0" not in section


def test_an_enterprise_month_without_bill_rows_yet_says_its_token_spend_is_zero(march_report):
    def open_without_rows(tables):
        return without_bill(tables, "billed")

    section = seventh_section(
        page_for(march_report, "2026-03", open_without_rows, console_source=False)
    )
    assert section.startswith(
        "<p>No bill rows for this month yet: Anthropic's Usage and Cost Analytics API is open to "
        "the organisation and has billed none of its days. Token spend is what the bill charges, "
        "so it is $0 so far: usage the seats cover is never billed, and usage beyond them "
        "appears as the bill catches up"
    )
    assert "list-price estimate" not in section and "closed" not in section

    # Closed for the first 10 days, then open without rows: each part said for its days.
    def closed_then_open(tables):
        return without_bill(tables, "billed", billed_from="2026-03-11")

    section = seventh_section(
        page_for(march_report, "2026-03", closed_then_open, console_source=False)
    )
    assert "the token spend of 10 of the 31 loaded day(s) is the usage at list prices" in section
    assert "The other days' bill was open and has no row: their token spend is $0;" in section
