"""The bill's rules (docs/rules.md, "The bill") with hand-computed expectations."""

import datetime as dt

import pandas as pd
import pytest

from budget_pipeline.rules.bill import (
    NO_MODEL,
    BillRowError,
    billed_actor,
    billed_columns,
    billed_cost_frame,
    billed_row,
    days_at_list_prices,
    days_outside_tolerance,
    discount_received,
    is_within_tolerance,
    model_gap_lines,
    model_gaps,
    reconciliation,
    refreshed_at,
    usd_of_cents,
)
from budget_pipeline.warehouse.contracts import failure_cases

DAY = dt.date(2026, 6, 1)


def cost_row(actor=None, model="claude-sonnet-4-6", **cost):
    return {
        "starting_at": "2026-06-01T00:00:00Z",
        "ending_at": "2026-06-02T00:00:00Z",
        "group": {
            "actor": actor or {"type": "user_actor", "email_address": "dev@example.com"},
            "model": model,
            "product": None,
            "workspace_id": None,
        },
        "cost": {
            "amount": "3208.500000",
            "list_amount": "4011.000000",
            "currency": "USD",
            "requests": 212,
        }
        | cost,
    }


def test_cents_with_a_fraction_become_dollars_to_the_cent():
    row = billed_row(cost_row(), DAY)
    assert row["amount_usd"] == 32.085
    assert row["list_amount_usd"] == 40.11
    assert row["requests"] == 212
    # 0.1 + 0.2 cents would drift as floats; as decimals it is 0.003 dollars exactly.
    assert usd_of_cents("0.300000", "x") == 0.003


def test_a_json_number_is_accepted_as_cents():
    row = billed_row(cost_row(amount=1250, list_amount=1562.5), DAY)
    assert (row["amount_usd"], row["list_amount_usd"]) == (12.5, 15.625)


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (
            {
                "type": "user_actor",
                "user_id": "user_01",
                "email_address": "a@example.com",
                "name": "A",
                "deleted": False,
            },
            ("a@example.com", "user"),
        ),
        ({"type": "api_key_actor", "api_key_id": "apikey_01"}, ("apikey_01", "api_key")),
        ({"type": "api_actor", "api_key_id": "apikey_02"}, ("apikey_02", "api_key")),
        (
            {"type": "service_account_actor", "service_account_id": "svc_01"},
            ("svc_01", "service_account"),
        ),
        (
            {"type": "federated_actor", "provider": "okta", "subject": "u-17", "extra": 1},
            ("okta:u-17", "federated"),
        ),
        (
            {"type": "robot_actor", "robot_id": "r2"},
            ('{"robot_id":"r2","type":"robot_actor"}', "unknown"),
        ),
    ],
)
def test_every_actor_type_is_named_and_an_unknown_one_is_kept(actor, expected):
    assert billed_actor(actor) == expected


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"currency": "EUR"}, "cost.currency: 'EUR' is not USD"),
        ({"amount": "-5.0"}, "cost.amount: '-5.0' is negative"),
        ({"list_amount": "12,5"}, "cost.list_amount: '12,5' is not a number"),
        ({"amount": "NaN"}, "cost.amount: 'NaN' is not a finite number"),
        ({"amount": True}, "cost.amount: expected cents"),
        ({"requests": -1}, "cost.requests"),
    ],
)
def test_a_bad_cost_is_refused_naming_the_field(change, named):
    with pytest.raises(BillRowError, match=named.replace("(", r"\(").replace(")", r"\)")):
        billed_row(cost_row(**change), DAY)


def test_a_row_without_a_model_keeps_its_cost():
    assert billed_row(cost_row(model=None), DAY)["model"] == NO_MODEL


def test_rows_split_beyond_actor_and_model_are_summed():
    refreshed = refreshed_at("2026-06-03T08:00:00Z")
    assert refreshed == dt.datetime(2026, 6, 3, 8)
    rows = [
        billed_row(cost_row(), DAY) | {"data_refreshed_at": refreshed},
        billed_row(cost_row(amount="100", list_amount="100", requests=1), DAY)
        | {"data_refreshed_at": refreshed},
    ]
    frame = billed_cost_frame(rows)
    assert len(frame) == 1
    assert frame.loc[0, "amount_usd"] == pytest.approx(33.085)
    assert frame.loc[0, "list_amount_usd"] == pytest.approx(41.11)
    assert frame.loc[0, "requests"] == 213
    assert failure_cases("billed_cost", frame).empty


def reconcile(estimates: dict[str, float], bill: list[tuple[str, str, float, float]], days):
    billed = pd.DataFrame(bill, columns=["usage_date", "model", "list_amount_usd", "amount_usd"])
    billed["usage_date"] = pd.to_datetime(billed["usage_date"])
    estimate = pd.Series({pd.Timestamp(day): usd for day, usd in estimates.items()})
    return reconciliation(estimate, billed, pd.date_range(*days)).set_index("usage_date")


def test_reconciliation_per_day_by_hand():
    frame = reconcile(
        {"2026-06-01": 102.0, "2026-06-02": 103.0, "2026-06-03": 50.0, "2026-06-05": 0.6},
        [
            ("2026-06-01", "s", 100.0, 85.0),  # gap exactly 2 %: within
            ("2026-06-02", "s", 100.0, 85.0),  # gap 3 %: outside
            # 2026-06-03: usage and no bill: no verdict
            ("2026-06-04", "s", 20.0, 17.0),  # a bill and no usage: outside
            ("2026-06-05", "s", 0.9, 0.9),  # 33 % off, but under $1 on both sides: within
            ("2026-06-06", "s", 0.0, 0.0),  # nothing on either side: within
        ],
        ("2026-06-01", "2026-06-06"),
    )
    assert frame["within_tolerance"].tolist() == [True, False, pd.NA, False, True, True]
    assert frame.loc["2026-06-02", "gap_share"] == pytest.approx(0.03)
    assert frame.loc["2026-06-02", "gap_usd"] == pytest.approx(3.0)
    assert frame.loc["2026-06-02", "billed_usd"] == 85.0
    assert frame.loc["2026-06-04", "estimate_usd"] == 0.0
    assert frame.loc["2026-06-04", "gap_share"] == pytest.approx(-1.0)
    assert pd.isna(frame.loc["2026-06-03", "billed_list_usd"])
    assert pd.isna(frame.loc["2026-06-03", "gap_share"])
    assert pd.isna(frame.loc["2026-06-06", "gap_share"])
    assert failure_cases("bill_reconciliation", frame.reset_index()).empty
    outside = days_outside_tolerance(frame.reset_index())["usage_date"].dt.strftime("%m-%d")
    assert outside.tolist() == ["06-02", "06-04"]


def test_the_tolerance_edge_at_the_cent_and_a_zero_bill():
    assert is_within_tolerance(10.20, 10.00) is True  # 2 % exactly, in floats that are not
    assert is_within_tolerance(10.21, 10.00) is False
    assert is_within_tolerance(9.80, 10.00) is True
    assert is_within_tolerance(1.00, 0.0) is False  # a bill of 0 against a dollar of usage
    assert is_within_tolerance(0.99, 0.0) is True
    assert is_within_tolerance(5.0, None) is None
    assert is_within_tolerance(10.5, 10.0, tolerance=0.05) is True


def test_a_stale_price_is_named_per_model_largest_gap_first():
    days = pd.to_datetime(["2026-06-02", "2026-06-04"])
    estimate = pd.DataFrame(
        {
            "usage_date": pd.to_datetime(["2026-06-02", "2026-06-02", "2026-06-04", "2026-06-01"]),
            "model": ["claude-opus-4-8", "claude-haiku-4-5", "claude-opus-4-8", "claude-opus-4-8"],
            "list_price_cost_usd": [60.0, 10.0, 40.0, 999.0],
        }
    )
    billed = pd.DataFrame(
        {
            "usage_date": pd.to_datetime(["2026-06-02", "2026-06-02", "2026-06-04"]),
            "model": ["claude-opus-4-8", "claude-haiku-4-5", "claude-sonnet-4-6"],
            "list_amount_usd": [75.0, 10.0, 2.0],
        }
    )
    gaps = model_gaps(estimate, billed, days)
    assert gaps["model"].tolist() == ["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"]
    assert gaps["gap_usd"].tolist() == [25.0, -2.0, 0.0]
    assert model_gap_lines(gaps)[0] == (
        "claude-opus-4-8: estimate $100.00 against billed list $75.00 (+33.3%)"
    )


def test_the_discount_received():
    assert discount_received(85.0, 100.0) == pytest.approx(0.15)
    assert discount_received(0.0, 0.0) is None


def test_the_fast_reading_of_a_page_agrees_with_the_row_by_row_rule():
    rows = [
        cost_row(),
        cost_row({"type": "api_key_actor", "api_key_id": "apikey_01"}, amount=1250, requests=3),
    ]
    columns = billed_columns(rows, DAY)
    expected = [billed_row(row, DAY) for row in rows]
    assert columns["actor"] == ["dev@example.com", "apikey_01"]
    assert columns["actor_type"] == ["user", "api_key"]
    assert columns["requests"] == [212, 3]
    assert columns["amount_usd"] == pytest.approx([row["amount_usd"] for row in expected])
    assert columns["list_amount_usd"] == pytest.approx([row["list_amount_usd"] for row in expected])


@pytest.mark.parametrize(
    "odd",
    [
        cost_row({"type": "federated_actor", "provider": "okta", "subject": "u"}),
        cost_row(model=None),
        cost_row(currency="EUR"),
        cost_row(amount="NaN"),
        cost_row(amount=True),
        cost_row(list_amount="-1"),
    ],
)
def test_a_page_with_an_uncommon_row_is_left_to_the_row_by_row_rule(odd):
    assert billed_columns([cost_row(), odd], DAY) is None


def test_the_days_at_list_prices_are_the_enterprise_days_priced_without_their_bill():
    priced = pd.DataFrame(
        {
            "usage_date": pd.to_datetime(
                ["2026-06-01", "2026-06-02", "2026-06-02", "2026-06-03", "2026-06-04"]
            ),
            # 06-01 Console (its figure is the price table's), 06-02 Enterprise with its bill
            # closed, 06-03 Enterprise billed, 06-04 Enterprise closed again
            "price_source": ["price_table", "price_table", "price_table", "billed", "price_table"],
        }
    )
    raw = pd.DataFrame(
        {
            "usage_date": pd.to_datetime(
                ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-04", "2026-06-04"]
            ),
            "source": ["claude_code", "enterprise", "enterprise", "enterprise", "enterprise"],
        }
    )
    assert days_at_list_prices(priced, raw) == ["2026-06-02", "2026-06-04"]
    assert days_at_list_prices(priced, raw.iloc[:1]) == []
    assert days_at_list_prices(priced.iloc[:0], raw) == []
