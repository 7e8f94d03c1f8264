"""The figures of the report's "The bill" section: the month's estimate beside what Anthropic
billed (docs/rules.md, "The bill"). Pure: frames in, figures out."""

from dataclasses import dataclass

import pandas as pd

from budget_pipeline.rules.bill import days_outside_tolerance, discount_received, model_gaps

# Models shown with their gap: the few that explain a stale price file.
GAP_MODELS = 5


@dataclass(frozen=True)
class BillFigures:
    days_with_bill: int
    days_without_bill: int
    estimate_usd: float  # over the days with a bill, so both sides cover the same days
    billed_list_usd: float
    billed_usd: float
    days_outside: pd.DataFrame  # bill_reconciliation rows outside the tolerance
    model_gaps: pd.DataFrame  # over the days outside, largest gap first (rules.bill.model_gaps)

    @property
    def discount(self) -> float | None:
        return discount_received(self.billed_usd, self.billed_list_usd)

    @property
    def has_bill(self) -> bool:
        return self.days_with_bill > 0


def bill_figures(
    reconciled: pd.DataFrame, estimate_by_model: pd.DataFrame, billed_by_model: pd.DataFrame
) -> BillFigures:
    """`reconciled`: the month's bill_reconciliation rows; the other two: per usage_date × model,
    list_price_cost_usd (priced_usage) and list_amount_usd (billed_cost)."""
    billed = reconciled.loc[reconciled["billed_list_usd"].notna()]
    outside = days_outside_tolerance(reconciled)
    gaps = model_gaps(estimate_by_model, billed_by_model, outside["usage_date"])
    return BillFigures(
        days_with_bill=len(billed),
        days_without_bill=len(reconciled) - len(billed),
        estimate_usd=float(billed["estimate_usd"].sum()),
        billed_list_usd=float(billed["billed_list_usd"].sum()),
        billed_usd=float(billed["billed_usd"].sum()),
        days_outside=outside.reset_index(drop=True),
        model_gaps=gaps.head(GAP_MODELS),
    )
