"""The bill beside the estimate, through real materialisations against the loopback API
(docs/rules.md, "The bill"; docs/operations.md, "When the bill is unavailable")."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from budget_pipeline.defs.budget.bill import BILL_AVAILABLE, WITHIN_TOLERANCE
from budget_pipeline.defs.budget.checks import COST_IS_BILLED
from budget_pipeline.demo.organisation import BILL_DISCOUNT, STALE_PRICE_MODEL, billed_rows
from budget_pipeline.demo.server import Fault

START, END = "2026-03-02", "2026-03-04"
HIPAA = "The Usage and Cost Analytics API is not available for HIPAA-ready organizations."


def check_result(result, name: str):
    [evaluation] = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == name
    ]
    return evaluation


def last_metadata(pipeline, asset: str, partition: str) -> dict:
    records = pipeline.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_the_bill_is_fetched_reconciled_and_the_stale_price_named(pipeline):
    result = pipeline.materialize(START, END)
    assert result.success

    billed = pipeline.table("billed_cost")
    assert set(billed["usage_date"].dt.strftime("%Y-%m-%d")) == {START, "2026-03-03", END}
    assert set(billed["actor_type"]) == {"user", "api_key"}
    assert billed["data_refreshed_at"].notna().all()
    assert billed["amount_usd"].sum() == pytest.approx(
        billed["list_amount_usd"].sum() * (1 - BILL_DISCOUNT)
    )
    requests = pipeline.server.cost_requests()
    assert {r.query["starting_at"] for r in requests} == {
        f"{day}T00:00:00Z" for day in (START, "2026-03-03", END)
    }
    assert all(r.headers["anthropic-beta"] == "analytics-usage-cost-2026-08-24" for r in requests)

    reconciled = pipeline.table("bill_reconciliation").set_index("usage_date")
    priced = pipeline.table("priced_usage")
    estimate = priced.groupby("usage_date")["list_price_cost_usd"].sum()
    assert (priced["list_price_cost_usd"] == priced["cost_usd"]).all()
    pd.testing.assert_series_equal(
        reconciled["estimate_usd"], estimate, check_names=False, check_index_type=False
    )
    listed = billed.groupby("usage_date")["list_amount_usd"].sum()
    pd.testing.assert_series_equal(
        reconciled["billed_list_usd"], listed, check_names=False, check_index_type=False
    )
    # The demo bills one model 12 % above its stale prices.csv row: the weekdays fall outside.
    assert not reconciled["within_tolerance"].any()
    check = check_result(result, WITHIN_TOLERANCE)
    assert not check.passed
    assert "2026-03-02" in check.description
    assert f"first: {STALE_PRICE_MODEL}: estimate $" in check.description
    assert check_result(result, BILL_AVAILABLE).passed

    metadata = last_metadata(pipeline, "bill_reconciliation", "2026-03-03")
    assert metadata["estimate_usd"] == round(estimate.iloc[1], 2)
    assert metadata["billed_list_usd"] == round(listed.iloc[1], 2)
    assert isinstance(metadata["billed_usd"], float)


def test_re_fetching_a_day_replaces_its_bill(pipeline):
    assert pipeline.materialize(START, END).success
    before = pipeline.table("billed_cost")
    assert pipeline.materialize("2026-03-03").success
    after = pipeline.table("billed_cost")
    key = ["usage_date", "actor", "model"]
    pd.testing.assert_frame_equal(
        after.sort_values(key).reset_index(drop=True),
        before.sort_values(key).reset_index(drop=True),
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, HIPAA), (403, "analytics beta not enabled"), (404, "Not found")],
    ids=["400-hipaa", "403", "404"],
)
def test_a_closed_bill_is_written_empty_and_every_other_figure_still_runs(
    pipeline, status, message
):
    pipeline.server.add_fault(Fault(status=status, message=message, times=1000, endpoint="cost"))

    result = pipeline.materialize(START, END)

    assert result.success
    assert pipeline.table("billed_cost").empty
    assert len(pipeline.table("daily_spend")) == 3
    reconciled = pipeline.table("bill_reconciliation")
    assert len(reconciled) == 3 and reconciled["within_tolerance"].isna().all()
    available = check_result(result, BILL_AVAILABLE)
    assert not available.passed
    assert message in available.description
    assert f"HTTP {status}" in last_metadata(pipeline, "billed_cost", START)["bill"]
    assert check_result(result, WITHIN_TOLERANCE).passed
    # The Console source's cost_usd is the list-price estimate, bill or no bill.
    assert check_result(result, COST_IS_BILLED).passed


def test_a_closed_bill_empties_days_billed_before(pipeline):
    assert pipeline.materialize(START, END).success
    pipeline.server.add_fault(Fault(status=403, message="beta off", times=1000, endpoint="cost"))
    assert pipeline.materialize(START).success
    left = pipeline.table("billed_cost")["usage_date"].dt.strftime("%Y-%m-%d")
    assert set(left) == {"2026-03-03", END}


def test_a_wrong_key_on_the_bill_fails_the_run_and_writes_nothing(pipeline):
    assert pipeline.materialize(START, END).success
    before = pipeline.table("billed_cost")
    pipeline.server.add_fault(
        Fault(status=401, message="invalid x-api-key", times=1000, endpoint="cost")
    )

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    pd.testing.assert_frame_equal(pipeline.table("billed_cost"), before)


def test_a_bad_currency_stops_the_day_naming_day_page_and_field(pipeline):

    day = dt.date(2026, 3, 3)
    rows = billed_rows(pipeline.server.organisation.records_for(day), day)
    rows[3]["cost"]["currency"] = "EUR"
    pipeline.server.add_fault(
        Fault(kind="body", payload={"data": rows, "next_page": None}, day=day, endpoint="cost")
    )

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = "".join(
        e.step_failure_data.error.message
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )
    assert "2026-03-03 page 1: the bill row 3: cost.currency: 'EUR' is not USD" in failures
    assert pipeline.table("billed_cost").empty


def test_the_bill_is_fetched_beside_the_usage_in_one_step(pipeline):
    # Each page takes half a second to answer: fetched one after the other, the bill's first
    # request would come at least that long after the usage's last one.
    pipeline.server.page_latency = 0.5

    result = pipeline.materialize(START, END)

    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "raw_layer" in steps and "billed_cost" not in steps
    usage = [r.received_at for r in pipeline.server.usage_requests()]
    bill = [r.received_at for r in pipeline.server.cost_requests()]
    assert min(bill) < max(usage) + 0.5
    assert len(pipeline.table("billed_cost")) > 0


def test_a_usage_that_cannot_be_had_writes_no_bill_and_names_the_usage(pipeline):
    assert pipeline.materialize(START).success
    pipeline.server.add_fault(Fault(status=401, message="invalid x-api-key", times=1000))

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "raw_layer"
    assert "HTTP 401" in failure.step_failure_data.error.message
    assert "bill" not in failure.step_failure_data.error.message
    for table in ("billed_cost", "raw_usage"):
        days = set(pipeline.table(table)["usage_date"].dt.strftime("%Y-%m-%d"))
        assert days == {START}, table


def test_the_usage_alone_asks_for_no_bill_and_the_bill_alone_for_no_usage(pipeline):
    assert pipeline.materialize(START, END, selection="raw_usage").success
    assert pipeline.server.cost_requests() == []
    assert pipeline.table("billed_cost").empty and len(pipeline.table("raw_usage")) > 0

    usage_requests = len(pipeline.server.usage_requests())
    assert pipeline.materialize(START, END, selection="billed_cost").success
    assert len(pipeline.server.usage_requests()) == usage_requests
    assert len(pipeline.table("billed_cost")) > 0
