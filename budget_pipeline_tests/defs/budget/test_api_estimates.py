"""A model missing from prices.csv, materialised for real: its cost is the API's estimate in
whichever shape the record contract accepts, and never a silent $0."""

import datetime as dt
import json

import pytest

from budget_pipeline_tests.conftest import TEST_ORGANISATION

DAY = dt.date(2026, 3, 4)
NEW_MODEL = "claude-new-9"  # not in the test organisation's prices.csv
ACTOR = "early.adopter@example.com"
FIRST_STEPS = "group:budget and not key:daily_spend and not key:workstream_cost"


def new_model_record(**entry_fields) -> dict:
    record = json.loads(json.dumps(TEST_ORGANISATION.records_for(DAY)[0]))
    record["actor"] = {"type": "user_actor", "email_address": ACTOR}
    record["model_breakdown"] = [
        {
            "model": NEW_MODEL,
            "tokens": {
                "input": 1_000_000,
                "output": 1_000_000,
                "cache_read": 0,
                "cache_creation": 0,
            },
            **entry_fields,
        }
    ]
    return record


def new_model_rows(pipeline):
    priced = pipeline.table("priced_usage")
    return priced.loc[priced["model"] == NEW_MODEL]


@pytest.mark.parametrize(
    "estimated_cost", [1850, {"currency": "USD", "amount": 1850}], ids=["bare cents", "amount"]
)
def test_an_unknown_model_costs_the_apis_estimate_in_either_shape(pipeline, estimated_cost):
    records = [*TEST_ORGANISATION.records_for(DAY), new_model_record(estimated_cost=estimated_cost)]
    pipeline.server.set_records(DAY, records)

    assert pipeline.materialize(DAY.isoformat(), selection=FIRST_STEPS).success

    [row] = new_model_rows(pipeline).itertuples()
    assert row.price_source == "api_estimate"
    assert row.cost_usd == pytest.approx(18.50)
    assert row.api_estimated_cost_usd == pytest.approx(18.50)


def test_an_unknown_model_without_an_estimate_fails_the_run_naming_it(pipeline):
    records = [*TEST_ORGANISATION.records_for(DAY), new_model_record()]
    pipeline.server.set_records(DAY, records)

    result = pipeline.materialize(DAY.isoformat(), selection=FIRST_STEPS, raise_on_error=False)

    assert not result.success
    [failure] = [
        event
        for event in result.all_events
        if event.is_step_failure and event.step_key == "priced_usage"
    ]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(f"no price for model(s) {NEW_MODEL}: not in prices.csv")
    assert f"{DAY.isoformat()} {ACTOR} {NEW_MODEL}" in description
    assert pipeline.table("priced_usage").empty  # nothing priced at $0 was written
