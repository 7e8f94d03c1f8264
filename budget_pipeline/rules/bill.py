"""The bill beside the estimate (docs/rules.md, "The bill").

A row of the cost endpoint becomes a row of `billed_cost`; the estimate (usage at list prices)
and the billed list amount are then set side by side per day and per model. Pure: no Dagster,
no I/O.
"""

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from budget_pipeline.warehouse.tables import (
    API_KEY,
    BILL_RECONCILIATION,
    BILLED_COST,
    ENTERPRISE_SOURCE,
    FEDERATED,
    PRICE_TABLE,
    SERVICE_ACCOUNT,
    UNKNOWN_ACTOR,
    USER,
)

BILLED_CURRENCY = "USD"
# The bill and the estimate agree within this share of the billed list amount.
BILL_TOLERANCE = 0.02
# Below this, on both sides, a day is too small for a share to mean anything.
BILL_FLOOR_USD = 1.0
# A model missing from a cost row (a charge not tied to one) keeps its row under this name.
NO_MODEL = "(no model)"


class BillRowError(ValueError):
    """A cost row that breaks the contract; the message names the field and the problem."""


def usd_of_cents(value: Any, field: str) -> float:
    """Cents as the API sends them (a decimal string with a fraction, or a JSON number) in USD.

    Decimal keeps the fraction exact until the one rounding to a float at the end, so
    "3208.500000" is 32.085 and not 32.08499999.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BillRowError(f"{field}: expected cents as a decimal string, got {value!r}")
    try:
        cents = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise BillRowError(f"{field}: {value!r} is not a number") from None
    if not cents.is_finite():
        raise BillRowError(f"{field}: {value!r} is not a finite number")
    if cents < 0:
        raise BillRowError(f"{field}: {value!r} is negative")
    return float(cents / 100)


def billed_actor(actor: Any) -> tuple[str, str]:
    """(actor id, actor_type) of a cost row's `group.actor`; an unknown type is kept with its
    JSON as its id, so its cost is never dropped."""
    kind = actor.get("type") if isinstance(actor, Mapping) else None
    fields: tuple[str, ...]
    if kind == "user_actor":
        fields, actor_type = ("email_address",), USER
    elif kind in ("api_key_actor", "api_actor"):
        fields, actor_type = ("api_key_id", "api_key_name"), API_KEY
    elif kind == "service_account_actor":
        fields, actor_type = ("service_account_id",), SERVICE_ACCOUNT
    elif kind == "federated_actor":
        provider, subject = actor.get("provider"), actor.get("subject")
        if isinstance(provider, str) and provider and isinstance(subject, str) and subject:
            return f"{provider}:{subject}", FEDERATED
        raise BillRowError("group.actor: a federated_actor needs a provider and a subject")
    else:
        return json.dumps(actor, sort_keys=True, separators=(",", ":")), UNKNOWN_ACTOR
    for field in fields:
        value = actor.get(field)
        if isinstance(value, str) and value:
            return value, actor_type
    raise BillRowError(f"group.actor: a {kind} needs {' or '.join(fields)}")


def billed_row(row: Any, day: dt.date) -> dict[str, Any]:
    """One cost row as a `billed_cost` row (without data_refreshed_at, which is the page's)."""
    if not isinstance(row, Mapping):
        raise BillRowError(f"expected a JSON object, got {type(row).__name__}")
    group = row.get("group") if isinstance(row.get("group"), Mapping) else {}
    cost = row.get("cost")
    if not isinstance(cost, Mapping):
        raise BillRowError("cost: missing or not an object")
    currency = cost.get("currency")
    if currency != BILLED_CURRENCY:
        raise BillRowError(f"cost.currency: {currency!r} is not {BILLED_CURRENCY}")
    requests = cost.get("requests", 0)
    if requests is None:
        requests = 0
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
        raise BillRowError(f"cost.requests: {requests!r} is not a count")
    model = group.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise BillRowError(f"group.model: {model!r} is not a model id")
    actor, actor_type = billed_actor(group.get("actor"))
    return {
        "usage_date": day,
        "actor": actor,
        "actor_type": actor_type,
        "model": model or NO_MODEL,
        "amount_usd": usd_of_cents(cost.get("amount"), "cost.amount"),
        "list_amount_usd": usd_of_cents(cost.get("list_amount"), "cost.list_amount"),
        "requests": requests,
    }


# Actor types named by one field: (field, actor_type).
_ACTOR_ID_FIELDS = {
    "user_actor": ("email_address", USER),
    "api_key_actor": ("api_key_id", API_KEY),
    "api_actor": ("api_key_id", API_KEY),
    "service_account_actor": ("service_account_id", SERVICE_ACCOUNT),
}
_NUMBER_TYPES = (str, int, float)
_INFINITY = float("inf")


class _Irregular(Exception):
    pass


def billed_columns(data: list[Any], day: dt.date) -> dict[str, list] | None:
    """The rows of a page as `billed_cost` columns, or None when any row is not of the common
    shape (then `billed_row` reads the page row by row, and names the row and field at fault).

    A 5,000-seat day is ~6,000 rows: this loop is four times faster than `billed_row` per row,
    which a 90-day backfill would otherwise pay for in seconds. Cents are parsed as floats and
    divided by 100: within one unit in the last place of the exact value, far below a cent.
    """
    actors, types, models, amounts, listed, requests = [], [], [], [], [], []
    try:
        for row in data:
            group, cost = row["group"], row["cost"]
            field, actor_type = _ACTOR_ID_FIELDS[group["actor"]["type"]]
            actor = group["actor"][field]
            model = group["model"]
            amount, list_amount = cost["amount"], cost["list_amount"]
            count = cost.get("requests", 0)
            if (
                cost["currency"] != BILLED_CURRENCY
                or type(actor) is not str
                or not actor
                or type(model) is not str
                or not model
                or type(amount) not in _NUMBER_TYPES
                or type(list_amount) not in _NUMBER_TYPES
                or type(count) is not int
                or count < 0
            ):
                raise _Irregular
            amount, list_amount = float(amount), float(list_amount)
            if not (0 <= amount < _INFINITY and 0 <= list_amount < _INFINITY):
                raise _Irregular
            actors.append(actor)
            types.append(actor_type)
            models.append(model)
            amounts.append(amount / 100)
            listed.append(list_amount / 100)
            requests.append(count)
    except (_Irregular, KeyError, TypeError, ValueError):
        return None
    return {
        "usage_date": [day] * len(actors),
        "actor": actors,
        "actor_type": types,
        "model": models,
        "amount_usd": amounts,
        "list_amount_usd": listed,
        "requests": requests,
    }


def refreshed_at(value: Any) -> dt.datetime | None:
    """The response's data_refreshed_at as a naive UTC timestamp (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BillRowError(f"data_refreshed_at: {value!r} is not a timestamp")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BillRowError(f"data_refreshed_at: {value!r} is not a timestamp") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def typed_billed_cost(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (billed_cost's columns) with each column in the table's dtype, rows or none, so
    pages and days concatenate into the same dtypes: an empty page, or one without
    data_refreshed_at, would otherwise bring object or all-NA columns of its own."""
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    frame["data_refreshed_at"] = pd.to_datetime(frame["data_refreshed_at"]).astype("datetime64[ns]")
    frame["requests"] = frame["requests"].astype("int64")
    # A day without rows gives empty columns, which pandas makes float: text stays text.
    for column in ("actor", "actor_type", "model"):
        frame[column] = frame[column].astype("object")
    for column in ("amount_usd", "list_amount_usd"):
        frame[column] = frame[column].astype("float64")
    return frame


def billed_cost_frame(rows: Iterable[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """`billed_cost` rows from the rows of `billed_row` plus their `data_refreshed_at` (or a
    frame of those columns).

    Rows of the same actor × model × day are summed (the API splits them when it groups by more
    than asked, e.g. by workspace); the newest refresh time is kept.
    """
    frame = typed_billed_cost(
        rows[BILLED_COST.column_names].copy()
        if isinstance(rows, pd.DataFrame)
        else pd.DataFrame(list(rows), columns=BILLED_COST.column_names)
    )
    keys = ["usage_date", "actor", "actor_type", "model"]
    if frame.duplicated(keys).any():
        frame = frame.groupby(keys, as_index=False, sort=False).agg(
            amount_usd=("amount_usd", "sum"),
            list_amount_usd=("list_amount_usd", "sum"),
            requests=("requests", "sum"),
            data_refreshed_at=("data_refreshed_at", "max"),
        )
    return frame[BILLED_COST.column_names].reset_index(drop=True)


def is_within_tolerance(
    estimate_usd: float, billed_list_usd: float | None, tolerance: float = BILL_TOLERANCE
) -> bool | None:
    """The day's verdict: None without a bill; False when the larger side is at least $1 and
    the bill is zero or the gap is more than the tolerance; True otherwise."""
    if billed_list_usd is None or (
        isinstance(billed_list_usd, float) and math.isnan(billed_list_usd)
    ):
        return None
    if max(estimate_usd, billed_list_usd) < BILL_FLOOR_USD:
        return True
    if billed_list_usd == 0:
        return False
    # Rounded so a gap of exactly the tolerance (102.00 against 100.00) is not judged on the
    # last bit of a float division.
    return round(abs(estimate_usd - billed_list_usd) / billed_list_usd, 9) <= tolerance


def reconciliation(
    estimate_per_day: pd.Series,
    billed_cost: pd.DataFrame,
    days: pd.DatetimeIndex,
    tolerance: float = BILL_TOLERANCE,
) -> pd.DataFrame:
    """One `bill_reconciliation` row per day of `days`.

    `estimate_per_day`: Σ priced_usage.list_price_cost_usd by usage_date (days without usage may
    be missing: 0). `billed_cost`: the days' billed rows. The billed sums are NULL on a day the
    bill has no row for (not billed yet, or closed), which is what makes its verdict NULL.
    """
    billed = billed_cost.groupby("usage_date")[["list_amount_usd", "amount_usd"]].sum()
    frame = pd.DataFrame({"usage_date": days.astype("datetime64[ns]")})
    frame["estimate_usd"] = frame["usage_date"].map(estimate_per_day).fillna(0.0).astype("float64")
    frame["billed_list_usd"] = frame["usage_date"].map(billed["list_amount_usd"]).astype("float64")
    frame["billed_usd"] = frame["usage_date"].map(billed["amount_usd"]).astype("float64")
    frame["gap_usd"] = frame["estimate_usd"] - frame["billed_list_usd"]
    frame["gap_share"] = frame["gap_usd"] / frame["billed_list_usd"].where(
        frame["billed_list_usd"] > 0
    )
    frame["within_tolerance"] = pd.array(
        [
            is_within_tolerance(estimate, None if np.isnan(listed) else listed, tolerance)
            for estimate, listed in zip(
                frame["estimate_usd"], frame["billed_list_usd"], strict=True
            )
        ],
        dtype="boolean",
    )
    return frame[BILL_RECONCILIATION.column_names]


def days_outside_tolerance(reconciled: pd.DataFrame) -> pd.DataFrame:
    return reconciled.loc[reconciled["within_tolerance"].eq(False).fillna(False)]


def model_gaps(
    estimate_per_day_model: pd.DataFrame, billed_cost: pd.DataFrame, days: Iterable
) -> pd.DataFrame:
    """Per model over `days`: the estimate against the billed list amount, largest gap first.

    `estimate_per_day_model`: usage_date, model, list_price_cost_usd (priced_usage or its sums).
    """
    days = list(days)
    estimate = (
        estimate_per_day_model.loc[estimate_per_day_model["usage_date"].isin(days)]
        .groupby("model")["list_price_cost_usd"]
        .sum()
        .rename("estimate_usd")
    )
    listed = (
        billed_cost.loc[billed_cost["usage_date"].isin(days)]
        .groupby("model")["list_amount_usd"]
        .sum()
        .rename("billed_list_usd")
    )
    frame = pd.concat([estimate, listed], axis=1).fillna(0.0)
    frame.index.name = "model"
    frame = frame.reset_index()
    frame["gap_usd"] = frame["estimate_usd"] - frame["billed_list_usd"]
    frame["gap_share"] = frame["gap_usd"] / frame["billed_list_usd"].where(
        frame["billed_list_usd"] > 0
    )
    order = frame["gap_usd"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def discount_received(billed_usd: float, billed_list_usd: float) -> float | None:
    """1 − billed / billed at list: the share of the list price not charged (None: no bill)."""
    if not billed_list_usd:
        return None
    return 1.0 - billed_usd / billed_list_usd


def model_gap_lines(gaps: pd.DataFrame) -> list[str]:
    """`model: estimate $x against billed list $y (+z %)`, one per model, as the check says it."""
    lines = []
    for row in gaps.itertuples():
        share = "no bill" if pd.isna(row.gap_share) else f"{row.gap_share:+.1%}"
        lines.append(
            f"{row.model}: estimate ${row.estimate_usd:,.2f} against billed list "
            f"${row.billed_list_usd:,.2f} ({share})"
        )
    return lines


def days_at_list_prices(priced_usage: pd.DataFrame, raw_usage: pd.DataFrame) -> list[str]:
    """The days read with the Enterprise source whose cost_usd is the usage at list prices, not
    the bill: their bill was closed, so their rows were priced from prices.csv. A Console day is
    priced from prices.csv too, but there that is the figure itself, so only Enterprise days
    count. `priced_usage`: usage_date, price_source; `raw_usage`: usage_date, source."""
    enterprise = pd.to_datetime(
        raw_usage.loc[raw_usage["source"] == ENTERPRISE_SOURCE, "usage_date"]
    )
    listed = pd.to_datetime(
        priced_usage.loc[priced_usage["price_source"] == PRICE_TABLE, "usage_date"]
    )
    days = listed.loc[listed.isin(enterprise)].drop_duplicates().sort_values()
    return [f"{day:%Y-%m-%d}" for day in days]
