"""Pricing (docs/rules.md, "Pricing")."""

from collections.abc import Iterable

import numpy as np
import pandas as pd

from budget_pipeline.rules.config_files import PRICE_COLUMNS
from budget_pipeline.warehouse.tables import API_ESTIMATE, PRICE_TABLE, PRICED_USAGE

# (token column, price column): the four terms of the cost of a row (docs/rules.md, "Pricing")
TOKEN_PRICES = (
    ("input_tokens", "input_per_mtok"),
    ("output_tokens", "output_per_mtok"),
    ("cache_creation_tokens", "cache_write_per_mtok"),
    ("cache_read_tokens", "cache_read_per_mtok"),
)


def match_price_model(model: str, price_models: Iterable[str]) -> str | None:
    """The price-table row for a usage model id: exact match, else the longest row that is a
    prefix of the id followed by '-' (so a dated id takes its family's row, and
    `claude-opus-4-20250514` takes `claude-opus-4`, never `claude-opus-4-5`)."""
    candidates = list(price_models)
    if model in candidates:
        return model
    prefixes = [row for row in candidates if model.startswith(row + "-")]
    return max(prefixes, key=len) if prefixes else None


def cost_usd(tokens: pd.DataFrame, prices: pd.DataFrame) -> pd.Series:
    """The cost of each row (docs/rules.md); `prices` is aligned with `tokens` (four price
    columns)."""
    total = np.zeros(len(tokens))
    for token_column, price_column in TOKEN_PRICES:
        total += tokens[token_column].to_numpy(dtype="float64") * prices[price_column].to_numpy(
            dtype="float64"
        )
    return pd.Series(total / 1e6, index=tokens.index)


class UnpricedUsageError(ValueError):
    """Usage of a model that neither the price table nor the API prices."""


def unpriced_usage_message(
    rows: pd.DataFrame, *, missing: str = "the API sent no estimated_cost to fall back on"
) -> str:
    """The one line that stops a run on usage nothing prices: the models, then the first rows'
    day, actor and model, and what to do; `missing` says what had no figure to fall back on."""
    models = ", ".join(sorted(rows["model"].unique()))
    examples = "; ".join(
        f"{row.usage_date:%Y-%m-%d} {row.actor} {row.model}" for row in rows.head(5).itertuples()
    )
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return (
        f"no price for model(s) {models}: not in prices.csv and {missing} "
        f"({examples}{more}). Add a row for the model to prices.csv and "
        "re-run these days; nothing was written"
    )


def price_usage(model_usage: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Add price_model, price_source and cost_usd to per-model token rows.

    An unknown model is never priced at $0: it falls back to the API's own estimate (in
    `api_estimated_cost_usd`, from `estimated_cost` as `{"amount": cents}` or as bare cents,
    the two shapes the record contract accepts) and is marked `api_estimate` so that a check can
    name it. The contract also accepts an entry without an estimate; for a model of the price
    table that changes nothing (its estimate counts as 0), but an unknown model without one has
    no price at all, so pricing raises UnpricedUsageError naming it rather than guess $0.
    """
    missing_estimate = model_usage["api_estimated_cost_usd"].isna()
    price_models = prices["model"].tolist()
    matches = {
        model: match_price_model(model, price_models) for model in model_usage["model"].unique()
    }
    priced = model_usage.copy()
    priced["price_model"] = priced["model"].map(matches).astype("object")
    row_prices = priced[["price_model"]].merge(
        prices.rename(columns={"model": "price_model"}), on="price_model", how="left"
    )
    row_prices.index = priced.index
    has_price = priced["price_model"].notna()
    if (missing_estimate & ~has_price).any():
        raise UnpricedUsageError(unpriced_usage_message(priced.loc[missing_estimate & ~has_price]))
    priced["api_estimated_cost_usd"] = priced["api_estimated_cost_usd"].fillna(0.0)
    table_cost = cost_usd(priced, row_prices[list(PRICE_COLUMNS)].fillna(0.0))
    priced["price_source"] = np.where(has_price, PRICE_TABLE, API_ESTIMATE)
    priced["cost_usd"] = table_cost.where(has_price, priced["api_estimated_cost_usd"]).astype(
        "float64"
    )
    priced["price_model"] = priced["price_model"].where(has_price, None)
    # This source's usage is not billed row by row: its worth at list prices is its cost.
    priced["list_price_cost_usd"] = priced["cost_usd"]
    return priced[PRICED_USAGE.column_names].reset_index(drop=True)


def unpriced_models(priced_usage: pd.DataFrame) -> list[str]:
    return sorted(priced_usage.loc[priced_usage["price_source"] == API_ESTIMATE, "model"].unique())
