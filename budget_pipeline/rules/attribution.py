"""Attribution of cost to workstreams through the ownership ledger (docs/rules.md)."""

import csv
import io
from collections.abc import Iterable

import numpy as np
import pandas as pd

from budget_pipeline.rules.actors import actor_keys, looked_up_by_actor_key
from budget_pipeline.text_safety import reversible_spreadsheet_cell
from budget_pipeline.warehouse.tables import WORKSTREAM_COST

UNASSIGNED = "Unassigned"
# Past this share of a day's spend, Unassigned means the ownership ledger needs a refresh.
MAX_UNASSIGNED_SHARE = 0.15


def workstream_of(actors: pd.Series, ledger: pd.DataFrame) -> pd.Series:
    """The ledger workstream of each actor; `Unassigned` for actors the ledger does not know.
    An email matches the ledger's whatever its case, a key name only as written (`actor_key`)."""
    by_key = dict(zip(actor_keys(ledger["actor"]), ledger["workstream"], strict=True))
    return looked_up_by_actor_key(actors, by_key, UNASSIGNED)


def cost_per_workstream(priced_usage: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Cost per workstream and day, with its share of the day's total."""
    if priced_usage.empty:
        return empty_workstream_cost()
    attributed = priced_usage[["usage_date", "actor", "cost_usd"]].assign(
        workstream=lambda frame: workstream_of(frame["actor"], ledger),
        # one person whose email the API spells two ways is one actor
        actor=lambda frame: actor_keys(frame["actor"]),
    )
    per_workstream = attributed.groupby(
        ["usage_date", "workstream"], as_index=False, sort=True
    ).agg(cost_usd=("cost_usd", "sum"), actors=("actor", "nunique"))
    day_total = per_workstream.groupby("usage_date")["cost_usd"].transform("sum")
    per_workstream["share"] = (per_workstream["cost_usd"] / day_total).where(day_total > 0)
    per_workstream["actors"] = per_workstream["actors"].astype("int64")
    return per_workstream[WORKSTREAM_COST.column_names]


def empty_workstream_cost() -> pd.DataFrame:
    frame = pd.DataFrame(columns=WORKSTREAM_COST.column_names)
    return frame.astype(
        {
            "usage_date": "datetime64[ns]",
            "workstream": "object",
            "cost_usd": "float64",
            "share": "float64",
            "actors": "int64",
        }
    )


def unassigned_share(workstream_cost: pd.DataFrame, days: pd.DatetimeIndex) -> pd.Series:
    """Unassigned cost / day total for each day; NULL (NaN) on a day without spend."""
    totals = workstream_cost.groupby("usage_date")["cost_usd"].sum().reindex(days, fill_value=0.0)
    unassigned = (
        workstream_cost.loc[workstream_cost["workstream"] == UNASSIGNED]
        .groupby("usage_date")["cost_usd"]
        .sum()
        .reindex(days, fill_value=0.0)
    )
    return (unassigned / totals.replace(0.0, np.nan)).rename("unassigned_share")


def top_unassigned_actors(
    priced_usage: pd.DataFrame, ledger: pd.DataFrame, limit: int = 10
) -> pd.DataFrame:
    """Actors missing from the ledger with their spend, largest first: the ledger's to-do list."""
    unknown = priced_usage.loc[workstream_of(priced_usage["actor"], ledger) == UNASSIGNED]
    return (
        unknown.groupby("actor", as_index=False)["cost_usd"]
        .sum()
        .sort_values(["cost_usd", "actor"], ascending=[False, True])
        .head(limit)
        .reset_index(drop=True)
    )


# The ledger follow-up looks at two weeks: long enough to catch people who use Claude Code only
# now and then, short enough that people who left the company drop off the list.
LEDGER_FOLLOW_UP_DAYS = 14


def unassigned_actors_over(
    priced_usage: pd.DataFrame,
    ledger: pd.DataFrame,
    end: pd.Timestamp,
    days: int = LEDGER_FOLLOW_UP_DAYS,
    limit: int = 10,
) -> pd.DataFrame:
    """Actors missing from the ledger with their spend over the `days` days ending on `end`,
    largest first (the days outside the window in `priced_usage` are ignored)."""
    start = end - pd.Timedelta(days=days - 1)
    in_window = priced_usage.loc[priced_usage["usage_date"].between(start, end)]
    return top_unassigned_actors(in_window, ledger, limit)


def ledger_paste_lines(actors: Iterable[str]) -> list[str]:
    """`actor,` lines ready to paste into workstreams.csv, the workstream left for a person.

    Each is a CSV line of workstreams.csv, quoted like the CSV reader expects: an API key name may
    contain a comma or a quote. workstreams.csv may be kept in a spreadsheet, so an actor that
    starts like a formula (`=HYPERLINK(...)`) is written with a leading `'`; the ledger reader
    drops that mark again, so the line still maps the key's exact name. A pasted line left without
    its workstream stops the next run naming the line, so it cannot slip in unnoticed. A name
    holding a line break gets no line: a value of workstreams.csv is one line (a quoted line
    break is read as a quote left open), so no line could map it.
    """
    lines = []
    for actor in actors:
        if "\n" in actor or "\r" in actor:
            continue
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow([reversible_spreadsheet_cell(actor), ""])
        lines.append(buffer.getvalue().removesuffix("\r\n"))
    return lines
