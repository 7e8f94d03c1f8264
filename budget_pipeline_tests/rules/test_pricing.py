import pandas as pd
import pytest

from budget_pipeline.rules.pricing import (
    API_ESTIMATE,
    PRICE_TABLE,
    UnpricedUsageError,
    match_price_model,
    price_usage,
)

PRICE_ROWS = ["claude-opus-4", "claude-opus-4-5", "claude-sonnet-4-6", "claude-haiku-4-5"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        # a prefix must be followed by '-': claude-opus-45 is not a claude-opus-4 model
        ("claude-opus-45", None),
        ("claude-nova-preview", None),
    ],
)
def test_model_matching_takes_exact_row_or_longest_dash_prefix(model, expected):
    assert match_price_model(model, PRICE_ROWS) == expected


def _prices() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("claude-sonnet-4-6", 3.0, 15.0, 3.75, 0.30),
            ("claude-opus-4", 15.0, 75.0, 18.75, 1.50),
            ("claude-opus-4-5", 5.0, 25.0, 6.25, 0.50),
        ],
        columns=[
            "model",
            "input_per_mtok",
            "output_per_mtok",
            "cache_write_per_mtok",
            "cache_read_per_mtok",
        ],
    )


def _usage(model: str, estimate_usd: float = 4.12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "usage_date": pd.to_datetime(["2026-06-01"]),
            "actor": ["dev@example.com"],
            "actor_type": ["user"],
            "model": [model],
            "input_tokens": [41_000],
            "output_tokens": [9_800],
            "cache_read_tokens": [210_000],
            "cache_creation_tokens": [15_000],
            "api_estimated_cost_usd": [estimate_usd],
        }
    )


def test_cost_follows_spec_formula():
    priced = price_usage(_usage("claude-sonnet-4-6"), _prices())
    # 41,000×3 + 9,800×15 + 15,000×3.75 + 210,000×0.30 = 389,250 → $0.38925
    assert priced.loc[0, "cost_usd"] == pytest.approx(0.38925)
    assert priced.loc[0, "price_source"] == PRICE_TABLE
    assert priced.loc[0, "price_model"] == "claude-sonnet-4-6"


def test_dated_opus_4_takes_opus_4_prices_not_opus_4_5():
    priced = price_usage(_usage("claude-opus-4-20250514"), _prices())
    # 41,000×15 + 9,800×75 + 15,000×18.75 + 210,000×1.5 = 1,946,250 → $1.94625
    assert priced.loc[0, "price_model"] == "claude-opus-4"
    assert priced.loc[0, "cost_usd"] == pytest.approx(1.94625)


def test_unknown_model_falls_back_to_api_estimate_never_zero():
    priced = price_usage(_usage("claude-nova-preview", estimate_usd=4.12), _prices())
    assert priced.loc[0, "price_source"] == API_ESTIMATE
    assert priced.loc[0, "price_model"] is None
    assert priced.loc[0, "cost_usd"] == pytest.approx(4.12)


def test_an_unknown_model_without_an_api_estimate_stops_pricing_naming_it():
    with pytest.raises(UnpricedUsageError) as error:
        price_usage(_usage("claude-new-9", estimate_usd=float("nan")), _prices())
    assert str(error.value).startswith("no price for model(s) claude-new-9: not in prices.csv")
    assert "2026-06-01 dev@example.com claude-new-9" in str(error.value)


def test_a_priced_model_without_an_api_estimate_is_priced_from_the_table():
    priced = price_usage(_usage("claude-sonnet-4-6", estimate_usd=float("nan")), _prices())
    assert priced.loc[0, "price_source"] == PRICE_TABLE
    assert priced.loc[0, "cost_usd"] == pytest.approx(0.38925)
    assert priced.loc[0, "api_estimated_cost_usd"] == 0.0
