"""Idle and barely active paid seats over a trailing window (docs/rules.md, "Idle seats").

The verdict starts a conversation about reallocating a seat; it is never a performance measure.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from budget_pipeline.rules.actors import actor_keys, looked_up_by_actor_key
from budget_pipeline.rules.attribution import workstream_of
from budget_pipeline.warehouse.tables import (
    BARELY_ACTIVE,
    COMPLETELY_IDLE,
    IDLE_SEATS,
    NO_CLAUDE_CODE_USE,
)

# A record's count of activity outside Claude Code (chat, Cowork, Design, Science, Office
# messages, web searches). The Enterprise source reports it; the Console source (the Claude Code
# Analytics API) knows nothing of other surfaces and leaves it NULL.
OTHER_ACTIVITY = "other_activity"
# The same predicate as `shows_activity`, for the SQL that reads the warehouse.
SHOWS_ACTIVITY_SQL = (
    f"({OTHER_ACTIVITY} IS NULL OR num_sessions + lines_added + {OTHER_ACTIVITY} > 0)"
)


# What each verdict asks of whoever decides about the seat; the digest and the report say it.
NEXT_STEP = {
    COMPLETELY_IDLE: "reclaim the seat, or ask its owner whether it is still needed",
    NO_CLAUDE_CODE_USE: "ask whether this person needs a Claude Code (premium) seat",
    BARELY_ACTIVE: "ask what is in the way",
}
# On the Console source a seat never reported is a question about the sign-in, not a saving.
NEVER_REPORTED_MEANING = (
    "may be a claude.ai sign-in, which the Claude Code Analytics API does not report"
)


@dataclass(frozen=True)
class IdleSeatRules:
    window_days: int = 14
    min_lines: int = 20


def window_start(as_of: pd.Timestamp, rules: IdleSeatRules) -> pd.Timestamp:
    return as_of - pd.Timedelta(days=rules.window_days - 1)


def shows_activity(records: pd.DataFrame) -> pd.Series:
    """Whether each raw_usage record says its actor was active that day (docs/rules.md, "Idle
    seats"). A Console record always does: the Claude Code Analytics API lists only who used
    Claude Code. An Enterprise record does only when its sessions, lines added and other activity
    add up to more than zero: the API may list a member with all zeros. `records` holds
    num_sessions and lines_added, and other_activity when the source reports it."""
    if OTHER_ACTIVITY not in records:
        return pd.Series(True, index=records.index)
    other = records[OTHER_ACTIVITY]
    return other.isna() | (records["num_sessions"] + records["lines_added"] + other.fillna(0) > 0)


def verdict_days(
    as_of_days: pd.DatetimeIndex,
    loaded_days: pd.DatetimeIndex,
    first_day: pd.Timestamp,
    rules: IdleSeatRules,
) -> pd.DatetimeIndex:
    """The as-of days with enough history for a verdict: the whole window lies on or after the
    first partition day and every day of it was loaded (an unloaded day would make a busy seat
    look idle)."""
    loaded = set(loaded_days)
    return pd.DatetimeIndex(
        [
            day
            for day in as_of_days
            if window_start(day, rules) >= first_day
            and all(d in loaded for d in pd.date_range(window_start(day, rules), day))
        ]
    )


def idle_seats_as_of(
    as_of_days: pd.DatetimeIndex,
    usage: pd.DataFrame,
    seats: pd.DataFrame,
    ledger: pd.DataFrame,
    last_seen_before: pd.Series,
    rules: IdleSeatRules = IdleSeatRules(),
) -> pd.DataFrame:
    """Listed seats for each as-of day (the caller passes only days with a full window).

    `usage` holds raw_usage rows (usage_date, actor, num_sessions, lines_added, and
    other_activity when the source reports other surfaces) from the first window's start to the
    last as-of day; `last_seen_before` maps an actor to its last day with a record that
    `shows_activity` before that span, so that `last_active` reaches back beyond the window. A
    record counts for the seat whose email matches its actor (`actor_key`); rows show the
    seats.csv spelling.

    When `usage` has other_activity, so do the rows: its sum over the window, NaN when no record
    of the seat in the window carried it (the Console source reports no other surface).
    """
    reports_other = OTHER_ACTIVITY in usage
    if len(as_of_days) == 0 or seats.empty:
        return empty_idle_seats(with_other_activity=reports_other)
    span = pd.date_range(window_start(as_of_days.min(), rules), as_of_days.max())
    emails = pd.Index(seats["email"])
    seat_of = dict(zip(actor_keys(seats["email"]), seats["email"], strict=True))
    seat_usage = usage.loc[usage["usage_date"].isin(span)]
    other = seat_usage[OTHER_ACTIVITY] if reports_other else pd.Series(np.nan, seat_usage.index)
    seat_usage = seat_usage.assign(
        actor=looked_up_by_actor_key(seat_usage["actor"], seat_of, None),
        active=shows_activity(seat_usage).astype("int64"),
        other=other.fillna(0).astype("int64"),
        other_reported=other.notna().astype("int64"),
    ).dropna(subset=["actor"])
    per_day = seat_usage.groupby(["usage_date", "actor"])[
        ["num_sessions", "lines_added", "active", "other", "other_reported"]
    ].sum()

    def matrix(column: str) -> np.ndarray:
        """Days of the span × seats."""
        return (
            per_day[column]
            .unstack("actor")
            .reindex(index=span, columns=emails)
            .fillna(0)
            .to_numpy(dtype="int64")
        )

    sessions = _trailing_sums(matrix("num_sessions"), rules.window_days)
    lines = _trailing_sums(matrix("lines_added"), rules.window_days)
    other = _trailing_sums(matrix("other"), rules.window_days)
    other_reported = _trailing_sums(matrix("other_reported"), rules.window_days)
    # Last day with activity: forward-fill the day index of days that showed some.
    seen_position = np.where(matrix("active") > 0, np.arange(len(span))[:, None], -1)
    last_position = np.maximum.accumulate(seen_position, axis=0)
    last_seen_by_seat = (
        pd.to_datetime(last_seen_before)
        .groupby(
            looked_up_by_actor_key(last_seen_before.index.to_series(), seat_of, None).to_numpy()
        )
        .max()
    )
    before = last_seen_by_seat.reindex(emails).to_numpy(dtype="datetime64[ns]")
    last_active = np.where(
        last_position >= 0,
        span.to_numpy()[np.clip(last_position, 0, None)],
        np.broadcast_to(before, last_position.shape),
    )

    # Every as-of day × seat at once: the listed pairs, then their columns.
    positions = span.get_indexer(as_of_days)
    sessions, lines, last_active = sessions[positions], lines[positions], last_active[positions]
    other, other_reported = other[positions], other_reported[positions]
    no_claude_code = sessions == 0
    day, seat = np.nonzero(no_claude_code | (lines < rules.min_lines))
    status = np.select(
        [no_claude_code & (other == 0), no_claude_code],
        [COMPLETELY_IDLE, NO_CLAUDE_CODE_USE],
        BARELY_ACTIVE,
    )
    seat_info = seats.set_index("email")
    workstreams = workstream_of(pd.Series(emails, index=emails), ledger).to_numpy()
    listed = pd.DataFrame(
        {
            "as_of": as_of_days.to_numpy()[day],
            "email": emails.to_numpy()[seat],
            "workstream": workstreams[seat],
            "sessions": sessions[day, seat],
            "lines_added": lines[day, seat],
            "reason": seat_info["note"].reindex(emails).to_numpy()[seat],
            "monthly_cost_usd": seat_info["monthly_cost_usd"].reindex(emails).to_numpy()[seat],
            "last_active": last_active[day, seat],
            "status": status[day, seat],
            OTHER_ACTIVITY: np.where(
                other_reported[day, seat] > 0, other[day, seat].astype("float64"), np.nan
            ),
        }
    )
    # Other activity sorts after sessions and lines: among seats without Claude Code, the
    # completely idle come first, then the least used on other surfaces.
    listed = listed.assign(_other=listed[OTHER_ACTIVITY].fillna(0)).sort_values(
        ["as_of", "sessions", "lines_added", "_other", "email"], ignore_index=True
    )
    return _typed(listed[_output_columns(reports_other)])


def _output_columns(with_other_activity: bool) -> list[str]:
    """The table's columns, plus other_activity for a source that reports it when the table
    does not hold that column yet."""
    columns = list(IDLE_SEATS.column_names)
    if with_other_activity and OTHER_ACTIVITY not in columns:
        columns.append(OTHER_ACTIVITY)
    return columns


def _trailing_sums(per_day: np.ndarray, window_days: int) -> np.ndarray:
    """Each row's sum over itself and the window_days - 1 rows before it (fewer at the start),
    in exact integers: a rolling window over thousands of seat columns cost seconds."""
    running = np.cumsum(per_day, axis=0)
    running[window_days:] -= running[:-window_days].copy()
    return running


def empty_idle_seats(with_other_activity: bool = False) -> pd.DataFrame:
    return _typed(pd.DataFrame(columns=_output_columns(with_other_activity)))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(
        {
            "email": "object",
            "workstream": "object",
            "sessions": "int64",
            "lines_added": "int64",
            "status": "object",
            "reason": "object",
            "monthly_cost_usd": "float64",
        }
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["last_active"] = pd.to_datetime(frame["last_active"]).astype("datetime64[ns]")
    if OTHER_ACTIVITY in frame:
        frame[OTHER_ACTIVITY] = frame[OTHER_ACTIVITY].astype("float64")
    frame["reason"] = frame["reason"].where(frame["reason"].notna() & (frame["reason"] != ""), None)
    return frame


def listed_monthly_cost(listed: pd.DataFrame) -> float:
    """What the listed seats cost per month: the figure a reallocation could save at most."""
    return round(float(listed["monthly_cost_usd"].sum()), 2)


# Above this share of seats never reported, the Console source is likely the wrong one: the
# Claude Code Analytics API does not report claude.ai sign-ins (Team and Enterprise seats).
MAX_NEVER_REPORTED_SHARE = 0.5


def seats_never_reported(seats: pd.DataFrame, reported_actors: pd.Series) -> pd.Series:
    """The seats.csv emails (as spelled there) that match no actor of `reported_actors`."""
    reported = set(actor_keys(reported_actors))
    return seats.loc[~actor_keys(seats["email"]).isin(reported), "email"].reset_index(drop=True)
