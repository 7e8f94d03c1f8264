import datetime as dt
import json

import duckdb

from budget_pipeline.ingest.records import model_usage as stored_model_usage
from budget_pipeline.ingest.records import raw_usage_rows
from budget_pipeline.warehouse.connection import ensure_tables, insert_frame
from budget_pipeline.warehouse.tables import RAW_USAGE

DAY = dt.date(2026, 6, 1)


def model_usage(raw):
    """Per-model tokens as priced_usage reads them: parsed by DuckDB from stored record_json."""
    with duckdb.connect() as connection:
        ensure_tables(connection)
        insert_frame(connection, RAW_USAGE, raw)
        return stored_model_usage(connection, DAY, DAY)


def record(actor="dev@example.com", models=(("claude-sonnet-4-6", 1000),), sessions=4, **extra):
    return {
        "date": "2026-06-01T00:00:00Z",
        "actor": {"type": "user_actor", "email_address": actor},
        "customer_type": "api",
        "terminal_type": "vscode",
        "core_metrics": {
            "num_sessions": sessions,
            "lines_of_code": {"added": 310, "removed": 95},
            "commits_by_claude_code": 2,
            "pull_requests_by_claude_code": 1,
        },
        "model_breakdown": [
            {
                "model": model,
                "tokens": {"input": tokens, "output": 10, "cache_read": 0, "cache_creation": 0},
                "estimated_cost": {"currency": "USD", "amount": 412},
            }
            for model, tokens in models
        ],
        **extra,
    }


def test_mixed_model_day_counts_sessions_and_lines_once():
    raw = raw_usage_rows(DAY, [record(models=(("claude-sonnet-4-6", 1000), ("claude-opus-4", 50)))])
    assert len(raw) == 1
    assert raw.loc[0, "num_sessions"] == 4
    assert raw.loc[0, "lines_added"] == 310
    per_model = model_usage(raw)
    assert sorted(per_model["model"]) == ["claude-opus-4", "claude-sonnet-4-6"]
    assert per_model["input_tokens"].sum() == 1050
    # cents → dollars, once per model entry
    assert per_model["api_estimated_cost_usd"].sum() == 8.24


def test_a_split_day_keeps_every_record_and_sums_tokens_per_model():
    raw = raw_usage_rows(DAY, [record(sessions=1), record(sessions=2, terminal_type="jetbrains")])
    assert len(raw) == 2
    assert raw["num_sessions"].sum() == 3
    per_model = model_usage(raw)
    assert len(per_model) == 1
    assert per_model.loc[0, "input_tokens"] == 2000


def test_record_is_kept_as_received_with_unknown_fields_and_api_actor():
    api_record = record(new_api_field={"nested": [1, 2]})
    api_record["actor"] = {"type": "api_actor", "api_key_name": "ci-review-bot"}
    del api_record["model_breakdown"]
    raw = raw_usage_rows(DAY, [api_record])
    assert raw.loc[0, "actor"] == "ci-review-bot"
    assert raw.loc[0, "actor_type"] == "api_key"
    assert json.loads(raw.loc[0, "record_json"]) == api_record
    assert model_usage(raw).empty


def with_estimate(estimated_cost, model="claude-new-9"):
    """A record whose only entry carries `estimated_cost` as given (None: no such key)."""
    entry = {
        "model": model,
        "tokens": {"input": 1_000_000, "output": 1_000_000, "cache_read": 0, "cache_creation": 0},
    }
    if estimated_cost is not None:
        entry["estimated_cost"] = estimated_cost
    return record(model_breakdown=[entry])


def test_an_estimate_sent_as_bare_cents_is_read_like_an_amount():
    raw = raw_usage_rows(DAY, [with_estimate(1850), with_estimate({"amount": 150})])
    per_model = model_usage(raw)
    assert per_model.loc[0, "api_estimated_cost_usd"] == 20.0  # 18.50 + 1.50


def test_an_entry_without_an_estimate_leaves_no_estimate_rather_than_zero():
    raw = raw_usage_rows(DAY, [with_estimate(None), with_estimate(1850)])
    per_model = model_usage(raw)
    assert len(per_model) == 1 and per_model["api_estimated_cost_usd"].isna().all()
