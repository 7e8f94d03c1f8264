"""The budget alert's biggest spenders, kept as running month-to-date totals, against the sum
written out by hand for each as-of day."""

import pandas as pd
import pytest

from budget_pipeline.defs.budget.forecast import MonthToDateSpend
from budget_pipeline.rules.forecast import TOTAL

LEDGER = pd.DataFrame(
    {"actor": ["ann", "bob", "cy", "dee"], "workstream": ["mobile", "mobile", "search", "mobile"]}
)
# (day, actor, cost): two records of ann on one day, a day without spend, a new month.
SPEND = [
    ("2026-03-30", "ann", 10.0),
    ("2026-03-30", "ann", 5.0),
    ("2026-03-30", "bob", 12.0),
    ("2026-03-30", "cy", 40.0),
    ("2026-03-31", "bob", 4.0),
    ("2026-03-31", "dee", 15.0),
    ("2026-03-31", "zed", 99.0),  # not in the ledger: Unassigned
    ("2026-04-01", "dee", 1.0),
    ("2026-04-03", "bob", 2.5),
    ("2026-04-03", "ann", 2.5),
]


@pytest.fixture
def spend() -> MonthToDateSpend:
    frame = pd.DataFrame(SPEND, columns=["usage_date", "actor", "cost_usd"])
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    return MonthToDateSpend(frame, LEDGER)


def test_days_asked_in_order_give_the_month_so_far(spend):
    day = pd.Timestamp
    assert spend.top_spenders("mobile", day("2026-03-30")) == [["ann", 15.0], ["bob", 12.0]]
    assert spend.top_spenders("mobile", day("2026-03-31")) == [
        ["bob", 16.0],
        ["ann", 15.0],
        ["dee", 15.0],
    ]
    assert spend.top_spenders("Unassigned", day("2026-03-31")) == [["zed", 99.0]]
    assert spend.top_spenders(TOTAL, day("2026-03-31")) == [
        ["zed", 99.0],
        ["cy", 40.0],
        ["bob", 16.0],
    ]
    # A new month starts from nothing; a day without spend keeps the day before's totals.
    assert spend.top_spenders("mobile", day("2026-04-01")) == [["dee", 1.0]]
    assert spend.top_spenders("mobile", day("2026-04-02")) == [["dee", 1.0]]
    assert spend.top_spenders("mobile", day("2026-04-03")) == [
        ["ann", 2.5],
        ["bob", 2.5],
        ["dee", 1.0],
    ]
    assert spend.top_spenders("search", day("2026-04-03")) == []


def test_an_earlier_day_asked_again_is_summed_afresh(spend):
    assert spend.top_spenders(TOTAL, pd.Timestamp("2026-03-31"))[0] == ["zed", 99.0]
    assert spend.top_spenders(TOTAL, pd.Timestamp("2026-03-30")) == [
        ["cy", 40.0],
        ["ann", 15.0],
        ["bob", 12.0],
    ]


def test_without_spend_there_are_no_spenders():
    nothing = pd.DataFrame(SPEND, columns=["usage_date", "actor", "cost_usd"]).iloc[:0]
    spend = MonthToDateSpend(nothing.astype({"usage_date": "datetime64[ns]"}), LEDGER)
    assert spend.top_spenders(TOTAL, pd.Timestamp("2026-03-31")) == []
    assert spend.top_spenders("mobile", pd.Timestamp("2026-04-01")) == []


def test_a_day_before_any_spend_of_its_month_has_no_spenders(spend):
    assert spend.top_spenders(TOTAL, pd.Timestamp("2026-03-29")) == []
