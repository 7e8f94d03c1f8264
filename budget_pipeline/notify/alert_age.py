"""How long an alert is news (docs/operations.md, "Sensors"): one rule for the spend and the budget
alerts. A sensor sends an alert only while it is news, and it remembers what it sent for exactly
as long: forgetting a sent alert sooner would let a re-materialisation send it again.

No Dagster here."""

import datetime as dt


def age_days(day: dt.date, today: dt.date) -> int:
    return (today - day).days


def is_news(day: dt.date, today: dt.date, max_age_days: int) -> bool:
    """An alert about `day` is sent only while it is at most `max_age_days` old; an older one
    arrived through a backfill (or was owed too long) and is logged only."""
    return age_days(day, today) <= max_age_days


def oldest_news_day(today: dt.date, max_age_days: int) -> dt.date:
    """The oldest day an alert can still be sent about: what a sensor sent about earlier days it
    may forget."""
    return today - dt.timedelta(days=max_age_days)


def aged_out_undelivered(
    label: str, day: dt.date, today: dt.date, max_age_days: int, message: str
) -> str:
    """The log line of an alert that was owed (its delivery failed, or its tick ran out of time)
    until it stopped being news: no longer retried, and said so loudly, never dropped unseen."""
    return (
        f"{label}: NOT delivered: every delivery failed while the alert was news, and it is now "
        f"{age_days(day, today)} days old (max {max_age_days}), so it is no longer retried; "
        f"the message was:\n{message}"
    )
