"""A dead run is recognised by its process, not by its pid: after a container restart or an OOM
kill another process has the pid (pid 1 always exists), and the dead run must still be failed,
notified, its `duckdb_warehouse` pool slot freed and its spool removed (docs/reliability.md,
"After a crash")."""

import os
import signal
import time

import dagster as dg

from budget_pipeline import process_identity
from budget_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from budget_pipeline.definitions import defs
from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.defs.operations.sensors import run_failure_notifier
from budget_pipeline.ingest.page_staging import SPOOL_FOLDER
from budget_pipeline.process_identity import ProcessIdentity
from budget_pipeline.warehouse.housekeeping import RUN_PROCESS_TAG
from budget_pipeline_tests.reliability.conftest import (
    assert_tables_equal,
    cli_environment,
    dagster_home,
    read_tables,
    run_materialize,
    start_materialize,
)

START, END = "2026-03-02", "2026-03-04"
UI = "http://127.0.0.1:3000"


def started_run(
    instance: dg.DagsterInstance, pid: int, process: ProcessIdentity | None
) -> dg.DagsterRun:
    """A run of the daily job as its process leaves it: started, its pid in RUN_START and, when
    given, the process it recorded."""
    job = defs().resolve_job_def("budget_daily_job")
    run = instance.create_run_for_job(
        job,
        status=dg.DagsterRunStatus.STARTED,
        tags={ASSET_PARTITION_RANGE_START_TAG: START, ASSET_PARTITION_RANGE_END_TAG: END},
    )
    instance.report_dagster_event(
        dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=run.job_name, pid=pid),
        run_id=run.run_id,
    )
    if process is not None:
        instance.add_run_tags(run.run_id, {RUN_PROCESS_TAG: process.as_text()})
    return instance.get_run_by_id(run.run_id)


def hold_the_pool(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    claim = instance.event_log_storage.claim_concurrency_slot(
        WAREHOUSE_POOL, run.run_id, "raw_usage"
    )
    assert claim.is_claimed, claim


def spool_of(system_temp, identity: ProcessIdentity, name: str):
    spool = system_temp / SPOOL_FOLDER / f"{identity.pid}-{identity.start_ticks}-{name}"
    spool.mkdir(parents=True)
    (spool / "2026-03-02_00001.json").write_text('{"data": []}')
    return spool


def test_a_dead_run_whose_pid_another_process_now_has_is_failed_notified_and_frees_the_pool(
    api_server, config_dir, tmp_path, reference, receiver
):
    home = dagster_home(tmp_path)
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    environment = cli_environment(
        home, api_server, config_dir, tmp_path / "warehouse.duckdb", TMPDIR=str(system_temp)
    )
    this_process, first_process = process_identity.this_process(), process_identity.identity_of(1)
    # The process that had this test's pid before it (killed, then the pid reused), holding the
    # pool; and a container's first process before the container restarted.
    reused = ProcessIdentity(this_process.boot_id, this_process.pid, this_process.start_ticks - 1)
    restarted = ProcessIdentity(first_process.boot_id, 1, first_process.start_ticks + 1)
    notifier = AlertNotifier(webhook_url=receiver.url, webserver_url=UI, backoff_seconds=0.01)
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        dg.build_sensor_context(
            instance=instance, resources={"alert_notifier": notifier}
        ) as sensor_context,
    ):
        run_failure_notifier.evaluate_tick(sensor_context)  # the cursor starts at "now"
        killed = started_run(instance, this_process.pid, reused)
        hold_the_pool(instance, killed)
        before_restart = started_run(instance, 1, restarted)
        alive = started_run(instance, this_process.pid, this_process)
        dead_spool = spool_of(system_temp, reused, "killed")
        live_spool = spool_of(system_temp, this_process, "running")

        completed = run_materialize(START, END, environment, tmp_path, timeout=240)

        assert completed.returncode == 0, completed.stderr[-3000:]
        assert_tables_equal(read_tables(tmp_path / "warehouse.duckdb"), reference.days(START, END))
        status = {
            run.run_id: instance.get_run_by_id(run.run_id).status
            for run in [killed, before_restart, alive]
        }
        assert status == {
            killed.run_id: dg.DagsterRunStatus.FAILURE,
            before_restart.run_id: dg.DagsterRunStatus.FAILURE,
            alive.run_id: dg.DagsterRunStatus.STARTED,  # this very process: still running
        }
        assert not instance.event_log_storage.get_concurrency_run_ids()
        assert not dead_spool.exists() and live_spool.exists()

        run_failure_notifier.evaluate_tick(sensor_context)
    texts = {run_id: text for text in receiver.texts for run_id in status if run_id in text}
    assert set(texts) == {killed.run_id, before_restart.run_id}, receiver.texts
    assert f"pid {this_process.pid} now belongs to another process" in texts[killed.run_id]
    assert "pid 1 now belongs to another process" in texts[before_restart.run_id]
    assert f"{UI}/runs/{killed.run_id}" in texts[killed.run_id]


def run_of_process(home, pid: int) -> str | None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
            if any(entry.dagster_event.pid == pid for entry in starts):
                return run.run_id
    return None


def pool_holder_and_waiter(home, processes, timeout: float = 120):
    """(the process whose run holds the pool's slot, the one whose step waits for it, the run
    of each process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            info = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
        holders, waiters = info.active_run_ids, info.pending_run_ids - info.active_run_ids
        if holders and waiters:
            runs = {process: run_of_process(home, process.pid) for process in processes}
            holding = [process for process in processes if runs[process] in holders]
            waiting = [process for process in processes if runs[process] in waiters]
            if len(holding) == 1 and len(waiting) == 1:
                return holding[0], waiting[0], runs
        for process in processes:
            assert process.poll() is None, "a run ended before the other waited for it"
        time.sleep(0.2)
    raise AssertionError("no run waited for the pool while the other held it")


def test_a_run_killed_while_another_waits_for_the_pool_is_failed_by_the_waiting_run(
    api_server, config_dir, tmp_path, reference
):
    """The waiting run looked for dead runs when it started, while the holder was alive: it
    looks again while it waits, instead of waiting for ever."""
    home = dagster_home(tmp_path)
    environment = cli_environment(home, api_server, config_dir, tmp_path / "warehouse.duckdb")
    api_server.hold.clear()  # the first run to fetch holds the pool until it is killed
    logs = [tmp_path / f"run-{n}.log" for n in range(2)]
    processes = [start_materialize(START, END, environment, tmp_path, log) for log in logs]
    try:
        holding, waiting, runs = pool_holder_and_waiter(home, processes)
        os.killpg(holding.pid, signal.SIGKILL)
        holding.communicate(timeout=30)
        api_server.hold.set()
        waiting.communicate(timeout=120)
    finally:
        api_server.hold.set()
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate(timeout=30)

    assert waiting.returncode == 0, logs[processes.index(waiting)].read_text()[-3000:]
    assert_tables_equal(read_tables(tmp_path / "warehouse.duckdb"), reference.days(START, END))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(runs[holding]).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(runs[waiting]).status == dg.DagsterRunStatus.SUCCESS
        assert not instance.event_log_storage.get_concurrency_run_ids()
