"""The weekly idle-seat digest: what it says, and which week it belongs to.

No Dagster here: the digest asset hands over frames read from the warehouse, so the wording can be
read and tested on its own. The seats come from `idle_seats`, the ledger to-do from
`rules.attribution` and the budgets at risk from `budget_forecast`; nothing is recomputed here.
"""

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from budget_pipeline.rules.actors import actor_keys
from budget_pipeline.rules.attribution import ledger_paste_lines
from budget_pipeline.rules.forecast import TOTAL
from budget_pipeline.rules.forecast_readout import at_risk, days_left, has_budgets
from budget_pipeline.rules.idle_seats import (
    BARELY_ACTIVE,
    COMPLETELY_IDLE,
    NEVER_REPORTED_MEANING,
    NEXT_STEP,
    NO_CLAUDE_CODE_USE,
    OTHER_ACTIVITY,
    listed_monthly_cost,
)

NOT_FOR_REVIEWS = (
    "This list is for reallocating seats, not for performance reviews: people on leave, in "
    "review-only roles or signing in through a subscription login look idle here. Talk to the "
    "seat's owner before reclaiming it."
)
# The Claude Code Analytics API does not report people who sign in with a claude.ai
# subscription, so a seat it never saw is a question about the sign-in, not evidence that nobody
# uses it.
NEVER_SEEN_QUESTION = (
    f"never reported by the API: {NEVER_REPORTED_MEANING}. Ask how this person signs in before "
    "counting the seat as unused"
)
# Where the source reports every member (the enterprise source), a seat never seen was never
# active on any Claude surface.
NEVER_ACTIVE = "never active on any Claude surface since the first day"
# Each status's section: what it means, then what to do.
SECTION_TITLES = {
    COMPLETELY_IDLE: "Completely idle (no session in the window, and no other Claude use "
    f"reported) — {NEXT_STEP[COMPLETELY_IDLE]}:",
    NO_CLAUDE_CODE_USE: "No Claude Code use (the seat is used for other Claude surfaces: chat, "
    f"Cowork, Office…, not for Claude Code) — {NEXT_STEP[NO_CLAUDE_CODE_USE]}:",
    BARELY_ACTIVE: f"Barely active (sessions, but few lines added) — {NEXT_STEP[BARELY_ACTIVE]}:",
}


def iso_week(day: dt.date) -> str:
    """The digest's key: the ISO week (`2026-W15`) of its as-of day."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def iso_week_days(day: dt.date) -> list[dt.date]:
    """Monday … Sunday of the ISO week containing `day`."""
    monday = day - dt.timedelta(days=day.weekday())
    return [monday + dt.timedelta(days=offset) for offset in range(7)]


@dataclass(frozen=True)
class SeatChanges:
    """How last week's list became this week's, by email."""

    newly_listed: pd.DataFrame  # this week's rows of seats not listed last week
    active_again: pd.DataFrame  # last week's rows of seats no longer listed
    status_changed: pd.DataFrame  # email, status_before, status (listed both weeks)


def seat_changes(current: pd.DataFrame, previous: pd.DataFrame) -> SeatChanges:
    """Seats are told apart by `actor_key`: a seat whose email was retyped in another case
    between the two weeks is the same seat, shown as this week spells it."""
    current_keys, previous_keys = actor_keys(current["email"]), actor_keys(previous["email"])
    before = previous.set_index(previous_keys)["status"]
    now = current.set_index(current_keys)["status"]
    spelling = dict(zip(current_keys, current["email"], strict=True))
    both = now.index.intersection(before.index)
    moved = [key for key in both if now[key] != before[key]]
    return SeatChanges(
        newly_listed=current.loc[~current_keys.isin(before.index)],
        active_again=previous.loc[~previous_keys.isin(now.index)],
        status_changed=pd.DataFrame(
            {
                "email": [spelling[key] for key in moved],
                "status_before": [before[key] for key in moved],
                "status": [now[key] for key in moved],
            }
        ),
    )


@dataclass(frozen=True)
class LedgerFollowUp:
    """Unassigned spend over the digest's window, when the ledger needs a refresh."""

    start: dt.date
    end: dt.date
    threshold: float
    days_over: int  # days of the window whose unassigned_share exceeded the threshold
    actors: pd.DataFrame  # actor, cost_usd: largest first (rules.attribution)


@dataclass(frozen=True)
class BudgetsThisMonth:
    """The month's forecast as of the digest's day: the rows of the latest as-of day on or before
    it in its month (`rules.forecast_readout.latest_forecast`), or why there are none."""

    as_of: dt.date  # the digest's as-of day
    rows: pd.DataFrame  # budget_forecast rows of one as-of day; empty: no forecast
    missing_reason: str | None = None  # why `rows` is empty


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _never_seen(row) -> bool:
    return pd.isna(row.last_active)


def _seat_line(row, console_source: bool = True) -> str:
    workstream = row.workstream if isinstance(row.workstream, str) else "no workstream"
    text = f"• {row.email} ({workstream}): {row.sessions} sessions, {row.lines_added} lines added, "
    other = getattr(row, OTHER_ACTIVITY, None)
    if other is not None and pd.notna(other):
        text += f"{int(other)} messages or searches on other Claude surfaces, "
    text += f"{_usd(row.monthly_cost_usd)}/month, "
    if not _never_seen(row):
        text += f"last active {row.last_active:%Y-%m-%d}"
    else:
        text += NEVER_SEEN_QUESTION if console_source else NEVER_ACTIVE
    if isinstance(row.reason, str) and row.reason:
        text += f". Note: {row.reason}"
    return text


def _seats_section(title: str, rows: pd.DataFrame, console_source: bool = True) -> list[str]:
    if rows.empty:
        return []
    return [title, *(_seat_line(row, console_source) for row in rows.itertuples())]


def _changes_section(
    changes: SeatChanges | None,
    previous_as_of: dt.date,
    window_days: int,
    console_source: bool = True,
) -> list[str]:
    heading = f"Since last week's list (as of {previous_as_of:%Y-%m-%d}):"
    if changes is None:
        return [
            heading,
            f"• no comparison: there is no idle-seat verdict as of {previous_as_of:%Y-%m-%d} "
            f"(its {window_days} days were not all loaded)",
        ]
    lines = [heading]
    for row in changes.newly_listed.itertuples():
        wording = "never reported by the API" if _never_seen(row) and console_source else row.status
        lines.append(f"• newly listed: {row.email} ({wording})")
    for row in changes.active_again.itertuples():
        lines.append(f"• active again: {row.email} (was {row.status})")
    for row in changes.status_changed.itertuples():
        lines.append(f"• {row.email}: {row.status_before} → {row.status}")
    if len(lines) == 1:
        lines.append("• no change")
    return lines


def _ledger_section(ledger: LedgerFollowUp | None) -> list[str]:
    if ledger is None or ledger.days_over == 0 or ledger.actors.empty:
        return []
    lines = [
        f"Ledger follow-up: Unassigned was above {ledger.threshold:.0%} of the day's spend on "
        f"{ledger.days_over} day(s) between {ledger.start:%Y-%m-%d} and {ledger.end:%Y-%m-%d}. "
        "The actors missing from workstreams.csv, with their spend over these days, largest "
        "first:",
        *(f"• {row.actor} {_usd(row.cost_usd)}" for row in ledger.actors.itertuples()),
        "Ready to paste into workstreams.csv (write each one's workstream after the comma):",
        "```",
        *ledger_paste_lines(ledger.actors["actor"]),
        "```",
    ]
    return lines


def _budget_name(workstream: str) -> str:
    return "the organisation (TOTAL, seats included)" if workstream == TOTAL else workstream


def _budgets_section(budgets: BudgetsThisMonth | None) -> list[str]:
    if budgets is None:
        return []
    month = pd.Timestamp(budgets.as_of).strftime("%B %Y")
    if budgets.rows.empty:
        return [
            f"Budgets at risk this month ({month}):",
            f"• no forecast as of {budgets.as_of:%Y-%m-%d}: {budgets.missing_reason}",
        ]
    forecast_day = pd.Timestamp(budgets.rows["as_of"].iloc[0])
    left = days_left(forecast_day)
    lines = [
        f"Budgets at risk this month ({month}, forecast as of {forecast_day:%Y-%m-%d}, "
        f"{left} day{'s' if left != 1 else ''} left):"
    ]
    if not has_budgets(budgets.rows):
        return [*lines, "• no budgets set (budgets.csv)"]
    risky = at_risk(budgets.rows)
    if risky.empty:
        return [*lines, "• all budgets on track"]
    risky = pd.concat(
        [risky.loc[risky["workstream"] == TOTAL], risky.loc[risky["workstream"] != TOTAL]]
    )
    return lines + [
        f"• {_budget_name(row.workstream)}: {row.status} — spent {_usd(row.spent_to_date_usd)}, "
        f"forecast {_usd(row.forecast_usd)}, budget {_usd(row.budget_usd)}"
        + ("" if pd.isna(row.forecast_vs_budget) else f" ({row.forecast_vs_budget:.0%} of it)")
        for row in risky.itertuples()
    ]


def digest_text(
    as_of: dt.date,
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    window_days: int,
    ledger: LedgerFollowUp | None = None,
    link: str | None = None,
    budgets: BudgetsThisMonth | None = None,
    console_source: bool = True,
) -> str:
    """The whole digest: the budgets at risk this month; listed seats by status, each section
    saying what the status asks for, with their workstream, sessions, lines, other activity, note,
    cost and last activity; their monthly total; the change against the list of 7 days earlier
    (`previous` is None when that day has no verdict); and the ledger to-do when Unassigned ran
    high. On the Console source (`console_source`) the seats the API never reported are a
    section of their own, a question about how the person signs in; a source that reports every
    member lists them with the completely idle."""
    start = as_of - dt.timedelta(days=window_days - 1)
    unreported = current["last_active"].isna() & console_source
    never_seen = current.loc[unreported]
    seen = current.loc[~unreported]
    lines = [
        f":chair: Weekly seat digest {iso_week(as_of)}: paid seats as of {as_of:%A %Y-%m-%d} "
        f"({window_days} days, {start:%Y-%m-%d} … {as_of:%Y-%m-%d})",
    ]
    if current.empty:
        lines.append("Every paid seat was used in the window: nothing to reallocate.")
    else:
        total = f"{len(current)} seat(s) listed, {_usd(listed_monthly_cost(current))}/month"
        if not never_seen.empty:
            total += (
                f" (of which {_usd(listed_monthly_cost(never_seen))}/month for "
                f"{len(never_seen)} seat(s) the API never reported)"
            )
        lines.append(total + ".")
    lines.append(NOT_FOR_REVIEWS)
    sections = [
        _budgets_section(budgets),
        *(
            _seats_section(title, seen.loc[seen["status"] == status], console_source)
            for status, title in SECTION_TITLES.items()
        ),
        _seats_section("Never reported by the API (a question, not a saving):", never_seen),
        _changes_section(
            None if previous is None else seat_changes(current, previous),
            as_of - dt.timedelta(days=7),
            window_days,
            console_source,
        ),
        _ledger_section(ledger),
    ]
    for section in sections:
        if section:
            lines += ["", *section]
    if link:
        lines += ["", link]
    return "\n".join(lines)
