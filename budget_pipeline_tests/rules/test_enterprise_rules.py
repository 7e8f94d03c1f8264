"""The Enterprise source's rules on their own, with hand-made rows."""

import datetime as dt

import pandas as pd
import pytest

from budget_pipeline.rules.enterprise import price_enterprise_usage, raw_frames, repeated_member
from budget_pipeline.rules.pricing import UnpricedUsageError


def test_a_member_listed_once_a_day_is_no_repeat():
    assert repeated_member([["ada@example.com", "bo@example.com"], ["cy@example.com"]]) is None


def test_a_member_listed_twice_on_one_page_is_named_with_that_page():
    pages = [["ada@example.com"], ["bo@example.com", "cy@example.com", "bo@example.com"]]
    assert repeated_member(pages) == (2, "bo@example.com", 2)


def test_a_member_listed_again_on_a_later_page_matches_trimmed_and_case_insensitively():
    pages = [["Ada@Example.com", "bo@example.com"], ["cy@example.com"], [" ada@example.com "]]
    assert repeated_member(pages) == (3, " ada@example.com ", 1)


DAY = dt.date(2026, 3, 2)
SONNET, MYSTERY = "claude-sonnet-4-6", "claude-mystery-1"
PRICES = pd.DataFrame(
    {
        "model": [SONNET],
        "input_per_mtok": [3.0],
        "output_per_mtok": [15.0],
        "cache_write_per_mtok": [3.75],
        "cache_read_per_mtok": [0.30],
        "cache_write_1h_per_mtok": [6.0],
    }
)
NO_BILL = pd.DataFrame(
    columns=["usage_date", "actor", "actor_type", "model", "amount_usd", "list_amount_usd"]
)


def usage_row(actor: dict, model: str, input_tokens: int) -> dict:
    return {
        "group": {"actor": actor, "model": model},
        "usage": {"uncached_input_tokens": input_tokens},
    }


ADA = {"type": "user_actor", "email_address": "ada@example.com"}
ACCOUNT = {"type": "service_account_actor", "service_account_id": "svcacct_01xyz"}


def tokens(*rows: dict) -> pd.DataFrame:
    return raw_frames(DAY, [], rows)[1]


def test_a_closed_bill_prices_known_models_at_list_prices():
    priced = price_enterprise_usage(
        tokens(usage_row(ADA, SONNET, 1_000_000)), NO_BILL, PRICES, bill_closed=True
    )
    assert priced["cost_usd"].tolist() == [pytest.approx(3.0)]
    assert priced["price_source"].tolist() == ["price_table"]


def test_a_closed_bill_and_a_model_prices_csv_lacks_is_never_priced_at_zero():
    usage = tokens(usage_row(ADA, SONNET, 1_000_000), usage_row(ACCOUNT, MYSTERY, 10))
    with pytest.raises(UnpricedUsageError) as error:
        price_enterprise_usage(usage, NO_BILL, PRICES, bill_closed=True)

    message = str(error.value)
    assert f"no price for model(s) {MYSTERY}" in message
    assert f"2026-03-02 svcacct_01xyz {MYSTERY}" in message
    assert "the bill, closed to this organisation" in message
    assert "Add a row for the model to prices.csv" in message and SONNET not in message
