"""The spend-alert and run-failure sensors against a real instance after real materialisations.

Notifications go to a real webhook server on 127.0.0.1. The test organisation's spike days are
the Wednesdays with ordinal % 21 == 10 (2026-03-18, 2026-04-08, ...).
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest

from budget_pipeline.defs.budget.jobs import budget_daily_job
from budget_pipeline.defs.budget.sensors import build_spend_alert_sensor
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.defs.operations.sensors import build_run_failure_notifier, run_failure_notifier
from budget_pipeline.demo.server import Fault
from budget_pipeline.notify.spend_alert import AlertCursor
from budget_pipeline.rules.spend import top_movers
from budget_pipeline_tests.conftest import TEST_ORGANISATION
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

ALERT_DAY = dt.date(2026, 4, 8)  # a spike day with its 7 days of history in the same run
OLD_ALERT_DAY = dt.date(2026, 3, 18)  # a spike day that arrives later, through a backfill
TODAY = ALERT_DAY + dt.timedelta(days=1)
UI = "http://127.0.0.1:3000"


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def tick(sensor, instance, receiver, cursor=None, webhook=True):
    notifier = AlertNotifier(
        webhook_url=receiver.url if webhook else None, webserver_url=UI, backoff_seconds=0.01
    )
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alert_notifier": notifier}
    )
    result = sensor(context)
    return result, context.cursor


def spend_row(pipeline, day: dt.date):
    spend = pipeline.table("daily_spend")
    return spend.loc[spend["usage_date"].dt.date == day].iloc[0]


def test_alert_sensor_notifies_an_alerting_day_once_with_its_explanation(pipeline, receiver):
    assert pipeline.materialize("2026-04-01", ALERT_DAY.isoformat()).success
    row = spend_row(pipeline, ALERT_DAY)
    assert bool(row["alert"]) is True
    sensor = build_spend_alert_sensor(max_age_days=3, today=lambda: TODAY)

    result, cursor = tick(sensor, pipeline.instance, receiver)
    assert len(receiver.texts) == 1, receiver.texts
    text = receiver.texts[0]
    today, last_week, ma7 = row["cost_usd"], row["same_weekday_last_week_usd"], row["ma7_usd"]
    assert f"spend alert for 2026-04-08 (Wednesday): ${today:,.2f}" in text
    assert (
        f"{today / last_week:.2f}× the same weekday last week (${last_week:,.2f} on 2026-04-01)"
        in text
    )
    assert f"{today / ma7:.2f}× the 7-day mean (${ma7:,.2f}" in text
    assert "Grew most against 2026-04-01:" in text
    for kind in ("workstreams", "actors", "models"):
        assert f"• {kind}: " in text
    # What grew most, as the rule finds it in the whole priced_usage table.
    priced = pipeline.table("priced_usage").astype({"usage_date": "datetime64[ns]"})
    ledger = pd.DataFrame(TEST_ORGANISATION.ledger(), columns=["actor", "workstream"])
    for by in ("workstream", "actor", "model"):
        for mover in top_movers(priced, ledger, pd.Timestamp(ALERT_DAY), by):
            assert f"{mover['name']} +${mover['change_usd']:,.2f} " in text, (by, mover)
    assert f"{UI}/assets/daily_spend?partition=2026-04-08" in text
    assert "notified: 2026-04-08" in result.skip_message
    state = json.loads(cursor)
    assert state["notified"] == ["2026-04-08"] and state["after_storage_id"] > 0

    # a second tick, and a "restarted daemon" (a new sensor object fed the stored cursor)
    tick(sensor, pipeline.instance, receiver, cursor)
    restarted = build_spend_alert_sensor(max_age_days=3, today=lambda: TODAY)
    tick(restarted, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1

    # re-materialising the alerting day writes a new event with alert=True: still not re-sent
    assert pipeline.materialize(ALERT_DAY.isoformat()).success
    result, cursor = tick(restarted, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1
    assert json.loads(cursor)["after_storage_id"] > state["after_storage_id"]

    # an old alerting day arriving through a backfill is logged, not notified
    assert pipeline.materialize("2026-03-11", OLD_ALERT_DAY.isoformat()).success
    assert bool(spend_row(pipeline, OLD_ALERT_DAY)["alert"]) is True
    result, cursor = tick(restarted, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1
    assert "logged only (older than 3 days): 2026-03-18" in result.skip_message
    assert json.loads(cursor)["notified"] == ["2026-04-08"]


def test_a_failed_delivery_is_retried_on_the_next_tick(pipeline, receiver):
    assert pipeline.materialize("2026-04-01", ALERT_DAY.isoformat()).success
    sensor = build_spend_alert_sensor(max_age_days=3, today=lambda: TODAY)
    receiver.statuses = [500, 500, 500]
    result, cursor = tick(sensor, pipeline.instance, receiver)
    assert receiver.texts == [] and len(receiver.attempts) == 3
    assert "delivery pending: 2026-04-08" in result.skip_message

    result, cursor = tick(sensor, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1 and "2026-04-08" in receiver.texts[0]
    assert AlertCursor.from_json(cursor).pending == set()
    tick(sensor, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1


def test_an_alert_that_ages_out_while_the_webhook_is_down_is_logged_as_not_delivered(
    pipeline, receiver, capfd
):
    assert pipeline.materialize("2026-04-01", ALERT_DAY.isoformat()).success
    cursor = None
    for age in (1, 2, 3):
        receiver.statuses = [503, 503, 503]
        sensor = build_spend_alert_sensor(
            max_age_days=3, today=lambda age=age: ALERT_DAY + dt.timedelta(days=age)
        )
        result, cursor = tick(sensor, pipeline.instance, receiver, cursor)
        assert "delivery pending: 2026-04-08" in result.skip_message
    capfd.readouterr()

    receiver.statuses = [503, 503, 503]
    sensor = build_spend_alert_sensor(
        max_age_days=3, today=lambda: ALERT_DAY + dt.timedelta(days=4)
    )
    result, cursor = tick(sensor, pipeline.instance, receiver, cursor)
    assert receiver.texts == []
    assert "NOT delivered, too old to retry: 2026-04-08" in result.skip_message
    logged = capfd.readouterr().err
    assert "2026-04-08: NOT delivered" in logged and "spend alert for 2026-04-08" in logged
    assert AlertCursor.from_json(cursor).pending == set()


def test_without_a_webhook_the_alert_is_only_logged(pipeline, receiver, capfd):
    assert pipeline.materialize("2026-04-01", ALERT_DAY.isoformat()).success
    capfd.readouterr()
    sensor = build_spend_alert_sensor(max_age_days=3, today=lambda: TODAY)
    result, _ = tick(sensor, pipeline.instance, receiver, webhook=False)
    assert receiver.attempts == []
    # the sensor's log (the daemon shows it on the tick in the UI) goes to the console here
    logged = capfd.readouterr().err
    assert "logged only" in logged and "spend alert for 2026-04-08" in logged
    assert "notified: 2026-04-08" in result.skip_message


def test_failure_sensor_notifies_a_failed_run(pipeline, receiver):
    sensor_context = dg.build_sensor_context(
        instance=pipeline.instance,
        resources={
            "alert_notifier": AlertNotifier(
                webhook_url=receiver.url, webserver_url=UI, backoff_seconds=0.01
            )
        },
    )
    # the first evaluation only places the cursor at the newest run event, as the daemon does
    run_failure_notifier.evaluate_tick(sensor_context)

    pipeline.server.add_fault(Fault(status=401, message="invalid x-api-key", times=10))
    result = pipeline.materialize("2026-04-01", "2026-04-03", raise_on_error=False)
    assert not result.success

    run_failure_notifier.evaluate_tick(sensor_context)
    assert len(receiver.texts) == 1, receiver.texts
    text = receiver.texts[0]
    assert f"job {result.dagster_run.job_name}, partitions 2026-04-01…2026-04-03" in text
    assert "• step: raw_layer" in text
    error_line = text.split("• error: ")[1].splitlines()[0]
    assert "401" in error_line and "invalid x-api-key" in error_line
    assert f"{UI}/runs/{result.run_id}" in text

    # evaluated again, the same failure is not sent twice
    run_failure_notifier.evaluate_tick(sensor_context)
    assert len(receiver.texts) == 1


def test_an_undelivered_run_failure_is_retried_after_a_restart_and_sent_once(pipeline, receiver):
    _, cursor = tick(run_failure_notifier, pipeline.instance, receiver)  # placed at "now"
    pipeline.server.add_fault(Fault(status=401, message="invalid x-api-key", times=10))
    failed = pipeline.materialize("2026-04-01", raise_on_error=False)
    assert not failed.success

    receiver.statuses = [500, 500, 500]  # every attempt of the first tick fails
    result, cursor = tick(run_failure_notifier, pipeline.instance, receiver, cursor)
    assert receiver.texts == [] and len(receiver.attempts) == 3
    assert f"delivery failed, retried next tick: {failed.run_id}" in result.skip_message
    assert json.loads(cursor)["pending"] == [failed.run_id]

    restarted = build_run_failure_notifier()  # a new daemon, fed the stored cursor
    result, cursor = tick(restarted, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1 and f"{UI}/runs/{failed.run_id}" in receiver.texts[0]
    assert "• step: raw_layer" in receiver.texts[0]
    assert json.loads(cursor)["pending"] == []
    tick(restarted, pipeline.instance, receiver, cursor)
    assert len(receiver.texts) == 1


def seconds_spent_posting(receiver, seconds_per_post=25.0):
    """A clock for the sensors' delivery budget on which every post takes `seconds_per_post`."""
    return lambda: seconds_per_post * len(receiver.attempts)


@pytest.fixture
def slow_receiver():
    with WebhookReceiver(delay_seconds=0.2) as server:
        yield server


def test_spend_alerts_past_the_ticks_delivery_budget_wait_for_the_next_tick(
    instance, slow_receiver
):
    days = ["2026-04-06", "2026-04-07", "2026-04-08"]
    for day in days:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="daily_spend", partition=day, metadata={"cost_usd": 900.0, "alert": True}
            )
        )
    # 40 s per tick, 25 s per post: the second post starts at 25 s, the third would at 50 s
    sensor = build_spend_alert_sensor(
        max_age_days=3,
        today=lambda: TODAY,
        delivery_budget_seconds=40,
        clock=seconds_spent_posting(slow_receiver),
    )
    result, cursor = tick(sensor, instance, slow_receiver)
    assert [text.split(" (")[0][-10:] for text in slow_receiver.texts] == days[:2]
    assert "left for the next tick (this tick's 40 s of delivery used up): 2026-04-08" in (
        result.skip_message
    )
    assert AlertCursor.from_json(cursor).pending == {"2026-04-08"}

    result, cursor = tick(sensor, instance, slow_receiver, cursor)
    assert len(slow_receiver.texts) == 3 and "2026-04-08" in slow_receiver.texts[2]
    tick(sensor, instance, slow_receiver, cursor)
    assert len(slow_receiver.texts) == 3


def test_run_failures_past_the_ticks_delivery_budget_wait_for_the_next_tick(
    instance, slow_receiver
):
    @dg.op
    def fetch_usage():
        raise dg.Failure(description="the API is down")

    @dg.job(name=budget_daily_job.name)
    def failing_daily_job():
        fetch_usage()

    sensor = build_run_failure_notifier(
        delivery_budget_seconds=40, clock=seconds_spent_posting(slow_receiver)
    )
    _, cursor = tick(sensor, instance, slow_receiver)
    runs = [
        failing_daily_job.execute_in_process(instance=instance, raise_on_error=False).run_id
        for _ in range(3)
    ]

    result, cursor = tick(sensor, instance, slow_receiver, cursor)
    assert len(slow_receiver.texts) == 2
    for run_id, text in zip(runs, slow_receiver.texts, strict=False):
        assert f"{UI}/runs/{run_id}" in text and "• error: the API is down" in text
    assert f"used up): {runs[2]}" in result.skip_message
    assert json.loads(cursor)["pending"] == [runs[2]]

    _, cursor = tick(sensor, instance, slow_receiver, cursor)
    assert len(slow_receiver.texts) == 3 and f"{UI}/runs/{runs[2]}" in slow_receiver.texts[2]
    assert json.loads(cursor)["pending"] == []
    tick(sensor, instance, slow_receiver, cursor)
    assert len(slow_receiver.texts) == 3


def test_the_failure_notice_shows_the_api_error_text_literally(pipeline, receiver):
    sensor_context = dg.build_sensor_context(
        instance=pipeline.instance,
        resources={"alert_notifier": AlertNotifier(webhook_url=receiver.url, backoff_seconds=0.01)},
    )
    run_failure_notifier.evaluate_tick(sensor_context)
    hostile = "<!channel> key <@U123> revoked, see <http://x|here> & retry"
    pipeline.server.add_fault(Fault(status=401, message=hostile, times=10))
    assert not pipeline.materialize("2026-04-01", raise_on_error=False).success

    run_failure_notifier.evaluate_tick(sensor_context)
    [text] = receiver.texts
    assert (
        "&lt;!channel&gt; key &lt;@U123&gt; revoked, see &lt;http://x|here&gt; &amp; retry"
        in text.split("• error: ")[1]
    )
    assert "<" not in text and ">" not in text
