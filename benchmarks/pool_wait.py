"""CPU spent by a run while it waits for the `duckdb_warehouse` pool, with Dagster's in-process
executor and with the project's (`budget_pipeline/warehouse/pool_wait.py`).

This process holds the pool's one slot on behalf of a run of its own (started, and alive: this
process). Each measurement starts `dagster asset materialize -m benchmarks.pool_wait_definitions`
in a fresh DAGSTER_HOME with the project's dagster.yaml; once the run's step waits for the
slot, the CPU time of its process (user + system, from /proc/<pid>/stat) is read, again after
`--wait` seconds, and then the slot is freed and the run left to finish. The two executors are
measured `--repeat` times each, interleaved; the machines here are shared and noisy, so compare
the two numbers of one run.

    .venv/bin/python benchmarks/pool_wait.py --wait 20 --repeat 2
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL
from budget_pipeline.warehouse.housekeeping import record_run_process

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dg.asset
def _holds_the_pool() -> None:
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def hold_the_pool(instance: dg.DagsterInstance) -> str:
    """A started run of this (live) process holding the pool's one slot; returns its id."""
    job = dg.define_asset_job("holds_the_pool").resolve(
        asset_graph=dg.Definitions(assets=[_holds_the_pool]).resolve_asset_graph()
    )
    run = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    instance.report_dagster_event(
        dg.DagsterEvent(
            dg.DagsterEventType.RUN_START.value, job_name=run.job_name, pid=os.getpid()
        ),
        run_id=run.run_id,
    )
    record_run_process(instance, run.run_id)
    instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    claim = instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, run.run_id, "hold")
    assert claim.is_claimed, claim
    return run.run_id


def wait_for_a_waiting_step(home: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            if instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).pending_step_count:
                return
        if process.poll() is not None:
            raise RuntimeError(f"the run ended before it waited (exit {process.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError("no step waited for the pool")
        time.sleep(0.2)


def measure(executor: str, wait: float, work: Path, repeat: int) -> tuple[float, float]:
    """(CPU seconds of the run's process during `wait` seconds of waiting, wall seconds from
    the slot's release to the run's end)."""
    home = work / f"{executor}-{repeat}"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        holder = hold_the_pool(instance)
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BENCHMARK_EXECUTOR": executor,
        "PYTHONPATH": str(PROJECT),
    }
    command = [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        "benchmarks.pool_wait_definitions",
        "--select",
        "waits_for_the_pool",
    ]
    with (home / "run.log").open("w") as log:
        process = subprocess.Popen(
            command, env=environment, cwd=work, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_a_waiting_step(home, process)
            before = cpu_seconds(process.pid)
            time.sleep(wait)
            spent = cpu_seconds(process.pid) - before
            with dg.DagsterInstance.from_config(str(home)) as instance:
                instance.event_log_storage.free_concurrency_slots_for_run(holder)
            released = time.perf_counter()
            if process.wait(timeout=120) != 0:
                raise RuntimeError(f"the run failed; see {home / 'run.log'}")
            return spent, time.perf_counter() - released
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=20.0, help="seconds the run waits")
    parser.add_argument("--repeat", type=int, default=2, help="measurements per executor")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="budget-pool-wait-"))
    results: dict[str, list[tuple[float, float]]] = {"dagster": [], "project": []}
    try:
        for repeat in range(args.repeat):
            for executor in results:
                spent, finish = measure(executor, args.wait, work, repeat)
                results[executor].append((spent, finish))
                print(
                    f"{executor}: {spent:.2f} CPU s in {args.wait:g} s of waiting "
                    f"({spent / args.wait:.0%} of a core); ended {finish:.1f} s after the slot "
                    "was freed",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| executor | CPU s while waiting {args.wait:g} s (best, worst) | share of a core |")
    print("| --- | --- | --- |")
    for executor, runs in results.items():
        spent = sorted(cpu for cpu, _ in runs)
        print(
            f"| {executor} | {spent[0]:.2f}, {spent[-1]:.2f} | "
            f"{spent[0] / args.wait:.0%} to {spent[-1] / args.wait:.0%} |"
        )


if __name__ == "__main__":
    main()
