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
