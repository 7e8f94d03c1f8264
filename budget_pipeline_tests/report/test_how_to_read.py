"""The page's closing note, "How to read these numbers", says what token spend is on each source:
a list-price estimate on the Console source, the bill on the Enterprise source."""

from types import SimpleNamespace

import pandas as pd

from budget_pipeline.report import page
from budget_pipeline.report.month import Month
from budget_pipeline.rules.seat_value import SeatValue

EXPORTS = {"the month's cost in FOCUS columns": "focus-cost-2026-03.csv"}


def figures(console_source: bool, days_not_billed: int = 0) -> SimpleNamespace:
    # Tokens $4.25 + 2 seats $15.00 = $19.25; the usage was worth $23.50 at list prices.
    value = SeatValue(
        list_price_worth_usd=23.50,
        seat_cost_usd=15.0,
        billed_usd=4.25,
        days=31,
        days_not_billed=days_not_billed,
    )
    return SimpleNamespace(
        month=Month.from_key("2026-03"),
        days_loaded=pd.date_range("2026-03-01", "2026-03-31"),
        previous_days_loaded=28,
        seats=2,
        token_cost_usd=4.25,
        seat_cost_usd=15.0,
        total_cost_usd=19.25,
        console_source=console_source,
        seat_value=None if console_source else value,
    )


def test_on_the_console_source_token_spend_is_the_price_list_estimate():
    text = page._files_section(figures(console_source=True), EXPORTS)
    assert (
        "<li><strong>Spent this month</strong> = token spend of the loaded days ($4.25, "
        "prices.csv; the API's own estimate for unpriced models) + one month of each of the 2 "
        "seats in seats.csv ($15.00) = $19.25."
    ) in text
    assert "bill" not in text


def test_on_the_enterprise_source_token_spend_is_the_bill_and_list_prices_only_its_worth():
    text = page._files_section(figures(console_source=False), EXPORTS)
    assert (
        "<li><strong>Spent this month</strong> = what Anthropic's bill charged for the tokens "
        "of the loaded days ($4.25, the Usage and Cost Analytics API; $0 for usage a seat "
        "covers) + one month of each of the 2 seats in seats.csv ($15.00) = $19.25. The FOCUS "
        "export's EffectiveCost adds up to this figure; its token rows' BilledCost is the "
        "bill.</li>"
    ) in text
    assert "list prices (prices.csv) only say what the usage was worth ($23.50" in text
    assert "estimate for unpriced models" not in text
    assert "closed" not in text


def test_an_enterprise_month_with_days_the_bill_was_closed_says_they_count_at_list_price():
    text = page._files_section(figures(console_source=False, days_not_billed=3), EXPORTS)
    assert (
        "On 3 day(s) the bill was closed to the organisation: their tokens count at list "
        "price instead."
    ) in text
