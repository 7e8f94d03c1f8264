"""What distinguishes one paged endpoint of Anthropic's reporting APIs from another, for the one
HTTP client (`client.AnalyticsClient`) that fetches them all whole day by whole day: its path,
the query of a day and any extra header. Retries, the retry-after cap, the request deadline,
key redaction and concurrency are the client's, the same for every endpoint."""

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from budget_pipeline.ingest.errors import BadResponseError

# A query as pairs: the reporting APIs repeat a key for a list (`group_by[]=a&group_by[]=b`).
Query = list[tuple[str, str]]


@dataclass(frozen=True)
class PagedEndpoint:
    """One endpoint served a UTC day at a time in cursor pages (`page=<next_page>`)."""

    path: str
    # The query of the first page of `day` with `limit` rows a page; the client adds `page`.
    day_query: Callable[[datetime.date, int], Query]
    headers: Mapping[str, str] = field(default_factory=dict)


def bad_page(day: datetime.date, page: int, what: str, problem: str) -> BadResponseError:
    return BadResponseError(
        f"{day.isoformat()} page {page}: the {what} {problem}; nothing was written",
        day=day,
        page=page,
    )


def cursor_page(
    content: bytes,
    *,
    day: datetime.date,
    page: int,
    seen_cursors: set[str],
    what: str,
    max_pages: int,
) -> tuple[dict[str, Any], str | None]:
    """The body of one 200 page of an endpoint paged by `next_page` alone, and that cursor. A page
    that breaks the paging is a BadResponseError naming the day, the page and `what` was read."""
    # Not JSON: a ValueError, fetched again like any truncated answer.
    body = orjson.loads(content)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise bad_page(day, page, what, "page has no 'data' list")
    next_page = body.get("next_page")
    if next_page is not None and (not isinstance(next_page, str) or not next_page):
        raise bad_page(
            day, page, what, f"page's next_page is {next_page!r} (must be a cursor or null)"
        )
    # has_more may be absent: the cursor alone says whether the day goes on.
    if body.get("has_more") is True and next_page is None:
        raise bad_page(
            day,
            page,
            what,
            "page says has_more but gives no next_page: the rest of the day is lost",
        )
    if next_page in seen_cursors:
        raise bad_page(
            day, page, what, f"cursor repeats (next_page {next_page[:40]!r} already followed)"
        )
    if next_page is not None and page >= max_pages:
        raise bad_page(
            day,
            page,
            what,
            f"cursor never ends: still a next_page after {page} pages (at most {max_pages} a day)",
        )
    return body, next_page
