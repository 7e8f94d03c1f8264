"""Housekeeping of the Dagster instance on behalf of the warehouse: runs whose process died are
marked failed and their `duckdb_warehouse` pool slots freed (docs/reliability.md)."""

import logging
import os

import dagster as dg

from budget_pipeline.dagster_internals import SqliteRunStorage

# The newest unfinished runs looked at by each run: a killed run is noticed by the next one.
UNFINISHED_RUNS_CHECKED = 50
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def _process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_runs(instance: dg.DagsterInstance, log=None) -> list[str]:
    """Mark every run whose process is gone as failed and free the pool slots it held.

    A run killed mid-step (SIGKILL, OOM, a reboot) never frees its pool slot, and Dagster only
    frees slots of dead runs through the daemon's run monitoring, so every later run would wait
    on "Step blocked by limit for pool duckdb_warehouse" forever; a run killed between two steps
    holds no slot but would show as started forever. DuckDB releases a dead process's file lock
    by itself; this makes the pool follow the same rule. Only for instances on local SQLite
    storage, whose runs all ran on this machine (so a pid can be checked).
    Returns the ids of the runs marked failed.
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
            starts = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
            pids = {e.dagster_event.pid for e in starts if e.dagster_event and e.dagster_event.pid}
            if not pids or any(_process_is_alive(pid) for pid in pids):
                continue
            instance.report_run_failed(
                run,
                message=f"The run's process (pid {', '.join(map(str, sorted(pids)))}) died "
                "without ending the run; marked failed (and its warehouse pool slot, if it held "
                "one, freed).",
            )
        else:
            continue
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        log.warning(f"run {run_id}: its process is gone; marked failed, its pool slot freed")
        released.append(run_id)
    return released
