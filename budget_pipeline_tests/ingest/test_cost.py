"""The bill's fetch against the loopback API: the request exactly as documented, paging without
has_more, a closed endpoint told apart from a failure (docs/rules.md, "The bill")."""

import datetime as dt
import warnings

import pandas as pd
import pytest

from budget_pipeline.demo.organisation import billed_rows
from budget_pipeline.demo.server import Fault, UsageApiServer
from budget_pipeline.ingest.client import AnalyticsClient, RetryPolicy
from budget_pipeline.ingest.cost import BillPageReader, closed_reason, fetch_billed_days
from budget_pipeline.ingest.errors import BadResponseError, FinalApiError
from budget_pipeline.rules.bill import billed_cost_frame
from budget_pipeline.warehouse.contracts import failure_cases
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION

DAY = dt.date(2026, 3, 3)


@pytest.fixture
def client(api_server):
    with AnalyticsClient(
        api_server.base_url,
        TEST_API_KEY,
        page_limit=15,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01),
    ) as client:
        yield client


def test_a_day_is_asked_for_as_documented_and_paged_without_has_more(api_server, client):
    [(day, rows)] = list(fetch_billed_days(client, [DAY]))

    expected = billed_rows(TEST_ORGANISATION.records_for(DAY), DAY)
    assert day == DAY and len(rows) == len(expected) > 30
    first, *others = api_server.cost_requests()
    assert first.path == "/v1/organizations/analytics/cost"
    assert first.query == {
        "starting_at": "2026-03-03T00:00:00Z",
        "ending_at": "2026-03-04T00:00:00Z",
        "time_bucket_width": "1d",
        "products[]": "claude_code",
        "group_by[]": "model",  # the last of the two; the server checks both
        "limit": "15",
    }
    assert first.headers["anthropic-beta"] == "analytics-usage-cost-2026-08-24"
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert first.headers["x-api-key"] == "<redacted>"
    assert len(others) == (len(expected) - 1) // 15
    assert all("page" in request.query for request in others)
    assert not api_server.usage_requests()


@pytest.mark.parametrize(
    ("status", "message", "closed"),
    [
        (400, "Not available for HIPAA-ready organizations", True),
        (403, "beta not enabled", True),
        (404, "not found", True),
        (400, "limit: must be between 1 and 1000", False),
        (401, "invalid x-api-key", False),
    ],
)
def test_a_closed_endpoint_is_told_apart_from_a_failure(
    api_server, client, status, message, closed
):
    api_server.add_fault(Fault(status=status, message=message, endpoint="cost"))
    with pytest.raises(FinalApiError) as raised:
        list(fetch_billed_days(client, [DAY]))
    reason = closed_reason(raised.value)
    assert (reason is not None) is closed
    if closed:
        assert reason == f"HTTP {status}: {message}"


def test_a_usage_fault_does_not_touch_the_bill(api_server, client):
    api_server.add_fault(Fault(status=401))
    assert list(fetch_billed_days(client, [DAY]))
    assert api_server.pending_faults()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"data": {}}', "page has no 'data' list"),
        (b'{"data": [], "has_more": true}', "has_more but gives no next_page"),
        (b'{"data": [], "next_page": "page_a"}', "cursor repeats"),
        (b'{"data": [], "data_refreshed_at": "yesterday"}', "data_refreshed_at: 'yesterday'"),
        (b'{"data": [1]}', "row 0: expected a JSON object"),
    ],
)
def test_a_bad_page_is_refused_naming_day_page_and_problem(body, problem):
    with pytest.raises(BadResponseError, match="2026-03-03 page 2: the bill") as raised:
        BillPageReader().take(body, day=DAY, page=2, seen_cursors={"page_a"})
    assert problem in str(raised.value)
    assert (raised.value.day, raised.value.page) == (DAY, 2)


def test_a_page_that_is_not_json_is_fetched_again():
    with pytest.raises(ValueError):
        BillPageReader().take(b'{"data": [', day=DAY, page=1, seen_cursors=set())


def test_the_bill_has_the_usage_s_concurrency(api_server):
    with (
        UsageApiServer(TEST_ORGANISATION, api_key=TEST_API_KEY, page_latency=0.2) as slow,
        AnalyticsClient(slow.base_url, TEST_API_KEY, max_concurrent_days=4) as client,
    ):
        days = [DAY + dt.timedelta(days=n) for n in range(4)]
        assert len(dict(fetch_billed_days(client, days))) == 4
        starts = sorted(r.received_at for r in slow.cost_requests())
    # Four one-page days asked for at once, not one after the other.
    assert starts[-1] - starts[0] < 0.2


def test_a_day_without_a_bill_row_is_an_empty_bill_that_keeps_its_contract():
    page = b'{"data": [], "next_page": null, "data_refreshed_at": "2026-03-05T08:00:00Z"}'
    rows, next_page = BillPageReader().take(page, day=DAY, page=1, seen_cursors=set())
    frame = billed_cost_frame(pd.concat([rows, rows]))
    assert next_page is None and frame.empty
    assert failure_cases("billed_cost", frame).empty


def test_days_with_and_without_bill_rows_concatenate_into_the_table_s_dtypes(api_server, client):
    empty = DAY + dt.timedelta(days=1)
    api_server.set_bill(empty, [])
    by_day = dict(fetch_billed_days(client, [DAY, empty]))
    assert by_day[empty].empty and not by_day[DAY].empty

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        both = pd.concat([by_day[empty], by_day[DAY]], ignore_index=True)
    assert both.dtypes.to_dict() == by_day[DAY].dtypes.to_dict()
    assert str(both["usage_date"].dtype) == "datetime64[ns]"
    assert str(both["amount_usd"].dtype) == "float64"
