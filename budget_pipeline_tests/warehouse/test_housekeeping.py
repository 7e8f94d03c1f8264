"""Which runs the housekeeping takes for dead: a run is judged by the process it recorded (pid,
start time, boot), or, when it recorded none, by whether the process that has its pid now was
already running when the run started."""

import os
import subprocess
import time

import dagster as dg

from budget_pipeline import process_identity
from budget_pipeline.process_identity import ProcessIdentity
from budget_pipeline.warehouse.housekeeping import RUN_PROCESS_TAG, fail_dead_runs


def started_run(instance, pid: int, recorded: ProcessIdentity | None = None, at=None):
    run = instance.create_run_for_job(
        dg.GraphDefinition(name="a_run").to_job(), status=dg.DagsterRunStatus.STARTED
    )
    event = dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=run.job_name, pid=pid)
    instance.store_event(
        dg.EventLogEntry(
            error_info=None,
            level="DEBUG",
            user_message="",
            run_id=run.run_id,
            timestamp=at or time.time(),
            dagster_event=event,
        )
    )
    if recorded is not None:
        instance.add_run_tags(run.run_id, {RUN_PROCESS_TAG: recorded.as_text()})
    return run


def failure_message(instance, run) -> str | None:
    failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return failures[0].dagster_event.message if failures else None


def test_a_process_identity_is_written_and_read_back_and_nothing_else_is_read():
    this_process = process_identity.this_process()
    assert this_process.pid == os.getpid()
    assert ProcessIdentity.from_text(this_process.as_text()) == this_process
    for junk in [None, "", "1234", "boot/x/1", "boot/1/", "/1/2", "a/b/c/d"]:
        assert ProcessIdentity.from_text(junk) is None


def test_runs_are_judged_by_the_process_they_recorded(instance):
    this_process = process_identity.this_process()
    alive = started_run(instance, this_process.pid, this_process)
    reused = started_run(
        instance,
        this_process.pid,
        ProcessIdentity(this_process.boot_id, this_process.pid, this_process.start_ticks + 1),
    )
    other_boot = started_run(
        instance, this_process.pid, ProcessIdentity("another-boot", this_process.pid, 1)
    )

    assert sorted(fail_dead_runs(instance)) == sorted([reused.run_id, other_boot.run_id])
    assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
    assert f"pid {this_process.pid} now belongs to another process" in failure_message(
        instance, reused
    )
    assert "ran before the machine restarted" in failure_message(instance, other_boot)


def test_a_run_that_recorded_no_process_is_judged_by_when_its_pids_process_started(instance):
    with subprocess.Popen(["sleep", "60"]) as newer:
        try:
            # a run that started an hour ago with the pid that `sleep` has now, and one that
            # started now with the pid of this test's process (started before it)
            reused = started_run(instance, newer.pid, at=time.time() - 3600)
            alive = started_run(instance, os.getpid())

            assert fail_dead_runs(instance) == [reused.run_id]
            assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
            assert "belongs to a process started after the run" in failure_message(instance, reused)
        finally:
            newer.kill()
