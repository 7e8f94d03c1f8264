"""One step of the pipeline, the current code against an earlier commit's, runs alternated.

A whole backfill moves by more than a step's change between two runs on these shared machines
(docs/performance.md). This runs one asset alone over the range of a warehouse kept by
`backfill.py --keep`, alternating this checkout and `--baseline DIR` (`git worktree add DIR
<commit>`), each run on a fresh copy of that warehouse and in a fresh DAGSTER_HOME, and reads
from each run's event log the step's own work (STEP_START → first STEP_OUTPUT: its code, before
Dagster writes the partitions' materialisations) and the whole step (→ STEP_SUCCESS). Each pair
runs back to back, so the paired differences are what to read. Steps after `raw_usage` need no
API server.

    .venv/bin/python benchmarks/backfill.py --seats 5000 --days 90 --keep
    .venv/bin/python benchmarks/step_ab.py --work /tmp/budget-benchmark-XXXX --step priced_usage \\
        --baseline /tmp/before --pairs 6
"""

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import duckdb

# run as a script, this folder is on sys.path: the same runner as backfill.py
from backfill import PIPELINE, PROJECT, Home, make_home, materialize, remove_warehouse

from budget_pipeline.warehouse.tables import RAW_USAGE


def step_seconds(home: Home, step: str) -> tuple[float, float]:
    """(STEP_START → first STEP_OUTPUT, STEP_START → STEP_SUCCESS) of `step` in the home's run."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home.path)) as instance:
        [run] = instance.get_runs()
        events = [event for event in instance.all_logs(run.run_id) if event.step_key == step]

    def first(kind: DagsterEventType) -> float:
        return next(event.timestamp for event in events if event.dagster_event_type == kind)

    started = first(DagsterEventType.STEP_START)
    return (
        first(DagsterEventType.STEP_OUTPUT) - started,
        first(DagsterEventType.STEP_SUCCESS) - started,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a backfill.py --keep folder")
    parser.add_argument("--step", required=True, help="an asset of the budget group")
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout to compare")
    parser.add_argument("--pairs", type=int, default=6)
    args = parser.parse_args()
    warehouse = min(args.work.glob("backfill-*.duckdb"))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(start, end)] = connection.execute(
            f"SELECT min(usage_date), max(usage_date) FROM {RAW_USAGE.qualified_name}"
        ).fetchall()
    scratch = Path(tempfile.mkdtemp(prefix="budget-step-ab-"))
    own: dict[str, list[float]] = {"current": [], "baseline": []}
    whole: dict[str, list[float]] = {"current": [], "baseline": []}
    try:
        for pair in range(args.pairs):
            for side, project in (("current", PROJECT), ("baseline", args.baseline)):
                # The environment backfill.py gave the kept run, with a copy of its warehouse.
                home = make_home(
                    scratch, f"{side}-{pair}", args.work / "config", start, project=project
                )
                shutil.copy(warehouse, home.warehouse)
                materialize(PIPELINE, home, start, end, selection=f"key:{args.step}")
                own_seconds, whole_seconds = step_seconds(home, args.step)
                own[side].append(own_seconds)
                whole[side].append(whole_seconds)
                remove_warehouse(home)
            print(
                f"pair {pair + 1}: own work {own['current'][-1]:.2f} s against "
                f"{own['baseline'][-1]:.2f} s, whole step {whole['current'][-1]:.2f} s against "
                f"{whole['baseline'][-1]:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"# step_ab.py --step {args.step}, {start}...{end}, {args.pairs} alternated pairs")
    for label, times in (("own work (STEP_START → first STEP_OUTPUT)", own), ("whole step", whole)):
        differences = [a - b for a, b in zip(times["current"], times["baseline"], strict=True)]
        print(
            f"{label}: current {' / '.join(f'{t:.2f}' for t in times['current'])} s, "
            f"baseline {' / '.join(f'{t:.2f}' for t in times['baseline'])} s; "
            f"mean difference {statistics.mean(differences):+.2f} s, "
            f"{sum(d < 0 for d in differences)} of {len(differences)} pairs faster"
        )


if __name__ == "__main__":
    main()
