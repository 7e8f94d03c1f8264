"""The run-failure sensor: every failed run of the pipeline is notified, once (docs/operations.md,
"Sensors"). It reads Dagster's run records and event log, never the DuckDB file."""

import time
from collections.abc import Callable, Iterable

import dagster as dg

from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.budget.jobs import budget_daily_job
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.defs.operations.failure_cause import failure_cause
from budget_pipeline.notify import run_failure
from budget_pipeline.notify.delivery import (
    DELIVERY_BUDGET_SECONDS,
    RECORDS_PER_TICK,
    DeliveryBudget,
)

BUDGET_ASSET_KEYS = frozenset(key for asset in budget_assets for key in asset.keys)


def is_pipeline_run(job_name: str, asset_keys: Iterable[dg.AssetKey]) -> bool:
    """The scheduled job, or any run materialising a budget asset: the UI's and the CLI's
    materialisations run as implicit asset jobs (`__ASSET_JOB…`) with no job of our own."""
    return job_name == budget_daily_job.name or bool(BUDGET_ASSET_KEYS.intersection(asset_keys))


def _assets_of_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> set[dg.AssetKey]:
    """What the run set out to materialise. An ad-hoc asset job can carry an empty
    asset_selection, but every run announces each asset it plans before its first step."""
    if run.asset_selection:
        return set(run.asset_selection)
    planned = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
    ).records
    return {record.asset_key for record in planned if record.asset_key is not None}


def _run_failure_text(
    instance: dg.DagsterInstance, run: dg.DagsterRun, alert_notifier: AlertNotifier
) -> str:
    """Job, partitions, the first failing step and the first line of its error, and a link."""
    step_key, error = failure_cause(instance, run.run_id)
    return run_failure.run_failure_message(
        job_name=run.job_name,
        run_id=run.run_id,
        partitions=run_failure.partition_label(run.tags),
        step_key=step_key,
        error=error,
        run_link=alert_notifier.link(f"runs/{run.run_id}"),
    )


def _newest_run_failure(instance: dg.DagsterInstance) -> int:
    newest = instance.fetch_run_status_changes(
        dg.DagsterEventType.RUN_FAILURE, limit=1, ascending=False
    ).records
    return newest[0].storage_id if newest else 0


def build_run_failure_notifier(
    delivery_budget_seconds: float = DELIVERY_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    name: str = "run_failure_notifier",
) -> dg.SensorDefinition:
    """A plain sensor that reads run-failure events itself, not a `run_failure_sensor`: that one
    owns its cursor and moves it past a failure whether or not the notification got through.
    Reading the instance's event log sees every run, including those `dagster asset
    materialize` launches outside any code location; `is_pipeline_run` keeps this pipeline's.
    `clock` is injectable so a test can spend the tick's delivery budget."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=30,
        description="Notifies every failed run of the pipeline: job, partitions, step, first "
        "error line and a link to the run. An undelivered notification is retried on later "
        "ticks until it gets through, and never sent twice.",
        tags={"team": "finops-data"},
    )
    def run_failure_notifier(
        context: dg.SensorEvaluationContext, alert_notifier: AlertNotifier
    ) -> dg.SkipReason:
        instance = context.instance
        if not context.cursor:
            # Like Dagster's run-status sensors: a newly started sensor reports what fails from
            # now on, not the instance's whole history.
            start = run_failure.FailureCursor(after_storage_id=_newest_run_failure(instance))
            context.update_cursor(start.to_json())
            return dg.SkipReason("started: runs failing from now on are notified")
        cursor = run_failure.FailureCursor.from_json(context.cursor)
        failures = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(
                event_type=dg.DagsterEventType.RUN_FAILURE,
                after_storage_id=cursor.after_storage_id,
            ),
            limit=RECORDS_PER_TICK,
            ascending=True,
        ).records
        for record in failures:
            cursor.after_storage_id = record.storage_id
            run = instance.get_run_by_id(record.event_log_entry.run_id)
            if (
                run is not None
                and run.run_id not in cursor.pending
                and is_pipeline_run(run.job_name, _assets_of_run(instance, run))
            ):
                cursor.pending.append(run.run_id)
        budget = DeliveryBudget(delivery_budget_seconds, clock)
        sent, undelivered, out_of_time = [], [], []
        for run_id in list(cursor.pending):
            remaining = budget.remaining()
            if remaining <= 0:
                out_of_time.append(run_id)
                continue
            run = instance.get_run_by_id(run_id)
            if run is None:  # deleted since it failed: nothing left to link to
                cursor.pending.remove(run_id)
                continue
            text = _run_failure_text(instance, run, alert_notifier)
            if alert_notifier.notify(text, context.log, within_seconds=remaining):
                cursor.pending.remove(run_id)
                sent.append(run_id)
            else:
                undelivered.append(run_id)
        context.update_cursor(cursor.to_json())
        summary = [f"notified: {', '.join(sent) or 'none'}"]
        if undelivered:
            summary.append(f"delivery failed, retried next tick: {', '.join(undelivered)}")
        if out_of_time:
            summary.append(
                f"left for the next tick (this tick's {delivery_budget_seconds:g} s of delivery "
                f"used up): {', '.join(out_of_time)}"
            )
        return dg.SkipReason("; ".join(summary))

    return run_failure_notifier


run_failure_notifier = build_run_failure_notifier()
