"""What `budget-pipeline` shows of Dagster's log lines (lines copied from a real run)."""

from budget_pipeline.cli.progress import RunProgress

RUN = "582b3a63-9654-494a-aa7d-48f1b9b4d318"
PREFIX = f"2026-12-02 03:40:11 +0000 - dagster - DEBUG - __ASSET_JOB - {RUN} - 8905"


def test_a_run_shows_its_id_its_fetch_progress_and_one_line_per_finished_step():
    progress = RunProgress()
    shown = [
        progress.update(line)
        for line in [
            f'{PREFIX} - RUN_START - Started execution of run for "__ASSET_JOB".',
            f'{PREFIX} - raw_layer - STEP_START - Started execution of step "raw_layer".',
            f"{PREFIX} - raw_layer - ASSET_MATERIALIZATION_PLANNED - raw_usage launched a run",
            f"2026-12-02 03:40:12 +0000 - dagster - INFO - __ASSET_JOB - {RUN} - raw_layer - "
            "fetched and staged 20 days (595 records) in 0.5 s",
            f'{PREFIX} - raw_layer - STEP_SUCCESS - Finished execution of step "raw_layer".',
            f'{PREFIX} - priced_usage - STEP_SUCCESS - Finished execution of step "priced_usage".',
        ]
    ]
    assert [line for line in shown if line] == [
        f"run {RUN} started",
        "  raw_usage: fetched and staged 20 days (595 records) in 0.5 s",
        "  ✓ raw_layer (1 step done)",
        "  ✓ priced_usage (2 steps done)",
    ]
    assert progress.steps_done == ["raw_layer", "priced_usage"]


def test_a_failure_keeps_its_step_and_the_first_line_of_its_error():
    progress = RunProgress()
    for line in [
        f"{PREFIX} - RUN_START - Started execution of run.",
        f'{PREFIX} - priced_usage - STEP_FAILURE - Execution of step "priced_usage" failed.',
        "",
        "dagster._core.definitions.events.Failure: prices.csv, line 3: input_per_mtok is 'abc', "
        "not a number",
        "",
        "Stack Trace:",
        '  File "/x.py", line 1, in f',
    ]:
        progress.update(line)
    assert progress.failed_step == "priced_usage"
    assert progress.failure_text == "prices.csv, line 3: input_per_mtok is 'abc', not a number"
