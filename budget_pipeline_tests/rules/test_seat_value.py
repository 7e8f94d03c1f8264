"""What the seats delivered against what they cost, on a small organisation worked out by hand to
the cent."""

import json

import pandas as pd
import pytest

from budget_pipeline.rules.seat_value import seat_value, seats_on_other_surfaces, surface_use

SEATS = pd.DataFrame(
    {"email": ["ada@example.com", "bo@example.com"], "monthly_cost_usd": [10.0, 5.0]}
)


def priced(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["usage_date", "actor", "list_price_cost_usd", "cost_usd", "price_source"]
    )
    return frame.assign(usage_date=pd.to_datetime(frame["usage_date"]))


MONTH = priced(
    [
        # Within Ada's seat: worth $7.25, billed 0.
        ("2026-03-01", "ada@example.com", 7.25, 0.0, "billed"),
        # Beyond it: billed at list.
        ("2026-03-01", "ada@example.com", 0.30, 0.30, "billed"),
        # An API key: all of it billed.
        ("2026-03-02", "apikey_01", 1.50, 1.50, "billed"),
        # A heavy day: $12.40 worth, $0.40 of it beyond the seat.
        ("2026-03-02", "ada@example.com", 12.40, 0.40, "billed"),
        # The bill closed that day: the usage counts as paid at list price.
        ("2026-03-03", "bo@example.com", 2.05, 2.05, "price_table"),
    ]
)


def test_the_usage_at_list_prices_against_seats_and_bill_to_the_cent():
    value = seat_value(MONTH, SEATS)
    # 7.25 + 0.30 + 1.50 + 12.40 + 2.05
    assert value.list_price_worth_usd == pytest.approx(23.50)
    assert value.seat_cost_usd == 15.0
    # 0 + 0.30 + 1.50 + 0.40 + 2.05
    assert value.billed_usd == pytest.approx(4.25)
    assert value.paid_usd == pytest.approx(19.25)
    assert value.worth_per_dollar_paid == pytest.approx(23.50 / 19.25)
    assert f"{value.worth_per_dollar_paid:.2f}" == "1.22"
    assert value.worth_minus_paid_usd == pytest.approx(4.25)
    assert (value.days, value.days_not_billed) == (3, 1)


def test_nothing_paid_has_no_ratio():
    value = seat_value(MONTH.head(0), SEATS.head(0))
    assert value.paid_usd == 0 and pd.isna(value.worth_per_dollar_paid)
    assert (value.days, value.days_not_billed) == (0, 0)


def member(email: str, **blocks) -> str:
    return json.dumps({"user": {"email_address": email}, **blocks})


def test_each_surface_counts_its_members_and_their_use():
    raw = pd.DataFrame(
        [
            (
                "Ada@Example.com",
                "enterprise",
                6,
                member(
                    "Ada@Example.com",
                    claude_code_metrics={"core_metrics": {"distinct_session_count": 2}},
                    chat_metrics={"message_count": 3},
                    office_metrics={"excel": {"message_count": 2}, "word": {"message_count": None}},
                    web_search_count=1,
                ),
            ),
            # The same member another day, spelled otherwise: still one member.
            (
                "ada@example.com",
                "enterprise",
                4,
                member(
                    "ada@example.com",
                    claude_code_metrics={"core_metrics": {"distinct_session_count": 1}},
                    cowork_metrics={"message_count": 4},
                ),
            ),
            # Listed with zeros, every block null.
            (
                "bo@example.com",
                "enterprise",
                0,
                member("bo@example.com", claude_code_metrics=None, chat_metrics=None),
            ),
            # Chat only; Design not enabled (null).
            (
                "cy@example.com",
                "enterprise",
                5,
                member("cy@example.com", chat_metrics={"message_count": 5}, design_metrics=None),
            ),
            # An API key's tokens: not a member.
            ("apikey_01", "enterprise", None, json.dumps({"usage": [{"usage": {}}]})),
            # A Console record: not this source.
            ("dee@example.com", "claude_code", None, json.dumps({"core_metrics": {}})),
        ],
        columns=["actor", "source", "other_activity", "record_json"],
    )
    use = surface_use(raw).set_index("surface")
    assert use.loc["Claude Code"].tolist() == ["sessions", 1, 3]
    assert use.loc["Chat"].tolist() == ["messages", 2, 8]
    assert use.loc["Cowork"].tolist() == ["messages", 1, 4]
    assert use.loc["Office (Excel, Outlook, PowerPoint, Word)"].tolist() == ["messages", 1, 2]
    assert use.loc["Design"].tolist() == ["messages", 0, 0]
    assert use.loc["Science"].tolist() == ["messages", 0, 0]
    assert use.loc["Web search"].tolist() == ["searches", 1, 1]


def test_the_seats_used_only_on_other_surfaces_are_the_no_claude_code_use_ones():
    idle = pd.DataFrame(
        {
            "email": ["a@x.com", "b@x.com", "c@x.com"],
            "status": ["completely idle", "no Claude Code use", "barely active"],
            "monthly_cost_usd": [60.0, 75.0, 60.0],
        }
    )
    assert seats_on_other_surfaces(idle)["email"].tolist() == ["b@x.com"]
