"""The bill: Claude Code's billed cost per actor, model and day from the Usage and Cost Analytics
API (docs/rules.md, "The bill"), fetched through the one client with the key it already holds.

A page is read whole into `billed_cost` rows or refused naming the day, the page, the row and
the field, so a bad page is never half-written. A closed endpoint (a HIPAA-ready organisation,
the beta not enabled) is not a failure: `closed_reason` says why, and the day's bill is empty.
"""

import datetime
from collections.abc import Iterator, Sequence

import pandas as pd

from budget_pipeline.ingest.client import AnalyticsClient
from budget_pipeline.ingest.errors import BadResponseError, FinalApiError
from budget_pipeline.ingest.paging import PagedEndpoint, Query, bad_page, cursor_page
from budget_pipeline.rules.bill import (
    BillRowError,
    billed_columns,
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
        return typed_billed_cost(pd.DataFrame(columns, columns=BILLED_COST.column_names)), next_page


def fetch_billed_days(
    client: AnalyticsClient, days: Sequence[datetime.date], reader: BillPageReader | None = None
) -> Iterator[tuple[datetime.date, pd.DataFrame]]:
    """Each complete day's billed rows as it finishes (any order); the first error is raised."""
    read = (reader or BillPageReader()).take
    for day, parts in client.fetch_endpoint_days(COST_ENDPOINT, days, read):
        yield day, pd.concat(parts, ignore_index=True)
