"""`budget-pipeline`: backfill a range through Dagster's own CLI, then print the budget summary.

The backfill is exactly the documented `dagster asset materialize` command, run as a subprocess,
so what it computes is what a data engineer gets from Dagster. What it shows is short: the
command, a line per finished step and the fetch progress, then the summary; `--verbose` shows
Dagster's full log, which is otherwise kept in a file. A failure ends with its cause in one line.
"""

import argparse
import datetime as dt
import os
import shlex
import subprocess
import sys
from pathlib import Path

from budget_pipeline import settings
from budget_pipeline.cli import preflight
from budget_pipeline.cli.next_steps import next_steps_lines
from budget_pipeline.cli.progress import RunProgress
from budget_pipeline.cli.run_log import run_log_path
from budget_pipeline.cli.summary import budget_summary
from budget_pipeline.cli.warehouse_busy import SUMMARY_LOCK_WAIT_SECONDS, busy_line
from budget_pipeline.rules.config_files import ConfigFileError, judge_config_files
from budget_pipeline.warehouse import connection as warehouse


def materialize_command(start: dt.date, end: dt.date, selection: str = "group:budget") -> list[str]:
    return [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "-m",
        "budget_pipeline.definitions",
        "--select",
        selection,
        "--partition-range",
        f"{start.isoformat()}...{end.isoformat()}",
    ]


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    # Share one Dagster instance with `dagster dev` so CLI backfills show in the UI.
    if "DAGSTER_HOME" not in environment and Path("dagster.yaml").exists():
        environment["DAGSTER_HOME"] = str(Path.cwd())
    return environment


def _failure_of_run(run_id: str, dagster_home: str | None) -> tuple[str | None, str | None]:
    """The failed step and the first line of its error, as the run's event log records them."""
    if not dagster_home:
        return None, None
    # Only on failure: a successful backfill never pays for importing Dagster.
    import dagster as dg

    from budget_pipeline.defs.operations.failure_cause import failure_cause

    with dg.DagsterInstance.from_config(dagster_home) as instance:
        step, text = failure_cause(instance, run_id)
    return step, text.strip().splitlines()[0] if text else None


def shell_line(command: list[str], environment: dict[str, str]) -> str:
    """`command` as a shell runs it, quoted, with the DAGSTER_HOME it runs with: pasted into a
    terminal, it is the same run on the same instance (the README sets DAGSTER_HOME for the
    `budget-pipeline` command alone, so the terminal may not have it)."""
    home = environment.get("DAGSTER_HOME")
    return shlex.join([f"DAGSTER_HOME={home}", *command] if home else command)


def backfill(start: dt.date, end: dt.date, selection: str, verbose: bool = False) -> int:
    command = materialize_command(start, end, selection)
    environment = _environment()
    print("$ " + shell_line(command, environment), flush=True)
    if verbose:
        return subprocess.run(command, env=environment, check=False).returncode

    log_path = run_log_path(start, end)
    progress = RunProgress()
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process,
    ):
        for line in process.stdout:
            log.write(line)
            if shown := progress.update(line):
                print(shown, flush=True)
        returncode = process.wait()
    if returncode != 0:
        step, cause = (
            _failure_of_run(progress.run_id, environment.get("DAGSTER_HOME"))
            if progress.run_id
            else (None, None)
        )
        step = step or progress.failed_step
        where = f" in step {step}" if step else ""
        run = f"run {progress.run_id}, " if progress.run_id else ""
        print(
            f"backfill failed{where} ({run}full log: {log_path}, or --verbose); no partial day "
            "was written. Fix the cause and run the same command again:",
            file=sys.stderr,
        )
        print(
            cause or progress.failure_text or f"dagster exited with {returncode}", file=sys.stderr
        )
    return returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="budget-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="backfill the last N days, then print the summary")
    demo.add_argument("--days", type=int, default=30)
    run = commands.add_parser("backfill", help="backfill START..END (inclusive), then summarise")
    run.add_argument("start", type=dt.date.fromisoformat)
    run.add_argument("end", type=dt.date.fromisoformat)
    run.add_argument("--select", default="group:budget", help="Dagster asset selection")
    for runner in (demo, run):
        runner.add_argument("--verbose", action="store_true", help="show Dagster's full log")
    summary = commands.add_parser("summary", help="print the summary of START..END")
    summary.add_argument("start", type=dt.date.fromisoformat)
    summary.add_argument("end", type=dt.date.fromisoformat)
    args = parser.parse_args(argv)

    if args.command == "demo":
        try:
            end = preflight.last_served_day(dt.datetime.now(dt.UTC))
        except settings.SettingError as error:
            print(error, file=sys.stderr)
            return 1
        start = end - dt.timedelta(days=args.days - 1)
        selection = "group:budget"
    else:
        start, end = args.start, args.end
        selection = getattr(args, "select", "group:budget")
    if problem := _problem_before_dagster(args.command, start, end):
        print(problem, file=sys.stderr)
        return 1
    if args.command != "summary":
        # A typo in a config file fails here, in one line, before any day is fetched.
        try:
            judge_config_files(settings.config_dir())
        except ConfigFileError as error:
            print(error, file=sys.stderr)
            return 1
        returncode = backfill(start, end, selection, verbose=args.verbose)
        if returncode != 0:
            return returncode
    return _print_summary(start, end)


def _problem_before_dagster(command: str, start: dt.date, end: dt.date) -> str | None:
    if command == "summary":
        return preflight.problem_before_summary(start, end)
    return preflight.problem_before_run(start, end, _environment().get("DAGSTER_HOME"))


def _print_summary(start: dt.date, end: dt.date) -> int:
    path = settings.duckdb_path()
    try:
        # Held open while the summary reads: no writer can take the file in between, and the
        # summary's own open, in this process, does not wait again.
        with warehouse.connect(path, read_only=True, lock_wait_seconds=SUMMARY_LOCK_WAIT_SECONDS):
            text = budget_summary(path, start, end)
    except warehouse.WarehouseLockedError as error:
        print(busy_line(path, error, _environment().get("DAGSTER_HOME")), file=sys.stderr)
        return 1
    print()
    print(text)
    print_next_steps(end)
    return 0


def print_next_steps(end: dt.date) -> None:
    print()
    print(
        "\n".join(next_steps_lines(_environment().get("DAGSTER_HOME"), end, settings.reports_dir()))
    )


if __name__ == "__main__":
    sys.exit(main())
