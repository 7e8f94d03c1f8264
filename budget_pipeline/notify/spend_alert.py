"""What the spend alert says, and which days to notify.

No Dagster here: the sensors hand over plain values read from the event log, so the wording and
the "never twice, never stale" rules can be read and tested on their own.
"""

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from budget_pipeline.notify.alert_age import is_news, oldest_news_day

MOVER_KINDS = (("workstream", "workstreams"), ("actor", "actors"), ("model", "models"))


@dataclass(frozen=True)
class SpendDay:
    """One `daily_spend` partition as its materialisation metadata describes it."""

    day: dt.date
    cost_usd: float
    alert: bool | None
    same_weekday_last_week_usd: float | None = None
    ma7_usd: float | None = None
    unassigned_share: float | None = None
    top_movers: Mapping[str, list[Mapping]] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, partition: str, metadata: Mapping[str, object]) -> "SpendDay":
        def number(key: str) -> float | None:
            value = metadata.get(key)
            return None if value is None else float(value)

        alert = metadata.get("alert")
        return cls(
            day=dt.date.fromisoformat(partition),
            cost_usd=number("cost_usd") or 0.0,
            alert=None if alert is None else bool(alert),
            same_weekday_last_week_usd=number("same_weekday_last_week_usd"),
            ma7_usd=number("ma7_usd"),
            unassigned_share=number("unassigned_share"),
            top_movers=metadata.get("top_movers") or {},
        )


class Decision(Enum):
    NOTIFY = "notify"
    NO_ALERT = "no alert"
    ALREADY_NOTIFIED = "already notified"
    TOO_OLD = "too old: logged only"


def decide(spend: SpendDay, today: dt.date, notified: set[str], max_age_days: int) -> Decision:
    """Notify an alerting day once, and only while it is news: a day older than `max_age_days`
    arrived through a backfill, and paging someone about last quarter helps nobody."""
    if spend.alert is not True:
        return Decision.NO_ALERT
    if spend.day.isoformat() in notified:
        return Decision.ALREADY_NOTIFIED
    if not is_news(spend.day, today, max_age_days):
        return Decision.TOO_OLD
    return Decision.NOTIFY


@dataclass
class AlertCursor:
    """The sensor's memory, kept by Dagster across ticks and daemon restarts.

    `after_storage_id` is the last event-log record read; `notified` holds the days already sent
    (so a re-materialisation does not send them again); `pending` holds alerting days whose
    delivery failed, retried on later ticks. Days older than the max age can never be notified
    again, so they are dropped and the cursor stays small.
    """

    after_storage_id: int | None = None
    notified: set[str] = field(default_factory=set)
    pending: set[str] = field(default_factory=set)

    @classmethod
    def from_json(cls, text: str | None) -> "AlertCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            after_storage_id=data.get("after_storage_id"),
            notified=set(data.get("notified", [])),
            pending=set(data.get("pending", [])),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "after_storage_id": self.after_storage_id,
                "notified": sorted(self.notified),
                "pending": sorted(self.pending),
            }
        )

    def forget_before(self, today: dt.date, max_age_days: int) -> None:
        horizon = oldest_news_day(today, max_age_days).isoformat()
        self.notified = {day for day in self.notified if day >= horizon}
        self.pending = {day for day in self.pending if day >= horizon}


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _ratio(today: float, baseline: float | None) -> str:
    return "n/a" if not baseline else f"{today / baseline:.2f}×"


def spend_alert_message(spend: SpendDay, asset_link: str | None = None) -> str:
    """The day, both baselines and their ratios, and what grew: enough to act on without opening
    the warehouse."""
    last_week = spend.day - dt.timedelta(days=7)
    lines = [
        f":rotating_light: Claude Code spend alert for {spend.day:%Y-%m-%d} ({spend.day:%A}): "
        f"{_usd(spend.cost_usd)}",
        f"• {_ratio(spend.cost_usd, spend.same_weekday_last_week_usd)} the same weekday last week "
        f"({_usd(spend.same_weekday_last_week_usd)} on {last_week:%Y-%m-%d})",
        f"• {_ratio(spend.cost_usd, spend.ma7_usd)} the 7-day mean ({_usd(spend.ma7_usd)}, "
        f"{last_week:%Y-%m-%d} … {spend.day - dt.timedelta(days=1):%Y-%m-%d})",
    ]
    movers = [(title, spend.top_movers.get(kind) or []) for kind, title in MOVER_KINDS]
    if any(entries for _, entries in movers):
        lines.append(f"Grew most against {last_week:%Y-%m-%d}:")
        for title, entries in movers:
            if entries:
                grown = ", ".join(
                    f"{e['name']} +{_usd(e['change_usd'])} "
                    f"({_usd(e['today_usd'])} vs {_usd(e['last_week_usd'])})"
                    for e in entries
                )
                lines.append(f"• {title}: {grown}")
    if spend.unassigned_share is not None:
        lines.append(f"Unassigned share of the day: {spend.unassigned_share:.1%}")
    if asset_link:
        lines.append(asset_link)
    return "\n".join(lines)
