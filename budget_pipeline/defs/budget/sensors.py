"""The combined spend-alert sensor and the run-failure sensor (docs/operations.md).

Both read only Dagster's own storage (event log, run records), never the DuckDB file: a sensor
tick must never contend with a run for the warehouse's single write lock.
"""

import datetime as dt
import time
from collections.abc import Callable, Iterable

import dagster as dg

from budget_pipeline import settings
from budget_pipeline.defs.budget.assets import budget_assets, daily_spend
from budget_pipeline.defs.budget.jobs import budget_daily_job
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify import spend_alert as alerts

# Records read per tick; a long backfill's materialisations are worked through over a few ticks.
RECORDS_PER_TICK = 1000
# Time a tick may spend delivering, well under Dagster's 60 s sensor timeout (a tick that passes
# it is killed and its cursor lost); what is left undelivered waits in the cursor for next tick.
DELIVERY_BUDGET_SECONDS = 40.0

DAILY_SPEND_KEY = daily_spend.key
BUDGET_ASSET_KEYS = frozenset(key for asset in budget_assets for key in asset.keys)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _spend_day(record: dg.EventLogRecord) -> alerts.SpendDay | None:
    materialization = record.asset_materialization
    if materialization is None or materialization.partition is None:
        return None
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    return alerts.SpendDay.from_metadata(materialization.partition, metadata)


def _latest_spend_days(
    instance: dg.DagsterInstance, cursor: alerts.AlertCursor
) -> tuple[dict[str, alerts.SpendDay], int | None]:
    """The newest materialisation of each day seen since the cursor, plus the pending days."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DAILY_SPEND_KEY, after_storage_id=cursor.after_storage_id),
        limit=RECORDS_PER_TICK,
        ascending=True,
    )
    latest: dict[str, alerts.SpendDay] = {}
    last_storage_id = cursor.after_storage_id
    for record in result.records:
        last_storage_id = record.storage_id
        spend = _spend_day(record)
        if spend is not None:
            latest[spend.day.isoformat()] = spend  # ascending: a later record replaces
    for day in sorted(cursor.pending - latest.keys()):
        newest = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=DAILY_SPEND_KEY, asset_partitions=[day]), limit=1
        ).records
        spend = _spend_day(newest[0]) if newest else None
        if spend is not None:
            latest[day] = spend
    return latest, last_storage_id


class DeliveryBudget:
    """The delivery time left in one tick; `clock` is injectable so a test can make each delivery
    take as long as it needs without waiting for it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self._seconds, self._clock = seconds, clock
        self._started = clock()

    def remaining(self) -> float:
        return self._seconds - (self._clock() - self._started)


def build_spend_alert_sensor(
    max_age_days: int = settings.DEFAULT_ALERT_MAX_AGE_DAYS,
    today: Callable[[], dt.date] = utc_today,
    name: str = "spend_alert_sensor",
    delivery_budget_seconds: float = DELIVERY_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> dg.SensorDefinition:
    """`today` is injectable so a test can place a backfilled day inside or outside the age,
    `clock` so that it can spend the tick's delivery budget."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=60,
        description=(
            "One notification per day whose combined spend alert fired (docs/rules.md), read from "
            f"daily_spend's materialisations. Days older than {max_age_days} days are logged "
            "only; a day is never notified twice."
        ),
        tags={"team": "finops-data"},
    )
    def spend_alert_sensor(
        context: dg.SensorEvaluationContext, alert_notifier: AlertNotifier
    ) -> dg.SkipReason:
        cursor = alerts.AlertCursor.from_json(context.cursor)
        now = today()
        latest, last_storage_id = _latest_spend_days(context.instance, cursor)
        budget = DeliveryBudget(delivery_budget_seconds, clock)
        sent, logged_only, out_of_time = [], [], []
        for day, spend in sorted(latest.items()):
            decision = alerts.decide(spend, now, cursor.notified, max_age_days)
            if decision is alerts.Decision.NO_ALERT:
                cursor.pending.discard(day)  # re-materialised without an alert: nothing to send
                continue
            if decision is alerts.Decision.ALREADY_NOTIFIED:
                context.log.info(f"{day}: alert already notified, not sending it again")
                continue
            message = alerts.spend_alert_message(
                spend, alert_notifier.link(f"assets/daily_spend?partition={day}")
            )
            if decision is alerts.Decision.TOO_OLD:
                context.log.info(
                    f"{day}: alert is {alerts.age_days(spend.day, now)} days old "
                    f"(max {max_age_days}): logged only\n{message}"
                )
                logged_only.append(day)
                continue
            remaining = budget.remaining()
            if remaining <= 0:
                cursor.pending.add(day)
                out_of_time.append(day)
                continue
            if alert_notifier.notify(message, context.log, within_seconds=remaining):
                cursor.notified.add(day)
                cursor.pending.discard(day)
                sent.append(day)
            else:
                cursor.pending.add(day)  # retried next tick, until it ages out
        cursor.after_storage_id = last_storage_id
        cursor.forget_before(now, max_age_days)
        context.update_cursor(cursor.to_json())
        summary = [
            f"notified: {', '.join(sent) or 'none'}",
            f"logged only (older than {max_age_days} days): {', '.join(logged_only) or 'none'}",
        ]
        if out_of_time:
            summary.append(
                f"left for the next tick (this tick's {delivery_budget_seconds:g} s of delivery "
                f"used up): {', '.join(out_of_time)}"
            )
        if cursor.pending:
            summary.append(f"delivery pending: {', '.join(sorted(cursor.pending))}")
        return dg.SkipReason("; ".join(summary))

    return spend_alert_sensor


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
    step_key, error = None, None
    step_failures = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1
    ).records
    if step_failures:
        event = step_failures[0].event_log_entry.dagster_event
        data = event.step_failure_data
        step_key = event.step_key
        if data.user_failure_data is not None and data.user_failure_data.description:
            error = data.user_failure_data.description
        else:
            error = data.error.message if data.error else event.message
    if error is None:
        run_failures = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE, limit=1
        ).records
        if run_failures:
            entry = run_failures[0].event_log_entry
            run_error = getattr(entry.dagster_event.event_specific_data, "error", None)
            error = run_error.message if run_error else entry.dagster_event.message
    return alerts.run_failure_message(
        job_name=run.job_name,
        run_id=run.run_id,
        partitions=alerts.partition_label(run.tags),
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
            start = alerts.FailureCursor(after_storage_id=_newest_run_failure(instance))
            context.update_cursor(start.to_json())
            return dg.SkipReason("started: runs failing from now on are notified")
        cursor = alerts.FailureCursor.from_json(context.cursor)
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
spend_alert_sensor = build_spend_alert_sensor(max_age_days=settings.alert_max_age_days())
