"""The combined spend-alert sensor (docs/operations.md, "Sensors").

It reads only Dagster's own storage (the event log), never the DuckDB file: a sensor tick must
never contend with a run for the warehouse's single write lock.
"""

import datetime as dt
import time
from collections.abc import Callable

import dagster as dg

from budget_pipeline import settings
from budget_pipeline.defs.budget.assets import daily_spend
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify import spend_alert as alerts
from budget_pipeline.notify.alert_age import age_days, aged_out_undelivered
from budget_pipeline.notify.delivery import (
    DELIVERY_BUDGET_SECONDS,
    RECORDS_PER_TICK,
    DeliveryBudget,
    utc_today,
)

DAILY_SPEND_KEY = daily_spend.key


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
        sent, logged_only, out_of_time, aged_out = [], [], [], []
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
            if decision is alerts.Decision.TOO_OLD and day in cursor.pending:
                context.log.error(aged_out_undelivered(day, spend.day, now, max_age_days, message))
                cursor.pending.discard(day)
                aged_out.append(day)
                continue
            if decision is alerts.Decision.TOO_OLD:
                context.log.info(
                    f"{day}: alert is {age_days(spend.day, now)} days old "
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
        if aged_out:
            summary.append(f"NOT delivered, too old to retry: {', '.join(aged_out)}")
        return dg.SkipReason("; ".join(summary))

    return spend_alert_sensor


spend_alert_sensor = build_spend_alert_sensor(max_age_days=settings.alert_max_age_days())
