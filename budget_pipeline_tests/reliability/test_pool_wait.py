"""A run waiting for the `duckdb_warehouse` pool sleeps between its checks of the slot: with
Dagster's own in-process executor it would spin and burn a core for as long as it waits
(docs/operations.md, "The instance: dagster.yaml"; benchmarks/pool_wait.py measures it)."""

import os
import time
from pathlib import Path

import dagster as dg

from budget_pipeline import process_identity
from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL
from budget_pipeline_tests.reliability.conftest import (
    cli_environment,
    dagster_home,
    start_materialize,
)
from budget_pipeline_tests.reliability.test_dead_runs import END, START, hold_the_pool, started_run

WAITED_SECONDS = 5.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_run_waiting_for_the_pool_sleeps_until_its_next_check(api_server, config_dir, tmp_path):
    home = dagster_home(tmp_path)
    environment = cli_environment(home, api_server, config_dir, tmp_path / "warehouse.duckdb")
    this_process = process_identity.this_process()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        holder = started_run(instance, this_process.pid, this_process)  # alive: this test
        hold_the_pool(instance, holder)
    log = tmp_path / "waiting.log"
    process = start_materialize(START, END, environment, tmp_path, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                info = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
            if info.pending_step_count:
                break
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the run never waited for the pool"
            time.sleep(0.2)
        started, cpu_before = time.monotonic(), cpu_seconds(process.pid)
        time.sleep(WAITED_SECONDS)
        waited, cpu_spent = time.monotonic() - started, cpu_seconds(process.pid) - cpu_before

        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.free_concurrency_slots_for_run(holder.run_id)
        assert process.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # A spinning run uses all the core it is given (on a crowded machine of two cores, still a
    # third of one or more); a sleeping one makes a check of the instance a second or less.
    assert cpu_spent < 0.1 * waited, f"{cpu_spent:.2f} CPU s in {waited:.1f} s of waiting"
    assert "Step blocked by limit for pool duckdb_warehouse" in log.read_text()
