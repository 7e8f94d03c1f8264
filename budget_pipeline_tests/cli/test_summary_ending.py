"""How `budget-pipeline` ends: the failed warning checks of the range in the words of the UI's
Checks tab, one line each, then where to look next as commands that run when pasted."""

import shlex
from pathlib import Path

import dagster as dg

from budget_pipeline.defs.budget.checks import COST_IS_BILLED
from budget_pipeline.demo.server import Fault, UsageApiServer
from budget_pipeline.rules.config_files import load_seats
from budget_pipeline_tests.commands import BIN, budget_pipeline, cli_environment, run_command
from budget_pipeline_tests.conftest import TEST_ORGANISATION

START, END = "2026-04-01", "2026-04-06"


def edit_lines(path: Path, edit) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def make_every_warning_fail(config_dir: Path) -> None:
    def prices(lines):
        # claude-haiku-4-5 left out: priced at the API's estimate; Sonnet 4.6 at twice its price
        kept = [line for line in lines if not line.startswith("claude-haiku-4-5,")]
        return [
            ",".join([line.split(",")[0], *(str(float(p) * 2) for p in line.split(",")[1:])])
            if line.startswith("claude-sonnet-4-6,")
            else line
            for line in kept
        ]

    edit_lines(config_dir / "prices.csv", prices)
    # two actors per workstream stay in the ledger: the others' spend is Unassigned
    edit_lines(config_dir / "workstreams.csv", lambda lines: lines[:11])
    # payments heads past a budget it would otherwise keep
    budgets = config_dir / "budgets.csv"
    budgets.write_text(budgets.read_text().replace("payments,,1200", "payments,,500"))


def block(stdout: str, heading: str) -> list[str]:
    [found] = [part for part in stdout.split("\n\n") if part.startswith(heading)]
    return found.splitlines()


def test_the_summary_ends_with_the_failed_warning_checks_and_where_to_look_next(
    api_server, config_dir, tmp_path
):
    make_every_warning_fail(config_dir)
    environment = cli_environment(
        api_server, config_dir, tmp_path, BUDGET_PIPELINE_REPORTS_DIR=str(tmp_path / "reports")
    )
    completed = budget_pipeline(environment, tmp_path, "backfill", START, END)
    assert completed.returncode == 0, completed.stderr[-3000:]

    with dg.DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        [run] = instance.get_runs()
        failed = [
            entry.dagster_event.event_specific_data
            for entry in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if not entry.dagster_event.event_specific_data.passed
        ]
    assert {evaluation.check_name for evaluation in failed} == {
        "priced_usage_models_are_priced",
        "priced_usage_close_to_api_estimate",
        "daily_spend_unassigned_share",
        "budget_forecast_within_budget",
        # Sonnet 4.6 priced at twice its price: the estimate is off the bill too
        "bill_reconciliation_within_tolerance",
    }
    heading, *lines = block(completed.stdout, "Warning checks of")
    assert heading.startswith(f"Warning checks of {START} … {END} that failed (5;")
    # the words of the UI's Checks tab, one line each
    assert sorted(lines) == sorted(
        f"  {evaluation.check_name}: {evaluation.description}" for evaluation in failed
    )

    seats = load_seats(config_dir / "seats.csv")
    [total] = [line for line in block(completed.stdout, "Budgets as of") if "TOTAL" in line]
    assert total.endswith(f"(incl. {len(seats)} seats ${seats['monthly_cost_usd'].sum():,.0f})")

    # the summary's last block: commands that work as pasted into a shell
    look_next = completed.stdout.rstrip().split("\n\n")[-1].splitlines()
    assert look_next[0] == "Look next:"
    ui, report = (line.split(": ", 1)[1] for line in look_next[1:])
    home = shlex.quote(environment["DAGSTER_HOME"])
    assert ui == f"DAGSTER_HOME={home} {shlex.quote(str(BIN / 'dg'))} dev"
    pasted = run_command(["bash", "-c", report], environment, tmp_path)
    assert pasted.returncode == 0, pasted.stderr[-3000:]
    assert (tmp_path / "reports" / "2026-04" / "budget-report-2026-04.html").exists()


ANALYTICS_KEY = "sk-ant-analytics-TEST-summary"
CLOSED_DAYS = "2026-04-01, 2026-04-02, 2026-04-03"


def test_on_the_enterprise_source_the_summary_names_the_days_priced_without_their_bill(
    config_dir, tmp_path
):
    """The days whose bill was closed count at list prices, not what is billed: the run's warning
    check says so, and so does the summary, in the same words."""
    # With the bill closed, only prices.csv prices a model: the organisation's preview model too.
    with (config_dir / "prices.csv").open("a") as prices:
        prices.write("claude-nova-preview,3,15,3.75,0.3\n")
    with UsageApiServer(TEST_ORGANISATION, api_key=ANALYTICS_KEY, seat_plan=True) as server:
        # A closed endpoint is closed to the organisation: the whole range's bill is empty.
        server.add_fault(Fault(status=404, message="not enabled", endpoint="cost", times=10))
        environment = cli_environment(
            server,
            config_dir,
            tmp_path,
            api_key="",
            BUDGET_PIPELINE_SOURCE="enterprise",
            ANTHROPIC_ANALYTICS_API_KEY=ANALYTICS_KEY,
        )
        completed = budget_pipeline(environment, tmp_path, "backfill", START, CLOSED_DAYS[-10:])
    assert completed.returncode == 0, completed.stderr[-3000:]

    with dg.DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        [run] = instance.get_runs()
        [evaluation] = [
            entry.dagster_event.event_specific_data
            for entry in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if entry.dagster_event.event_specific_data.check_name == COST_IS_BILLED
        ]
    assert not evaluation.passed and f"3 day(s) ({CLOSED_DAYS})" in evaluation.description
    _, *lines = block(completed.stdout, "Warning checks of")
    assert f"  {COST_IS_BILLED}: {evaluation.description}" in lines
    assert "cost_usd of those days is the usage at list prices, not what is billed" in (
        completed.stdout
    )


def test_on_the_enterprise_source_the_summary_names_the_checks_the_run_failed(config_dir, tmp_path):
    """The bill open: the organisation's preview model, missing from prices.csv, is billed
    correctly and named as unpriced, by the run's check and by the summary alike."""
    with UsageApiServer(TEST_ORGANISATION, api_key=ANALYTICS_KEY, seat_plan=True) as server:
        environment = cli_environment(
            server,
            config_dir,
            tmp_path,
            api_key="",
            BUDGET_PIPELINE_SOURCE="enterprise",
            ANTHROPIC_ANALYTICS_API_KEY=ANALYTICS_KEY,
        )
        completed = budget_pipeline(environment, tmp_path, "backfill", START, END)
    assert completed.returncode == 0, completed.stderr[-3000:]

    with dg.DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        [run] = instance.get_runs()
        failed = [
            entry.dagster_event.event_specific_data
            for entry in instance.all_logs(
                run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if not entry.dagster_event.event_specific_data.passed
        ]
    assert "priced_usage_models_are_priced" in {evaluation.check_name for evaluation in failed}
    _, *lines = block(completed.stdout, "Warning checks of")
    assert sorted(lines) == sorted(
        f"  {evaluation.check_name}: {evaluation.description}" for evaluation in failed
    )
