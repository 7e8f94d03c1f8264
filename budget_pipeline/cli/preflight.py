"""What `budget-pipeline` judges before Dagster starts, each problem in one line: the settings,
the date range, the folders it writes and whether the API answers at all. Dagster would find
most of these only inside a run, seconds later and in a traceback, or not at all."""

import datetime as dt
import os
from urllib.parse import urlsplit, urlunsplit

import httpx

from budget_pipeline import settings
from budget_pipeline.cli.run_log import shipped_folder_problem
from budget_pipeline.redaction import redact

# Long enough for a slow proxy's TLS handshake; an unreachable host fails well before.
REACH_TIMEOUT_SECONDS = 10.0


def last_full_day(now: dt.datetime) -> dt.date:
    """The newest daily partition: yesterday in UTC, the last day the API has in full."""
    return now.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def range_problem(
    start: dt.date, end: dt.date, first_day: dt.date, last_day: dt.date
) -> str | None:
    if start > end:
        return f"START {start} is after END {end}"
    if start < first_day:
        return f"START {start} is before the first day {first_day} ({settings.START_DATE_ENV})"
    if end > last_day:
        return (
            f"END {end} is today or later, and today is not complete yet: the last full day "
            f"is {last_day} (UTC)"
        )
    return None


def settings_problem() -> str | None:
    """A bad BUDGET_PIPELINE_START_DATE or BUDGET_PIPELINE_SOURCE, or the API without a key."""
    try:
        settings.start_date()
        source = settings.source()
    except settings.SettingError as error:
        return str(error)
    # As the user spelled it (`api` is read as `claude_code`).
    named = os.environ.get(settings.SOURCE_ENV) or source
    if source == settings.CLAUDE_CODE and not os.environ.get(settings.API_KEY_ENV):
        return f"{settings.SOURCE_ENV} is {named!r} but {settings.API_KEY_ENV} is not set"
    if source == settings.ENTERPRISE and not os.environ.get(settings.ANALYTICS_KEY_ENV):
        return f"{settings.SOURCE_ENV} is {source!r} but {settings.ANALYTICS_KEY_ENV} is not set"
    try:
        settings.enterprise_lag_days()
    except settings.SettingError as error:
        return str(error)
    return None


def last_served_day(now: dt.datetime) -> dt.date:
    """The newest day the source serves: yesterday, or for the Enterprise Analytics API the day
    its lag allows (it serves a day one to three days after it ends)."""
    if settings.is_enterprise(settings.source()):
        lag = settings.enterprise_lag_days()
        return now.astimezone(dt.UTC).date() - dt.timedelta(days=max(lag, 1))
    return last_full_day(now)


def shown_url(url: str) -> str:
    """The base URL without any user or password a proxy URL may carry."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def api_reach_problem(base_url: str, secrets: tuple[str, ...]) -> str | None:
    """Whether the API's host answers at all: any HTTP answer will do. The request carries no
    key, and goes through the same proxies as the run's client (httpx reads the environment)."""
    try:
        httpx.get(base_url, timeout=REACH_TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as error:
        cause = redact(f"{type(error).__name__}: {error}", secrets)
        return f"cannot reach the API at {shown_url(base_url)} (ANTHROPIC_BASE_URL): {cause}"
    return None


def problem_before_run(start: dt.date, end: dt.date, dagster_home: str | None) -> str | None:
    """The first problem that would stop a backfill of start..end, in one line."""
    if problem := settings_problem():
        return problem
    now = dt.datetime.now(dt.UTC)
    if end > (served := last_served_day(now)) and end <= last_full_day(now):
        return (
            f"END {end} is past the lag of the Enterprise Analytics API: the latest day it "
            f"serves is {served} ({settings.LAG_DAYS_ENV})"
        )
    if problem := range_problem(start, end, settings.start_date(), last_full_day(now)):
        return problem
    if problem := shipped_folder_problem(dagster_home):
        return problem
    if settings.source() in (settings.CLAUDE_CODE, settings.ENTERPRISE):
        # The keys only to redact them, should an error ever echo them; they are not sent.
        keys = (
            os.environ.get(settings.API_KEY_ENV, ""),
            os.environ.get(settings.ANALYTICS_KEY_ENV, ""),
        )
        return api_reach_problem(settings.base_url(), tuple(key for key in keys if key))
    return None


def problem_before_summary(start: dt.date, end: dt.date) -> str | None:
    if problem := settings_problem():
        return problem
    if start > end:
        return f"START {start} is after END {end}"
    return None
