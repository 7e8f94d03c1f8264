"""The API client against the loopback server: real HTTP on 127.0.0.1, no mocked transport."""

import dataclasses
import datetime
import logging
import math
import random
import re
import socket
import threading
import time

import pytest

from budget_pipeline.demo.organisation import SyntheticOrganisation
from budget_pipeline.demo.server import USAGE_PATH, Fault, UsageApiServer, encode_cursor
from budget_pipeline.ingest.client import (
    AnalyticsClient,
    ApiError,
    BadResponseError,
    DayTooLongError,
    FinalApiError,
    RetriesExhaustedError,
    RetryAfterTooLongError,
    RetryPolicy,
    parse_retry_after,
)
from budget_pipeline.ingest.validation import record_problem, validate_page

SECRET = "sk-ant-admin-SECRET-4242"
DAY = datetime.date(2026, 6, 2)  # a Tuesday: ~40 records
ORG = SyntheticOrganisation(seats=40)
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def server():
    with UsageApiServer(ORG, api_key=SECRET) as running:
        yield running


@pytest.fixture
def make_client(server):
    clients: list[AnalyticsClient] = []

    def make(**kwargs) -> AnalyticsClient:
        kwargs.setdefault("retry", FAST)
        kwargs.setdefault("page_limit", 7)
        kwargs.setdefault("timeout", 5.0)
        client = AnalyticsClient(server.base_url, kwargs.pop("api_key", SECRET), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _usage(server: UsageApiServer) -> list:
    return server.usage_requests()


def _record(day: datetime.date = DAY, **overrides) -> dict:
    record = {
        "date": f"{day.isoformat()}T00:00:00Z",
        "actor": {"type": "user_actor", "email_address": "a@example.com"},
        "organization_id": "org",
        "customer_type": "api",
        "subscription_type": "enterprise",
        "terminal_type": "vscode",
        "core_metrics": {
            "num_sessions": 1,
            "lines_of_code": {"added": 10, "removed": 2},
            "commits_by_claude_code": 0,
            "pull_requests_by_claude_code": 0,
        },
        "tool_actions": {"edit_tool": {"accepted": 1, "rejected": 0}},
        "model_breakdown": [
            {
                "model": "claude-sonnet-4-6",
                "tokens": {"input": 1, "output": 2, "cache_read": 3, "cache_creation": 4},
                "estimated_cost": {"currency": "USD", "amount": 1},
            }
        ],
    }
    record.update(overrides)
    return record


# -- the happy path ------------------------------------------------------------------------------


def test_fetch_day_walks_every_page_in_order(server, make_client):
    expected = ORG.records_for(DAY)
    assert len(expected) > 21  # several pages at limit 7

    records = make_client(page_limit=7).fetch_day(DAY)

    assert records == expected
    requests = _usage(server)
    assert len(requests) == math.ceil(len(expected) / 7)
    assert "page" not in requests[0].query
    assert all("page" in r.query for r in requests[1:])
    assert all(r.query["starting_at"] == DAY.isoformat() for r in requests)
    assert all(r.query["limit"] == "7" for r in requests)
    headers = requests[0].headers
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["user-agent"].startswith("budget_pipeline/0.1.0")
    assert headers["x-api-key"] == "<redacted>"


def test_default_page_limit_is_the_maximum(server):
    with AnalyticsClient(server.base_url, SECRET) as client:
        assert client.fetch_day(DAY) == ORG.records_for(DAY)
    assert [r.query["limit"] for r in _usage(server)] == ["1000"]


def test_fetch_days_yields_every_day_once(server, make_client):
    days = [DAY + datetime.timedelta(days=i) for i in range(9)]

    fetched = list(make_client(max_concurrent_days=3).fetch_days(days))

    assert sorted(day for day, _ in fetched) == days
    for day, records in fetched:
        assert records == ORG.records_for(day)


def test_fetch_days_runs_days_concurrently(server):
    days = [DAY + datetime.timedelta(days=i) for i in range(4)]
    client = AnalyticsClient(
        server.base_url, SECRET, page_limit=1000, max_concurrent_days=4, retry=FAST
    )
    fetched = []
    # The server holds every page: only a client with four days in flight at once gets all four
    # first pages to the server before anything is answered.
    server.hold.clear()
    with client:
        worker = threading.Thread(target=lambda: fetched.extend(client.fetch_days(days)))
        worker.start()
        deadline = time.monotonic() + 20
        while len(server.usage_requests()) < len(days) and time.monotonic() < deadline:
            time.sleep(0.01)
        in_flight = {r.query["starting_at"] for r in server.usage_requests()}
        server.hold.set()
        worker.join(timeout=30)

    assert in_flight == {day.isoformat() for day in days}
    assert sorted(day for day, _ in fetched) == days


# -- transient faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=500),
        Fault(status=502),
        Fault(status=503),
        Fault(status=504),
        Fault(status=529, error_type="overloaded_error", message="Overloaded"),
        Fault(status=429, headers={"retry-after": "0"}),
        Fault(kind="drop"),
        Fault(kind="drop", mid_response=True),
        Fault(kind="truncate"),
        Fault(status=500, times=3),
    ],
    ids=lambda f: f"{f.kind}-{f.status}-x{f.times}{'-mid' if f.mid_response else ''}",
)
def test_transient_faults_recover_to_the_clean_day(server, make_client, fault):
    # Mid-day, so the retry must resume from the right cursor.
    server.add_fault(dataclasses.replace(fault, page_index=1))

    records = make_client().fetch_day(DAY)

    assert records == ORG.records_for(DAY)
    assert server.pending_faults() == []
    faulted = [r for r in _usage(server) if r.fault is not None]
    assert len(faulted) == fault.times
    assert all(r.query.get("page") for r in faulted)


def test_retries_are_logged_with_day_page_cause_and_wait(server, make_client, caplog):
    server.add_fault(Fault(status=529, error_type="overloaded_error", message="Overloaded"))

    with caplog.at_level(logging.WARNING, logger="budget_pipeline.api"):
        make_client().fetch_day(DAY)

    [warning] = [r for r in caplog.records if r.name == "budget_pipeline.api"]
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert "2026-06-02 page 1" in message
    assert "529 overloaded_error: Overloaded" in message
    assert "retrying in" in message


def test_slow_page_past_the_read_timeout_is_retried(server, make_client):
    server.add_fault(Fault(kind="slow", delay=30, page_index=2))

    started = time.monotonic()
    records = make_client(timeout=0.3).fetch_day(DAY)

    assert records == ORG.records_for(DAY)
    # the slow page answers after 30 s: finishing well before means the client gave up on it
    assert time.monotonic() - started < 20


def test_retry_after_is_honoured_and_holds_back_every_worker(make_client):
    with UsageApiServer(ORG, api_key=SECRET, page_latency=0.05) as server:
        first, second = DAY, DAY + datetime.timedelta(days=1)
        server.add_fault(Fault(status=429, headers={"retry-after": "1"}, day=first, page_index=1))
        client = AnalyticsClient(
            server.base_url, SECRET, page_limit=4, max_concurrent_days=2, retry=FAST
        )
        with client:
            fetched = dict(client.fetch_days([first, second]))

        assert fetched[first] == ORG.records_for(first)
        assert fetched[second] == ORG.records_for(second)
        requests = server.usage_requests()
        [limited] = [r for r in requests if r.status == 429]
        after = [r for r in requests if r.received_at > limited.received_at]
        retry = next(r for r in after if r.query["starting_at"] == first.isoformat())
        assert retry.received_at - limited.received_at >= 1.0
        # The other day's worker was between pages; it must have waited too. A request it
        # had already sent when the 429 arrived is allowed (within a few ms).
        others = [r for r in after if r.query["starting_at"] == second.isoformat()]
        assert others, "the second day should still have had pages to fetch"
        early = [r for r in others if r.received_at - limited.received_at < 0.95]
        assert len(early) <= 1  # one worker, one request in flight at most
        assert len(early) <= 1


def test_retry_after_sets_the_floor_of_the_backoff(server, make_client):
    waits: list[float] = []
    server.add_fault(Fault(status=429, headers={"retry-after": "7"}))
    server.add_fault(Fault(status=503))

    make_client(sleep=waits.append).fetch_day(DAY)

    # An injected sleep does not move the clock, so the shared gate adds its own pause.
    assert waits[0] >= 7
    assert all(w < 7.1 for w in waits)


def test_retries_exhausted_names_day_page_attempts_and_cause(server, make_client):
    server.add_fault(Fault(status=503, message="upstream unavailable", times=10, page_index=1))

    with pytest.raises(RetriesExhaustedError) as caught:
        make_client(retry=RetryPolicy(max_attempts=3, base_delay=0.01)).fetch_day(DAY)

    message = str(caught.value)
    assert "2026-06-02 page 2" in message
    assert "3 attempt" in message
    assert "503" in message and "upstream unavailable" in message
    assert caught.value.attempts == 3
    assert caught.value.day == DAY and caught.value.page == 2
    assert len([r for r in _usage(server) if r.status == 503]) == 3


def test_dropped_connections_exhausted_name_the_transport_cause(server, make_client):
    server.add_fault(Fault(kind="drop", times=10))

    with pytest.raises(RetriesExhaustedError, match=r"2026-06-02 page 1: .*connection failed"):
        make_client(retry=RetryPolicy(max_attempts=2, base_delay=0.01)).fetch_day(DAY)


def test_an_api_that_cannot_be_reached_is_named_by_its_base_url_never_the_key():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there
    with (
        AnalyticsClient(
            base_url, SECRET, retry=RetryPolicy(max_attempts=2, base_delay=0.01)
        ) as client,
        pytest.raises(RetriesExhaustedError) as caught,
    ):
        client.fetch_day(DAY)
    assert "connection failed (ConnectError: " in str(caught.value)
    assert f"to {base_url}" in str(caught.value)
    assert SECRET not in str(caught.value)


# -- final errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
    ],
)
def test_final_errors_fail_at_once_with_the_api_message(server, make_client, status, error_type):
    server.add_fault(Fault(status=status, message=f"scripted {status} explanation"))

    with pytest.raises(FinalApiError) as caught:
        make_client().fetch_day(DAY)

    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert error_type in message
    assert f"scripted {status} explanation" in message
    assert "2026-06-02 page 1" in message
    assert caught.value.status == status and caught.value.error_type == error_type
    assert len(_usage(server)) == 1


def test_wrong_key_is_a_final_authentication_error(server, make_client):
    with pytest.raises(FinalApiError, match="HTTP 401 authentication_error") as caught:
        make_client(api_key="sk-ant-admin-WRONG-0000").fetch_day(DAY)
    assert "WRONG" not in str(caught.value)
    assert len(_usage(server)) == 1


def test_wrong_base_path_is_a_final_not_found(server):
    client = AnalyticsClient(server.base_url + "/proxy", SECRET, retry=FAST)
    with client, pytest.raises(FinalApiError, match="HTTP 404 not_found_error"):
        client.fetch_day(DAY)
    assert len(server.requests) == 1


def test_first_error_cancels_the_other_days(server, make_client):
    days = [DAY + datetime.timedelta(days=i) for i in range(20)]
    server.add_fault(Fault(status=403, day=days[0]))

    with pytest.raises(FinalApiError, match="403"):
        for _ in make_client(max_concurrent_days=2).fetch_days(days):
            pass

    started_days = {r.query["starting_at"] for r in _usage(server)}
    assert len(started_days) < len(days)


def test_unreachable_server_exhausts_retries():
    with UsageApiServer(ORG, api_key=SECRET) as gone:
        url = gone.base_url
    client = AnalyticsClient(url, SECRET, retry=RetryPolicy(max_attempts=2, base_delay=0.01))
    with client, pytest.raises(RetriesExhaustedError, match="ConnectError"):
        client.fetch_day(DAY)


# -- contract violations -------------------------------------------------------------------------


def _negative_tokens() -> dict:
    record = _record()
    record["model_breakdown"][0]["tokens"]["input"] = -5
    return record


def _float_tokens() -> dict:
    record = _record()
    record["model_breakdown"][0]["tokens"]["output"] = 2.5
    return record


def _string_tokens() -> dict:
    record = _record()
    record["model_breakdown"][0]["tokens"]["cache_read"] = "12"
    return record


def _bool_sessions() -> dict:
    record = _record()
    record["core_metrics"]["num_sessions"] = True
    return record


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (_record(day=DAY - datetime.timedelta(days=1)), 'record 1: date is "2026-06-01T00'),
        ({k: v for k, v in _record().items() if k != "actor"}, "record 1: actor is null"),
        (_record(actor={"type": "user_actor"}), "actor.email_address is null"),
        (_record(actor={"type": "api_actor", "api_key_name": ""}), "actor.api_key_name"),
        (_record(actor={"type": "robot", "id": "x"}), 'actor.type is "robot"'),
        (
            _negative_tokens(),
            "record 1: model_breakdown[0].tokens.input is -5 (must be a non-negative integer)",
        ),
        (_float_tokens(), "tokens.output is 2.5"),
        (_string_tokens(), 'tokens.cache_read is "12"'),
        (_bool_sessions(), "core_metrics.num_sessions is true"),
        (_record(core_metrics=None), "core_metrics is null"),
        ("not a record", 'record 1: is "not a record"'),
    ],
)
def test_bad_records_stop_the_day(server, make_client, bad, expected):
    server.set_records(DAY, [_record(), bad, _record()])

    with pytest.raises(BadResponseError) as caught:
        make_client().fetch_day(DAY)

    assert expected in str(caught.value)
    assert str(caught.value).startswith("2026-06-02 page 1 record 1: ")


def test_repeated_cursor_is_a_pagination_loop(server, make_client):
    looping = encode_cursor(DAY, 7, 1)  # what page 1 hands out at limit 7
    server.add_fault(
        Fault(
            kind="body", page_index=1, payload={"data": [], "has_more": True, "next_page": looping}
        )
    )

    with pytest.raises(
        BadResponseError, match=r"2026-06-02 page 2: cursor repeats: pagination loop"
    ):
        make_client(page_limit=7).fetch_day(DAY)


def test_a_cursor_that_never_ends_fails_the_day_at_its_page_bound(server, make_client):
    client = make_client(max_pages_per_day=25)
    server.add_fault(Fault(kind="endless", day=DAY, times=1000))

    with pytest.raises(DayTooLongError) as too_long:
        client.fetch_day(DAY)

    message = str(too_long.value)
    assert message.startswith("2026-06-02: the API still had more pages after 25 pages")
    assert "(max_pages_per_day 25)" in message and "not retried" in message
    assert too_long.value.day == DAY and too_long.value.bound == "max_pages_per_day"
    assert len(_usage(server)) == 25  # stopped at the bound, page 26 never asked for


def test_a_cursor_that_never_ends_fails_the_day_at_its_time_bound(server, make_client):
    client = make_client(max_seconds_per_day=0.5)
    server.add_fault(Fault(kind="endless", day=DAY, times=1000, delay=0.05))

    started = time.monotonic()
    with pytest.raises(DayTooLongError) as too_long:
        client.fetch_day(DAY)

    assert time.monotonic() - started < 2.0
    message = str(too_long.value)
    assert message.startswith("2026-06-02: the API still had more pages after ")
    assert "longer than a day may take (max_seconds_per_day 0.5)" in message
    assert too_long.value.bound == "max_seconds_per_day"


def test_a_day_of_exactly_the_most_pages_is_complete(server, make_client):
    records = ORG.records_for(DAY)
    pages = -(-len(records) // 7)
    client = make_client(max_pages_per_day=pages)
    assert client.fetch_day(DAY) == records
    with pytest.raises(DayTooLongError, match=f"after {pages - 1} pages"):
        make_client(max_pages_per_day=pages - 1).fetch_day(DAY)


def test_has_more_without_cursor_is_rejected(server, make_client):
    server.add_fault(Fault(kind="body", payload={"data": [], "has_more": True, "next_page": None}))

    with pytest.raises(BadResponseError, match="has_more is true but next_page is missing"):
        make_client().fetch_day(DAY)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"has_more": False, "next_page": None}, "'data' is null"),
        ({"data": {}, "has_more": False}, "'data' is {}"),
        ({"data": [], "has_more": "no"}, "'has_more' is \"no\""),
        ({"data": [], "has_more": False, "next_page": 3}, "'next_page' is 3"),
    ],
)
def test_malformed_pages_are_rejected(server, make_client, payload, expected):
    server.add_fault(Fault(kind="body", payload=payload))
    with pytest.raises(BadResponseError, match="2026-06-02 page 1") as caught:
        make_client().fetch_day(DAY)
    assert expected in str(caught.value)


def test_unknown_fields_are_kept_untouched(server, make_client):
    record = _record(future_field={"nested": [1, 2]})
    record["core_metrics"]["new_metric"] = 0.75
    record["model_breakdown"][0]["tokens"]["cache_creation_1h"] = 9
    server.set_records(DAY, [record])

    assert make_client().fetch_day(DAY) == [record]


def test_optional_parts_may_be_missing_or_empty(server, make_client):
    no_tools = {k: v for k, v in _record().items() if k != "tool_actions"}
    no_models = _record(model_breakdown=[])
    no_breakdown = {k: v for k, v in _record().items() if k != "model_breakdown"}
    plain_date = _record(date=DAY.isoformat())
    server.set_records(DAY, [no_tools, no_models, no_breakdown, plain_date])

    assert make_client().fetch_day(DAY) == [no_tools, no_models, no_breakdown, plain_date]


def test_an_empty_day_is_a_complete_day(server, make_client):
    server.set_records(DAY, [])
    assert make_client().fetch_day(DAY) == []


def test_validation_functions_are_pure_and_direct():
    assert record_problem(_record(), DAY) is None
    assert record_problem(_record(), DAY + datetime.timedelta(days=1)).startswith("date is")
    page = validate_page(
        {"data": [_record()], "has_more": True, "next_page": "page_x"}, day=DAY, page=3
    )
    assert page.next_page == "page_x" and page.records == [_record()]
    done = validate_page({"data": [], "has_more": False, "next_page": "ignored"}, day=DAY, page=1)
    assert done.next_page is None
    with pytest.raises(BadResponseError, match="2026-06-02 page 3: cursor repeats"):
        validate_page(
            {"data": [], "has_more": True, "next_page": "page_x"},
            day=DAY,
            page=3,
            seen_cursors={"page_x"},
        )


def test_retry_after_parsing():
    assert parse_retry_after("1") == 1.0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert 2 <= RetryPolicy(base_delay=1, max_delay=4).delay(10, random.Random(1)) <= 4
    assert RetryPolicy(base_delay=1).delay(1, random.Random(1), 5.0) == 5.0


# -- the key never leaks -------------------------------------------------------------------------


def test_the_key_never_appears_in_errors_logs_or_reprs(server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(timeout=0.3, retry=RetryPolicy(max_attempts=4, base_delay=0.01))
    # An error body that echoes the key must not carry it into our message.
    server.add_fault(Fault(status=401, message=f"invalid x-api-key {SECRET}"))
    server.add_fault(Fault(status=500, times=4, message=f"boom {SECRET}"))
    server.add_fault(Fault(kind="drop"))
    server.add_fault(Fault(kind="slow", delay=1.0))
    server.add_fault(Fault(status=429, headers={"retry-after": "0"}))

    errors: list[ApiError] = []
    for _ in range(3):
        try:
            client.fetch_day(DAY)
        except ApiError as exc:
            errors.append(exc)
    server.set_records(DAY, [_record(actor=None)])
    with pytest.raises(BadResponseError) as bad:
        client.fetch_day(DAY)
    errors.append(bad.value)

    assert [type(e) for e in errors] == [FinalApiError, RetriesExhaustedError, BadResponseError]
    for exc in errors:
        assert SECRET not in str(exc)
        assert SECRET not in repr(exc)
        assert SECRET not in repr(exc.__dict__)
    assert "[redacted]" in str(errors[0])
    assert SECRET not in repr(client)
    assert caplog.records, "retries should have been logged"
    assert SECRET not in caplog.text
    assert all(SECRET not in str(r.__dict__) for r in caplog.records)
    assert all(SECRET not in str(r.headers) for r in server.requests)


def test_key_is_required_and_settings_checked():
    with pytest.raises(ValueError):
        AnalyticsClient("http://127.0.0.1:1", "")
    with pytest.raises(ValueError):
        AnalyticsClient("http://127.0.0.1:1", SECRET, page_limit=1001)
    with pytest.raises(ValueError):
        AnalyticsClient("http://127.0.0.1:1", SECRET, max_concurrent_days=0)


def test_client_is_safe_to_share_between_threads(server, make_client):
    client = make_client(page_limit=5)
    results: dict[int, list] = {}

    def fetch(i: int) -> None:
        results[i] = client.fetch_day(DAY + datetime.timedelta(days=i % 3))

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, records in results.items():
        assert records == ORG.records_for(DAY + datetime.timedelta(days=i % 3))


def test_usage_path_matches_spec():
    assert USAGE_PATH == "/v1/organizations/usage_report/claude_code"


# -- a key read from a file ----------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\n", "\r\n", " \n", "\t"], ids=["lf", "crlf", "sp-lf", "tab"])
def test_a_key_ending_with_a_line_break_is_used_with_a_warning_naming_no_part_of_it(
    server, make_client, caplog, ending
):
    caplog.set_level(logging.DEBUG)
    records = make_client(api_key=SECRET + ending).fetch_day(DAY)

    assert records == ORG.records_for(DAY)
    assert [r.status for r in _usage(server)] == [200] * len(_usage(server))
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "whitespace" in warning.getMessage()
    assert "sk-ant" not in caplog.text and "SECRET" not in caplog.text


@pytest.mark.parametrize(
    ("inside", "kind"),
    [("\n", "a control character"), ("\x00", "a control character"), ("é", "non-ASCII")],
)
def test_a_key_with_a_control_character_inside_fails_clearly_without_showing_it(
    server, inside, kind
):
    with pytest.raises(ValueError, match=kind) as caught:
        AnalyticsClient(server.base_url, SECRET[:12] + inside + SECRET[12:])

    assert "admin API key" in str(caught.value)
    assert "sk-ant" not in str(caught.value) and "SECRET" not in str(caught.value)
    assert _usage(server) == []


def test_a_header_httpx_refuses_is_final_and_shows_no_form_of_the_key(server, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client()
    # Only a header set behind the client's back gets past its key check; httpx then refuses
    # it locally, printing the key as escaped bytes.
    client._http.headers["x-api-key"] = SECRET + "\r\n"

    with pytest.raises(
        ApiError, match="2026-06-02 page 1: the request could not be sent"
    ) as caught:
        client.fetch_day(DAY)

    assert type(caught.value) is ApiError and "not retried" in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert _usage(server) == []
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert "SECRET-4242" not in text


# -- retry-after beyond the maximum --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "asked"),
    [
        ("86400", "86,400 s"),
        ("1e10", "10,000,000,000 s"),
        ("inf", "an unbounded time"),
        ("Infinity", "an unbounded time"),
        ("Thu, 31 Dec 2099 23:59:59 GMT", r"2,[0-9,]{11} s"),
    ],
)
def test_a_retry_after_past_the_maximum_fails_the_day_saying_how_long_was_asked(
    server, make_client, header, asked
):
    waits: list[float] = []
    server.add_fault(Fault(status=429, headers={"retry-after": header}, page_index=1))

    with pytest.raises(RetryAfterTooLongError) as caught:
        make_client(sleep=waits.append).fetch_day(DAY)

    message = str(caught.value)
    assert "2026-06-02 page 2: HTTP 429 rate_limit_error" in message
    assert re.search(f"asked to wait {asked} before retrying", message), message
    assert "more than the maximum of 120 s" in message and "not retried" in message
    assert caught.value.status == 429 and caught.value.max_retry_after == 120
    assert waits == []
    assert [r.status for r in _usage(server)] == [200, 429]


def test_an_infinite_retry_after_with_the_real_clock_is_an_api_error_not_a_crash(
    server, make_client
):
    server.add_fault(Fault(status=503, headers={"retry-after": "1e10"}))
    with pytest.raises(RetryAfterTooLongError, match="10,000,000,000 s"):
        make_client().fetch_day(DAY)


def test_the_maximum_retry_after_is_configurable(server, make_client):
    waits: list[float] = []
    server.add_fault(Fault(status=429, headers={"retry-after": "5"}))
    server.add_fault(Fault(status=429, headers={"retry-after": "6"}))
    policy = dataclasses.replace(FAST, max_retry_after=5.0)

    with pytest.raises(RetryAfterTooLongError, match=r"asked to wait 6 s .*maximum of 5 s"):
        make_client(sleep=waits.append, retry=policy).fetch_day(DAY)
    assert waits and all(w <= 5.0 for w in waits) and max(waits) >= 5.0


@pytest.mark.parametrize("header", ["nan", "-5", "soon", "", "Thu, 32 Foo 2099"])
def test_a_meaningless_retry_after_is_ignored_and_the_backoff_used(server, make_client, header):
    waits: list[float] = []
    server.add_fault(Fault(status=429, headers={"retry-after": header}))

    assert make_client(sleep=waits.append).fetch_day(DAY) == ORG.records_for(DAY)
    assert waits and all(0 <= w <= FAST.max_delay for w in waits)


def test_retry_after_parsing_of_absurd_values():
    assert parse_retry_after("inf") == math.inf
    assert parse_retry_after("1e10") == 1e10
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT") > 2e11
    assert RetryPolicy(max_retry_after=3).delay(1, random.Random(1), math.inf) == 3
    with pytest.raises(ValueError):
        RetryPolicy(max_retry_after=math.inf)


# -- a total deadline per request ----------------------------------------------------------------


def test_a_trickled_page_is_cut_off_at_the_request_deadline_and_retried(server, make_client):
    # ~4 KB one byte every 20 ms: each read returns at once, the whole page would take ~80 s.
    server.add_fault(Fault(kind="trickle", delay=0.02, page_index=1))

    started = time.monotonic()
    records = make_client(timeout=0.5, request_deadline=1.0).fetch_day(DAY)

    assert records == ORG.records_for(DAY)
    assert [r.fault for r in _usage(server)].count("trickle") == 1
    # well under the trickle's own length: the client gave up on it near the deadline
    assert time.monotonic() - started < 30


def test_a_page_trickled_past_every_attempt_fails_naming_day_page_and_deadline(server, make_client):
    server.add_fault(Fault(kind="trickle", delay=0.02, page_index=1, times=10))
    client = make_client(
        timeout=0.5, request_deadline=0.5, retry=dataclasses.replace(FAST, max_attempts=2)
    )

    with pytest.raises(RetriesExhaustedError) as caught:
        client.fetch_day(DAY)

    assert str(caught.value) == (
        "2026-06-02 page 2: gave up after 2 attempt(s); last cause: timed out (no complete "
        "answer within the 0.5 s request deadline)"
    )
