"""The summary while another process writes the warehouse: DuckDB lets no reader in while a
writer has the file, and a backfill's run holds it for its whole fetch. The summary waits a few
seconds, then says in one line who holds it (the Dagster run, when it is one), instead of
waiting minutes and ending in a traceback."""

import re

SUMMARY_LOCK_WAIT_SECONDS = 5.0

# DuckDB's lock error: `... Conflicting lock is held in /usr/bin/python3.11 (PID 4242) ...`.
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def lock_holder(error_text: str) -> tuple[str, int] | None:
    """(program, pid) of the process holding the file, as DuckDB's lock error names it."""
    match = _HOLDER.search(error_text)
    return (match.group("program"), int(match.group("pid"))) if match else None


def run_of_process(dagster_home: str | None, pid: int) -> tuple[str, str | None] | None:
    """(run id, step) of the Dagster run in progress whose process is `pid`, as its events
    record it; a run's steps may run in processes of their own."""
    if not dagster_home:
        return None
    # Only when the warehouse is busy: a summary never pays for importing Dagster otherwise.
    import dagster as dg

    in_progress = [
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    with dg.DagsterInstance.from_config(dagster_home) as instance:
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=in_progress)):
            found, step = False, None
            for record in instance.get_records_for_run(run.run_id).records:
                event = record.event_log_entry.dagster_event
                if event is None or event.pid != pid:
                    continue
                found = True
                if event.event_type == dg.DagsterEventType.STEP_START:
                    step = event.step_key
            if found:
                return run.run_id, step
    return None


def busy_line(path: str, error: Exception, dagster_home: str | None) -> str:
    """One line: the warehouse is busy, and with what."""
    text = str(error.__cause__ or error)
    if "lock" not in text.lower():
        return str(error)
    holder = lock_holder(text)
    waited = f"waited {SUMMARY_LOCK_WAIT_SECONDS:g} s"
    if holder is None:
        return f"the warehouse {path} is busy ({waited}): {text.splitlines()[0]}"
    program, pid = holder
    if run := run_of_process(dagster_home, pid):
        run_id, step = run
        in_step = f", step {step}" if step else ""
        return (
            f"the warehouse {path} is busy ({waited}): Dagster run {run_id} (pid {pid}{in_step}) "
            "is writing it; run the summary again when that run ends"
        )
    not_a_run = ", not a Dagster run in progress" if dagster_home else ""
    return (
        f"the warehouse {path} is busy ({waited}): process {pid} ({program}) holds it{not_a_run}; "
        "run the summary again once it has closed the file"
    )
