"""The month's cost in FinOps FOCUS 1.2 columns, for finance tools that read FOCUS exports.

One Usage row per day × actor × model × token type (each type has its own unit price), and one
Purchase row per paid seat for the month. EffectiveCost sums to the report's month total (token
spend from priced_usage plus one month of every seat): a token row's EffectiveCost is the row's
warehouse cost_usd split over its token types in proportion to their list cost, so the export
agrees with the warehouse to the cent even if prices.csv changed after a day was priced. BilledCost
stays empty: the invoice is Anthropic's, not ours to state.

On the Enterprise source the warehouse's cost_usd is what the bill charges (0 where the seat
covers the usage), so a token row's BilledCost and EffectiveCost are that amount, its ListCost
the usage's worth at list prices (priced_usage.list_price_cost_usd), each split over the token
types in proportion to their list cost, and its description says whether it was billed.
"""

import json

import numpy as np
import pandas as pd

from budget_pipeline.report.month import Month
from budget_pipeline.rules.attribution import workstream_of
from budget_pipeline.rules.pricing import PRICE_TABLE, TOKEN_PRICES
from budget_pipeline.warehouse.tables import BILLED

PROVIDER = "Anthropic"
SERVICE_NAME = "Claude Code"
SEAT_SKU = "claude-code-seat"
SEAT_DESCRIPTION = "Claude Code seat, one month"
# An Enterprise seat covers every Claude surface, Claude Code among them.
ENTERPRISE_SEAT_DESCRIPTION = "Claude Enterprise seat, one month"

# FOCUS 1.2 columns in specification order, then our extension (x_ prefix, as FOCUS requires).
FOCUS_COLUMNS = [
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
    "x_Workstream",
]

TOKEN_TYPES = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_creation_tokens": "cache write",
    "cache_read_tokens": "cache read",
}
API_ESTIMATE_TOKENS = "all"
RESOURCE_TYPES = {
    "user": "User",
    "api_key": "API key",
    # The Enterprise source's usage endpoint also reports these actors.
    "service_account": "Service account",
    "federated": "Federated identity",
    "unknown": "Unknown actor",
}
# Decimals of every number in the file: a token row's cost can be a millionth of a dollar, and
# ten decimals keep the rows' sum equal to the month total far below a cent.
FOCUS_DECIMALS = 10


def _timestamp(day: pd.Timestamp) -> str:
    return day.strftime("%Y-%m-%dT00:00:00Z")


def _token_rows(priced_usage: pd.DataFrame, prices: pd.DataFrame, enterprise: bool) -> pd.DataFrame:
    """One row per priced_usage row and token type with tokens, unit price and costs.

    `enterprise`: cost_usd is the bill and list_price_cost_usd the worth (both split over the
    token types); else cost_usd is split and the list cost is the price table's."""
    price_rows = priced_usage[["price_model"]].merge(
        prices.rename(columns={"model": "price_model"}), on="price_model", how="left"
    )
    price_rows.index = priced_usage.index
    list_cost = pd.DataFrame(
        {tokens: priced_usage[tokens] * price_rows[price] / 1e6 for tokens, price in TOKEN_PRICES}
    )
    list_total = list_cost.sum(axis=1)
    # A billed row is split only when its tokens are worth something at the price table: a billed
    # amount without tokens (the usage endpoint lagging) would otherwise vanish in the split.
    priced = priced_usage["price_source"] == PRICE_TABLE
    if enterprise:
        priced |= priced_usage["price_model"].notna() & (list_total > 0)
    worth = priced_usage["list_price_cost_usd"] if enterprise else None
    parts = []
    for tokens, price in TOKEN_PRICES:
        share = (list_cost[tokens] / list_total.where(list_total > 0)).fillna(0.0)
        # Each column cut to the priced rows: a Series assigned to an empty frame would bring
        # its whole index along (every row of an organisation whose rows are all billed).
        parts.append(
            priced_usage.loc[priced].assign(
                token_type=TOKEN_TYPES[tokens],
                quantity=priced_usage.loc[priced, tokens],
                unit_price=price_rows.loc[priced, price],
                list_cost=(list_cost[tokens] if worth is None else worth * share).loc[priced],
                effective_cost=(priced_usage["cost_usd"] * share).loc[priced],
            )
        )
    # A model missing from prices.csv is costed at the API's estimate (Console) or by the bill
    # (Enterprise): one row for all of its tokens, without a list price.
    unpriced = priced_usage.loc[~priced]
    parts.append(
        unpriced.assign(
            token_type=API_ESTIMATE_TOKENS,
            quantity=unpriced[list(TOKEN_TYPES)].sum(axis=1),
            unit_price=np.nan,
            list_cost=unpriced["cost_usd"] if worth is None else worth.loc[~priced],
            effective_cost=unpriced["cost_usd"],
        )
    )
    rows = pd.concat(parts, ignore_index=True)
    keep = (rows["quantity"] > 0) | (rows["effective_cost"] > 0)
    return rows.loc[keep].sort_values(["usage_date", "actor", "model", "token_type"])


def _console_description(model: str, kind: str) -> str:
    if kind == API_ESTIMATE_TOKENS:
        return f"{model} tokens at the API's estimate"
    return f"{model} {kind} tokens"


def enterprise_description(
    model: str, kind: str, listed: bool, actor_type: str, price_source: str, cost_usd: float
) -> str:
    """What an Enterprise token row is: billed, covered by the seat, or (the bill closed to the
    organisation) at list price. `listed`: the model has a row in prices.csv."""
    tokens = f"{model} tokens" if kind == API_ESTIMATE_TOKENS else f"{model} {kind} tokens"
    if not listed:
        tokens += " (not in prices.csv)"
    if price_source != BILLED:
        return f"{tokens} at list price (no bill for the day)"
    # An API key or a service account has no seat: its usage is billed or it is not.
    seat = actor_type == "user"
    if cost_usd > 0:
        return f"{tokens}, billed{' beyond the seat' if seat else ''}"
    return f"{tokens}, {'covered by the seat' if seat else 'not billed'}"


def focus_cost_export(
    priced_usage: pd.DataFrame,
    ledger: pd.DataFrame,
    prices: pd.DataFrame,
    seats: pd.DataFrame,
    month: Month,
    billing_account_id: str | None = None,
    enterprise: bool = False,
) -> pd.DataFrame:
    """The month's token usage and seats as FOCUS 1.2 rows (`priced_usage` may hold other days:
    only the month's are exported). `enterprise`: the month was read with the Enterprise source,
    whose cost_usd is the bill."""
    in_month = priced_usage.loc[priced_usage["usage_date"].between(month.start, month.end)]
    tokens = _token_rows(in_month, prices, enterprise)
    token_workstreams = workstream_of(tokens["actor"], ledger)
    usage = pd.DataFrame(
        {
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "ChargeDescription": [
                enterprise_description(
                    row.model,
                    row.token_type,
                    pd.notna(row.price_model),
                    row.actor_type,
                    row.price_source,
                    row.cost_usd,
                )
                if enterprise
                else _console_description(row.model, row.token_type)
                for row in tokens.itertuples()
            ],
            "ChargePeriodStart": tokens["usage_date"].map(_timestamp),
            "ChargePeriodEnd": (tokens["usage_date"] + pd.Timedelta(days=1)).map(_timestamp),
            "ConsumedQuantity": tokens["quantity"].astype("int64"),
            "ConsumedUnit": "Tokens",
            "PricingQuantity": tokens["quantity"] / 1e6,
            "PricingUnit": "1M Tokens",
            "ListUnitPrice": tokens["unit_price"],
            "ContractedUnitPrice": tokens["unit_price"],
            "ListCost": tokens["list_cost"],
            "EffectiveCost": tokens["effective_cost"],
            "ResourceId": tokens["actor"],
            "ResourceName": tokens["actor"],
            "ResourceType": tokens["actor_type"].map(RESOURCE_TYPES),
            "SkuId": tokens["model"],
            "SkuPriceId": [
                f"{price_model or model}:{kind}"
                for price_model, model, kind in zip(
                    tokens["price_model"], tokens["model"], tokens["token_type"], strict=True
                )
            ],
            "x_Workstream": token_workstreams.to_numpy(),
        }
    )
    seat_workstreams = workstream_of(seats["email"], ledger)
    purchases = pd.DataFrame(
        {
            "ChargeCategory": "Purchase",
            "ChargeFrequency": "Recurring",
            "ChargeDescription": ENTERPRISE_SEAT_DESCRIPTION if enterprise else SEAT_DESCRIPTION,
            "ChargePeriodStart": _timestamp(month.start),
            "ChargePeriodEnd": _timestamp(month.next_start),
            "PricingQuantity": 1.0,
            "PricingUnit": "Seat-Months",
            "ListUnitPrice": seats["monthly_cost_usd"].to_numpy(dtype="float64"),
            "ContractedUnitPrice": seats["monthly_cost_usd"].to_numpy(dtype="float64"),
            "ListCost": seats["monthly_cost_usd"].to_numpy(dtype="float64"),
            "EffectiveCost": seats["monthly_cost_usd"].to_numpy(dtype="float64"),
            "ResourceId": seats["email"].to_numpy(),
            "ResourceName": seats["email"].to_numpy(),
            "ResourceType": "Seat",
            "SkuId": SEAT_SKU,
            "SkuPriceId": SEAT_SKU,
            "x_Workstream": seat_workstreams.to_numpy(),
        }
    )
    frame = pd.concat([usage, purchases], ignore_index=True)
    # Token counts stay integers in the CSV although seat rows have none (FOCUS: Usage only).
    frame["ConsumedQuantity"] = frame["ConsumedQuantity"].astype("Int64")
    frame["ContractedCost"] = frame["EffectiveCost"]
    frame["PricingCurrencyEffectiveCost"] = frame["EffectiveCost"]
    frame["PricingCurrencyListUnitPrice"] = frame["ListUnitPrice"]
    frame["PricingCurrencyContractedUnitPrice"] = frame["ContractedUnitPrice"]
    frame["Tags"] = [json.dumps({"workstream": ws}) for ws in frame["x_Workstream"]]
    # What the bill charged, on the Enterprise source only and only for the rows it priced: the
    # seats are seats.csv's figure, and a day without a bill was priced at list price.
    frame["BilledCost"] = None
    if enterprise:
        billed = np.full(len(frame), np.nan)
        billed[: len(usage)] = np.where(
            tokens["price_source"].to_numpy() == BILLED, usage["EffectiveCost"], np.nan
        )
        frame["BilledCost"] = billed
    constants = {
        "BillingAccountId": billing_account_id,
        "BillingCurrency": "USD",
        "BillingPeriodStart": _timestamp(month.start),
        "BillingPeriodEnd": _timestamp(month.next_start),
        "InvoiceIssuerName": PROVIDER,
        "PricingCategory": "Standard",
        "PricingCurrency": "USD",
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": SERVICE_NAME,
        "ServiceSubcategory": "Generative AI",
    }
    for column, value in constants.items():
        frame[column] = value
    return frame.reindex(columns=FOCUS_COLUMNS)
