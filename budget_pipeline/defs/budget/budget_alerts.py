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
from budget_pipeline.notify.alert_age import aged_out_undelivered
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


class NewestForecast:
    """The newest forecast of each month, read once per tick: the latest as-of day of the month
    that has been materialised, in its latest materialisation. An alert is sent only when that
    forecast still says it, so a month back on track (or re-budgeted) since the alert was first
    seen is not reported as heading past its budget."""

    def __init__(self, instance: dg.DagsterInstance):
        self._instance = instance
        self._days: list[str] | None = None
        self._alerts: dict[str, dict[str, BudgetAtRisk]] = {}

    def _newest_day(self, month: str) -> str | None:
        if self._days is None:
            self._days = sorted(self._instance.get_materialized_partitions(BUDGET_FORECAST_KEY))
        in_month = [day for day in self._days if day.startswith(f"{month}-")]
        return in_month[-1] if in_month else None

    def alert_of(self, workstream: str, month: str) -> BudgetAtRisk | None:
        """The workstream's alert in the month's newest forecast; None when it is not at risk."""
        day = self._newest_day(month)
        if day is None:
            return None
        if day not in self._alerts:
            newest = self._instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=BUDGET_FORECAST_KEY, asset_partitions=[day]),
                limit=1,
            ).records
            alerts = _alerts_of(newest[0]) if newest else []
            self._alerts[day] = {
                alert.workstream: alert for alert in alerts if alert.month == month
            }
        return self._alerts[day].get(workstream)


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
        newest_forecast = NewestForecast(context.instance)
        sent, logged_only, out_of_time, withdrawn, aged_out = [], [], [], [], []
        for key, alert in candidates.items():
            label = alert.label
            decision = decide(alert, now, cursor.notified, max_age_days)
            if decision is Decision.ALREADY_NOTIFIED:
                cursor.pending.pop(key, None)
                continue
            current = newest_forecast.alert_of(alert.workstream, alert.month)
            if current is None or current.key != key:
                context.log.info(
                    f"{label}: as of {alert.as_of}, but the month's newest forecast says "
                    f"{current.label if current else 'not at risk'}: not sent"
                )
                cursor.pending.pop(key, None)
                withdrawn.append(label)
                continue
            alert = current  # the newest numbers of the same news
            decision = decide(alert, now, cursor.notified, max_age_days)
            message = budget_alert_message(
                alert, alert_notifier.link(f"assets/budget_forecast?partition={alert.as_of}")
            )
            if decision is Decision.TOO_OLD and key in cursor.pending:
                context.log.error(
                    aged_out_undelivered(label, alert.as_of, now, max_age_days, message)
                )
                cursor.pending.pop(key)
                aged_out.append(label)
                continue
            if decision is Decision.TOO_OLD:
                context.log.info(f"{label}: as of {alert.as_of}, logged only\n{message}")
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
        if withdrawn:
            summary.append(f"no longer the newest forecast's verdict: {', '.join(withdrawn)}")
        if out_of_time:
            summary.append(f"left for the next tick: {', '.join(out_of_time)}")
        if cursor.pending:
            summary.append(f"delivery pending: {len(cursor.pending)}")
        if aged_out:
            summary.append(f"NOT delivered, too old to retry: {', '.join(aged_out)}")
        return dg.SkipReason("; ".join(summary))

    return budget_alert_sensor


budget_alert_sensor = build_budget_alert_sensor(max_age_days=settings.alert_max_age_days())
