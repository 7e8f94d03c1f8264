import pandas as pd
import pytest

from budget_pipeline.rules.attribution import (
    UNASSIGNED,
    cost_per_workstream,
    top_unassigned_actors,
    unassigned_share,
)

LEDGER = pd.DataFrame({"actor": ["a@x.com", "b@x.com"], "workstream": ["payments", "search"]})


def priced(rows):
    frame = pd.DataFrame(rows, columns=["usage_date", "actor", "cost_usd"])
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    return frame


def test_cost_goes_to_the_ledger_workstream_and_unknown_actors_to_unassigned():
    usage = priced(
        [
            ("2026-06-01", "a@x.com", 60.0),
            ("2026-06-01", "a@x.com", 10.0),  # a second model of the same actor
            ("2026-06-01", "b@x.com", 10.0),
            ("2026-06-01", "contractor@partner.example", 20.0),
        ]
    )
    cost = cost_per_workstream(usage, LEDGER).set_index("workstream")
    assert cost.loc["payments", "cost_usd"] == 70.0
    assert cost.loc["payments", "share"] == pytest.approx(0.7)
    assert cost.loc["payments", "actors"] == 1
    assert cost.loc[UNASSIGNED, "share"] == pytest.approx(0.2)
    days = pd.date_range("2026-06-01", "2026-06-02")
    share = unassigned_share(cost_per_workstream(usage, LEDGER), days)
    assert share.iloc[0] == pytest.approx(0.2)
    # a day without spend has no share (NULL), not 0
    assert pd.isna(share.iloc[1])
    top = top_unassigned_actors(usage, LEDGER)
    assert top.to_dict("records") == [{"actor": "contractor@partner.example", "cost_usd": 20.0}]


def test_an_email_matches_the_ledger_in_any_case_and_a_key_name_only_as_written():
    ledger = pd.DataFrame(
        {"actor": ["Alice@Example.com", "CI-Bot"], "workstream": ["payments", "platform"]}
    )
    usage = priced(
        [
            ("2026-06-01", "alice@example.com", 30.0),  # the API's spelling
            ("2026-06-01", "ALICE@example.com", 10.0),  # the same person spelt otherwise
            ("2026-06-01", "CI-Bot", 5.0),
            ("2026-06-01", "ci-bot", 55.0),  # another key: not in the ledger
        ]
    )
    cost = cost_per_workstream(usage, ledger).set_index("workstream")
    # payments 40 of 100, platform 5, Unassigned 55; Alice is one actor, spelt two ways
    assert cost["cost_usd"].to_dict() == {"payments": 40.0, "platform": 5.0, UNASSIGNED: 55.0}
    assert cost["share"].to_dict() == pytest.approx(
        {"payments": 0.4, "platform": 0.05, UNASSIGNED: 0.55}
    )
    assert cost["actors"].to_dict() == {"payments": 1, "platform": 1, UNASSIGNED: 1}
    top = top_unassigned_actors(usage, ledger)
    assert top.to_dict("records") == [{"actor": "ci-bot", "cost_usd": 55.0}]
