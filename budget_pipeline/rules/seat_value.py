"""What an organisation that pays per seat got for its money over a month: the usage's worth at
list prices against what was paid, seats and bill (docs/rules.md, "The monthly report's
figures"). Pure: frames in, figures out.

The worth prices Claude Code's tokens only: the other surfaces (chat, Cowork, Office…) have no
tokens in the usage endpoint, so their use is counted per surface, never priced.
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from budget_pipeline.rules.actors import actor_keys
from budget_pipeline.rules.enterprise import OFFICE_PRODUCTS
from budget_pipeline.warehouse.tables import BILLED, ENTERPRISE_SOURCE, NO_CLAUDE_CODE_USE


@dataclass(frozen=True)
class SeatValue:
    """The month's usage at list prices against what was paid for it."""

    list_price_worth_usd: float  # Σ priced_usage.list_price_cost_usd
    seat_cost_usd: float  # one month of every seat in seats.csv
    billed_usd: float  # Σ priced_usage.cost_usd: the bill beyond the seats
    days: int  # loaded days the usage covers
    # Loaded days with a row priced at list price rather than billed (the bill closed to the
    # organisation): their usage counts as paid at list price.
    days_not_billed: int

    @property
    def paid_usd(self) -> float:
        return self.seat_cost_usd + self.billed_usd

    @property
    def worth_per_dollar_paid(self) -> float:
        """List-price worth ÷ paid; NaN when nothing was paid."""
        return self.list_price_worth_usd / self.paid_usd if self.paid_usd > 0 else np.nan

    @property
    def worth_minus_paid_usd(self) -> float:
        return self.list_price_worth_usd - self.paid_usd


def seat_value(priced_usage: pd.DataFrame, seats: pd.DataFrame) -> SeatValue:
    """`priced_usage`: the month's rows of the loaded days (usage_date, cost_usd,
    list_price_cost_usd, price_source); `seats`: seats.csv."""
    not_billed = priced_usage.loc[priced_usage["price_source"] != BILLED, "usage_date"]
    return SeatValue(
        list_price_worth_usd=float(priced_usage["list_price_cost_usd"].sum()),
        seat_cost_usd=float(seats["monthly_cost_usd"].sum()),
        billed_usd=float(priced_usage["cost_usd"].sum()),
        days=int(priced_usage["usage_date"].nunique()),
        days_not_billed=int(not_billed.nunique()),
    )


# The surfaces as the report names them, each with how its use is counted.
CLAUDE_CODE = "Claude Code"
SURFACES = (
    (CLAUDE_CODE, "sessions"),
    ("Chat", "messages"),
    ("Cowork", "messages"),
    ("Office (Excel, Outlook, PowerPoint, Word)", "messages"),
    ("Design", "messages"),
    ("Science", "messages"),
    ("Web search", "searches"),
)
SURFACE_USE_COLUMNS = ["surface", "unit", "members", "count"]


def _count(block: object, name: str) -> int:
    # Absent or null reads as 0: a product the organisation has not enabled is not reported.
    value = block.get(name) if isinstance(block, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _block(parent: object, name: str) -> object:
    return parent.get(name) if isinstance(parent, dict) else None


def _surface_counts(record_json: str) -> tuple[int, ...]:
    """One member row's use of each surface of SURFACES, in that order."""
    row = json.loads(record_json)
    core = _block(_block(row, "claude_code_metrics"), "core_metrics")
    office = _block(row, "office_metrics")
    return (
        _count(core, "distinct_session_count"),
        _count(_block(row, "chat_metrics"), "message_count"),
        _count(_block(row, "cowork_metrics"), "message_count"),
        sum(_count(_block(office, product), "message_count") for product in OFFICE_PRODUCTS),
        _count(_block(row, "design_metrics"), "message_count"),
        _count(_block(row, "science_metrics"), "message_count"),
        _count(row, "web_search_count"),
    )


def surface_use(raw_usage: pd.DataFrame) -> pd.DataFrame:
    """Per surface, in the order of SURFACES: how many members used it (distinct emails, in any
    case) and how much, over `raw_usage` (the month's rows: actor, source, other_activity,
    record_json). Only the member rows of the enterprise source count: an API key's or service
    account's row (other_activity NULL) holds tokens, not a member's activity."""
    members = raw_usage.loc[
        (raw_usage["source"] == ENTERPRISE_SOURCE) & raw_usage["other_activity"].notna()
    ]
    counts = pd.DataFrame(
        [_surface_counts(text) for text in members["record_json"]],
        columns=[surface for surface, _ in SURFACES],
        index=members.index,
        dtype="int64",
    )
    keys = actor_keys(members["actor"])
    return pd.DataFrame(
        [
            (surface, unit, int(keys[counts[surface] > 0].nunique()), int(counts[surface].sum()))
            for surface, unit in SURFACES
        ],
        columns=SURFACE_USE_COLUMNS,
    )


def seats_on_other_surfaces(idle_seats: pd.DataFrame) -> pd.DataFrame:
    """The listed seats used only on other surfaces than Claude Code (`no Claude Code use`)."""
    return idle_seats.loc[idle_seats["status"] == NO_CLAUDE_CODE_USE].reset_index(drop=True)
