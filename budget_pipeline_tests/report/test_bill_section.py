"""The page's "The bill" section against the warehouse: the month's estimate, billed at list,
billed and the discount to the cent, the days outside the tolerance and the model to blame."""

import dataclasses

import pandas as pd

from budget_pipeline.demo.organisation import BILL_DISCOUNT, STALE_PRICE_MODEL
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


def test_a_month_without_a_bill_says_its_figures_are_estimates(march_report):
    def without_bill(tables):
        empty = tables.bill_reconciliation.assign(
            billed_list_usd=float("nan"), billed_usd=float("nan"), within_tolerance=pd.NA
        )
        return dataclasses.replace(
            tables, bill_reconciliation=empty, billed_by_model=tables.billed_by_model.head(0)
        )

    html = page_for(march_report, "2026-03", without_bill)
    assert "<h2>7. The bill</h2><p>No bill for this month yet" in html
