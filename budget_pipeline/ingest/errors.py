"""Errors of the Analytics API client.

They live apart from `client.py` so that `validation.py` can raise them without a cycle.
Every message names the day and the 1-based page so an operator knows what to re-run; none
ever contains the admin key.
"""

import datetime


class ApiError(Exception):
    def __init__(self, message: str, *, day: datetime.date | None = None, page: int | None = None):
        super().__init__(message)
        self.day = day
        self.page = page


class FinalApiError(ApiError):
    """The API refused the request (400/401/403/404, other 4xx): retrying cannot help."""

    def __init__(
        self,
        message: str,
        *,
        day: datetime.date | None = None,
        page: int | None = None,
        status: int,
        error_type: str | None = None,
        api_message: str | None = None,
    ):
        super().__init__(message, day=day, page=page)
        self.status = status
        self.error_type = error_type
        self.api_message = api_message


class RetriesExhaustedError(ApiError):
    """Transient faults (429, 5xx, timeouts, dropped connections) outlasted the retry budget."""

    def __init__(
        self,
        message: str,
        *,
        day: datetime.date | None = None,
        page: int | None = None,
        attempts: int,
        last_cause: str,
    ):
        super().__init__(message, day=day, page=page)
        self.attempts = attempts
        self.last_cause = last_cause


class RetryAfterTooLongError(ApiError):
    """A 429/5xx whose retry-after is longer than the client may wait (or unbounded)."""

    def __init__(
        self,
        message: str,
        *,
        day: datetime.date | None = None,
        page: int | None = None,
        status: int,
        retry_after: float,
        max_retry_after: float,
    ):
        super().__init__(message, day=day, page=page)
        self.status = status
        self.retry_after = retry_after
        self.max_retry_after = max_retry_after


class BadResponseError(ApiError):
    """A 200 whose content breaks the documented contract; retrying would get the same."""


class DayTooLongError(ApiError):
    """A day still had more pages after the most pages, or the longest time, a day may take:
    a cursor that never ends would otherwise hold the run (and the warehouse) for ever."""

    def __init__(self, message: str, *, day: datetime.date, page: int, bound: str, limit: float):
        super().__init__(message, day=day, page=page)
        self.bound = bound
        self.limit = limit
