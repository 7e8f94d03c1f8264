"""How long an alert is news, and how long the alert sensors remember what they sent: the same
rule for both, so nothing forgotten can come back as news."""

import datetime as dt
import json

import pytest

from budget_pipeline.notify import budget_alert, spend_alert
from budget_pipeline.notify.alert_age import is_news, oldest_news_day


def alert(as_of: str, budget_usd: float = 1200.0, status: str = "over budget"):
    return budget_alert.BudgetAtRisk(
        as_of=dt.date.fromisoformat(as_of),
        workstream="payments",
        month=as_of[:7],
        status=status,
        spent_usd=1300.0,
        forecast_usd=1400.0,
        budget_usd=budget_usd,
        days_left=0,
    )


def test_an_alert_is_news_up_to_the_maximum_age_and_not_a_day_longer():
    today = dt.date(2026, 3, 1)
    assert is_news(dt.date(2026, 1, 31), today, 29)
    assert not is_news(dt.date(2026, 1, 31), today, 28)
    assert oldest_news_day(today, 29) == dt.date(2026, 1, 31)


@pytest.mark.parametrize("max_age_days", [3, 28, 29, 31, 45, 400])
def test_a_sent_budget_alert_is_remembered_while_it_can_still_be_news(max_age_days):
    sent = alert("2026-01-31")
    for age in range(0, max_age_days + 2):
        today = sent.as_of + dt.timedelta(days=age)
        cursor = budget_alert.BudgetAlertCursor(notified={sent.key})
        cursor.forget_before(today, max_age_days)
        decision = budget_alert.decide(sent, today, cursor.notified, max_age_days)
        assert decision is not budget_alert.Decision.NOTIFY, (today, max_age_days)


@pytest.mark.parametrize("max_age_days", [3, 29, 45])
def test_a_sent_spend_alert_is_remembered_while_it_can_still_be_news(max_age_days):
    day = spend_alert.SpendDay(day=dt.date(2026, 1, 31), cost_usd=900.0, alert=True)
    for age in range(0, max_age_days + 2):
        today = day.day + dt.timedelta(days=age)
        cursor = spend_alert.AlertCursor(notified={day.day.isoformat()})
        cursor.forget_before(today, max_age_days)
        decision = spend_alert.decide(day, today, cursor.notified, max_age_days)
        assert decision is not spend_alert.Decision.NOTIFY, (today, max_age_days)


def test_a_changed_budget_is_a_new_subject_and_the_same_budget_is_not():
    assert alert("2026-04-10").key == alert("2026-04-20").key
    assert alert("2026-04-10").key != alert("2026-04-10", budget_usd=1500.0).key
    assert alert("2026-04-10").key != alert("2026-04-10", status="forecast over budget").key


def test_a_pending_alert_read_back_is_keyed_by_its_own_key():
    owed = alert("2026-04-19")
    written = json.dumps({"pending": {'["payments", "2026-04", "over budget"]': owed.to_json()}})
    assert budget_alert.BudgetAlertCursor.from_json(written).pending == {owed.key: owed}
