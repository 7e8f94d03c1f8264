"""Housekeeping of the Dagster instance on behalf of the warehouse: runs whose process died are
marked failed, their `duckdb_warehouse` pool slots freed and their spooled pages removed
(docs/reliability.md)."""

import logging

import dagster as dg

from budget_pipeline import process_identity
from budget_pipeline.dagster_internals import SqliteRunStorage
from budget_pipeline.ingest.page_staging import remove_stale_spools
from budget_pipeline.process_identity import ProcessIdentity

# The newest unfinished runs looked at by each run: a killed run is noticed by the next one.
UNFINISHED_RUNS_CHECKED = 50
# The run's process, as `process_identity` names it: written by the run itself when it starts
# (`record_run_process`), so that a process that merely reuses its pid is not taken for it.
RUN_PROCESS_TAG = "budget_pipeline/run_process"
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def record_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    """Tag the run with the identity of the process running it (called from that process)."""
    identity = process_identity.this_process()
    if identity is not None:
        instance.add_run_tags(run_id, {RUN_PROCESS_TAG: identity.as_text()})


def _why_dead(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """Why the run's process is known to be gone, or None while it may still run (or nothing
    says which process ran it)."""
    recorded = ProcessIdentity.from_text(run.tags.get(RUN_PROCESS_TAG))
    if recorded is not None:
        if process_identity.is_running(recorded):
            return None
        if recorded.boot_id != process_identity.boot_id():
            return f"pid {recorded.pid} ran before the machine restarted"
        if process_identity.pid_exists(recorded.pid):
            return f"pid {recorded.pid} now belongs to another process"
        return f"pid {recorded.pid} no longer exists"
    # A run that died before tagging itself (or one of an earlier version): the pid in its
    # RUN_START event, which a process started after the run cannot have been.
    starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
    started = {
        e.dagster_event.pid: e.timestamp for e in starts if e.dagster_event and e.dagster_event.pid
    }
    if not started or any(process_identity.has_run_since(pid, t) for pid, t in started.items()):
        return None
    pids = ", ".join(map(str, sorted(started)))
    return f"pid {pids} no longer exists, or belongs to a process started after the run"


def fail_dead_runs(instance: dg.DagsterInstance, log=None) -> list[str]:
    """Mark every run whose process is gone as failed, free the pool slots it held and remove
    the spools of dead processes.

    A run killed mid-step (SIGKILL, OOM, a reboot, a container restart) never frees its pool
    slot, and Dagster only frees slots of dead runs through the daemon's run monitoring, so every
    later run would wait on "Step blocked by limit for pool duckdb_warehouse" forever; a run
    killed between two steps holds no slot but would show as started forever. DuckDB releases a
    dead process's file lock by itself; this makes the pool follow the same rule. The run is
    failed through the instance, so the run-failure sensor notifies it like any failed run.
    Only for instances on local SQLite storage, whose runs all ran on this machine (so their
    processes can be checked). Returns the ids of the runs marked failed.
    """
    if not isinstance(instance.run_storage, SqliteRunStorage):
        return []
    log = log or logging.getLogger("budget_pipeline.warehouse")
    released = []
    unfinished = instance.get_run_ids(
        filters=dg.RunsFilter(statuses=_UNFINISHED), limit=UNFINISHED_RUNS_CHECKED
    )
    for run_id in sorted(
        set(instance.event_log_storage.get_concurrency_run_ids()) | set(unfinished)
    ):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status in _FINISHED:
            pass
        elif run.status in _UNFINISHED:
            why = _why_dead(instance, run)
            if why is None:
                continue
            # Another run may have failed it meanwhile: one failure, one notification.
            if instance.get_run_by_id(run_id).status not in _UNFINISHED:
                continue
            instance.report_run_failed(
                run,
                message=f"The run's process is gone ({why}) without ending the run: killed, "
                "out of memory, or its machine or container restarted. Marked failed (and its "
                "warehouse pool slot, if it held one, freed); run the same range again.",
            )
        else:
            continue
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        log.warning(f"run {run_id}: its process is gone; marked failed, its pool slot freed")
        released.append(run_id)
    if released:
        remove_stale_spools()
    return released
