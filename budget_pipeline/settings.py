"""The environment the pipeline reads, in one place: each variable of the README's environment
table, its default, and nothing else. Secrets are only named here; they are read through
Dagster's `EnvVar` at run time (defs/resources.py), so their values never enter run config."""

import datetime as dt
import os
from pathlib import Path

API_KEY_ENV = "ANTHROPIC_ADMIN_API_KEY"
WEBHOOK_ENV = "BUDGET_PIPELINE_ALERT_WEBHOOK"
WEBSERVER_URL_ENV = "BUDGET_PIPELINE_WEBSERVER_URL"

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_CONFIG_DIR = "config"
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_MEMORY_LIMIT = "256MB"
DEFAULT_REPORTS_DIR = "reports"
# Baselines and idle-seat verdicts need history, so the days right after the first day have NULL
# alerts and no idle-seat rows (docs/rules.md).
DEFAULT_START_DATE = "2026-01-01"
DEFAULT_ALERT_MAX_AGE_DAYS = 3


def _get(name: str, default: str) -> str:
    return os.environ.get(name) or default


def source() -> str:
    """`api` when an admin key is set, else the built-in `demo` organisation."""
    return _get("BUDGET_PIPELINE_SOURCE", "api" if os.environ.get(API_KEY_ENV) else "demo")


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
    return dt.date.fromisoformat(_get("BUDGET_PIPELINE_START_DATE", DEFAULT_START_DATE))


def alert_max_age_days() -> int:
    return int(_get("BUDGET_PIPELINE_ALERT_MAX_AGE_DAYS", str(DEFAULT_ALERT_MAX_AGE_DAYS)))


def webhook_is_set() -> bool:
    return bool(os.environ.get(WEBHOOK_ENV))


def webserver_url() -> str | None:
    return os.environ.get(WEBSERVER_URL_ENV) or None
