"""The budget alert sensor: one notification when a workstream's month is first forecast over its
budget, and one when it first goes over it (docs/operations.md, "Sensors").

It reads budget_forecast's materialisations from Dagster's event log, never the DuckDB file, so
a tick never contends with a run for the warehouse's write lock.
"""

import datetime as dt
import time
from collections.abc import Callable

import dagster as dg

from budget_pipeline import settings
from budget_pipeline.defs.budget.forecast import AT_RISK
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify.budget_alert import (
    BudgetAlertCursor,
    BudgetAtRisk,
    Decision,
    budget_alert_message,
    decide,
)
from budget_pipeline.notify.delivery import (
    DELIVERY_BUDGET_SECONDS,
    RECORDS_PER_TICK,
    DeliveryBudget,
    utc_today,
)

BUDGET_FORECAST_KEY = dg.AssetKey("budget_forecast")


def _alerts_of(record: dg.EventLogRecord) -> list[BudgetAtRisk]:
    materialization = record.asset_materialization
    if materialization is None or materialization.partition is None:
        return []
    at_risk = materialization.metadata.get("at_risk")
    if at_risk is None:
        return []
    return [
        BudgetAtRisk.from_metadata(materialization.partition, workstream, entry)
        for workstream, entry in sorted(at_risk.value.items())
        if entry.get("status") in AT_RISK
    ]


def build_budget_alert_sensor(
    max_age_days: int = settings.DEFAULT_ALERT_MAX_AGE_DAYS,
    today: Callable[[], dt.date] = utc_today,
    name: str = "budget_alert_sensor",
    delivery_budget_seconds: float = DELIVERY_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> dg.SensorDefinition:
    """`today` and `clock` are injectable so a test can age a backfill and spend the tick's
    delivery time without waiting."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=60,
        description=(
            "One notification per workstream, month and status when a month is first forecast "
            "over its budget and when it first goes over it, read from budget_forecast's "
            f"materialisations. As-of days older than {max_age_days} days are logged only."
        ),
        tags={"team": "finops-data"},
    )
    def budget_alert_sensor(
        context: dg.SensorEvaluationContext, alert_notifier: AlertNotifier
    ) -> dg.SkipReason:
        cursor = BudgetAlertCursor.from_json(context.cursor)
        now = today()
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=BUDGET_FORECAST_KEY, after_storage_id=cursor.after_storage_id
            ),
            limit=RECORDS_PER_TICK,
            ascending=True,
        ).records
        candidates = dict(cursor.pending)
        for record in records:
            cursor.after_storage_id = record.storage_id
            for alert in _alerts_of(record):
                # The newest as-of day speaks for the key: after a backfill, a month's early days
                # are too old to notify, its last days are not.
                seen = candidates.get(alert.key)
                if seen is None or alert.as_of >= seen.as_of:
                    candidates[alert.key] = alert
        delivery = DeliveryBudget(delivery_budget_seconds, clock)
        sent, logged_only, out_of_time = [], [], []
        for key, alert in candidates.items():
            label = f"{alert.workstream} {alert.month} {alert.status}"
            decision = decide(alert, now, cursor.notified, max_age_days)
            if decision is Decision.ALREADY_NOTIFIED:
                cursor.pending.pop(key, None)
                continue
            message = budget_alert_message(
                alert, alert_notifier.link(f"assets/budget_forecast?partition={alert.as_of}")
            )
            if decision is Decision.TOO_OLD:
                context.log.info(f"{label}: as of {alert.as_of}, logged only\n{message}")
                cursor.pending.pop(key, None)
                logged_only.append(label)
                continue
            remaining = delivery.remaining()
            if remaining <= 0:
                cursor.pending[key] = alert
                out_of_time.append(label)
                continue
            if alert_notifier.notify(message, context.log, within_seconds=remaining):
                cursor.notified.add(key)
                cursor.pending.pop(key, None)
                sent.append(label)
            else:
                cursor.pending[key] = alert
        cursor.forget_before(now, max_age_days)
        context.update_cursor(cursor.to_json())
        summary = [
            f"notified: {', '.join(sent) or 'none'}",
            f"logged only (older than {max_age_days} days): {', '.join(logged_only) or 'none'}",
        ]
        if out_of_time:
            summary.append(f"left for the next tick: {', '.join(out_of_time)}")
        if cursor.pending:
            summary.append(f"delivery pending: {len(cursor.pending)}")
        return dg.SkipReason("; ".join(summary))

    return budget_alert_sensor


budget_alert_sensor = build_budget_alert_sensor(max_age_days=settings.alert_max_age_days())
