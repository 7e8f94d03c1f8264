"""`budget-pipeline`: backfill a range through Dagster's own CLI, then print the budget summary.

The backfill is exactly the documented command (SPEC §6), run as a subprocess, so what this
prints is what a data engineer gets from `dagster asset materialize`.
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from budget_pipeline import settings
from budget_pipeline.cli.summary import budget_summary


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


def backfill(start: dt.date, end: dt.date, selection: str) -> int:
    command = materialize_command(start, end, selection)
    print("$ dagster " + " ".join(command[1:]), flush=True)
    return subprocess.run(command, env=_environment(), check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="budget-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="backfill the last N days, then print the summary")
    demo.add_argument("--days", type=int, default=30)
    run = commands.add_parser("backfill", help="backfill START..END (inclusive), then summarise")
    run.add_argument("start", type=dt.date.fromisoformat)
    run.add_argument("end", type=dt.date.fromisoformat)
    run.add_argument("--select", default="group:budget", help="Dagster asset selection")
    summary = commands.add_parser("summary", help="print the summary of START..END")
    summary.add_argument("start", type=dt.date.fromisoformat)
    summary.add_argument("end", type=dt.date.fromisoformat)
    args = parser.parse_args(argv)

    if args.command == "demo":
        end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        start = end - dt.timedelta(days=args.days - 1)
        selection = "group:budget"
    else:
        start, end = args.start, args.end
        selection = getattr(args, "select", "group:budget")
    if args.command != "summary":
        returncode = backfill(start, end, selection)
        if returncode != 0:
            print(
                f"backfill failed (exit {returncode}): no partial day was written; fix the cause "
                "above and run the same command again",
                file=sys.stderr,
            )
            return returncode
    print()
    print(budget_summary(settings.duckdb_path(), start, end))
    return 0


if __name__ == "__main__":
    sys.exit(main())
