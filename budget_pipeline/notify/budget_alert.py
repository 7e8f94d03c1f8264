"""Budget alerts: which (workstream, month, status) to notify, and the message (docs/rules.md,
"Budget alerts"). No Dagster here: the sensor in defs/budget/budget_alerts.py feeds it the
`at_risk` metadata of each budget_forecast partition."""

import datetime as dt
import json
from dataclasses import dataclass, field
from enum import Enum

from budget_pipeline.notify.alert_age import is_news, oldest_news_day
from budget_pipeline.warehouse.tables import OVER_BUDGET


@dataclass(frozen=True)
class BudgetAtRisk:
    """One workstream heading past (or past) its budget, as of one day."""

    as_of: dt.date
    workstream: str
    month: str  # YYYY-MM
    status: str
    spent_usd: float
    forecast_usd: float
    budget_usd: float
    days_left: int
    top_spenders: tuple[tuple[str, float], ...] = ()

    @property
    def key(self) -> str:
        """What is notified at most once: the workstream, the month, the status and the budget.
        A changed budget is a new subject: going past the new amount is news, even when the old
        one was already reported."""
        return json.dumps([self.workstream, self.month, self.status, f"{self.budget_usd:.2f}"])

    @property
    def label(self) -> str:
        return f"{self.workstream} {self.month} {self.status} (budget {_usd(self.budget_usd)})"

    @classmethod
    def from_metadata(cls, partition: str, workstream: str, entry: dict) -> "BudgetAtRisk":
        return cls(
            as_of=dt.date.fromisoformat(partition),
            workstream=workstream,
            month=entry["month"],
            status=entry["status"],
            spent_usd=float(entry["spent_usd"]),
            forecast_usd=float(entry["forecast_usd"]),
            budget_usd=float(entry["budget_usd"]),
            days_left=int(entry["days_left"]),
            top_spenders=tuple((actor, float(cost)) for actor, cost in entry["top_spenders"]),
        )

    def to_json(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "workstream": self.workstream,
            "month": self.month,
            "status": self.status,
            "spent_usd": self.spent_usd,
            "forecast_usd": self.forecast_usd,
            "budget_usd": self.budget_usd,
            "days_left": self.days_left,
            "top_spenders": [list(pair) for pair in self.top_spenders],
        }

    @classmethod
    def from_json(cls, data: dict) -> "BudgetAtRisk":
        return cls.from_metadata(data["as_of"], data["workstream"], data)


class Decision(Enum):
    NOTIFY = "notify"
    ALREADY_NOTIFIED = "already notified"
    TOO_OLD = "too old"


def decide(alert: BudgetAtRisk, today: dt.date, notified: set[str], max_age_days: int) -> Decision:
    """At most once per workstream, month, status and budget; an as-of day older than the alert
    age arrived through a backfill and is logged only, as for the spend alert."""
    if alert.key in notified:
        return Decision.ALREADY_NOTIFIED
    if not is_news(alert.as_of, today, max_age_days):
        return Decision.TOO_OLD
    return Decision.NOTIFY


@dataclass
class BudgetAlertCursor:
    """The sensor's memory across ticks and daemon restarts: the last event-log record read, the
    keys already notified (kept while their month can still be news) and the alerts whose
    delivery is still owed."""

    after_storage_id: int | None = None
    notified: set[str] = field(default_factory=set)
    pending: dict[str, BudgetAtRisk] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> "BudgetAlertCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            after_storage_id=data.get("after_storage_id"),
            notified=set(data.get("notified", [])),
            # Keyed again by each alert's own key, whatever key the cursor was written with.
            pending={
                alert.key: alert
                for alert in map(BudgetAtRisk.from_json, data.get("pending", {}).values())
            },
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "after_storage_id": self.after_storage_id,
                "notified": sorted(self.notified),
                "pending": {key: alert.to_json() for key, alert in sorted(self.pending.items())},
            }
        )

    def forget_before(self, today: dt.date, max_age_days: int) -> None:
        """A key is kept while any as-of day of its month is still news: a month that ended
        before the oldest news day can never be notified again. A fixed number of months would
        not do: with an age of 29 days or more, an as-of day two months back is still news."""
        oldest_month = oldest_news_day(today, max_age_days).strftime("%Y-%m")
        self.notified = {key for key in self.notified if json.loads(key)[1] >= oldest_month}
        self.pending = {
            key: alert
            for key, alert in self.pending.items()
            if is_news(alert.as_of, today, max_age_days)
        }


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def budget_alert_message(alert: BudgetAtRisk, link: str | None = None) -> str:
    """Spent, forecast, budget, days left and the biggest spenders of the month so far."""
    who = "the organisation" if alert.workstream == "TOTAL" else alert.workstream
    if alert.status == OVER_BUDGET:
        headline = f"{who} is over its {alert.month} budget"
    else:
        headline = f"{who} is heading past its {alert.month} budget"
    share = alert.forecast_usd / alert.budget_usd if alert.budget_usd else None
    lines = [
        f":money_with_wings: Budget: {headline} (as of {alert.as_of.isoformat()})",
        f"• spent so far: {_usd(alert.spent_usd)} of {_usd(alert.budget_usd)}",
        f"• forecast for the month: {_usd(alert.forecast_usd)}"
        + (f" ({share:.0%} of budget)" if share is not None else ""),
        f"• days left in the month: {alert.days_left}",
    ]
    if alert.top_spenders:
        spenders = ", ".join(f"{actor} {_usd(cost)}" for actor, cost in alert.top_spenders)
        lines.append(f"• biggest spenders this month: {spenders}")
    if link:
        lines.append(link)
    return "\n".join(lines)
