"""Why a run failed, as its event log records it: the first failing step and its error, read the
same way by the run-failure sensor and by `budget-pipeline` when a backfill fails."""

import dagster as dg


def failure_cause(instance: dg.DagsterInstance, run_id: str) -> tuple[str | None, str | None]:
    """(failing step, error text): a `dg.Failure`'s own description when it has one (the line a
    person can act on), else the error; the run's failure when no step failed."""
    step_failures = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1
    ).records
    if step_failures:
        event = step_failures[0].event_log_entry.dagster_event
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return event.step_key, data.user_failure_data.description
        return event.step_key, data.error.message if data.error else event.message
    run_failures = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.RUN_FAILURE, limit=1
    ).records
    if run_failures:
        event = run_failures[0].event_log_entry.dagster_event
        run_error = getattr(event.event_specific_data, "error", None)
        return None, run_error.message if run_error else event.message
    return None, None
