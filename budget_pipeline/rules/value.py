"""What a workstream gets for its spend: unit costs, edit accept rate, model mix and what prompt
caching saved. Numbers for a budget meeting, so every ratio whose denominator is zero is NaN
(shown as "—"), never 0 or infinity.
"""

import json

import numpy as np
import pandas as pd

from budget_pipeline.rules.attribution import workstream_of
from budget_pipeline.rules.pricing import PRICE_TABLE

# The tools whose accept/reject decisions say whether Claude's edits were kept (docs/rules.md).
EDIT_TOOLS = ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")

VALUE_COLUMNS = [
    "workstream",
    "cost_usd",
    "pull_requests",
    "commits",
    "lines_added",
    "cost_per_pull_request_usd",
    "cost_per_commit_usd",
    "cost_per_1k_lines_added_usd",
    "edits_accepted",
    "edits_rejected",
    "edit_accept_rate",
    "cache_read_tokens",
    "cache_savings_usd",
]


def edit_decisions(record_json: pd.Series) -> pd.DataFrame:
    """Accepted and rejected edit-tool decisions of each API record (kept as received in
    raw_usage.record_json); a record without tool_actions decided nothing."""
    accepted, rejected = [], []
    for text in record_json:
        actions = json.loads(text).get("tool_actions") or {}
        tools = [actions.get(tool) or {} for tool in EDIT_TOOLS]
        accepted.append(sum(int(tool.get("accepted") or 0) for tool in tools))
        rejected.append(sum(int(tool.get("rejected") or 0) for tool in tools))
    return pd.DataFrame(
        {"edits_accepted": accepted, "edits_rejected": rejected},
        index=record_json.index,
        dtype="int64",
    )


def cache_savings_usd(priced_usage: pd.DataFrame, prices: pd.DataFrame) -> pd.Series:
    """What each row's cache reads would have cost as plain input tokens, minus what they cost as
    cache reads. Rows priced at the API's estimate have no price row to compare: 0."""
    row_prices = priced_usage[["price_model"]].merge(
        prices.rename(columns={"model": "price_model"}), on="price_model", how="left"
    )
    saved_per_mtok = (row_prices["input_per_mtok"] - row_prices["cache_read_per_mtok"]).to_numpy(
        dtype="float64"
    )
    priced = (priced_usage["price_source"] == PRICE_TABLE).to_numpy()
    tokens = priced_usage["cache_read_tokens"].to_numpy(dtype="float64")
    saved = np.where(priced, tokens * np.nan_to_num(saved_per_mtok) / 1e6, 0.0)
    return pd.Series(saved, index=priced_usage.index, dtype="float64")


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator / denominator.where(denominator > 0)


def workstream_value(
    cost_by_workstream: pd.Series,
    raw_usage: pd.DataFrame,
    priced_usage: pd.DataFrame,
    ledger: pd.DataFrame,
    prices: pd.DataFrame,
) -> pd.DataFrame:
    """One row per workstream of `cost_by_workstream` (its spend over the period, from
    workstream_cost) with what Claude Code produced for it over the same period.

    `raw_usage` holds the period's records (actor, pull_requests, commits, lines_added,
    record_json); `priced_usage` the period's priced rows. Records are attributed with the same
    ledger rule as the cost, so a workstream's numerator and denominators cover the same people.
    """
    workstreams = pd.Index(cost_by_workstream.index, name="workstream")
    records = raw_usage.assign(workstream=workstream_of(raw_usage["actor"], ledger))
    records = pd.concat([records, edit_decisions(raw_usage["record_json"])], axis=1)
    output = (
        records.groupby("workstream")[
            ["pull_requests", "commits", "lines_added", "edits_accepted", "edits_rejected"]
        ]
        .sum()
        .reindex(workstreams, fill_value=0)
        .astype("int64")
    )
    priced = priced_usage.assign(
        workstream=workstream_of(priced_usage["actor"], ledger),
        cache_savings_usd=cache_savings_usd(priced_usage, prices),
    )
    caching = (
        priced.groupby("workstream")[["cache_read_tokens", "cache_savings_usd"]]
        .sum()
        .reindex(workstreams, fill_value=0)
    )
    cost = cost_by_workstream.astype("float64").rename("cost_usd").rename_axis("workstream")
    value = pd.concat([cost, output, caching], axis=1)
    value["cost_per_pull_request_usd"] = _ratio(value["cost_usd"], value["pull_requests"])
    value["cost_per_commit_usd"] = _ratio(value["cost_usd"], value["commits"])
    value["cost_per_1k_lines_added_usd"] = 1000 * _ratio(value["cost_usd"], value["lines_added"])
    decided = value["edits_accepted"] + value["edits_rejected"]
    value["edit_accept_rate"] = _ratio(value["edits_accepted"], decided)
    value["cache_read_tokens"] = value["cache_read_tokens"].astype("int64")
    value["cache_savings_usd"] = value["cache_savings_usd"].astype("float64")
    return value.reset_index()[VALUE_COLUMNS]


def model_mix(priced_usage: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Share of each workstream's cost per model (the model id as the API reports it)."""
    attributed = priced_usage.assign(workstream=workstream_of(priced_usage["actor"], ledger))
    mix = attributed.groupby(["workstream", "model"], as_index=False)["cost_usd"].sum()
    total = mix.groupby("workstream")["cost_usd"].transform("sum")
    mix["share"] = (mix["cost_usd"] / total.where(total > 0)).astype("float64")
    return mix.sort_values(
        ["workstream", "cost_usd", "model"], ascending=[True, False, True], ignore_index=True
    )
