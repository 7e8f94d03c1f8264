"""The bill: Claude Code's billed cost per actor, model and day from the Usage and Cost Analytics
API (docs/rules.md, "The bill"), fetched through the one client with the key it already holds.

A page is read whole into `billed_cost` rows or refused naming the day, the page, the row and
the field, so a bad page is never half-written. A closed endpoint (a HIPAA-ready organisation,
the beta not enabled) is not a failure: `closed_reason` says why, and the day's bill is empty.
"""

import datetime
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

from budget_pipeline.ingest.client import AnalyticsClient
from budget_pipeline.ingest.errors import BadResponseError, FinalApiError
from budget_pipeline.ingest.paging import PagedEndpoint, Query, bad_page, cursor_page
from budget_pipeline.rules.bill import (
    BillRowError,
    billed_columns,
    billed_cost_frame,
    billed_row,
    refreshed_at,
    typed_billed_cost,
)
from budget_pipeline.warehouse.tables import BILLED_COST

COST_PATH = "/v1/organizations/analytics/cost"
COST_BETA = "analytics-usage-cost-2026-08-24"
# A day's bill is a few rows per actor: a cursor still going after this many pages is a loop
# the API hides behind fresh cursors, not a bill (the usage fetch's own bound may be lower).
MAX_BILL_PAGES_PER_DAY = 1000


def _midnight(day: datetime.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def cost_query(day: datetime.date, limit: int) -> Query:
    return [
        ("starting_at", _midnight(day)),
        ("ending_at", _midnight(day + datetime.timedelta(days=1))),
        ("time_bucket_width", "1d"),
        ("products[]", "claude_code"),
        ("group_by[]", "actor"),
        ("group_by[]", "model"),
        ("limit", str(limit)),
    ]


COST_ENDPOINT = PagedEndpoint(COST_PATH, cost_query, {"anthropic-beta": COST_BETA})


def closed_reason(error: FinalApiError) -> str | None:
    """Why the bill is closed to this organisation, or None when the error is a real failure:
    the endpoint refuses HIPAA-ready organisations with a 400 that says so, and answers 403 or
    404 where the beta is not enabled. A 401 (a wrong key) and any other 400 stay failures."""
    message = error.api_message or ""
    if error.status == 400 and "hipaa" in message.lower():
        return f"HTTP 400: {message}"
    if error.status in (403, 404):
        return f"HTTP {error.status}: {message}"
    return None


class BillPageReader:
    """Reads one 200 body of the cost endpoint (a `PageSink.take`) into billed_cost rows."""

    def __init__(self, max_pages: int | None = None):
        self.max_pages = max_pages or MAX_BILL_PAGES_PER_DAY

    def take(
        self, content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
    ) -> tuple[pd.DataFrame, str | None]:
        columns, next_page = self.take_columns(
            content, day=day, page=page, seen_cursors=seen_cursors
        )
        return _frame_of([columns]), next_page

    def take_columns(
        self, content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
    ) -> tuple[dict[str, list], str | None]:
        """`take` as plain columns: a frame a page cost more than reading the page (412 pages
        of a 5,000-seat quarter: ~3 s), so pages become one frame per day or range."""
        body, next_page = cursor_page(
            content,
            day=day,
            page=page,
            seen_cursors=seen_cursors,
            what="bill",
            max_pages=self.max_pages,
        )

        def bad(problem: str) -> BadResponseError:
            return bad_page(day, page, "bill", problem)

        try:
            refreshed = refreshed_at(body.get("data_refreshed_at"))
        except BillRowError as error:
            raise bad(f"page's {error}") from None
        columns = billed_columns(body["data"], day)
        if columns is None:
            rows = []
            for index, row in enumerate(body["data"]):
                try:
                    rows.append(billed_row(row, day))
                except BillRowError as error:
                    raise bad(f"row {index}: {error}") from None
            columns = {name: [row[name] for row in rows] for name in BILLED_COST.column_names[:-1]}
        columns["data_refreshed_at"] = [refreshed] * len(columns["actor"])
        return columns, next_page


# The same value on every row of a page: converted once a page, not once a row.
_PER_PAGE = ("usage_date", "data_refreshed_at")


def _frame_of(pages: Sequence[dict[str, list]]) -> pd.DataFrame:
    """One billed_cost frame, in the table's dtypes, of the columns of several pages."""
    columns: dict[str, object] = {
        name: list(chain.from_iterable(page[name] for page in pages))
        for name in BILLED_COST.column_names
        if name not in _PER_PAGE
    }
    rows_per_page = [len(page["actor"]) for page in pages]
    for name in _PER_PAGE:
        once = pd.to_datetime([page[name][0] if page[name] else None for page in pages])
        columns[name] = np.repeat(once.to_numpy(dtype="datetime64[ns]"), rows_per_page)
    return typed_billed_cost(pd.DataFrame(columns, columns=BILLED_COST.column_names))


def _billed_day_pages(
    client: AnalyticsClient,
    days: Sequence[datetime.date],
    reader: BillPageReader | None,
    cancel: threading.Event | None,
) -> Iterator[tuple[datetime.date, list[dict[str, list]]]]:
    read = (reader or BillPageReader()).take_columns
    yield from client.fetch_endpoint_days(COST_ENDPOINT, days, read, cancel)


def fetch_billed_days(
    client: AnalyticsClient,
    days: Sequence[datetime.date],
    reader: BillPageReader | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[datetime.date, pd.DataFrame]]:
    """Each complete day's billed rows as it finishes (any order); the first error is raised."""
    for day, pages in _billed_day_pages(client, days, reader, cancel):
        yield day, _frame_of(pages)


@dataclass(frozen=True)
class FetchedBill:
    """The bill of a range: its billed_cost rows, or none and why when the endpoint is closed."""

    frame: pd.DataFrame
    closed: str | None = None


class BillBesideUsage:
    """The bill of `days` fetched in a thread of its own while the caller fetches the usage,
    through the same client (key, retries, retry-after gate, deadline; its own
    max_concurrent_days days at once): the bill's pages cost the backfill little time.

    `result()` waits for the whole bill or raises its error. Leaving the block with an error
    (the usage failed) stops the bill before its next request and drops it.
    """

    def __init__(self, client: AnalyticsClient, days: Sequence[datetime.date]):
        self._cancel = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="budget-bill")
        self._future = self._executor.submit(self._fetch, client, list(days))

    def _fetch(self, client: AnalyticsClient, days: list[datetime.date]) -> FetchedBill:
        pages: list[dict[str, list]] = []
        try:
            for _day, of_day in _billed_day_pages(client, days, None, self._cancel):
                pages.extend(of_day)
        except FinalApiError as error:
            closed = closed_reason(error)
            if closed is None:
                raise
            return FetchedBill(_frame_of([]), closed)
        return FetchedBill(billed_cost_frame(_frame_of(pages)))

    def result(self) -> FetchedBill:
        return self._future.result()

    def __enter__(self) -> "BillBesideUsage":
        return self

    def __exit__(self, exc_type, *_: object) -> None:
        if exc_type is not None:
            self._cancel.set()
        self._executor.shutdown(wait=True)
