"""Pandera contracts of the five tables, evaluated as each asset's blocking schema check before
its rows are written (budget_pipeline/defs/checks.py), so a bad day never lands."""

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from budget_pipeline.rules.idle_seats import BARELY_ACTIVE, COMPLETELY_IDLE
from budget_pipeline.rules.pricing import API_ESTIMATE, PRICE_TABLE


class RawUsage(pa.DataFrameModel):
    usage_date: Series[pa.DateTime]
    actor: Series[str] = pa.Field(str_length={"min_value": 1})
    actor_type: Series[str] = pa.Field(isin=["user", "api_key"])
    customer_type: Series[str] = pa.Field(nullable=True)
    terminal_type: Series[str] = pa.Field(nullable=True)
    num_sessions: Series[int] = pa.Field(ge=0)
    lines_added: Series[int] = pa.Field(ge=0)
    lines_removed: Series[int] = pa.Field(ge=0)
    commits: Series[int] = pa.Field(ge=0)
    pull_requests: Series[int] = pa.Field(ge=0)
    record_json: Series[str] = pa.Field(str_startswith="{")

    class Config:
        strict = True


class PricedUsage(pa.DataFrameModel):
    usage_date: Series[pa.DateTime]
    actor: Series[str] = pa.Field(str_length={"min_value": 1})
    actor_type: Series[str] = pa.Field(isin=["user", "api_key"])
    model: Series[str] = pa.Field(str_length={"min_value": 1})
    input_tokens: Series[int] = pa.Field(ge=0)
    output_tokens: Series[int] = pa.Field(ge=0)
    cache_read_tokens: Series[int] = pa.Field(ge=0)
    cache_creation_tokens: Series[int] = pa.Field(ge=0)
    price_model: Series[str] = pa.Field(nullable=True)
    price_source: Series[str] = pa.Field(isin=[PRICE_TABLE, API_ESTIMATE])
    cost_usd: Series[float] = pa.Field(ge=0)
    api_estimated_cost_usd: Series[float] = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["usage_date", "actor", "model"]

    @pa.dataframe_check(error="price_model must be set exactly when price_source is price_table")
    def price_model_matches_source(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["price_model"].notna() == (frame["price_source"] == PRICE_TABLE)


class WorkstreamCost(pa.DataFrameModel):
    usage_date: Series[pa.DateTime]
    workstream: Series[str] = pa.Field(str_length={"min_value": 1})
    cost_usd: Series[float] = pa.Field(ge=0)
    share: Series[float] = pa.Field(ge=0, le=1.000001, nullable=True)
    actors: Series[int] = pa.Field(ge=1)

    class Config:
        strict = True
        unique = ["usage_date", "workstream"]


class DailySpend(pa.DataFrameModel):
    usage_date: Series[pa.DateTime] = pa.Field(unique=True)
    cost_usd: Series[float] = pa.Field(ge=0)
    same_weekday_last_week_usd: Series[float] = pa.Field(ge=0, nullable=True)
    ma7_usd: Series[float] = pa.Field(ge=0, nullable=True)
    alert: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    unassigned_share: Series[float] = pa.Field(ge=0, le=1.000001, nullable=True)

    class Config:
        strict = True

    @pa.dataframe_check(error="alert must be NULL exactly when the baselines are NULL")
    def verdict_needs_history(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["alert"].isna() == frame["ma7_usd"].isna()


class IdleSeats(pa.DataFrameModel):
    as_of: Series[pa.DateTime]
    email: Series[str] = pa.Field(str_length={"min_value": 1})
    workstream: Series[str]
    sessions: Series[int] = pa.Field(ge=0)
    lines_added: Series[int] = pa.Field(ge=0)
    status: Series[str] = pa.Field(isin=[COMPLETELY_IDLE, BARELY_ACTIVE])
    reason: Series[str] = pa.Field(nullable=True)
    monthly_cost_usd: Series[float] = pa.Field(ge=0)
    last_active: Series[pa.DateTime] = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["as_of", "email"]

    @pa.dataframe_check(error="last_active must not be after as_of")
    def last_active_not_after_as_of(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["last_active"].isna() | (frame["last_active"] <= frame["as_of"])


SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "raw_usage": RawUsage,
    "priced_usage": PricedUsage,
    "workstream_cost": WorkstreamCost,
    "daily_spend": DailySpend,
    "idle_seats": IdleSeats,
}


def failure_cases(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Every violation of the table's contract (empty when the frame is valid)."""
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases[["column", "check", "failure_case", "index"]].astype(str)
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])
