"""The budget alert sensor against a real instance: after a real backfill, and with hand-made
budget_forecast materialisations for the status changes a month goes through. Notifications go
to a real webhook server on 127.0.0.1."""

import datetime as dt

import dagster as dg
import pytest

from budget_pipeline.defs.budget.budget_alerts import build_budget_alert_sensor
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify.budget_alert import BudgetAlertCursor
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

UI = "http://dagster.example:3000"


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def tick(sensor, instance, receiver, cursor=None):
    notifier = AlertNotifier(webhook_url=receiver.url, webserver_url=UI, backoff_seconds=0.01)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alert_notifier": notifier}
    )
    result = sensor(context)
    return result, context.cursor


def sensor_on(day: str, max_age_days: int = 3):
    return build_budget_alert_sensor(
        max_age_days=max_age_days, today=lambda: dt.date.fromisoformat(day)
    )


def at_risk(status: str, spent: float, forecast: float, budget: float = 1200.0) -> dict:
    return {
        "status": status,
        "month": "2026-04",
        "spent_usd": spent,
        "forecast_usd": forecast,
        "budget_usd": budget,
        "days_left": 10,
        "top_spenders": [["dev.one@example.com", 300.0], ["ci-bot", 120.5]],
    }


def forecast_day(instance, day: str, entries: dict) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="budget_forecast",
            partition=day,
            metadata={"at_risk": dg.MetadataValue.json(entries)},
        )
    )


def test_after_a_backfill_each_recent_status_is_notified_once(pipeline, receiver):
    assert pipeline.materialize("2026-03-01", "2026-04-15").success
    sensor = sensor_on("2026-04-16")
    _, cursor = tick(sensor, pipeline.instance, receiver)
    # the demo budgets: payments heading past its April budget, mobile already past it; March
    # and the first days of April arrived through the backfill and are too old to page anyone
    headlines = sorted(text.splitlines()[0] for text in receiver.texts)
    assert headlines == [
        ":money_with_wings: Budget: mobile is over its 2026-04 budget (as of 2026-04-15)",
        ":money_with_wings: Budget: payments is heading past its 2026-04 budget (as of 2026-04-15)",
    ]
    mobile = next(text for text in receiver.texts if "mobile" in text.splitlines()[0])
    assert "• days left in the month: 15" in mobile
    assert "• biggest spenders this month: " in mobile
    assert f"{UI}/assets/budget_forecast?partition=2026-04-15" in mobile

    # a restarted daemon (a new sensor, the stored cursor) and a re-materialised day send nothing
    assert pipeline.materialize("2026-04-15", selection="budget_forecast").success
    _, cursor = tick(sensor_on("2026-04-16"), pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 2


def test_a_backfill_of_old_days_is_logged_only(pipeline, receiver):
    assert pipeline.materialize("2026-03-01", "2026-04-15").success
    result, _ = tick(sensor_on("2026-06-01"), pipeline.instance, receiver)
    assert receiver.texts == []
    assert "logged only (older than 3 days): " in result.skip_message
    assert "payments 2026-04 forecast over budget" in result.skip_message


def test_heading_past_then_past_the_budget_notifies_twice_and_never_again(instance, receiver):
    sensor = sensor_on("2026-04-21")
    forecast_day(instance, "2026-04-18", {"payments": at_risk("on track", 500, 1100)})
    forecast_day(instance, "2026-04-19", {"payments": at_risk("forecast over budget", 700, 1300)})
    _, cursor = tick(sensor, instance, receiver)
    assert len(receiver.texts) == 1
    assert "payments is heading past its 2026-04 budget" in receiver.texts[0]
    assert "• spent so far: $700.00 of $1,200.00" in receiver.texts[0]
    assert "• forecast for the month: $1,300.00 (108% of budget)" in receiver.texts[0]
    assert "dev.one@example.com $300.00, ci-bot $120.50" in receiver.texts[0]

    # back on track, then heading past again: already said for this month
    forecast_day(instance, "2026-04-20", {"payments": at_risk("forecast over budget", 800, 1250)})
    _, cursor = tick(sensor, instance, receiver, cursor)
    assert len(receiver.texts) == 1

    forecast_day(instance, "2026-04-21", {"payments": at_risk("over budget", 1250, 1500)})
    _, cursor = tick(sensor, instance, receiver, cursor)
    assert len(receiver.texts) == 2 and "payments is over its 2026-04 budget" in receiver.texts[1]
    forecast_day(instance, "2026-04-21", {"payments": at_risk("over budget", 1260, 1510)})
    tick(sensor, instance, receiver, cursor)
    assert len(receiver.texts) == 2


def test_an_undelivered_budget_alert_is_retried_and_sent_once(instance, receiver):
    sensor = sensor_on("2026-04-20")
    forecast_day(instance, "2026-04-19", {"TOTAL": at_risk("forecast over budget", 9000, 21000)})
    receiver.statuses = [500, 500, 500]
    _, cursor = tick(sensor, instance, receiver)
    assert receiver.texts == []
    assert list(BudgetAlertCursor.from_json(cursor).pending)

    _, cursor = tick(sensor, instance, receiver, cursor)
    assert len(receiver.texts) == 1
    assert "the organisation is heading past its 2026-04 budget" in receiver.texts[0]
    tick(sensor, instance, receiver, cursor)
    assert len(receiver.texts) == 1
