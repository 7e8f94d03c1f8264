"""API records (SPEC §2) → the rows of `raw_usage` and the per-model token rows behind pricing.

Session and line metrics belong to the record; tokens belong to the record *and model*. Keeping
the two apart is what stops a mixed-model day from counting its sessions twice.
"""

import datetime as dt
import json
from collections.abc import Iterable

import pandas as pd

from budget_pipeline.warehouse import RAW_USAGE

ACTOR_TYPES = {"user_actor": "user", "api_actor": "api_key"}

MODEL_USAGE_COLUMNS = [
    "usage_date",
    "actor",
    "actor_type",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "api_estimated_cost_usd",
]
TOKEN_COLUMNS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"]


def actor_of(record: dict) -> tuple[str, str]:
    """(actor id, actor_type): the email for a user, the key name for an API key."""
    actor = record["actor"]
    if actor["type"] == "user_actor":
        return actor["email_address"], "user"
    return actor["api_key_name"], "api_key"


def raw_usage_rows(day: dt.date, records: Iterable[dict]) -> pd.DataFrame:
    """One row per record; the record itself is kept verbatim in `record_json`."""
    rows = []
    for record in records:
        actor, actor_type = actor_of(record)
        metrics = record.get("core_metrics") or {}
        lines = metrics.get("lines_of_code") or {}
        rows.append(
            (
                day,
                actor,
                actor_type,
                record.get("customer_type"),
                record.get("terminal_type"),
                metrics.get("num_sessions", 0),
                lines.get("added", 0),
                lines.get("removed", 0),
                metrics.get("commits_by_claude_code", 0),
                metrics.get("pull_requests_by_claude_code", 0),
                json.dumps(record, separators=(",", ":"), ensure_ascii=False),
            )
        )
    return raw_usage_frame(rows)


def raw_usage_frame(rows: list[tuple] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows or [], columns=RAW_USAGE.column_names)
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    for column in ("num_sessions", "lines_added", "lines_removed", "commits", "pull_requests"):
        frame[column] = frame[column].astype("int64")
    return frame


def model_usage(raw_usage: pd.DataFrame) -> pd.DataFrame:
    """Tokens per usage_date × actor × model, summed over the actor's records of the day.

    The API normally sends one record per actor and day, but may split a day (e.g. by
    terminal): every record counts (SPEC §2).
    """
    rows = []
    for usage_date, actor, actor_type, record_json in zip(
        raw_usage["usage_date"],
        raw_usage["actor"],
        raw_usage["actor_type"],
        raw_usage["record_json"],
        strict=True,
    ):
        for entry in json.loads(record_json).get("model_breakdown") or []:
            tokens = entry.get("tokens") or {}
            estimate = (entry.get("estimated_cost") or {}).get("amount") or 0
            rows.append(
                (
                    usage_date,
                    actor,
                    actor_type,
                    entry["model"],
                    tokens.get("input", 0),
                    tokens.get("output", 0),
                    tokens.get("cache_read", 0),
                    tokens.get("cache_creation", 0),
                    # estimated_cost.amount is in cents (SPEC §2)
                    estimate / 100,
                )
            )
    frame = pd.DataFrame(rows, columns=MODEL_USAGE_COLUMNS)
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    for column in TOKEN_COLUMNS:
        frame[column] = frame[column].astype("int64")
    frame["api_estimated_cost_usd"] = frame["api_estimated_cost_usd"].astype("float64")
    if frame.empty:
        return frame
    return frame.groupby(["usage_date", "actor", "model"], as_index=False, sort=True).agg(
        actor_type=("actor_type", "first"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        cache_read_tokens=("cache_read_tokens", "sum"),
        cache_creation_tokens=("cache_creation_tokens", "sum"),
        api_estimated_cost_usd=("api_estimated_cost_usd", "sum"),
    )[MODEL_USAGE_COLUMNS]
