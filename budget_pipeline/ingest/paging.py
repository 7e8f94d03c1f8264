"""What distinguishes one paged endpoint of Anthropic's reporting APIs from another, for the one
HTTP client (`client.AnalyticsClient`) that fetches them all whole day by whole day: its path,
the query of a day and any extra header. Retries, the retry-after cap, the request deadline,
key redaction and concurrency are the client's, the same for every endpoint."""

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# A query as pairs: the reporting APIs repeat a key for a list (`group_by[]=a&group_by[]=b`).
Query = list[tuple[str, str]]


@dataclass(frozen=True)
class PagedEndpoint:
    """One endpoint served a UTC day at a time in cursor pages (`page=<next_page>`)."""

    path: str
    # The query of the first page of `day` with `limit` rows a page; the client adds `page`.
    day_query: Callable[[datetime.date, int], Query]
    headers: Mapping[str, str] = field(default_factory=dict)
