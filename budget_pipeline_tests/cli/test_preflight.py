"""Bad ranges and settings are judged before Dagster starts, one line each, nothing written."""

import datetime as dt

import pytest

from budget_pipeline.cli.main import main
from budget_pipeline_tests.commands import SHELL_SETTINGS, new_dagster_home
from budget_pipeline_tests.conftest import TEST_API_KEY
from budget_pipeline_tests.test_dagster_dev import free_port

TODAY = dt.datetime.now(dt.UTC).date()
YESTERDAY = TODAY - dt.timedelta(days=1)


@pytest.fixture
def cli_environment(monkeypatch, tmp_path, config_dir):
    home = new_dagster_home(tmp_path)
    for name in SHELL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BUDGET_PIPELINE_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("BUDGET_PIPELINE_DUCKDB", str(tmp_path / "data" / "warehouse.duckdb"))
    return monkeypatch


def refused_before_dagster(capsys, tmp_path, *argv) -> str:
    """The one line `budget-pipeline argv` fails with; Dagster never started, nothing written."""
    assert main(list(argv)) == 1
    output = capsys.readouterr()
    assert output.out == ""  # not even the Dagster command: it never ran
    [line] = output.err.strip().splitlines()
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "dagster_home" / "storage").exists()
    return line


def test_a_reversed_range_says_start_is_after_end(cli_environment, capsys, tmp_path):
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2026-12-05", "2026-12-01")
    assert line == "START 2026-12-05 is after END 2026-12-01"
    line = refused_before_dagster(capsys, tmp_path, "summary", "2026-12-05", "2026-12-01")
    assert line == "START 2026-12-05 is after END 2026-12-01"


def test_a_range_before_the_first_day_names_the_first_day_and_its_variable(
    cli_environment, capsys, tmp_path
):
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2025-12-30", "2026-01-02")
    assert line == (
        "START 2025-12-30 is before the first day 2026-01-01 (BUDGET_PIPELINE_START_DATE)"
    )
    cli_environment.setenv("BUDGET_PIPELINE_START_DATE", YESTERDAY.isoformat())
    line = refused_before_dagster(capsys, tmp_path, "demo", "--days", "30")
    assert f"is before the first day {YESTERDAY} (BUDGET_PIPELINE_START_DATE)" in line


@pytest.mark.parametrize("end", [TODAY, TODAY + dt.timedelta(days=40)], ids=["today", "future"])
def test_a_range_reaching_today_says_today_is_not_complete(cli_environment, capsys, tmp_path, end):
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2026-11-01", end.isoformat())
    assert line == (
        f"END {end} is today or later, and today is not complete yet: the last full day is "
        f"{YESTERDAY} (UTC)"
    )


@pytest.mark.parametrize("command", [["backfill", "2026-11-01", "2026-11-02"], ["demo"]])
def test_a_bad_start_date_names_its_variable(cli_environment, capsys, tmp_path, command):
    cli_environment.setenv("BUDGET_PIPELINE_START_DATE", "2026-13-01")
    line = refused_before_dagster(capsys, tmp_path, *command)
    assert line == "BUDGET_PIPELINE_START_DATE is '2026-13-01': not a day (YYYY-MM-DD)"


def test_an_unknown_source_lists_the_accepted_ones(cli_environment, capsys, tmp_path):
    cli_environment.setenv("BUDGET_PIPELINE_SOURCE", "dmeo")
    line = refused_before_dagster(capsys, tmp_path, "demo", "--days", "2")
    assert line == (
        "BUDGET_PIPELINE_SOURCE is 'dmeo': expected one of "
        "claude_code, enterprise, demo, demo-enterprise, api"
    )


def test_the_api_source_without_a_key_says_so(cli_environment, capsys, tmp_path):
    cli_environment.setenv("BUDGET_PIPELINE_SOURCE", "api")
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2026-11-01", "2026-11-02")
    assert line == "BUDGET_PIPELINE_SOURCE is 'api' but ANTHROPIC_ADMIN_API_KEY is not set"


def test_an_api_that_cannot_be_reached_is_named_by_its_base_url_never_the_key(
    cli_environment, capsys, tmp_path
):
    closed = free_port()  # nothing listens there
    cli_environment.setenv("ANTHROPIC_ADMIN_API_KEY", TEST_API_KEY)
    cli_environment.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{closed}")
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2026-11-01", "2026-11-02")
    assert line.startswith(
        f"cannot reach the API at http://127.0.0.1:{closed} (ANTHROPIC_BASE_URL): ConnectError"
    )
    assert TEST_API_KEY not in line


def test_a_log_folder_inside_dagster_home_logs_is_refused(cli_environment, capsys, tmp_path):
    shipped = tmp_path / "dagster_home" / "logs"
    cli_environment.setenv("BUDGET_PIPELINE_LOG_DIR", str(shipped / "budget"))
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2026-11-01", "2026-11-02")
    assert line.startswith(f"BUDGET_PIPELINE_LOG_DIR is {shipped / 'budget'}: inside {shipped},")
    assert "telemetry uploader" in line


def test_the_enterprise_source_without_its_key_says_so(cli_environment, capsys, tmp_path):
    cli_environment.delenv("ANTHROPIC_ANALYTICS_API_KEY", raising=False)
    cli_environment.setenv("BUDGET_PIPELINE_SOURCE", "enterprise")
    line = refused_before_dagster(capsys, tmp_path, "backfill", "2026-03-01", "2026-03-02")
    assert (
        line == "BUDGET_PIPELINE_SOURCE is 'enterprise' but ANTHROPIC_ANALYTICS_API_KEY is not set"
    )


def test_an_enterprise_range_past_the_lag_names_the_latest_day_served(
    cli_environment, capsys, tmp_path
):
    cli_environment.setenv("BUDGET_PIPELINE_SOURCE", "demo-enterprise")
    latest = TODAY - dt.timedelta(days=3)
    line = refused_before_dagster(
        capsys, tmp_path, "backfill", str(latest - dt.timedelta(days=2)), str(YESTERDAY)
    )
    assert line == (
        f"END {YESTERDAY} is past the lag of the Enterprise Analytics API: the latest day it "
        f"serves is {latest} (BUDGET_PIPELINE_ENTERPRISE_LAG_DAYS)"
    )


def test_the_source_defaults_follow_the_keys_set(monkeypatch):
    from budget_pipeline import settings

    for name in (
        "ANTHROPIC_ADMIN_API_KEY",
        "ANTHROPIC_ANALYTICS_API_KEY",
        "BUDGET_PIPELINE_SOURCE",
    ):
        monkeypatch.delenv(name, raising=False)
    assert settings.source() == "demo"
    monkeypatch.setenv("ANTHROPIC_ANALYTICS_API_KEY", "sk-ant-analytics-x")
    assert settings.source() == "enterprise"
    monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", "sk-ant-admin-x")
    assert settings.source() == "claude_code"
    monkeypatch.setenv("BUDGET_PIPELINE_SOURCE", "api")
    assert settings.source() == "claude_code"
