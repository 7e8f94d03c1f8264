"""API faults during a real materialisation: loopback server → Dagster → DuckDB file.

A run either writes complete days equal to a clean run's, or fails naming the day, page and cause
and writes nothing for its days. The client-level details are in test_client.py; these prove the
promise holds for the tables a user reads.
"""

import copy
import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from budget_pipeline.defs.budget import enterprise as enterprise_assets
from budget_pipeline.defs.resources import AnalyticsApiResource
from budget_pipeline.demo.server import Fault, encode_cursor
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION
from budget_pipeline_tests.reliability.conftest import (
    assert_tables_equal,
    enterprise_api,
    read_tables,
    step_failures,
)

START, END = "2026-03-02", "2026-03-04"
DAY = dt.date(2026, 3, 3)  # the faulted day, in the middle of the run
PAGE_LIMIT = 15  # ~40 records a day: three pages, so a fault can hit page 2 (page_index 1)


def api(pipeline, **settings) -> AnalyticsApiResource:
    defaults = {
        "source": "api",
        "base_url": pipeline.server.base_url,
        "api_key": TEST_API_KEY,
        "page_limit": PAGE_LIMIT,
        "timeout_seconds": 1.0,
        "max_attempts": 4,
        "base_delay_seconds": 0.05,
        "max_delay_seconds": 0.2,
    }
    return AnalyticsApiResource(**(defaults | settings))


def requests_for_page(server, day: dt.date, page_index: int) -> list:
    """The server's log of one page of one day (page_index 0 is the request without a cursor)."""
    cursor = encode_cursor(day, page_index * PAGE_LIMIT, page_index) if page_index else None
    return [
        r
        for r in server.usage_requests()
        if r.query["starting_at"] == day.isoformat() and r.query.get("page") == cursor
    ]


# -- 1. transient faults -------------------------------------------------------------------------

OVERLOADED = Fault(status=529, error_type="overloaded_error", message="Overloaded")
TRANSIENT = [
    pytest.param(Fault(status=429, headers={"retry-after": "1"}), id="429-retry-after"),
    pytest.param(OVERLOADED, id="529-overloaded"),
    pytest.param(Fault(status=500), id="500"),
    pytest.param(Fault(status=502), id="502"),
    pytest.param(Fault(status=503, times=2), id="503-twice"),
    pytest.param(Fault(kind="drop", mid_response=True), id="dropped-mid-response"),
    pytest.param(Fault(kind="slow", delay=2.5), id="slow-past-read-timeout"),
    pytest.param(Fault(kind="truncate"), id="truncated-json"),
]


@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_transient_fault_is_retried_and_gives_the_clean_tables(pipeline, reference, fault):
    pipeline.api = api(pipeline)
    pipeline.server.add_fault(dataclasses.replace(fault, day=DAY, page_index=1))

    assert pipeline.materialize(START, END).success

    assert not pipeline.server.pending_faults()
    attempts = requests_for_page(pipeline.server, DAY, 1)
    assert [r.fault for r in attempts] == [fault.kind] * fault.times + [None]
    assert_tables_equal(read_tables(pipeline.duckdb_file), reference.days(START, END))
    if "retry-after" in fault.headers:
        # waited out, not less: the retry arrived at least retry-after seconds after the 429
        assert attempts[1].received_at - attempts[0].received_at >= 1.0


# The Claude Enterprise Analytics API's two endpoints, through the same client.
ENTERPRISE_ENDPOINTS = [
    pytest.param("users", id="analytics-users"),
    pytest.param("tokens", id="analytics-usage"),
]


def enterprise_requests_for_page(server, endpoint: str, day: dt.date, page_index: int) -> list:
    cursor = encode_cursor(day, page_index * PAGE_LIMIT, page_index) if page_index else None
    requests = server.users_requests() if endpoint == "users" else server.tokens_requests()
    return [
        r
        for r in requests
        if (r.query.get("date") or r.query.get("starting_at", "")[:10]) == day.isoformat()
        and r.query.get("page") == cursor
    ]


@pytest.mark.parametrize("endpoint", ENTERPRISE_ENDPOINTS)
@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_transient_fault_on_the_enterprise_endpoints_is_retried_and_gives_the_clean_tables(
    enterprise_pipeline, enterprise_reference, fault, endpoint
):
    pipeline = enterprise_pipeline
    pipeline.server.add_fault(dataclasses.replace(fault, day=DAY, page_index=1, endpoint=endpoint))

    assert pipeline.materialize(START, END).success

    assert not pipeline.server.pending_faults()
    attempts = enterprise_requests_for_page(pipeline.server, endpoint, DAY, 1)
    assert [r.fault for r in attempts] == [fault.kind] * fault.times + [None]
    assert_tables_equal(read_tables(pipeline.duckdb_file), enterprise_reference.days(START, END))


EXHAUSTING = [
    pytest.param(OVERLOADED, "HTTP 529 overloaded_error: Overloaded", id="529"),
    pytest.param(Fault(status=503), "HTTP 503 api_error: scripted fault 503", id="503"),
    pytest.param(
        Fault(status=429, headers={"retry-after": "0"}), "HTTP 429 rate_limit_error", id="429"
    ),
    pytest.param(Fault(kind="drop", mid_response=True), "connection failed", id="dropped"),
    pytest.param(Fault(kind="slow", delay=2.0), "timed out (ReadTimeout)", id="slow"),
    pytest.param(
        Fault(kind="truncate"),
        "HTTP 200 with a body that is not valid JSON (truncated response)",
        id="truncated",
    ),
]


@pytest.mark.parametrize(("fault", "cause"), EXHAUSTING)
def test_a_fault_past_the_retry_budget_fails_naming_day_page_and_cause(pipeline, fault, cause):
    pipeline.api = api(pipeline, max_attempts=3, timeout_seconds=0.5)
    pipeline.server.add_fault(dataclasses.replace(fault, day=DAY, page_index=1, times=3))

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = step_failures(result)
    assert list(failures) == ["raw_layer"]
    assert (
        f"2026-03-03 page 2: gave up after 3 attempt(s); last cause: {cause}"
        in (failures["raw_layer"])
    )
    assert len(requests_for_page(pipeline.server, DAY, 1)) == 3
    # the other days were fetched whole, yet nothing of the run reached the warehouse
    for name, frame in read_tables(pipeline.duckdb_file).items():
        assert frame.empty, name


@pytest.mark.parametrize("endpoint", ENTERPRISE_ENDPOINTS)
@pytest.mark.parametrize(("fault", "cause"), EXHAUSTING)
def test_a_fault_past_the_retry_budget_on_the_enterprise_endpoints_writes_nothing(
    enterprise_pipeline, fault, cause, endpoint
):
    pipeline = enterprise_pipeline
    pipeline.api = enterprise_api(pipeline.server, max_attempts=3, timeout_seconds=0.5)
    pipeline.server.add_fault(
        dataclasses.replace(fault, day=DAY, page_index=1, times=3, endpoint=endpoint)
    )

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = step_failures(result)
    assert list(failures) == ["raw_layer"]
    assert (
        f"2026-03-03 page 2: gave up after 3 attempt(s); last cause: {cause}"
        in (failures["raw_layer"])
    )
    assert len(enterprise_requests_for_page(pipeline.server, endpoint, DAY, 1)) == 3
    for name, frame in read_tables(pipeline.duckdb_file).items():
        assert frame.empty, name


@pytest.mark.parametrize("endpoint", ENTERPRISE_ENDPOINTS)
def test_a_bad_enterprise_page_fails_naming_day_and_page_and_writes_nothing(
    enterprise_pipeline, endpoint
):
    pipeline = enterprise_pipeline
    bad_page = {"data": [{"no": "actor"}], "next_page": None}
    pipeline.server.add_fault(
        Fault(kind="body", payload=bad_page, day=DAY, page_index=1, endpoint=endpoint)
    )

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failure = step_failures(result)["raw_layer"]
    assert "2026-03-03 page 2: the " in failure and "row 0: " in failure
    assert len(enterprise_requests_for_page(pipeline.server, endpoint, DAY, 1)) == 1
    for name, frame in read_tables(pipeline.duckdb_file).items():
        assert frame.empty, name


def test_a_bad_enterprise_member_after_staged_days_names_its_row_and_leaves_the_warehouse(
    enterprise_pipeline, monkeypatch
):
    pipeline = enterprise_pipeline
    assert pipeline.materialize(START, END).success
    before = read_tables(pipeline.duckdb_file)
    # One day at a time, each its own chunk: the days before the bad one are judged and staged
    # before it arrives, and must still not be swapped in.
    monkeypatch.setattr(enterprise_assets, "CHUNK_BYTES", 1)
    pipeline.api = enterprise_api(pipeline.server, max_concurrent_days=1)
    member = {"user": {"email_address": "ada@example.com"}, "chat_metrics": {"message_count": -1}}
    pipeline.server.add_fault(
        Fault(
            kind="body",
            payload={"data": [member], "next_page": None},
            day=dt.date.fromisoformat(END),
            page_index=0,
            endpoint="users",
        )
    )

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failure = step_failures(result)["raw_layer"]
    assert f"{END} page 1: the member activity row 0: message_count: -1 is not a count" in failure
    assert_tables_equal(read_tables(pipeline.duckdb_file), before)


# -- 2. final errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "starting_at: expected a date"),
        (401, "invalid x-api-key"),
        (403, "this key lacks the usage_report scope"),
        (404, "organization not found"),
    ],
)
def test_a_final_error_fails_at_once_and_leaves_loaded_days_untouched(
    pipeline, reference, status, message
):
    reference.copy_to(pipeline.duckdb_file)  # 2026-03-02 … 03-09 already loaded
    later = dt.date(2026, 3, 11)
    pipeline.api = api(pipeline)
    pipeline.server.add_fault(Fault(status=status, message=message, day=later, times=5))

    result = pipeline.materialize("2026-03-10", "2026-03-12", raise_on_error=False)

    assert not result.success
    error = step_failures(result)["raw_layer"]
    assert f"2026-03-11 page 1: HTTP {status}" in error and message in error
    assert "not retried" in error
    assert [r.status for r in pipeline.server.usage_requests()].count(status) == 1
    # nothing for the run's days; the days loaded before are exactly as they were
    assert_tables_equal(read_tables(pipeline.duckdb_file), reference.tables)


# -- 3. bad responses ----------------------------------------------------------------------------


def day_records() -> list[dict]:
    return copy.deepcopy(TEST_ORGANISATION.records_for(DAY))


def with_bad_record(change) -> list[dict]:
    """The day's records with record 20 (page 2, record 5 at 15 a page) broken by `change`."""
    records = day_records()
    change(records[20])
    return records


def _other_day(record):
    record["date"] = "2026-03-02T00:00:00Z"


def _no_actor(record):
    del record["actor"]


def _negative_tokens(record):
    record["model_breakdown"][0]["tokens"]["input"] = -5


def _fractional_tokens(record):
    record["model_breakdown"][0]["tokens"]["output"] = 2.5


def _tokens_of_2_to_the_63(record):
    record["model_breakdown"][0]["tokens"]["input"] = 2**63


def _offset_into_the_next_utc_day(record):
    record["date"] = "2026-03-03T23:00:00-05:00"


def _garbage_time(record):
    record["date"] = "2026-03-03Tnoon"


BAD_RESPONSES = [
    pytest.param(
        with_bad_record(_other_day),
        None,
        'page 2 record 5: date is "2026-03-02T00:00:00Z" (requested day is 2026-03-03)',
        id="record-of-another-day",
    ),
    pytest.param(with_bad_record(_no_actor), None, "page 2 record 5: actor is null", id="no-actor"),
    pytest.param(
        with_bad_record(_offset_into_the_next_utc_day),
        None,
        'page 2 record 5: date is "2026-03-03T23:00:00-05:00" (2026-03-04 in UTC; requested day '
        "is 2026-03-03)",
        id="offset-landing-on-the-next-utc-day",
    ),
    pytest.param(
        with_bad_record(_garbage_time),
        None,
        'page 2 record 5: date is "2026-03-03Tnoon" (not an ISO 8601 date or time',
        id="garbage-time",
    ),
    pytest.param(
        with_bad_record(_tokens_of_2_to_the_63),
        None,
        "page 2 record 5: model_breakdown[0].tokens.input is 9223372036854775808 (more than "
        "2^63 - 1, the largest count the warehouse holds)",
        id="tokens-of-2-to-the-63",
    ),
    pytest.param(
        with_bad_record(_negative_tokens),
        None,
        "page 2 record 5: model_breakdown[0].tokens.input is -5 (must be a non-negative integer)",
        id="negative-tokens",
    ),
    pytest.param(
        with_bad_record(_fractional_tokens),
        None,
        "page 2 record 5: model_breakdown[0].tokens.output is 2.5",
        id="non-integer-tokens",
    ),
    pytest.param(
        None,
        # page 2 hands back the cursor that led to it
        {"data": [], "has_more": True, "next_page": encode_cursor(DAY, PAGE_LIMIT, 1)},
        "page 2: cursor repeats: pagination loop",
        id="cursor-loop",
    ),
    pytest.param(
        None,
        {"data": [], "has_more": True, "next_page": None},
        "page 2: has_more is true but next_page is missing",
        id="has-more-without-cursor",
    ),
]


@pytest.mark.parametrize(("records", "page_body", "problem"), BAD_RESPONSES)
def test_a_bad_response_fails_the_rerun_and_keeps_the_loaded_days(
    pipeline, reference, records, page_body, problem
):
    reference.copy_to(pipeline.duckdb_file)
    pipeline.api = api(pipeline)
    if records is not None:
        pipeline.server.set_records(DAY, records)
    if page_body is not None:
        pipeline.server.add_fault(Fault(kind="body", payload=page_body, day=DAY, page_index=1))

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    assert f"2026-03-03 {problem}" in step_failures(result)["raw_layer"]
    # a bad response is not transient: asked once, never retried
    assert len(requests_for_page(pipeline.server, DAY, 1)) == 1
    # no partial day: the re-run's days still hold what the clean run wrote
    assert_tables_equal(read_tables(pipeline.duckdb_file), reference.tables)


def test_a_record_sent_twice_by_overlapping_pages_refuses_the_day_and_keeps_the_loaded_days(
    pipeline, reference
):
    reference.copy_to(pipeline.duckdb_file)
    records = day_records()
    # page 2 starts with the last record of page 1 once more
    records.insert(PAGE_LIMIT, copy.deepcopy(records[PAGE_LIMIT - 1]))
    actor = records[PAGE_LIMIT]["actor"]
    pipeline.server.set_records(DAY, records)
    pipeline.api = api(pipeline)

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failure = step_failures(result)["raw_layer"]
    assert "2026-03-03: duplicate record(s): the API sent 1 exact copy(ies)" in failure
    assert (actor.get("email_address") or actor["api_key_name"]) in failure
    # nothing counted twice, nothing of the run written: the loaded days are as they were
    assert_tables_equal(read_tables(pipeline.duckdb_file), reference.tables)


def test_records_that_only_share_actor_and_day_are_all_counted(pipeline, reference):
    records = day_records()
    split = copy.deepcopy(records[3])  # the same actor and day from another terminal
    split["terminal_type"] = "jetbrains-split"
    pipeline.server.set_records(DAY, [*records, split])
    pipeline.api = api(pipeline)

    assert pipeline.materialize(START, END).success

    raw = read_tables(pipeline.duckdb_file)["raw_usage"]
    on_day = raw.loc[pd.to_datetime(raw["usage_date"]).dt.date == DAY]
    assert len(on_day) == len(records) + 1
    spend = read_tables(pipeline.duckdb_file)["daily_spend"]
    clean = reference.days(START, END)["daily_spend"]
    day = pd.to_datetime(spend["usage_date"]).dt.date == DAY
    assert spend.loc[day, "cost_usd"].item() > clean.loc[day, "cost_usd"].item()


def test_an_unknown_new_field_is_kept_in_record_json_and_changes_nothing_else(pipeline, reference):
    records = day_records()
    for record in records:
        record["agent_metrics"] = {"subagents": 2}
        record["core_metrics"]["lines_of_code"]["moved"] = 7
    pipeline.server.set_records(DAY, records)
    pipeline.api = api(pipeline)

    assert pipeline.materialize(START, END).success

    tables = read_tables(pipeline.duckdb_file)
    expected = reference.days(START, END)
    raw = tables["raw_usage"]
    on_day = raw.loc[pd.to_datetime(raw["usage_date"]).dt.date == DAY, "record_json"]
    kept = sorted((json.loads(text) for text in on_day), key=json.dumps)
    assert kept == sorted(records, key=json.dumps)
    tables["raw_usage"] = raw.drop(columns="record_json")
    expected["raw_usage"] = expected["raw_usage"].drop(columns="record_json")
    assert_tables_equal(tables, expected)


def test_missing_tool_actions_and_empty_model_breakdown_are_valid_records(pipeline, reference):
    records = day_records()
    for record in records:
        del record["tool_actions"]
    quiet = records[3]  # sessions and lines, but no tokens this day
    quiet["model_breakdown"] = []
    actor = quiet["actor"].get("email_address") or quiet["actor"]["api_key_name"]
    pipeline.server.set_records(DAY, records)
    pipeline.api = api(pipeline)

    assert pipeline.materialize(START, END).success

    tables = read_tables(pipeline.duckdb_file)
    expected = reference.days(START, END)
    on_day = pd.to_datetime(tables["raw_usage"]["usage_date"]).dt.date == DAY
    assert on_day.sum() == len(records)  # every record kept, the token-less one included
    raw_columns = ["usage_date", "actor", "num_sessions", "lines_added", "lines_removed"]
    pd.testing.assert_frame_equal(
        tables["raw_usage"][raw_columns], expected["raw_usage"][raw_columns]
    )
    # the record without tokens costs nothing; every other actor's cost is unchanged
    priced = expected["priced_usage"]
    dropped = (pd.to_datetime(priced["usage_date"]).dt.date == DAY) & (priced["actor"] == actor)
    assert dropped.any()
    pd.testing.assert_frame_equal(
        tables["priced_usage"], priced.loc[~dropped].reset_index(drop=True)
    )
    spend = tables["daily_spend"].set_index(pd.to_datetime(tables["daily_spend"]["usage_date"]))
    clean = expected["daily_spend"].set_index(pd.to_datetime(expected["daily_spend"]["usage_date"]))
    day = pd.Timestamp(DAY)
    assert spend.loc[day, "cost_usd"] == pytest.approx(
        clean.loc[day, "cost_usd"] - priced.loc[dropped, "cost_usd"].sum()
    )
    assert spend.loc[day, "cost_usd"] > 0


# -- 4. a server that holds a page ---------------------------------------------------------------


def test_a_page_trickled_past_the_request_deadline_fails_naming_day_and_page(pipeline):
    # One byte every 50 ms: no read ever times out, yet the page would take minutes.
    pipeline.api = api(pipeline, max_attempts=2, timeout_seconds=0.5, request_deadline_seconds=1.0)
    pipeline.server.add_fault(Fault(kind="trickle", delay=0.05, day=DAY, page_index=1, times=2))

    result = pipeline.materialize(START, END, raise_on_error=False)

    failure = step_failures(result)["raw_layer"]
    assert (
        "2026-03-03 page 2: gave up after 2 attempt(s); last cause: timed out (no complete "
        "answer within the 1 s request deadline)" in failure
    )
    assert [r.fault for r in requests_for_page(pipeline.server, DAY, 1)] == ["trickle"] * 2
    for name, frame in read_tables(pipeline.duckdb_file).items():
        assert frame.empty, name


def test_a_retry_after_past_the_maximum_fails_the_run_saying_how_long_was_asked(pipeline):
    pipeline.api = api(pipeline, max_retry_after_seconds=2.0)
    rate_limited = Fault(status=429, headers={"retry-after": "86400"}, day=DAY, page_index=1)
    pipeline.server.add_fault(rate_limited)

    result = pipeline.materialize(START, END, raise_on_error=False)

    failure = step_failures(result)["raw_layer"]
    assert "2026-03-03 page 2: HTTP 429 rate_limit_error" in failure
    assert "asked to wait 86,400 s before retrying" in failure
    assert "more than the maximum of 2 s; not retried" in failure
    assert len(requests_for_page(pipeline.server, DAY, 1)) == 1
    for name, frame in read_tables(pipeline.duckdb_file).items():
        assert frame.empty, name


def test_a_cursor_that_never_ends_fails_the_run_naming_the_day_and_writes_nothing(pipeline):
    # always has_more, always a new cursor, never a record
    pipeline.api = api(pipeline, max_pages_per_day=30)
    pipeline.server.add_fault(Fault(kind="endless", day=DAY, page_index=None, times=10_000))

    result = pipeline.materialize(START, END, raise_on_error=False)

    failure = step_failures(result)["raw_layer"]
    assert (
        "2026-03-03: the API still had more pages after 30 pages, the most a day may have "
        "(max_pages_per_day 30)" in failure
    )
    assert len([r for r in pipeline.server.usage_requests() if r.fault == "endless"]) == 30
    for name, frame in read_tables(pipeline.duckdb_file).items():
        assert frame.empty, name
    # the warehouse was let go: once the API behaves, the same range loads
    pipeline.server.clear_faults()
    assert pipeline.materialize(START, END).success
