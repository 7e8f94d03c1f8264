"""The admin key and the webhook URL never leave the environment: not in the CLI's
output, the Dagster event log, run config, tags, snapshots, or any file the instance writes."""

import datetime as dt

import dagster as dg

from budget_pipeline.demo.server import Fault, UsageApiServer
from budget_pipeline_tests.conftest import TEST_ORGANISATION
from budget_pipeline_tests.reliability.conftest import (
    cli_environment,
    dagster_home,
    run_materialize,
)

SECRET_KEY = "sk-ant-admin-SECRET-0123456789"
SECRET_HOOK = "http://127.0.0.1:9/hooks/SECRET-HOOK-abcdef"
API_MESSAGE = "may not read usage reports"


def instance_texts(home) -> list[str]:
    """Everything the instance recorded about every run, as text."""
    texts = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            texts += [repr(run.run_config), repr(run.tags), repr(run)]
            texts.append(dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            texts.append(dg.serialize_value(plan))
            for entry in instance.all_logs(run.run_id):
                texts += [entry.message, entry.user_message, repr(entry.error_info)]
                texts.append(repr(entry.dagster_event))
    return texts


def file_bytes(*folders) -> list[bytes]:
    """Every file written under the folders: sqlite storage, compute logs, the warehouse."""
    return [path.read_bytes() for folder in folders for path in folder.rglob("*") if path.is_file()]


def test_key_and_webhook_url_appear_nowhere(config_dir, tmp_path):
    home = dagster_home(tmp_path)
    with UsageApiServer(TEST_ORGANISATION, api_key=SECRET_KEY) as server:
        environment = cli_environment(
            home,
            server,
            config_dir,
            tmp_path / "warehouse.duckdb",
            ANTHROPIC_ADMIN_API_KEY=SECRET_KEY,
            BUDGET_PIPELINE_ALERT_WEBHOOK=SECRET_HOOK,
        )
        # an API that echoes the key back in its error message
        server.add_fault(
            Fault(status=403, message=f"key {SECRET_KEY} {API_MESSAGE}", day=dt.date(2026, 3, 3))
        )
        failed = run_materialize("2026-03-02", "2026-03-04", environment, tmp_path)
        passed = run_materialize("2026-03-02", "2026-03-04", environment, tmp_path)

    assert failed.returncode != 0 and passed.returncode == 0, passed.stderr[-2000:]
    outputs = [failed.stdout, failed.stderr, passed.stdout, passed.stderr]
    recorded = instance_texts(home)
    stored = file_bytes(home, tmp_path)
    # the scan covers what matters: the API's error reached the output and the event log
    assert any(API_MESSAGE in text and "[redacted]" in text for text in outputs)
    assert any(API_MESSAGE in text and "[redacted]" in text for text in recorded)
    assert any(API_MESSAGE.encode() in data for data in stored)
    for secret in (SECRET_KEY, SECRET_HOOK, "SECRET-HOOK-abcdef"):
        assert not [text for text in outputs + recorded if secret in text], secret
        assert not [data for data in stored if secret.encode() in data], secret


def test_a_key_read_with_a_line_break_is_used_and_appears_nowhere(config_dir, tmp_path):
    home = dagster_home(tmp_path)
    with UsageApiServer(TEST_ORGANISATION, api_key=SECRET_KEY) as server:
        environment = cli_environment(
            home,
            server,
            config_dir,
            tmp_path / "warehouse.duckdb",
            # as read from a Kubernetes secret or an env file with CRLF line ends
            ANTHROPIC_ADMIN_API_KEY=SECRET_KEY + "\r\n",
            BUDGET_PIPELINE_ALERT_WEBHOOK="http://LocalHost:9/hooks/SECRET-HOOK-abcdef Odd|é\n",
        )
        passed = run_materialize("2026-03-02", "2026-03-03", environment, tmp_path)

    assert passed.returncode == 0, passed.stderr[-2000:]
    outputs = [passed.stdout, passed.stderr]
    recorded = instance_texts(home)
    # the operator is told the key was cleaned, in the run's own log
    assert any("admin API key had whitespace" in text for text in recorded)
    for secret in ("SECRET-0123456789", "SECRET-HOOK-abcdef"):
        assert not [text for text in outputs + recorded if secret in text], secret
        assert not [data for data in file_bytes(home, tmp_path) if secret.encode() in data]


def test_the_bill_s_errors_carry_no_key_whether_they_fail_the_run_or_close_the_bill(
    config_dir, tmp_path
):
    home = dagster_home(tmp_path)
    with UsageApiServer(TEST_ORGANISATION, api_key=SECRET_KEY) as server:
        environment = cli_environment(
            home,
            server,
            config_dir,
            tmp_path / "warehouse.duckdb",
            ANTHROPIC_ADMIN_API_KEY=SECRET_KEY,
            BUDGET_PIPELINE_ALERT_WEBHOOK=SECRET_HOOK,
        )
        # The cost endpoint echoes the key: a 429 (retried, logged), then a 401 (the run fails).
        server.add_fault(Fault(status=429, message=f"slow down {SECRET_KEY}", endpoint="cost"))
        server.add_fault(
            Fault(status=401, message=f"key {SECRET_KEY} {API_MESSAGE}", endpoint="cost")
        )
        failed = run_materialize("2026-03-02", "2026-03-03", environment, tmp_path)
        # Then closed (403): the reason, key and all, goes to the metadata and the check.
        server.add_fault(
            Fault(status=403, message=f"key {SECRET_KEY} beta off", times=100, endpoint="cost")
        )
        closed = run_materialize("2026-03-02", "2026-03-03", environment, tmp_path)

    assert failed.returncode != 0 and closed.returncode == 0, closed.stderr[-2000:]
    outputs = [failed.stdout, failed.stderr, closed.stdout, closed.stderr]
    recorded = instance_texts(home)
    stored = file_bytes(home, tmp_path)
    assert any(API_MESSAGE in text and "[redacted]" in text for text in recorded)
    assert any("beta off" in text and "[redacted]" in text for text in recorded)
    for secret in (SECRET_KEY, SECRET_HOOK, "SECRET-HOOK-abcdef"):
        assert not [text for text in outputs + recorded if secret in text], secret
        assert not [data for data in stored if secret.encode() in data], secret
