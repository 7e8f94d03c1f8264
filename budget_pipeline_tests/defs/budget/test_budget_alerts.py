"""The budget alert sensor against a real instance: after a real backfill, and with hand-made
budget_forecast materialisations for the status changes a month goes through. Notifications go
to a real webhook server on 127.0.0.1."""

import datetime as dt

import dagster as dg
import pandas as pd
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


def at_risk(
    status: str, spent: float, forecast: float, budget: float = 1200.0, month: str = "2026-04"
) -> dict:
    return {
        "status": status,
        "month": month,
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


def set_budget(pipeline, workstream: str, budget_usd: float) -> None:
    budgets = pd.read_csv(pipeline.config_dir / "budgets.csv", dtype=str, keep_default_na=False)
    budgets.loc[budgets["workstream"] == workstream, "budget_usd"] = f"{budget_usd:g}"
    budgets.to_csv(pipeline.config_dir / "budgets.csv", index=False)


def forecast_of(pipeline, workstream: str, as_of: str) -> pd.Series:
    frame = pipeline.table("budget_forecast")
    rows = frame.loc[(frame["workstream"] == workstream) & (frame["as_of"] == pd.Timestamp(as_of))]
    return rows.iloc[0]


def test_going_past_a_changed_budget_is_notified_again(pipeline, receiver):
    assert pipeline.materialize("2026-04-01", "2026-04-14").success
    _, cursor = tick(sensor_on("2026-04-15"), pipeline.instance, receiver)
    assert any("mobile is over its 2026-04 budget" in text for text in receiver.texts)
    sent_before = len(receiver.texts)

    # mobile's budget is raised above what it has spent: heading past the new budget is news
    before = forecast_of(pipeline, "mobile", "2026-04-14")
    raised = round(float(before["spent_to_date_usd"]) + 50.0)
    assert float(before["forecast_usd"]) > raised
    set_budget(pipeline, "mobile", raised)
    assert pipeline.materialize("2026-04-14", selection="budget_forecast").success
    _, cursor = tick(sensor_on("2026-04-15"), pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == sent_before + 1
    assert "mobile is heading past its 2026-04 budget" in receiver.texts[-1]
    assert f"of ${raised:,.2f}" in receiver.texts[-1]

    # and going over the new budget is news too, once
    assert pipeline.materialize("2026-04-15").success
    after = forecast_of(pipeline, "mobile", "2026-04-15")
    assert float(after["spent_to_date_usd"]) > raised
    _, cursor = tick(sensor_on("2026-04-16"), pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == sent_before + 2
    assert "mobile is over its 2026-04 budget (as of 2026-04-15)" in receiver.texts[-1]
    assert (
        f"• spent so far: ${float(after['spent_to_date_usd']):,.2f} of ${raised:,.2f}"
        in (receiver.texts[-1])
    )
    assert pipeline.materialize("2026-04-15", selection="budget_forecast").success
    tick(sensor_on("2026-04-16"), pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == sent_before + 2


def test_a_pending_alert_is_checked_against_the_newest_forecast_before_it_is_sent(
    pipeline, receiver
):
    assert pipeline.materialize("2026-04-01", "2026-04-14").success
    receiver.statuses = [503] * 6  # both alerts fail, three attempts each
    result, cursor = tick(sensor_on("2026-04-15"), pipeline.instance, receiver)
    assert receiver.texts == [] and len(BudgetAlertCursor.from_json(cursor).pending) == 2

    # payments' budget is raised past its forecast while the webhook is down: back on track
    payments = forecast_of(pipeline, "payments", "2026-04-14")
    set_budget(pipeline, "payments", round(float(payments["forecast_usd"]) + 500.0))
    assert pipeline.materialize("2026-04-14", selection="budget_forecast").success
    result, cursor = tick(sensor_on("2026-04-15"), pipeline.instance, receiver, cursor)
    headlines = [text.splitlines()[0] for text in receiver.texts]
    assert headlines == [
        ":money_with_wings: Budget: mobile is over its 2026-04 budget (as of 2026-04-14)"
    ]
    assert "no longer the newest forecast's verdict: payments 2026-04 forecast over budget" in (
        result.skip_message
    )
    assert BudgetAlertCursor.from_json(cursor).pending == {}


def test_an_alert_back_on_track_in_a_newer_forecast_is_not_sent(instance, receiver):
    forecast_day(instance, "2026-04-19", {"payments": at_risk("forecast over budget", 700, 1300)})
    receiver.statuses = [500, 500, 500]
    _, cursor = tick(sensor_on("2026-04-20"), instance, receiver)
    assert receiver.texts == [] and list(BudgetAlertCursor.from_json(cursor).pending)

    forecast_day(instance, "2026-04-20", {"payments": at_risk("on track", 720, 1150)})
    result, cursor = tick(sensor_on("2026-04-20"), instance, receiver, cursor)
    assert receiver.texts == []
    assert "no longer the newest forecast's verdict: payments" in result.skip_message
    assert BudgetAlertCursor.from_json(cursor).pending == {}


def test_an_alert_age_of_a_month_or_more_never_sends_a_month_twice(instance, receiver):
    january = {"payments": at_risk("over budget", 1300, 1300, month="2026-01")}
    forecast_day(instance, "2026-01-31", january)
    _, cursor = tick(sensor_on("2026-02-01", max_age_days=29), instance, receiver)
    assert len(receiver.texts) == 1

    # 2026-01-31 is 29 days old on 2026-03-01: still news, so still remembered as sent
    _, cursor = tick(sensor_on("2026-03-01", max_age_days=29), instance, receiver, cursor)
    forecast_day(instance, "2026-01-31", january)
    result, cursor = tick(sensor_on("2026-03-01", max_age_days=29), instance, receiver, cursor)
    assert len(receiver.texts) == 1, result.skip_message


def test_an_alert_that_ages_out_while_the_webhook_is_down_is_logged_as_not_delivered(
    instance, receiver, capfd
):
    forecast_day(instance, "2026-04-19", {"TOTAL": at_risk("over budget", 21000, 24000)})
    cursor = None
    for today in ("2026-04-20", "2026-04-21", "2026-04-22"):
        receiver.statuses = [500, 500, 500]
        result, cursor = tick(sensor_on(today), instance, receiver, cursor)
        assert "delivery pending: 1" in result.skip_message
    capfd.readouterr()

    receiver.statuses = [500, 500, 500]
    result, cursor = tick(sensor_on("2026-04-23"), instance, receiver, cursor)
    assert receiver.texts == []
    assert "NOT delivered, too old to retry: TOTAL 2026-04 over budget" in result.skip_message
    logged = capfd.readouterr().err
    assert "TOTAL 2026-04 over budget (budget $1,200.00): NOT delivered" in logged
    assert "the organisation is over its 2026-04 budget" in logged
    assert BudgetAlertCursor.from_json(cursor).pending == {}
