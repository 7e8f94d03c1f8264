"""The Claude Enterprise Analytics API's two daily reads, members' activity and tokens, through
the one client (retries, retry-after cap, deadline, redaction, concurrency) with the analytics
key (docs/rules.md, "Which source"). The bill is the cost endpoint's, as for every source.

A page is read whole or refused naming the day, the page, the row and the field, so a bad page
is never half-written. A day asked for before the API has it is a 400 whose message names the
latest day it serves: `TooEarlyError`, never retried.
"""

import datetime
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from budget_pipeline.ingest.client import AnalyticsClient
from budget_pipeline.ingest.cost import COST_BETA, cost_query
from budget_pipeline.ingest.errors import ApiError, FinalApiError
from budget_pipeline.ingest.page_staging import JSON_SPACE, JSON_STRING_OR_NULL, TAIL_BYTES
from budget_pipeline.ingest.paging import PagedEndpoint, bad_page, cursor_page
from budget_pipeline.rules.enterprise import (
    EnterpriseRowError,
    member_raw_row,
    repeated_member,
    token_row,
)

USERS_PATH = "/v1/organizations/analytics/users"
TOKENS_PATH = "/v1/organizations/analytics/usage"
USERS_ENDPOINT = PagedEndpoint(
    USERS_PATH, lambda day, limit: [("date", day.isoformat()), ("limit", str(limit))]
)
TOKENS_ENDPOINT = PagedEndpoint(TOKENS_PATH, cost_query, {"anthropic-beta": COST_BETA})
MAX_PAGES_PER_DAY = 1000
_A_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class TooEarlyError(ApiError):
    """The API does not serve the day yet (it serves a day one to three days after it ends)."""


def too_early(error: FinalApiError) -> TooEarlyError | None:
    """The 400 that says a day is not served yet: its message names the latest day served."""
    message = error.api_message or ""
    if error.status != 400 or not _A_DAY.search(message):
        return None
    return TooEarlyError(
        f"{error.day.isoformat()}: the Claude Enterprise Analytics API does not serve this day "
        f"yet ({message}); not retried, nothing was written",
        day=error.day,
        page=error.page,
    )


class CursorPageReader:
    """Reads one 200 body of an Enterprise endpoint (a `PageSink.take`) into its checked rows:
    `check` turns each row into what the caller keeps, or raises EnterpriseRowError. Only that
    is kept: a day waiting to be taken holds no second copy of its rows."""

    def __init__(self, what: str, check: Callable[[datetime.date, Any], Any]):
        self.what, self.check = what, check

    def take(
        self, content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
    ) -> tuple[list[Any], str | None]:
        body, next_page = cursor_page(
            content,
            day=day,
            page=page,
            seen_cursors=seen_cursors,
            what=self.what,
            max_pages=MAX_PAGES_PER_DAY,
        )
        rows = []
        for index, row in enumerate(body["data"]):
            try:
                rows.append(self.check(day, row))
            except EnterpriseRowError as error:
                raise bad_page(day, page, self.what, f"row {index}: {error}") from None
        return rows, next_page


def _member(day: datetime.date, row: Any) -> dict:
    """The raw_usage row of a member row (its record as received in `record_json`): a day
    waiting to be taken holds that, not the parsed blocks (a third of the memory)."""
    if not isinstance(row, dict):
        raise EnterpriseRowError(f"expected a JSON object, got {type(row).__name__}")
    return member_raw_row(day, row)


def refuse_repeated_member(day: datetime.date, parts: Sequence[list[dict]]) -> None:
    """A member listed twice in a day (on one page or across pages) stops the day: which of
    the two rows is the member's activity cannot be told, and counting both would double it.
    `parts`: the day's pages of raw_usage rows, in cursor order."""
    repeated = repeated_member([row["actor"] for row in part] for part in parts)
    if repeated is None:
        return
    page, email, first_page = repeated
    where = "on the same page" if first_page == page else f"first on page {first_page}"
    raise bad_page(day, page, "member activity", f"lists the member {email} twice ({where})")


# The paging members as the API writes them, at the end of the page, read from its last bytes
# as the Console's stager reads its own (`page_staging.PAGE_TAIL`, whose reasoning holds here),
# instead of parsing the whole page (~1 MB) for one cursor, the largest Python cost left once
# DuckDB reads the rows. Here has_more may be absent or null. A page that ends otherwise is
# parsed whole.
_HAS_MORE = JSON_SPACE.join([rb",", rb'"has_more"', rb":", rb"(true|false|null)"])
PAGE_TAIL = re.compile(
    rb"(?:"
    + _HAS_MORE
    + rb")?"
    + JSON_SPACE.join([rb"", rb",", rb'"next_page"', rb":", JSON_STRING_OR_NULL, rb"\}", rb"\Z"])
)


def _page_as_received(what: str) -> Callable:
    """A `PageSink.take` that judges the paging of a page as `cursor_page` does and keeps its
    body as received: its rows are judged when its chunk is staged (`enterprise_staging.py`),
    or read in Python by `read_enterprise_day` if DuckDB doubts them."""

    def take(
        content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
    ) -> tuple[bytes, str | None]:
        content.decode()  # UnicodeDecodeError is a ValueError: fetched again, as orjson's
        tail = PAGE_TAIL.search(content, max(0, len(content) - TAIL_BYTES))
        # The paging judged on the page's own members, with its rows left for later: the same
        # checks and errors as a page parsed whole.
        header = content if tail is None or _has_more_elsewhere(tail, content) else _header(tail)
        _, next_page = cursor_page(
            header,
            day=day,
            page=page,
            seen_cursors=seen_cursors,
            what=what,
            max_pages=MAX_PAGES_PER_DAY,
        )
        return content, next_page

    return take


def _has_more_elsewhere(tail: re.Match, content: bytes) -> bool:
    """A last page whose tail has no has_more may say has_more earlier: a true there means the
    rest of the day is lost, which only the whole page tells."""
    return tail[1] is None and tail[2] == b"null" and b'"has_more"' in content


def _header(tail: re.Match) -> bytes:
    has_more = b"" if tail[1] is None else b', "has_more": ' + tail[1]
    return b'{"data": []' + has_more + b', "next_page": ' + tail[2] + b"}"


def fetch_enterprise_pages(
    client: AnalyticsClient,
    days: Sequence[datetime.date],
    spool_page: Callable[[str, datetime.date, int, bytes], Path],
) -> Iterator[tuple[datetime.date, list[Path], list[Path]]]:
    """Each complete day's member pages and usage pages, their paging judged and each body
    written by `spool_page(kind, day, page, body)` as it arrives ("members" or "usage"); the
    first error is raised (a day not served yet as TooEarlyError). A day's members then its
    usage are one of the client's `max_concurrent_days` days in flight, so the next days
    arrive while the caller works on this one. A day waiting to be taken holds its files'
    paths, not its pages (~30 MB a day at 20,000 members)."""
    reads = [
        (USERS_ENDPOINT, _spooled("members", _page_as_received("member activity"), spool_page)),
        (TOKENS_ENDPOINT, _spooled("usage", _page_as_received("usage"), spool_page)),
    ]
    try:
        for day, (member_pages, token_pages) in client.fetch_endpoints_days(reads, days):
            yield day, member_pages, token_pages
    except FinalApiError as error:
        raise too_early(error) or error from None


def _spooled(kind: str, take: Callable, spool_page: Callable) -> Callable:
    """`take`, then the page written to the spool: a page refused is never written."""

    def take_and_spool(
        content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
    ) -> tuple[Path, str | None]:
        content, next_page = take(content, day=day, page=page, seen_cursors=seen_cursors)
        return spool_page(kind, day, page, content), next_page

    return take_and_spool


def read_enterprise_day(
    day: datetime.date, member_pages: Sequence[bytes], token_pages: Sequence[bytes]
) -> tuple[list[dict], list[dict]]:
    """A day's pages read in Python: (its member rows as `member_raw_row` reads them, its usage
    rows as `token_row` reads them). A row that breaks the API's contract names its day, page
    and row; a member listed twice names its pages."""
    member_parts = _read_pages(CursorPageReader("member activity", _member), day, member_pages)
    token_parts = _read_pages(CursorPageReader("usage", token_row), day, token_pages)
    refuse_repeated_member(day, member_parts)
    return (
        [row for part in member_parts for row in part],
        [row for part in token_parts for row in part],
    )


def _read_pages(reader: CursorPageReader, day: datetime.date, pages: Sequence[bytes]) -> list:
    parts = []
    for page, content in enumerate(pages, start=1):
        try:
            parts.append(reader.take(content, day=day, page=page, seen_cursors=set())[0])
        except ValueError as error:  # its paging read from its tail, its body is not JSON
            raise bad_page(
                day, page, reader.what, f"page is not JSON the contract can read ({error})"
            ) from None
    return parts
