"""The documented command, end to end: `dagster asset materialize` in a subprocess against the
loopback API server, sharing one DAGSTER_HOME, then the summary."""

import datetime as dt
import shlex
import sys
from pathlib import Path

import dagster as dg
import duckdb

from budget_pipeline.warehouse.housekeeping import RUN_PROCESS_TAG
from budget_pipeline_tests.commands import (
    PROJECT,
    budget_pipeline,
    cli_environment,
    new_dagster_home,
    run_command,
    without_project_settings,
)
from budget_pipeline_tests.conftest import TEST_API_KEY


def test_range_backfill_through_the_dagster_cli(api_server, config_dir, tmp_path):
    environment = cli_environment(api_server, config_dir, tmp_path)
    home = Path(environment["DAGSTER_HOME"])
    warehouse_file = Path(environment["BUDGET_PIPELINE_DUCKDB"])
    completed = budget_pipeline(environment, tmp_path, "backfill", "2026-03-02", "2026-04-15")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "--partition-range 2026-03-02...2026-04-15" in completed.stdout
    # a newcomer sees a line per finished step, not Dagster's debug log (kept in a file)
    for step in ("raw_layer", "priced_usage", "workstream_cost", "daily_spend", "idle_seats"):
        assert f"✓ {step}" in completed.stdout
    # and how the fetch went, from the step that fetches the usage and the bill
    assert "raw_usage: fetched and staged 45 days" in completed.stdout
    assert "DEBUG" not in completed.stdout + completed.stderr
    # next to the warehouse, never in DAGSTER_HOME/logs/ (Dagster's telemetry uploader ships it)
    assert (
        "STEP_SUCCESS"
        in (tmp_path / "run_logs" / "budget-pipeline-2026-03-02...2026-04-15.log").read_text()
    )
    assert not (home / "logs").is_dir() or not any((home / "logs").iterdir())
    assert "Spend per workstream" in completed.stdout
    assert "Alert days: 2" in completed.stdout
    assert "idle.person@example.com" in completed.stdout
    assert TEST_API_KEY not in completed.stdout + completed.stderr

    with duckdb.connect(str(warehouse_file), read_only=True) as connection:
        counts = {
            table: connection.execute(f"SELECT count(*) FROM budget.{table}").fetchone()[0]
            for table in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend")
        }
        spend_days = connection.execute(
            "SELECT count(DISTINCT usage_date) FROM budget.daily_spend"
        ).fetchone()[0]
    assert all(counts.values()), counts
    assert spend_days == 45

    # one run, recorded in the shared instance the UI reads
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        assert runs[0].tags["dagster/asset_partition_range_start"] == "2026-03-02"
        assert runs[0].tags["dagster/asset_partition_range_end"] == "2026-04-15"
        assert runs[0].run_config == {} or TEST_API_KEY not in str(runs[0].run_config)


def test_verbose_shows_dagsters_full_log(api_server, config_dir, tmp_path):
    environment = cli_environment(api_server, config_dir, tmp_path)
    completed = budget_pipeline(
        environment, tmp_path, "backfill", "2026-03-02", "2026-03-03", "--verbose"
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "STEP_SUCCESS" in completed.stdout + completed.stderr


def test_a_bad_config_file_fails_in_one_line_before_anything_is_fetched(
    api_server, config_dir, tmp_path
):
    prices = config_dir / "prices.csv"
    lines = prices.read_text().splitlines()
    model, _input, *rest = lines[2].split(",")
    lines[2] = ",".join([model, "abc", *rest])
    prices.write_text("\n".join(lines) + "\n")
    environment = cli_environment(api_server, config_dir, tmp_path)
    completed = budget_pipeline(environment, tmp_path, "backfill", "2026-03-02", "2026-03-03")
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        f"{prices}, line 3: input_per_mtok is 'abc', not a number"
    )
    assert "Traceback" not in completed.stdout + completed.stderr
    assert api_server.usage_requests() == []
    assert not Path(environment["BUDGET_PIPELINE_DUCKDB"]).exists()


def test_a_failed_run_ends_with_its_cause_and_the_run_id(api_server, config_dir, tmp_path):
    environment = cli_environment(api_server, config_dir, tmp_path, api_key="sk-ant-admin-wrong")
    completed = budget_pipeline(environment, tmp_path, "backfill", "2026-03-02", "2026-03-03")
    assert completed.returncode != 0
    *_, context, cause = completed.stderr.strip().splitlines()
    with dg.DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        [run] = instance.get_runs()
    assert f"run {run.run_id}" in context
    assert "step raw_layer" in context
    assert "401" in cause
    assert "sk-ant-admin-wrong" not in completed.stdout + completed.stderr
    assert "DEBUG" not in completed.stdout + completed.stderr


def test_the_printed_command_pasted_into_a_shell_is_the_same_run_on_the_same_instance(
    api_server, config_dir, tmp_path
):
    environment = cli_environment(api_server, config_dir, tmp_path)
    # As the README runs it from the repository root: no DAGSTER_HOME, a dagster.yaml in the
    # current folder, which the CLI then takes as the instance.
    home = Path(environment.pop("DAGSTER_HOME"))
    selection = "key:raw_usage or key:priced_usage"
    completed = budget_pipeline(
        environment, home, "backfill", "2026-03-02", "2026-03-02", "--select", selection
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    [printed] = [line[2:] for line in completed.stdout.splitlines() if line.startswith("$ ")]
    assert shlex.split(printed) == [
        f"DAGSTER_HOME={home}",
        str(Path(sys.executable).parent / "dagster"),
        *("asset", "materialize", "-m", "budget_pipeline.definitions"),
        *("--select", selection, "--partition-range", "2026-03-02...2026-03-02"),
    ]

    # pasted into a shell elsewhere, without DAGSTER_HOME: the same run, on the same instance
    pasted = run_command(["bash", "-c", printed], environment, tmp_path)
    assert pasted.returncode == 0, pasted.stdout[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        first, second = instance.get_runs()
        assert (
            first.asset_selection
            == second.asset_selection
            == {
                dg.AssetKey("raw_usage"),
                dg.AssetKey("priced_usage"),
            }
        )
        # Each run records the process that ran it; every other tag is the command's.
        assert _without_process(first.tags) == _without_process(second.tags)


def _without_process(tags: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if key != RUN_PROCESS_TAG}


def test_the_demo_through_the_enterprise_path_shows_each_idle_status(tmp_path):
    """`BUDGET_PIPELINE_SOURCE=demo-enterprise budget-pipeline demo`: the built-in organisation
    through the Claude Enterprise Analytics API's path, up to the newest day it serves."""
    environment = without_project_settings() | {
        "DAGSTER_HOME": str(new_dagster_home(tmp_path)),
        "BUDGET_PIPELINE_SOURCE": "demo-enterprise",
        "BUDGET_PIPELINE_CONFIG_DIR": str(PROJECT / "config"),
        "BUDGET_PIPELINE_DUCKDB": str(tmp_path / "warehouse.duckdb"),
        "BUDGET_PIPELINE_START_DATE": "2026-01-01",
    }
    completed = budget_pipeline(environment, tmp_path, "demo", "--days", "16")
    assert completed.returncode == 0, completed.stderr[-3000:]
    latest = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    assert f"...{latest}" in completed.stdout
    for line in (
        "idle.person@example.com      completely idle",
        "new.hire@example.com         no Claude Code use",
        "reviewer@example.com         barely active",
    ):
        assert line in completed.stdout, completed.stdout[-3000:]
    assert "not active on any Claude surface" in completed.stdout
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        [(sources,)] = connection.execute(
            "SELECT list(DISTINCT source) FROM budget.raw_usage"
        ).fetchall()
        [(billed, covered)] = connection.execute(
            "SELECT count(*) FILTER (cost_usd > 0), count(*) FILTER (cost_usd = 0) "
            "FROM budget.priced_usage WHERE price_source = 'billed'"
        ).fetchall()
    assert sources == ["enterprise"]
    # A seat-based plan: most usage is covered by the seats, heavy users are billed beyond.
    assert billed > 0 and covered > billed
