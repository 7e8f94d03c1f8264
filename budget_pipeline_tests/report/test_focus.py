"""The FOCUS 1.2 export on a hand-sized month: one priced row, one unpriced row, two seats."""

import csv
import io

import pandas as pd
import pytest

from budget_pipeline.report.files import focus_csv
from budget_pipeline.report.focus import FOCUS_COLUMNS, focus_cost_export
from budget_pipeline.report.month import Month

PRICES = pd.DataFrame(
    {
        "model": ["claude-sonnet-4-6"],
        "input_per_mtok": [3.0],
        "output_per_mtok": [15.0],
        "cache_write_per_mtok": [3.75],
        "cache_read_per_mtok": [0.30],
    }
)
LEDGER = pd.DataFrame({"actor": ["dev@x", "ci-bot"], "workstream": ["web", "platform"]})
SEATS = pd.DataFrame(
    {"email": ["dev@x", "idle@x"], "monthly_cost_usd": [150.0, 100.0], "note": ["", ""]}
)


def usage(day: str, actor: str, model: str, price_model, tokens, cost: float) -> dict:
    source = "price_table" if price_model else "api_estimate"
    return dict(
        usage_date=pd.Timestamp(day),
        actor=actor,
        actor_type="user" if "@" in actor else "api_key",
        model=model,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cache_creation_tokens=tokens[2],
        cache_read_tokens=tokens[3],
        price_model=price_model,
        price_source=source,
        cost_usd=cost,
    )


# $3.00 input + $1.50 output + $0.30 cache read = $4.80; no cache writes: no row for them
PRICED = pd.DataFrame(
    [
        usage("2026-03-02", "dev@x", "claude-sonnet-4-6-2026", "claude-sonnet-4-6",
              (1_000_000, 100_000, 0, 1_000_000), 4.80),
        usage("2026-03-02", "ci-bot", "claude-nova-preview", None, (600, 400, 0, 0), 2.0),
        usage("2026-02-28", "dev@x", "claude-sonnet-4-6", "claude-sonnet-4-6", (1, 1, 1, 1), 9.0),
    ]
)  # fmt: skip


def test_usage_rows_per_token_type_and_a_purchase_row_per_seat():
    export = focus_cost_export(PRICED, LEDGER, PRICES, SEATS, Month.from_key("2026-03"))
    assert list(export.columns) == FOCUS_COLUMNS
    usage_rows = export.loc[export["ChargeCategory"] == "Usage"].set_index("ChargeDescription")
    assert list(usage_rows.index) == [
        "claude-nova-preview tokens at the API's estimate",
        "claude-sonnet-4-6-2026 cache read tokens",
        "claude-sonnet-4-6-2026 input tokens",
        "claude-sonnet-4-6-2026 output tokens",
    ]
    read = usage_rows.loc["claude-sonnet-4-6-2026 cache read tokens"]
    assert read["ConsumedQuantity"] == 1_000_000 and read["PricingQuantity"] == 1.0
    assert read["ListUnitPrice"] == 0.30 and read["ListCost"] == pytest.approx(0.30)
    assert read["EffectiveCost"] == pytest.approx(0.30)
    assert read["SkuId"] == "claude-sonnet-4-6-2026"
    assert read["SkuPriceId"] == "claude-sonnet-4-6:cache read"
    assert read["ChargePeriodStart"] == "2026-03-02T00:00:00Z"
    assert read["ChargePeriodEnd"] == "2026-03-03T00:00:00Z"
    assert read["x_Workstream"] == "web" and read["ResourceType"] == "User"
    unpriced = usage_rows.loc["claude-nova-preview tokens at the API's estimate"]
    assert unpriced["ConsumedQuantity"] == 1000 and pd.isna(unpriced["ListUnitPrice"])
    assert unpriced["EffectiveCost"] == 2.0 and unpriced["x_Workstream"] == "platform"

    seats = export.loc[export["ChargeCategory"] == "Purchase"].set_index("ResourceId")
    assert seats["EffectiveCost"].to_dict() == {"dev@x": 150.0, "idle@x": 100.0}
    assert seats.loc["idle@x", "x_Workstream"] == "Unassigned"
    assert set(seats["ChargePeriodStart"]) == {"2026-03-01T00:00:00Z"}
    assert set(seats["ChargePeriodEnd"]) == {"2026-04-01T00:00:00Z"}
    assert pd.isna(seats["ConsumedQuantity"]).all()  # FOCUS: only Usage rows consume

    # February's row is not in March's export; the month adds up to tokens + seats
    assert export["EffectiveCost"].sum() == pytest.approx(4.80 + 2.0 + 250.0)
    assert export["BilledCost"].isna().all()
    assert set(export["BillingPeriodStart"]) == {"2026-03-01T00:00:00Z"}


def test_effective_cost_follows_the_warehouse_when_prices_changed_since():
    # the day was priced at twice today's list prices: EffectiveCost keeps the warehouse's $9.60
    repriced = PRICED.assign(cost_usd=PRICED["cost_usd"].where(PRICED["actor"] != "dev@x", 9.60))
    export = focus_cost_export(repriced, LEDGER, PRICES, SEATS, Month.from_key("2026-03"))
    sonnet = export.loc[export["SkuId"] == "claude-sonnet-4-6-2026"].set_index("ChargeDescription")
    assert sonnet["EffectiveCost"].sum() == pytest.approx(9.60)
    assert sonnet.loc["claude-sonnet-4-6-2026 input tokens", "EffectiveCost"] == pytest.approx(6.0)
    assert sonnet.loc["claude-sonnet-4-6-2026 input tokens", "ListCost"] == pytest.approx(3.0)


def test_the_file_writes_every_cost_with_ten_decimals_and_no_float_noise():
    # 0.1 + 0.2 of cost: in binary the split would read 0.30000000000000004
    noisy = PRICED.assign(cost_usd=[0.1 + 0.2, 2.0, 9.0])
    export = focus_cost_export(noisy, LEDGER, PRICES, SEATS, Month.from_key("2026-03"))
    rows = list(csv.DictReader(io.StringIO(focus_csv(export))))
    by_description = {row["ChargeDescription"]: row for row in rows}
    cache_read = by_description["claude-sonnet-4-6-2026 cache read tokens"]
    assert cache_read["EffectiveCost"] == "0.0187500000"
    assert cache_read["ListCost"] == "0.3000000000"
    assert cache_read["ListUnitPrice"] == "0.3000000000"
    assert cache_read["PricingQuantity"] == "1.0000000000"
    assert cache_read["ConsumedQuantity"] == "1000000"
    assert cache_read["BilledCost"] == ""
    for row in rows:
        for column in ("EffectiveCost", "ListCost", "PricingQuantity"):
            decimals = row[column].split(".")[1]
            assert len(decimals) == 10, (column, row[column])


def test_a_month_whose_rows_are_all_billed_exports_each_on_its_own_day():
    # An Enterprise organisation's rows are all priced by the bill: none by the price table.
    billed = PRICED.assign(price_source="billed", price_model=None)
    export = focus_cost_export(billed, LEDGER, PRICES, SEATS, Month.from_key("2026-03"))
    usage_rows = export.loc[export["ChargeCategory"] == "Usage"]
    assert list(usage_rows["ChargePeriodStart"]) == ["2026-03-02T00:00:00Z"] * 2
    assert usage_rows["EffectiveCost"].sum() == pytest.approx(4.80 + 2.0)


def billed(day: str, actor: str, actor_type: str, model: str, price_model, tokens, cost, worth):
    row = usage(day, actor, model, price_model, tokens, cost)
    row.update(actor_type=actor_type, price_source="billed", list_price_cost_usd=worth)
    return row


# An Enterprise month (the usage's worth at list prices beside what the bill charged):
ENTERPRISE = pd.DataFrame(
    [
        # worth $3.00 input + $1.50 output + $0.30 cache read = $4.80; $2.40 billed beyond the seat
        billed("2026-03-02", "dev@x", "user", "claude-sonnet-4-6", "claude-sonnet-4-6",
               (1_000_000, 100_000, 0, 1_000_000), 2.40, 4.80),
        # worth 0.2M × $3 = $0.60, all covered by the seat
        billed("2026-03-03", "seat@x", "user", "claude-sonnet-4-6", "claude-sonnet-4-6",
               (200_000, 0, 0, 0), 0.0, 0.60),
        # a model prices.csv lacks: worth the bill's list amount $1.25, billed $1.00
        billed("2026-03-03", "svc_01", "service_account", "claude-nova-preview", None,
               (600, 400, 0, 0), 1.00, 1.25),
        # billed $0.40 with no token row (the usage endpoint lagging)
        billed("2026-03-04", "dev@x", "user", "claude-sonnet-4-6", "claude-sonnet-4-6",
               (0, 0, 0, 0), 0.40, 0.0),
        # a day the bill was closed: priced at list price, $3.00, nothing billed
        {**billed("2026-03-05", "dev@x", "user", "claude-sonnet-4-6", "claude-sonnet-4-6",
                  (1_000_000, 0, 0, 0), 3.00, 3.00), "price_source": "price_table"},
        billed("2026-02-28", "dev@x", "user", "claude-sonnet-4-6", "claude-sonnet-4-6",
               (1, 1, 1, 1), 9.0, 9.0),
    ]
)  # fmt: skip


def test_an_enterprise_month_bills_what_the_bill_charged_and_lists_what_the_usage_was_worth():
    export = focus_cost_export(
        ENTERPRISE, LEDGER, PRICES, SEATS, Month.from_key("2026-03"), enterprise=True
    )
    assert list(export.columns) == FOCUS_COLUMNS
    usage_rows = export.loc[export["ChargeCategory"] == "Usage"]
    rows = usage_rows.set_index("ChargeDescription")[["BilledCost", "EffectiveCost", "ListCost"]]
    expected = {
        # the $2.40 bill split as the $4.80 worth: input 3/4.8, output 1.5/4.8, cache read 0.3/4.8
        "claude-sonnet-4-6 cache read tokens, billed beyond the seat": (0.15, 0.15, 0.30),
        "claude-sonnet-4-6 input tokens, billed beyond the seat": (1.50, 1.50, 3.00),
        "claude-sonnet-4-6 output tokens, billed beyond the seat": (0.75, 0.75, 1.50),
        "claude-nova-preview tokens (not in prices.csv), billed": (1.00, 1.00, 1.25),
        "claude-sonnet-4-6 input tokens, covered by the seat": (0.0, 0.0, 0.60),
        "claude-sonnet-4-6 tokens, billed beyond the seat": (0.40, 0.40, 0.0),
        "claude-sonnet-4-6 input tokens at list price (no bill for the day)": (None, 3.00, 3.00),
    }
    assert sorted(rows.index) == sorted(expected)
    for description, (billed_usd, effective_usd, list_usd) in expected.items():
        row = rows.loc[description]
        if billed_usd is None:
            assert pd.isna(row["BilledCost"]), description
        else:
            assert row["BilledCost"] == pytest.approx(billed_usd), description
        assert row["EffectiveCost"] == pytest.approx(effective_usd), description
        assert row["ListCost"] == pytest.approx(list_usd), description
    by_description = usage_rows.set_index("ChargeDescription")
    unlisted = by_description.loc["claude-nova-preview tokens (not in prices.csv), billed"]
    assert unlisted["ConsumedQuantity"] == 1000 and pd.isna(unlisted["ListUnitPrice"])
    assert unlisted["ResourceType"] == "Service account"
    covered = by_description.loc["claude-sonnet-4-6 input tokens, covered by the seat"]
    assert covered["ConsumedQuantity"] == 200_000 and covered["ListUnitPrice"] == 3.0
    no_tokens = by_description.loc["claude-sonnet-4-6 tokens, billed beyond the seat"]
    assert no_tokens["ConsumedQuantity"] == 0
    assert no_tokens["ChargePeriodStart"] == "2026-03-04T00:00:00Z"

    # The tokens' bill is $2.40 + $1.00 + $0.40; the month (seats included) adds up as the page
    assert usage_rows["BilledCost"].sum() == pytest.approx(3.80)
    assert usage_rows["ListCost"].sum() == pytest.approx(4.80 + 0.60 + 1.25 + 3.00)
    assert export["EffectiveCost"].sum() == pytest.approx(2.40 + 1.00 + 0.40 + 3.00 + 250.0)
    seats = export.loc[export["ChargeCategory"] == "Purchase"]
    assert set(seats["ChargeDescription"]) == {"Claude Enterprise seat, one month"}
    assert seats["BilledCost"].isna().all()

    text = focus_csv(export)
    assert "at the API's estimate" not in text
    by_line = {row["ChargeDescription"]: row for row in csv.DictReader(io.StringIO(text))}
    covered_line = by_line["claude-sonnet-4-6 input tokens, covered by the seat"]
    assert covered_line["BilledCost"] == "0.0000000000"
    assert covered_line["ListCost"] == "0.6000000000"
