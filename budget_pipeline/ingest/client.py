"""HTTP client for the Claude Code Analytics Admin API (docs/rules.md). No Dagster in here.

A day is all-or-nothing: `fetch_day` returns every page of the day or raises, so a partial day
can never reach the warehouse. Transient faults are retried with capped exponential backoff;
a 429's `retry-after` holds back every worker of the client, not only the one that got it,
because the rate limit belongs to the organisation's key, not to a connection.
"""

import datetime
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
import orjson

from budget_pipeline import __version__
from budget_pipeline.ingest.errors import (
    ApiError,
    BadResponseError,
    DayTooLongError,
    FinalApiError,
    RetriesExhaustedError,
    RetryAfterTooLongError,
)
from budget_pipeline.ingest.paging import PagedEndpoint, Query
from budget_pipeline.ingest.validation import validate_page
from budget_pipeline.redaction import protect_in_http_logs, redact

__all__ = [
    "USAGE_ENDPOINT",
    "USAGE_PATH",
    "AnalyticsClient",
    "ApiError",
    "BadResponseError",
    "DayTooLongError",
    "FinalApiError",
    "RetriesExhaustedError",
    "RetryAfterTooLongError",
    "RetryPolicy",
]

USAGE_PATH = "/v1/organizations/usage_report/claude_code"
USAGE_ENDPOINT = PagedEndpoint(
    USAGE_PATH, lambda day, limit: [("starting_at", day.isoformat()), ("limit", str(limit))]
)
ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = f"budget_pipeline/{__version__} (+httpx)"
MAX_PAGE_LIMIT = 1000
# A whole request, body included: the read timeout alone bounds each read, so a server sending
# one byte at a time could hold a page for hours.
DEFAULT_REQUEST_DEADLINE = 120.0
# A retry-after longer than this is not waited out: the run fails and says how long was asked.
DEFAULT_MAX_RETRY_AFTER = 120.0
# A day with more pages than this, or still paging after this long, is a cursor that never
# ends (always has_more, always a new cursor): the run fails naming the day instead of holding
# the warehouse for ever. 1,000 pages of 1,000 records is far more than any organisation's day;
# the time is checked before each page, so a page's own retries may overrun it.
DEFAULT_MAX_PAGES_PER_DAY = 1000
DEFAULT_MAX_SECONDS_PER_DAY = 1800.0

# 529 is Anthropic's "overloaded"; every 5xx is the server's problem, not the request's.
_TRANSIENT_STATUSES = frozenset({429, 529})


def _is_transient(status: int) -> bool:
    return status in _TRANSIENT_STATUSES or 500 <= status < 600


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with "equal" jitter: attempt n waits in [d/2, d],
    d = min(max_delay, base_delay * 2**(n-1)), and never less than the server's retry-after,
    which is honoured up to `max_retry_after` seconds (beyond it the client gives up)."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        delays = (self.base_delay, self.max_delay, self.max_retry_after)
        if not all(0 <= d < math.inf for d in delays):
            raise ValueError("RetryPolicy delays must be finite and non-negative")

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        jittered = ceiling / 2 + rng.random() * ceiling / 2
        return max(jittered, min(retry_after or 0.0, self.max_retry_after))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `retry-after` header (delta-seconds or HTTP-date), or None when
    it says nothing usable. Never negative; may be `math.inf` (the caller bounds it)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def _seconds_text(seconds: float) -> str:
    return "an unbounded time" if math.isinf(seconds) else f"{seconds:,.0f} s"


def normalised_admin_key(raw: str) -> tuple[str, bool]:
    """The key as the x-api-key header carries it, and whether surrounding whitespace was cut.

    A key read from a file (a Kubernetes secret, an env file with CRLF line ends) often ends with
    a line break; httpx would refuse the header and print the key, escaped, in its error. A
    character no key has inside it is a ValueError whose message shows no part of the key.
    """
    key = raw.strip()
    if not key:
        raise ValueError("an admin API key is required")
    for position, char in enumerate(key, start=1):
        if not "!" <= char <= "~":
            if ord(char) < 32 or ord(char) == 127:
                kind = "a control character"
            elif char.isspace():
                kind = "a space"
            else:
                kind = "a non-ASCII character"
            raise ValueError(
                f"the admin API key has {kind} at character {position} of {len(key)}, which an "
                "HTTP header cannot carry; check how the key was copied into its secret"
            )
    return key, key != raw


class _DeadlinePassed(Exception):
    pass


class _Cancelled(Exception):
    pass


# Characters of a body that is not the API's JSON error (a gateway's HTML page) kept in a message.
ERROR_PAGE_CHARS = 200


def _api_error_of(
    response: httpx.Response, content: bytes, redacted: Callable[[str], str]
) -> tuple[str | None, str]:
    """The API's error type and message; for any other body, its first characters, redacted
    before they are cut: a page that echoes the request headers, cut in the middle of the key,
    would keep most of it in a form no redaction recognises."""
    try:
        error = orjson.loads(content)["error"]
        return redacted(str(error.get("type"))), redacted(str(error.get("message")))
    except (ValueError, KeyError, TypeError, AttributeError):
        text = redacted(content.decode("utf-8", "replace").strip().replace("\n", " "))
        return None, (text[:ERROR_PAGE_CHARS] or response.reason_phrase or "no error body")


_PROGRESS_LOG = logging.getLogger("budget_pipeline.api")


class PageSink(Protocol):
    """Takes the body of one 200 response of `day`: stores its records (somewhere the run can
    drop them if the day fails) and returns (records taken, next cursor or None). A sink that
    stages records later (`raw_pages.RawPageSink`) counts them then and returns 0 here.

    Raises ValueError when the body is not JSON (the page is fetched again, as a truncated
    response would be) and BadResponseError when it breaks the contract (not retried).
    """

    def take(
        self, content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
    ) -> tuple[int, str | None]: ...


def parsed_records(
    content: bytes, *, day: datetime.date, page: int, seen_cursors: set[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """One page's records through the contract (`validate_page`), and the next cursor."""
    # orjson: several times faster than json on 1,000-record pages.
    result = validate_page(orjson.loads(content), day=day, page=page, seen_cursors=seen_cursors)
    return result.records, result.next_page


class AnalyticsClient:
    """Fetches whole days of Claude Code usage records, a few days at a time."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        retry: RetryPolicy = RetryPolicy(),
        max_concurrent_days: int = 4,
        page_limit: int = MAX_PAGE_LIMIT,
        max_pages_per_day: int = DEFAULT_MAX_PAGES_PER_DAY,
        max_seconds_per_day: float = DEFAULT_MAX_SECONDS_PER_DAY,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        also_redact: Sequence[str] = (),
    ):
        """`also_redact`: the process's other credentials (the webhook URL), kept out of this
        client's errors too should a server ever echo them."""
        if not api_key:
            raise ValueError("an admin API key is required")
        # Every spelling of the key as given is redacted, even the ones the cleaned key lacks.
        self._secrets = (api_key, *(secret for secret in also_redact if secret))
        protect_in_http_logs(api_key)
        api_key, stripped = normalised_admin_key(api_key)
        if not 0 < request_deadline < math.inf:
            raise ValueError("request_deadline must be a positive number of seconds")
        if max_concurrent_days < 1:
            raise ValueError("max_concurrent_days must be at least 1")
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be between 1 and {MAX_PAGE_LIMIT}")
        if max_pages_per_day < 1:
            raise ValueError("max_pages_per_day must be at least 1")
        if not 0 < max_seconds_per_day < math.inf:
            raise ValueError("max_seconds_per_day must be a positive number of seconds")
        self.max_pages_per_day = max_pages_per_day
        self.max_seconds_per_day = max_seconds_per_day
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.max_concurrent_days = max_concurrent_days
        self.page_limit = page_limit
        self._api_key = api_key
        self._log = logger or logging.getLogger("budget_pipeline.api")
        if stripped:
            self._log.warning(
                "the admin API key had whitespace (such as a line break) before or after it; "
                "it was removed"
            )
        self.request_deadline = request_deadline
        self._sleep = sleep
        self._jitter = random.Random()
        # Shared by all workers: the monotonic time before which nobody sends (retry-after).
        self._not_before = 0.0
        self._gate_lock = threading.Lock()
        self._http = httpx.Client(
            headers={
                "x-api-key": api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "user-agent": USER_AGENT,
                "accept": "application/json",
            },
            timeout=httpx.Timeout(min(timeout, request_deadline)),
            # Room for two fetch loops side by side (the usage and the bill), each at most
            # max_concurrent_days days at once: a request never waits for a free connection.
            limits=httpx.Limits(
                max_connections=2 * max_concurrent_days + 2,
                max_keepalive_connections=2 * max_concurrent_days + 2,
            ),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return (
            f"AnalyticsClient(base_url={self.base_url!r}, "
            f"max_concurrent_days={self.max_concurrent_days}, page_limit={self.page_limit})"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "AnalyticsClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch_day(self, day: datetime.date) -> list[dict[str, Any]]:
        """Every record of one UTC day, pages in cursor order; the whole day or an ApiError."""
        return [record for part in self._fetch_day(day, None, parsed_records) for record in part]

    def fetch_days(
        self, days: Sequence[datetime.date]
    ) -> Iterator[tuple[datetime.date, list[dict[str, Any]]]]:
        """Fetch several days, at most `max_concurrent_days` at once, yielding each complete
        day as it finishes (in any order). The first error cancels the days not yet done and
        is raised."""
        for day, parts in self._days(days, parsed_records):
            yield day, [record for part in parts for record in part]

    def load_days(
        self, days: Sequence[datetime.date], sink: PageSink
    ) -> Iterator[tuple[datetime.date, int]]:
        """`fetch_days`, but each page goes to `sink` in the fetching thread instead of becoming
        Python objects: yields each complete day and the records the sink counted for it."""
        for day, counts in self._days(days, sink.take):
            yield day, sum(counts)

    def fetch_endpoint_days(
        self,
        endpoint: PagedEndpoint,
        days: Sequence[datetime.date],
        read: Callable,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[datetime.date, list[Any]]]:
        """Another endpoint's whole days, with this client's key, retries, deadline and
        concurrency: yields each complete day and what `read` (a `PageSink.take`) made of each
        of its pages, in cursor order. Setting `cancel` (from another thread) stops the fetch
        before its next request."""
        yield from self._days(days, read, endpoint, cancel)

    def fetch_endpoints_days(
        self, reads: Sequence[tuple[PagedEndpoint, Callable]], days: Sequence[datetime.date]
    ) -> Iterator[tuple[datetime.date, list[list[Any]]]]:
        """Several endpoints' whole days: each day's endpoints are read one after the other, in
        the order given, as one of the `max_concurrent_days` days in flight, so the next days'
        pages are on their way while the caller works on a finished day. Yields each complete
        day and, per endpoint, what its `read` made of each page."""

        def fetch(day: datetime.date, cancel: threading.Event) -> list[list[Any]]:
            return [self._fetch_day(day, cancel, read, endpoint) for endpoint, read in reads]

        yield from self._window(days, fetch)

    def _days(
        self,
        days: Sequence[datetime.date],
        read: Callable,
        endpoint: PagedEndpoint = USAGE_ENDPOINT,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple]:
        def fetch(day: datetime.date, cancel: threading.Event) -> list[Any]:
            return self._fetch_day(day, cancel, read, endpoint)

        yield from self._window(days, fetch, cancel)

    def _window(
        self,
        days: Sequence[datetime.date],
        fetch: Callable[[datetime.date, threading.Event], Any],
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple]:
        """`fetch` of each day, at most `max_concurrent_days` at once; each finished day is
        yielded as it finishes, the first error cancels the rest and is raised. Setting
        `cancel` from another thread stops the days before their next request."""
        days = list(days)
        if not days:
            return
        cancel = cancel or threading.Event()
        executor = ThreadPoolExecutor(
            max_workers=min(self.max_concurrent_days, len(days)),
            thread_name_prefix="budget-api",
        )
        # No day starts before one is taken: finished days wait in memory as Python objects
        # (~5 KB a record), and with 2 x 16 days ahead a 5,000-seat backfill peaked at 1.4 GiB.
        ahead = self.max_concurrent_days
        queued = iter(days)
        pending: dict[Future[list[Any]], datetime.date] = {}

        def submit_next() -> None:
            day = next(queued, None)
            if day is not None:
                pending[executor.submit(fetch, day, cancel)] = day

        for _ in range(ahead):
            submit_next()
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                # Errors first: a failed day must stop the run even if others finished with it.
                for future in sorted(done, key=lambda f: f.exception() is None):
                    day = pending.pop(future)
                    parts = future.result()
                    submit_next()
                    yield day, parts
        finally:
            cancel.set()
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True)

    # -- internals -----------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _get(
        self, params: Query, endpoint: PagedEndpoint = USAGE_ENDPOINT
    ) -> tuple[httpx.Response, bytes]:
        """One GET and its whole body, or _DeadlinePassed once the request deadline is past."""
        deadline = time.monotonic() + self.request_deadline
        url = self.base_url + endpoint.path
        with self._http.stream("GET", url, params=params, headers=endpoint.headers) as response:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DeadlinePassed
            return response, b"".join(chunks)

    def _fetch_day(
        self,
        day: datetime.date,
        cancel: threading.Event | None,
        read: Callable,
        endpoint: PagedEndpoint = USAGE_ENDPOINT,
    ) -> list[Any]:
        """What `read` made of each page of the day, in cursor order."""
        parts: list[Any] = []
        seen: set[str] = set()
        cursor: str | None = None
        page = 1
        started = time.monotonic()
        while True:
            part, next_page = self._get_page(day, page, cursor, cancel, read, seen, endpoint)
            parts.append(part)
            if next_page is None:
                break
            seen.add(next_page)
            cursor = next_page
            page += 1
            self._check_day_bounds(day, page, started)
        # A day's progress goes to the module's logger, not the caller's: through a run's
        # context.log every line is an event-log write (~40 ms), 90 of them per 90-day backfill.
        _PROGRESS_LOG.debug(
            "%s: %d page(s), %.2f s",
            day.isoformat(),
            page,
            time.monotonic() - started,
        )
        return parts

    def _check_day_bounds(self, day: datetime.date, page: int, started: float) -> None:
        """DayTooLongError before asking for `page` of `day` when the day has had its pages or
        its time."""
        elapsed = time.monotonic() - started
        if page > self.max_pages_per_day:
            bound, limit = "max_pages_per_day", self.max_pages_per_day
            reached = f"{page - 1:,} pages, the most a day may have ({bound} {limit:,})"
        elif elapsed > self.max_seconds_per_day:
            bound, limit = "max_seconds_per_day", self.max_seconds_per_day
            reached = (
                f"{elapsed:,.0f} s and {page - 1:,} pages, longer than a day may take "
                f"({bound} {limit:g})"
            )
        else:
            return
        raise DayTooLongError(
            f"{day.isoformat()}: the API still had more pages after {reached}; its cursor "
            "seems never to end, so the day is not written; not retried",
            day=day,
            page=page,
            bound=bound,
            limit=limit,
        )

    def _pause(self, seconds: float, cancel: threading.Event | None) -> None:
        if seconds <= 0:
            return
        # With the real clock, a cancelled run should not sit out a 30 s backoff.
        if cancel is not None and self._sleep is time.sleep:
            cancel.wait(seconds)
        else:
            self._sleep(seconds)
        if cancel is not None and cancel.is_set():
            raise _Cancelled

    def _wait_for_gate(self, cancel: threading.Event | None) -> None:
        waited_for: float | None = None
        while True:
            with self._gate_lock:
                not_before = self._not_before
            remaining = not_before - time.monotonic()
            # One pause per distinct deadline: an injected fake sleep does not move the clock.
            if remaining <= 0 or not_before == waited_for:
                return
            self._pause(remaining, cancel)
            waited_for = not_before

    def _hold_everyone(self, seconds: float) -> None:
        with self._gate_lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def _get_page(
        self,
        day: datetime.date,
        page: int,
        cursor: str | None,
        cancel: threading.Event | None,
        read: Callable,
        seen: set[str],
        endpoint: PagedEndpoint = USAGE_ENDPOINT,
    ) -> tuple[Any, str | None]:
        params = endpoint.day_query(day, self.page_limit)
        if cursor is not None:
            params.append(("page", cursor))
        where = f"{day.isoformat()} page {page}"
        attempts = self.retry.max_attempts
        cause = "no attempt made"
        for attempt in range(1, attempts + 1):
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            self._wait_for_gate(cancel)
            retry_after: float | None = None
            try:
                response, content = self._get(params, endpoint)
            except _DeadlinePassed:
                cause = (
                    f"timed out (no complete answer within the {self.request_deadline:g} s "
                    "request deadline)"
                )
            except httpx.TimeoutException as exc:
                cause = f"timed out ({type(exc).__name__})"
            except httpx.UnsupportedProtocol as exc:
                raise ApiError(
                    self._redact(f"{where}: cannot reach the API at {self.base_url}: {exc}"),
                    day=day,
                    page=page,
                ) from None
            except httpx.LocalProtocolError as exc:
                # Made on this side before anything was sent (an illegal header): it would fail
                # the same way on every attempt.
                raise ApiError(
                    self._redact(f"{where}: the request could not be sent: {exc}; not retried"),
                    day=day,
                    page=page,
                ) from None
            except httpx.TransportError as exc:
                cause = self._redact(
                    f"connection failed ({type(exc).__name__}: {exc}) to {self.base_url}"
                )
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return read(content, day=day, page=page, seen_cursors=seen)
                    except ValueError:
                        cause = "HTTP 200 with a body that is not valid JSON (truncated response)"
                else:
                    error_type, api_message = _api_error_of(response, content, self._redact)
                    described = self._redact(
                        f"HTTP {status} {error_type or 'error'}: {api_message}"
                    )
                    if not _is_transient(status):
                        hint = " (check the admin key)" if status in (401, 403) else ""
                        raise FinalApiError(
                            f"{where}: {described}{hint}; not retried",
                            day=day,
                            page=page,
                            status=status,
                            error_type=error_type,
                            api_message=self._redact(api_message),
                        ) from None
                    cause = described
                    header = response.headers.get("retry-after")
                    retry_after = parse_retry_after(header)
                    if retry_after is not None and retry_after > self.retry.max_retry_after:
                        raise RetryAfterTooLongError(
                            f"{where}: {described}; the API asked to wait "
                            f"{_seconds_text(retry_after)} before retrying (retry-after: "
                            f"{self._redact(header)[:60]!r}), more than the maximum of "
                            f"{_seconds_text(self.retry.max_retry_after)}; not retried",
                            day=day,
                            page=page,
                            status=status,
                            retry_after=retry_after,
                            max_retry_after=self.retry.max_retry_after,
                        )
            if attempt == attempts:
                break
            delay = self.retry.delay(attempt, self._jitter, retry_after)
            if retry_after is not None:
                self._hold_everyone(retry_after)
            self._log.warning(
                "%s: %s; retrying in %.2f s (attempt %d of %d)",
                where,
                cause,
                delay,
                attempt + 1,
                attempts,
            )
            self._pause(delay, cancel)
        raise RetriesExhaustedError(
            f"{where}: gave up after {attempts} attempt(s); last cause: {cause}",
            day=day,
            page=page,
            attempts=attempts,
            last_cause=cause,
        )
