"""The Claude Enterprise Analytics API's rows → raw_usage, raw_token_usage and priced_usage rows
(docs/rules.md, "Which source"). No Dagster in here.

A member row holds the day's activity on every surface; a usage row holds one actor's tokens of
one model. Any block or field absent or null reads as 0: a product the organisation has not
enabled is simply not reported.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd

from budget_pipeline.rules.bill import BillRowError, billed_actor
from budget_pipeline.rules.pricing import (
    UnpricedUsageError,
    match_price_model,
    unpriced_usage_message,
)
from budget_pipeline.warehouse.tables import (
    BILLED,
    ENTERPRISE_SOURCE,
    PRICE_TABLE,
    PRICED_USAGE,
    RAW_TOKEN_USAGE,
    RAW_USAGE,
    USER,
)

SUBSCRIPTION = "subscription"
# The surfaces besides Claude Code whose messages count as activity on the seat.
OTHER_SURFACES = ("chat_metrics", "cowork_metrics", "design_metrics", "science_metrics")
OFFICE_PRODUCTS = ("excel", "outlook", "powerpoint", "word")


class EnterpriseRowError(ValueError):
    """A row that breaks the API's contract; the message names the field."""


def _block(parent: Any, name: str) -> Mapping:
    value = parent.get(name) if _is_mapping(parent) else None
    return value if _is_mapping(value) else {}


def _is_mapping(value: Any) -> bool:
    # A JSON object is a dict and an absent block None: both without the Mapping check, which
    # costs ~0.1-0.2 µs a call, 14 calls a member row.
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def _count(parent: Mapping, name: str) -> int:
    value = parent.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EnterpriseRowError(f"{name}: {value!r} is not a count")
    return value


def other_activity(row: Mapping) -> int:
    """Messages on chat, Cowork, Design, Science and each Office product, plus web searches."""
    total = sum(_count(_block(row, surface), "message_count") for surface in OTHER_SURFACES)
    office = _block(row, "office_metrics")
    total += sum(_count(_block(office, product), "message_count") for product in OFFICE_PRODUCTS)
    return total + _count(row, "web_search_count")


def member_email(row: Any) -> str:
    email = _block(row, "user").get("email_address")
    if not isinstance(email, str) or not email.strip():
        raise EnterpriseRowError("user.email_address: missing or empty")
    return email


def repeated_member(pages: Iterable[Iterable[str]]) -> tuple[int, str, int] | None:
    """The first member a day's /users pages list twice, as (1-based page of the second listing,
    the email as listed there, page of the first): one member is one row a day, and two rows
    for one person would count their activity twice or hide which one is right. Emails match
    trimmed and case-insensitively, as everywhere people are matched."""
    first_page: dict[str, int] = {}
    for page, emails in enumerate(pages, start=1):
        for email in emails:
            key = email.strip().lower()
            if key in first_page:
                return page, email, first_page[key]
            first_page[key] = page
    return None


def member_raw_row(day: dt.date, row: Mapping) -> dict[str, Any]:
    """One raw_usage row of a /users row."""
    email = member_email(row)
    code = _block(row, "claude_code_metrics")
    core = _block(code, "core_metrics")
    lines = _block(core, "lines_of_code")
    return {
        "usage_date": day,
        "actor": email,
        "actor_type": USER,
        "customer_type": SUBSCRIPTION,
        "terminal_type": None,
        "num_sessions": _count(core, "distinct_session_count"),
        "lines_added": _count(lines, "added_count"),
        "lines_removed": _count(lines, "removed_count"),
        "commits": _count(core, "commit_count"),
        "pull_requests": _count(core, "pull_request_count"),
        "record_json": orjson.dumps(row).decode(),
        "source": ENTERPRISE_SOURCE,
        "other_activity": other_activity(row),
    }


def token_row(day: dt.date, row: Any) -> dict[str, Any]:
    """One raw_token_usage row of a /usage row (the actor named as the bill names it)."""
    if not isinstance(row, Mapping):
        raise EnterpriseRowError(f"expected a JSON object, got {type(row).__name__}")
    group = _block(row, "group")
    try:
        actor, actor_type = billed_actor(group.get("actor"))
    except BillRowError as error:
        raise EnterpriseRowError(str(error)) from None
    model = group.get("model")
    if not isinstance(model, str) or not model:
        raise EnterpriseRowError("group.model: missing or empty")
    usage = _block(row, "usage")
    creation = _block(usage, "cache_creation")
    return {
        "usage_date": day,
        "actor": actor,
        "actor_type": actor_type,
        "model": model,
        "input_tokens": _count(usage, "uncached_input_tokens"),
        "output_tokens": _count(usage, "output_tokens"),
        "cache_read_tokens": _count(usage, "cache_read_input_tokens"),
        "cache_creation_5m_tokens": _count(creation, "ephemeral_5m_input_tokens"),
        "cache_creation_1h_tokens": _count(creation, "ephemeral_1h_input_tokens"),
        "record_json": orjson.dumps(row).decode(),
    }


def raw_frames(
    day: dt.date, members: Iterable[Mapping], usage_rows: Iterable[Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw_usage rows, raw_token_usage rows) of one day: a row per member listed, plus a row
    per actor with tokens but no member row (an API key, a service account), whose record is
    its usage rows and whose customer_type and other_activity are unknown."""
    return day_frames(
        day,
        [member_raw_row(day, row) for row in members],
        [token_row(day, row) for row in usage_rows],
    )


def day_frames(
    day: dt.date, members: list[dict[str, Any]], tokens: list[dict[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`raw_frames` of rows already read by `member_raw_row` and `token_row` (the Python path
    of a chunk DuckDB doubts: `ingest/enterprise_staging.py` stages the same rows in SQL)."""
    raw = list(members)
    listed = {row["actor"].strip().lower() for row in raw}
    unlisted: dict[tuple[str, str], list[str]] = {}
    for row in tokens:
        key = (row["actor"], row["actor_type"])
        if row["actor_type"] == USER and row["actor"].strip().lower() in listed:
            continue
        unlisted.setdefault(key, []).append(row["record_json"])
    for (actor, actor_type), records in unlisted.items():
        raw.append(
            {
                "usage_date": day,
                "actor": actor,
                "actor_type": actor_type,
                "customer_type": None,
                "terminal_type": None,
                "num_sessions": 0,
                "lines_added": 0,
                "lines_removed": 0,
                "commits": 0,
                "pull_requests": 0,
                "record_json": '{"usage":[' + ",".join(records) + "]}",
                "source": ENTERPRISE_SOURCE,
                "other_activity": None,
            }
        )
    return _typed(raw, RAW_USAGE.column_names), _typed(tokens, RAW_TOKEN_USAGE.column_names)


def _typed(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    for column in columns:
        if column.endswith("_tokens") or column in (
            "num_sessions",
            "lines_added",
            "lines_removed",
            "commits",
            "pull_requests",
        ):
            frame[column] = frame[column].astype("int64")
    if "other_activity" in frame:
        frame["other_activity"] = frame["other_activity"].astype("float64")
    return frame


def _list_price(tokens: pd.DataFrame, prices: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(price_model, list-price worth) of each token row; one-hour cache writes at
    cache_write_1h_per_mtok (which defaults to cache_write_per_mtok)."""
    price_models = prices["model"].tolist()
    matches = {m: match_price_model(m, price_models) for m in tokens["model"].unique()}
    price_model = tokens["model"].map(matches).astype("object")
    rates = (
        price_model.to_frame("price_model")
        .merge(prices.rename(columns={"model": "price_model"}), on="price_model", how="left")
        .fillna(0.0)
    )
    one_hour = (
        rates["cache_write_1h_per_mtok"]
        if "cache_write_1h_per_mtok" in rates
        else rates["cache_write_per_mtok"]
    )
    terms = (
        tokens["input_tokens"].to_numpy("float64") * rates["input_per_mtok"].to_numpy("float64")
        + tokens["output_tokens"].to_numpy("float64") * rates["output_per_mtok"].to_numpy("float64")
        + tokens["cache_read_tokens"].to_numpy("float64")
        * rates["cache_read_per_mtok"].to_numpy("float64")
        + tokens["cache_creation_5m_tokens"].to_numpy("float64")
        * rates["cache_write_per_mtok"].to_numpy("float64")
        + tokens["cache_creation_1h_tokens"].to_numpy("float64") * one_hour.to_numpy("float64")
    )
    return price_model.where(price_model.notna(), None), pd.Series(terms / 1e6, tokens.index)


def price_enterprise_usage(
    tokens: pd.DataFrame, billed: pd.DataFrame, prices: pd.DataFrame, *, bill_closed: bool
) -> pd.DataFrame:
    """priced_usage of the Enterprise source: a row per actor × model × day of the usage rows,
    its list-price worth in list_price_cost_usd and what the bill charges in cost_usd (0 when
    the bill has no row: the seat covers it). A billed row without tokens is a row of its own.
    A model prices.csv lacks takes the billed list amount as its worth (price_model NULL).
    With the bill closed, cost_usd is the list-price worth (price_source price_table); a model
    prices.csv lacks then has neither a price nor a bill to fall back on, and an unknown model is
    never priced at $0: UnpricedUsageError names it."""
    keys = ["usage_date", "actor", "model"]
    summed = (
        tokens.groupby(keys, as_index=False).agg(
            actor_type=("actor_type", "first"),
            input_tokens=("input_tokens", "sum"),
            output_tokens=("output_tokens", "sum"),
            cache_read_tokens=("cache_read_tokens", "sum"),
            cache_creation_5m_tokens=("cache_creation_5m_tokens", "sum"),
            cache_creation_1h_tokens=("cache_creation_1h_tokens", "sum"),
        )
        if not tokens.empty
        else pd.DataFrame(columns=[*keys, "actor_type", *_TOKEN_SUMS])
    )
    bill = (
        billed.groupby(keys, as_index=False).agg(
            billed_type=("actor_type", "first"),
            amount_usd=("amount_usd", "sum"),
            list_amount_usd=("list_amount_usd", "sum"),
        )
        if not billed.empty
        else pd.DataFrame(columns=[*keys, "billed_type", "amount_usd", "list_amount_usd"])
    )
    for frame in (summed, bill):
        frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    rows = summed.merge(bill, on=keys, how="outer")
    rows["actor_type"] = rows["actor_type"].fillna(rows["billed_type"])
    for column in _TOKEN_SUMS:
        rows[column] = rows[column].fillna(0).astype("int64")
    rows["cache_creation_tokens"] = (
        rows["cache_creation_5m_tokens"] + rows["cache_creation_1h_tokens"]
    )
    price_model, worth = _list_price(rows, prices)
    has_price = price_model.notna()
    billed_list = rows["list_amount_usd"].astype("float64")
    unpriced = ~has_price & billed_list.isna()
    if bill_closed and unpriced.any():
        raise UnpricedUsageError(
            unpriced_usage_message(
                rows.loc[unpriced],
                missing="the bill, closed to this organisation, gives no list amount to fall "
                "back on",
            )
        )
    rows["price_model"] = price_model
    rows["list_price_cost_usd"] = worth.where(has_price, billed_list.fillna(0.0)).astype("float64")
    rows["api_estimated_cost_usd"] = 0.0
    if bill_closed:
        rows["cost_usd"] = rows["list_price_cost_usd"]
        rows["price_source"] = np.where(has_price, PRICE_TABLE, BILLED)
    else:
        rows["cost_usd"] = rows["amount_usd"].astype("float64").fillna(0.0)
        rows["price_source"] = BILLED
    frame = rows[PRICED_USAGE.column_names].sort_values(keys).reset_index(drop=True)
    frame["price_model"] = frame["price_model"].astype("object")
    return frame


_TOKEN_SUMS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_5m_tokens",
    "cache_creation_1h_tokens",
)


def unpriced_enterprise_models(priced_usage: pd.DataFrame) -> list[str]:
    """Models billed on the Enterprise source that prices.csv lacks."""
    billed = priced_usage.loc[
        (priced_usage["price_source"] == BILLED) & priced_usage["price_model"].isna(), "model"
    ]
    return sorted(billed.unique())
