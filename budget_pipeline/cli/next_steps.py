"""Where to look after a run: the UI and the month's report, each as a command that can be
pasted into a shell as printed (the venv's programs, the instance the run used)."""

import datetime as dt
import os
import shlex
import sys
from pathlib import Path


def program(name: str) -> str:
    """The venv's `name`, relative to the current folder when it lies inside it."""
    path = Path(sys.executable).parent / name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def with_dagster_home(command: list[str], dagster_home: str | None) -> str:
    words = shlex.join(command)
    if not dagster_home:
        return words
    home = (
        "$PWD"
        if Path(dagster_home).resolve() == Path.cwd().resolve()
        else shlex.quote(os.path.abspath(dagster_home))
    )
    return f"DAGSTER_HOME={home} {words}"


def ui_command(dagster_home: str | None) -> str:
    return with_dagster_home([program("dg"), "dev"], dagster_home)


def report_command(dagster_home: str | None, month: dt.date) -> str:
    return with_dagster_home(
        [
            program("dagster"),
            *("asset", "materialize", "-m", "budget_pipeline.definitions"),
            *("--select", "budget_report", "--partition", f"{month:%Y-%m}"),
        ],
        dagster_home,
    )


def next_steps_lines(dagster_home: str | None, end: dt.date, reports_dir: str) -> list[str]:
    """The commands to run next, after a summary ending on `end`."""
    folder = Path(reports_dir) / f"{end:%Y-%m}"
    return [
        "Look next:",
        f"  the UI (asset graph, checks, runs; http://127.0.0.1:3000): {ui_command(dagster_home)}",
        f"  the {end:%B %Y} report (written to {folder}/): {report_command(dagster_home, end)}",
    ]
