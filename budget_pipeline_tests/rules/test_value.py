"""Value per workstream, on examples small enough to compute by hand."""

import json
import math

import pandas as pd
import pytest

from budget_pipeline.rules.value import (
    cache_savings_usd,
    edit_decisions,
    model_mix,
    workstream_value,
)

LEDGER = pd.DataFrame({"actor": ["a@x", "b@x", "c@x"], "workstream": ["web", "web", "api"]})
PRICES = pd.DataFrame(
    {
        "model": ["claude-sonnet-4-6"],
        "input_per_mtok": [3.0],
        "output_per_mtok": [15.0],
        "cache_write_per_mtok": [3.75],
        "cache_read_per_mtok": [0.30],
    }
)


def record(**tool_actions) -> str:
    return json.dumps({"actor": {"type": "user_actor"}, "tool_actions": tool_actions})


RAW = pd.DataFrame(
    {
        "actor": ["a@x", "b@x", "c@x", "zed@x"],
        "pull_requests": [2, 0, 0, 1],
        "commits": [4, 1, 0, 3],
        "lines_added": [1000, 500, 0, 50],
        "record_json": [
            record(
                edit_tool={"accepted": 8, "rejected": 2}, write_tool={"accepted": 2, "rejected": 0}
            ),
            json.dumps({"actor": {}}),  # no tool_actions at all: decided nothing
            record(
                multi_edit_tool={"accepted": 0, "rejected": 0},
                notebook_edit_tool={"accepted": 1, "rejected": 1},
                # not an edit tool: never counted
                bash_tool={"accepted": 50, "rejected": 50},
            ),
            record(edit_tool={"accepted": 3, "rejected": 1}),
        ],
    }
)


def priced(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["actor", "model", "price_model", "price_source", "cache_read_tokens", "cost_usd"],
    )


PRICED = priced(
    [
        ("a@x", "claude-sonnet-4-6", "claude-sonnet-4-6", "price_table", 1_000_000, 20.0),
        ("a@x", "claude-opus-4-1", None, "api_estimate", 2_000_000, 10.0),
        ("c@x", "claude-sonnet-4-6", "claude-sonnet-4-6", "price_table", 500_000, 5.0),
    ]
)


def test_edit_decisions_count_only_the_four_edit_tools():
    decisions = edit_decisions(RAW["record_json"])
    assert decisions["edits_accepted"].tolist() == [10, 0, 1, 3]
    assert decisions["edits_rejected"].tolist() == [2, 0, 1, 1]


def test_cache_savings_price_cache_reads_as_input_minus_their_cache_price():
    # 1M tokens × ($3.00 − $0.30) = $2.70; an unpriced model has nothing to compare: 0
    assert cache_savings_usd(PRICED, PRICES).tolist() == pytest.approx([2.70, 0.0, 1.35])


def test_workstream_value_by_hand():
    cost = pd.Series({"web": 30.0, "api": 5.0, "Unassigned": 4.0})
    value = workstream_value(cost, RAW, PRICED, LEDGER, PRICES).set_index("workstream")

    web = value.loc["web"]
    assert (web.pull_requests, web.commits, web.lines_added) == (2, 5, 1500)
    assert web.cost_per_pull_request_usd == pytest.approx(15.0)
    assert web.cost_per_commit_usd == pytest.approx(6.0)
    assert web.cost_per_1k_lines_added_usd == pytest.approx(20.0)
    assert web.edit_accept_rate == pytest.approx(10 / 12)
    assert web.cache_savings_usd == pytest.approx(2.70)

    api = value.loc["api"]
    # nothing to divide by: NaN, never 0 or infinity
    assert math.isnan(api.cost_per_pull_request_usd)
    assert math.isnan(api.cost_per_commit_usd)
    assert math.isnan(api.cost_per_1k_lines_added_usd)
    assert api.edit_accept_rate == pytest.approx(0.5)
    assert api.cache_savings_usd == pytest.approx(1.35)

    unassigned = value.loc["Unassigned"]
    assert unassigned.cost_per_commit_usd == pytest.approx(4.0 / 3)
    assert unassigned.edit_accept_rate == pytest.approx(0.75)
    assert list(value.index) == ["web", "api", "Unassigned"]


def test_model_mix_is_each_workstreams_share_of_cost():
    mix = model_mix(PRICED, LEDGER)
    web = mix.loc[mix["workstream"] == "web"].set_index("model")["share"]
    assert web.to_dict() == pytest.approx({"claude-sonnet-4-6": 2 / 3, "claude-opus-4-1": 1 / 3})
    assert mix.loc[mix["workstream"] == "api", "share"].tolist() == [1.0]
