"""API faults on the bill during a real materialisation: the bill of each day is the clean run's,
or the run fails naming the day and page and the bill's days keep what they held."""

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from budget_pipeline.demo.server import Fault, encode_cursor
from budget_pipeline.ingest import cost
from budget_pipeline_tests.reliability.conftest import read_tables, step_failures
from budget_pipeline_tests.reliability.test_api_faults import PAGE_LIMIT, api

START, END = "2026-03-02", "2026-03-04"
DAY = dt.date(2026, 3, 3)
BILL_TABLES = ("billed_cost", "bill_reconciliation")


def bill_tables(pipeline) -> dict[str, pd.DataFrame]:
    tables = read_tables(pipeline.duckdb_file)
    return {name: tables[name] for name in BILL_TABLES}


def cost_requests_for_page(server, day: dt.date, page_index: int) -> list:
    cursor = encode_cursor(day, page_index * PAGE_LIMIT, page_index) if page_index else None
    return [
        r
        for r in server.cost_requests()
        if r.query["starting_at"].startswith(day.isoformat()) and r.query.get("page") == cursor
    ]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault(status=429, headers={"retry-after": "1"}), id="429-retry-after"),
        pytest.param(Fault(status=500), id="500"),
        pytest.param(Fault(status=529, error_type="overloaded_error"), id="529"),
        pytest.param(Fault(kind="drop", mid_response=True), id="reset-mid-page"),
    ],
)
def test_a_transient_fault_on_the_bill_is_retried_and_gives_the_clean_bill(
    pipeline, reference, fault
):
    pipeline.api = api(pipeline)
    pipeline.server.add_fault(dataclasses.replace(fault, day=DAY, page_index=1, endpoint="cost"))

    assert pipeline.materialize(START, END).success

    assert not pipeline.server.pending_faults()
    attempts = cost_requests_for_page(pipeline.server, DAY, 1)
    assert [r.fault for r in attempts] == [fault.kind, None]
    if "retry-after" in fault.headers:
        assert attempts[1].received_at - attempts[0].received_at >= 1.0
    clean = reference.days(START, END)
    for name, frame in bill_tables(pipeline).items():
        pd.testing.assert_frame_equal(frame, clean[name], check_dtype=False, obj=name)


def endless_cursor(day: dt.date, pages: int) -> list[Fault]:
    """Pages that each name a fresh next page, for ever as far as the client can tell."""
    return [
        Fault(
            kind="body",
            payload={"data": [], "next_page": encode_cursor(day, 0, index + 1)},
            day=day,
            page_index=index,
            endpoint="cost",
        )
        for index in range(pages)
    ]


@pytest.mark.parametrize(
    ("faults", "named"),
    [
        pytest.param(
            [Fault(status=500, times=100)],
            "2026-03-03 page 2: gave up after 4 attempt(s)",
            id="5xx-outlasting-the-retries",
        ),
        pytest.param(None, "2026-03-03 page 5: the bill cursor never ends", id="endless-cursor"),
    ],
)
def test_a_bill_that_cannot_be_had_fails_the_run_and_keeps_the_bill_held(
    pipeline, monkeypatch, faults, named
):
    pipeline.api = api(pipeline)
    assert pipeline.materialize(START, END).success
    before = bill_tables(pipeline)
    monkeypatch.setattr(cost, "MAX_BILL_PAGES_PER_DAY", 5)
    if faults is None:
        faults = endless_cursor(DAY, 10)
    else:
        faults = [dataclasses.replace(f, day=DAY, page_index=1, endpoint="cost") for f in faults]
    for fault in faults:
        pipeline.server.add_fault(fault)

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    assert named in step_failures(result)["raw_layer"]
    after = bill_tables(pipeline)
    for name in BILL_TABLES:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
