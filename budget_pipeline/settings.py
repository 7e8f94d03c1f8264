"""The environment the pipeline reads, in one place: each variable of the README's environment
table, its default, and nothing else. Secrets are only named here; they are read through
Dagster's `EnvVar` at run time (defs/resources.py), so their values never enter run config."""

import datetime as dt
import os
import re
from pathlib import Path

API_KEY_ENV = "ANTHROPIC_ADMIN_API_KEY"
ANALYTICS_KEY_ENV = "ANTHROPIC_ANALYTICS_API_KEY"
WEBHOOK_ENV = "BUDGET_PIPELINE_ALERT_WEBHOOK"
WEBSERVER_URL_ENV = "BUDGET_PIPELINE_WEBSERVER_URL"
SOURCE_ENV = "BUDGET_PIPELINE_SOURCE"
START_DATE_ENV = "BUDGET_PIPELINE_START_DATE"
LAG_DAYS_ENV = "BUDGET_PIPELINE_ENTERPRISE_LAG_DAYS"
LOG_DIR_ENV = "BUDGET_PIPELINE_LOG_DIR"

# Every value BUDGET_PIPELINE_SOURCE accepts: the CLI, the resource and their messages read it here.
# `api` is the earlier name of `claude_code`, still accepted.
CLAUDE_CODE, ENTERPRISE, DEMO, DEMO_ENTERPRISE = (
    "claude_code",
    "enterprise",
    "demo",
    "demo-enterprise",
)
SOURCES = (CLAUDE_CODE, ENTERPRISE, DEMO, DEMO_ENTERPRISE, "api")
# The sources read through the Claude Enterprise Analytics API's path (docs/rules.md).
ENTERPRISE_SOURCES = (ENTERPRISE, DEMO_ENTERPRISE)
# The Enterprise Analytics API serves a day one to three days after it ends.
DEFAULT_ENTERPRISE_LAG_DAYS = 3

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_CONFIG_DIR = "config"
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_MEMORY_LIMIT = "256MB"
DEFAULT_REPORTS_DIR = "reports"
# Baselines and idle-seat verdicts need history, so the days right after the first day have NULL
# alerts and no idle-seat rows (docs/rules.md).
DEFAULT_START_DATE = "2026-01-01"
DEFAULT_ALERT_MAX_AGE_DAYS = 3
# Next to the warehouse, and not named `logs`: when the warehouse's folder is DAGSTER_HOME, a
# `logs` folder would be the one Dagster's telemetry uploader sends away (docs/operations.md).
DEFAULT_LOG_FOLDER_NAME = "run_logs"


class SettingError(ValueError):
    """A variable set to a value the pipeline cannot use; the message names the variable."""


def _get(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _default_source() -> str:
    if os.environ.get(API_KEY_ENV):
        return CLAUDE_CODE
    if os.environ.get(ANALYTICS_KEY_ENV):
        return ENTERPRISE
    return DEMO


def source() -> str:
    """`claude_code` when an admin key is set, else `enterprise` when an analytics key is set,
    else the built-in `demo` organisation; `api` reads as `claude_code`."""
    value = _get(SOURCE_ENV, _default_source())
    if value not in SOURCES:
        raise SettingError(f"{SOURCE_ENV} is {value!r}: expected one of {', '.join(SOURCES)}")
    return CLAUDE_CODE if value == "api" else value


def is_enterprise(source_name: str) -> bool:
    return source_name in ENTERPRISE_SOURCES


def source_or_demo() -> str:
    """`source()`, or `demo` when the setting is bad: for what only words or shapes itself by
    the source (a job's selection, a report's wording); the run and the CLI report the bad
    setting themselves."""
    try:
        return source()
    except SettingError:
        return DEMO


def enterprise_lag_days() -> int:
    text = _get(LAG_DAYS_ENV, str(DEFAULT_ENTERPRISE_LAG_DAYS))
    if not text.isdigit() or not 0 <= int(text) <= 30:
        raise SettingError(f"{LAG_DAYS_ENV} is {text!r}: expected whole days from 0 to 30")
    return int(text)


def base_url() -> str:
    return _get("ANTHROPIC_BASE_URL", DEFAULT_BASE_URL)


def config_dir() -> Path:
    return Path(_get("BUDGET_PIPELINE_CONFIG_DIR", DEFAULT_CONFIG_DIR))


def duckdb_path() -> str:
    return _get("BUDGET_PIPELINE_DUCKDB", DEFAULT_DUCKDB_PATH)


def duckdb_memory_limit() -> str:
    return _get("BUDGET_PIPELINE_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)


def reports_dir() -> str:
    return _get("BUDGET_PIPELINE_REPORTS_DIR", DEFAULT_REPORTS_DIR)


def start_date() -> dt.date:
    text = _get(START_DATE_ENV, DEFAULT_START_DATE)
    try:
        # ASCII digits only: `fromisoformat` alone also takes `20260101` and other digits.
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SettingError(f"{START_DATE_ENV} is {text!r}: not a day (YYYY-MM-DD)") from None


def log_dir() -> Path:
    """Where `budget-pipeline` keeps each run's full log."""
    return Path(_get(LOG_DIR_ENV, str(Path(duckdb_path()).parent / DEFAULT_LOG_FOLDER_NAME)))


def alert_max_age_days() -> int:
    return int(_get("BUDGET_PIPELINE_ALERT_MAX_AGE_DAYS", str(DEFAULT_ALERT_MAX_AGE_DAYS)))


def webhook_is_set() -> bool:
    return bool(os.environ.get(WEBHOOK_ENV))


def webserver_url() -> str | None:
    return os.environ.get(WEBSERVER_URL_ENV) or None
