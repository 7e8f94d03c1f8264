"""The warehouse contract: every table of schema `budget`, its columns, their DuckDB types, what
each means and what every row must satisfy (docs/rules.md, "Output tables").

This is the one definition of a table. Everything else is derived from it: the DDL that creates
the tables (so column types never depend on what pandas happened to infer for a quiet day), the
column schemas shown in the Dagster UI (`defs/metadata.py`), the Pandera contracts that block a
bad write (`warehouse/contracts.py`) and the order of the columns the assets return.
"""

from collections.abc import Callable
from dataclasses import dataclass

SCHEMA = "budget"

# The words a row may carry in its vocabulary columns.
USER, API_KEY = "user", "api_key"
# The bill names three more kinds of actor, and keeps one of a kind it does not know.
SERVICE_ACCOUNT, FEDERATED, UNKNOWN_ACTOR = "service_account", "federated", "unknown"
PRICE_TABLE, API_ESTIMATE = "price_table", "api_estimate"
# An Enterprise organisation's cost is what the bill says (docs/rules.md, "Which source").
BILLED = "billed"
CLAUDE_CODE_SOURCE, ENTERPRISE_SOURCE = "claude_code", "enterprise"
ACTOR_TYPES = (USER, API_KEY, SERVICE_ACCOUNT, FEDERATED, UNKNOWN_ACTOR)
COMPLETELY_IDLE, BARELY_ACTIVE = "completely idle", "barely active"
NO_CLAUDE_CODE_USE = "no Claude Code use"
OVER_BUDGET, FORECAST_OVER_BUDGET, ON_TRACK = "over budget", "forecast over budget", "on track"
# A share is a ratio of two sums of floats: allow the rounding of the division.
SHARE_MAX = 1.000001


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str
    nullable: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] = ()
    non_empty: bool = False
    starts_with: str | None = None
    unique: bool = False
    # DuckDB's storage for the column; None lets DuckDB choose per segment.
    compression: str | None = None

    @property
    def definition(self) -> str:
        using = f" USING COMPRESSION {self.compression}" if self.compression else ""
        return f"{self.name} {self.sql_type}{using}"


@dataclass(frozen=True)
class RowCheck:
    """A rule that ties columns of one row together; `holds` returns a boolean per row."""

    name: str
    error: str
    holds: Callable


@dataclass(frozen=True)
class Table:
    name: str
    partition_column: str
    columns: tuple[Column, ...]
    description: str
    unique_together: tuple[str, ...] = ()
    row_checks: tuple[RowCheck, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def qualified_name(self) -> str:
        return f"{SCHEMA}.{self.name}"

    def create_statement(self, name: str | None = None, *, replace: bool = False) -> str:
        """The DDL of the table, or of a table shaped like it named `name` (a staging table)."""
        body = ",\n  ".join(column.definition for column in self.columns)
        create = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
        return f"{create} {name or self.qualified_name} (\n  {body}\n)"


def _count(name: str, description: str, *, min_value: int = 0) -> Column:
    return Column(name, "BIGINT", description, min_value=min_value)


def _usd(name: str, description: str, *, nullable: bool = False) -> Column:
    return Column(name, "DOUBLE", description, nullable=nullable, min_value=0)


def _share(name: str, description: str) -> Column:
    return Column(name, "DOUBLE", description, nullable=True, min_value=0, max_value=SHARE_MAX)


def _actor_columns() -> tuple[Column, ...]:
    # The Enterprise source also reports service accounts and other actors with tokens.
    return (
        Column(
            "actor",
            "VARCHAR",
            "email address (user), API key name (api_key; its api_key_id on the enterprise "
            "source), service_account_id, provider:subject (federated) or the actor's JSON",
            non_empty=True,
        ),
        Column(
            "actor_type",
            "VARCHAR",
            "user, api_key, service_account, federated or unknown",
            allowed=ACTOR_TYPES,
        ),
    )


RAW_USAGE = Table(
    name="raw_usage",
    partition_column="usage_date",
    description="One API record (actor × day) as received from the Analytics API.",
    columns=(
        Column("usage_date", "DATE", "UTC day of the record"),
        *_actor_columns(),
        Column("customer_type", "VARCHAR", "customer_type as reported by the API", nullable=True),
        Column("terminal_type", "VARCHAR", "terminal_type as reported by the API", nullable=True),
        _count("num_sessions", "core_metrics.num_sessions"),
        _count("lines_added", "core_metrics.lines_of_code.added"),
        _count("lines_removed", "core_metrics.lines_of_code.removed"),
        _count("commits", "core_metrics.commits_by_claude_code"),
        _count("pull_requests", "core_metrics.pull_requests_by_claude_code"),
        Column(
            "record_json",
            "VARCHAR",
            "the record exactly as received (unknown fields kept)",
            starts_with="{",
            # ~800 bytes a record: zstd writes it in half the time DuckDB's own choice takes
            # (dictionary + FSST, chosen per segment) and a quarter of the bytes; reading it
            # back costs the same (docs/performance.md).
            compression="zstd",
        ),
        # Last: a warehouse written before these columns gains them at the end (migrations.py).
        Column(
            "source",
            "VARCHAR",
            "claude_code (Claude Code Analytics API) or enterprise (Claude Enterprise "
            "Analytics API)",
            allowed=(CLAUDE_CODE_SOURCE, ENTERPRISE_SOURCE),
        ),
        Column(
            "other_activity",
            "BIGINT",
            "enterprise: chat, Cowork, Design, Science and Office messages plus web searches; "
            "NULL for the claude_code source and for actors without a member row",
            nullable=True,
            min_value=0,
        ),
    ),
)

RAW_TOKEN_USAGE = Table(
    name="raw_token_usage",
    partition_column="usage_date",
    description="Enterprise source: each row of the usage endpoint (actor × model × day) as "
    "received, kept so that pricing again never calls the API.",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        *_actor_columns(),
        Column("model", "VARCHAR", "model id as reported by the API", non_empty=True),
        _count("input_tokens", "usage.uncached_input_tokens"),
        _count("output_tokens", "usage.output_tokens"),
        _count("cache_read_tokens", "usage.cache_read_input_tokens"),
        _count("cache_creation_5m_tokens", "usage.cache_creation.ephemeral_5m_input_tokens"),
        _count("cache_creation_1h_tokens", "usage.cache_creation.ephemeral_1h_input_tokens"),
        Column(
            "record_json",
            "VARCHAR",
            "the row exactly as received",
            starts_with="{",
            compression="zstd",
        ),
    ),
)

PRICED_USAGE = Table(
    name="priced_usage",
    partition_column="usage_date",
    description="Tokens per actor × model × day, priced with the price table (docs/rules.md).",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        *_actor_columns(),
        Column("model", "VARCHAR", "model id as reported by the API", non_empty=True),
        _count("input_tokens", "input tokens"),
        _count("output_tokens", "output tokens"),
        _count("cache_read_tokens", "prompt-cache read tokens"),
        _count("cache_creation_tokens", "prompt-cache write tokens"),
        Column(
            "price_model",
            "VARCHAR",
            "prices.csv row used (exact or longest prefix), NULL if none",
            nullable=True,
        ),
        Column(
            "price_source",
            "VARCHAR",
            "price_table, api_estimate for an unpriced model, or billed (enterprise source)",
            allowed=(PRICE_TABLE, API_ESTIMATE, BILLED),
        ),
        _usd(
            "cost_usd",
            "cost in USD (the API's estimate when the model is unpriced; on the enterprise "
            "source what the bill charges, 0 where the seat covers the usage)",
        ),
        _usd("api_estimated_cost_usd", "the API's estimated_cost.amount / 100"),
        # Last: a warehouse written before this column gains it at the end (migrations.py).
        _usd(
            "list_price_cost_usd",
            "the usage's worth at list prices, set against the bill (claude_code source: equal "
            "to cost_usd)",
        ),
    ),
    unique_together=("usage_date", "actor", "model"),
    row_checks=(
        RowCheck(
            "price_model_matches_source",
            "price_model must be set exactly when price_source is price_table (billed: set "
            "when prices.csv has the model)",
            lambda frame: (
                (frame["price_source"] == BILLED)
                | (frame["price_model"].notna() == (frame["price_source"] == PRICE_TABLE))
            ),
        ),
    ),
)

WORKSTREAM_COST = Table(
    name="workstream_cost",
    partition_column="usage_date",
    description="Cost per workstream and day; actors missing from the ledger are Unassigned.",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("workstream", "VARCHAR", "ledger workstream, or Unassigned", non_empty=True),
        _usd("cost_usd", "sum of priced_usage.cost_usd"),
        _share("share", "cost_usd / the day's total (NULL when the day cost nothing)"),
        _count("actors", "distinct actors with usage", min_value=1),
    ),
    unique_together=("usage_date", "workstream"),
)

DAILY_SPEND = Table(
    name="daily_spend",
    partition_column="usage_date",
    description="Total spend per day with the combined spend alert (docs/rules.md).",
    columns=(
        Column("usage_date", "DATE", "UTC day", unique=True),
        _usd("cost_usd", "the day's total cost (0 on a day without usage)"),
        _usd("same_weekday_last_week_usd", "total of D-7 (NULL without 7 days)", nullable=True),
        _usd("ma7_usd", "mean total of D-7 … D-1 (NULL without 7 loaded days)", nullable=True),
        Column("alert", "BOOLEAN", "combined alert verdict (NULL without history)", nullable=True),
        _share("unassigned_share", "Unassigned cost / total (NULL without spend)"),
    ),
    row_checks=(
        RowCheck(
            "verdict_needs_history",
            "alert must be NULL exactly when the baselines are NULL",
            lambda frame: frame["alert"].isna() == frame["ma7_usd"].isna(),
        ),
    ),
)

IDLE_SEATS = Table(
    name="idle_seats",
    partition_column="as_of",
    description="Paid seats idle or barely active over the trailing window ending on as_of "
    "(14 days by default).",
    columns=(
        Column("as_of", "DATE", "last day of the window"),
        Column("email", "VARCHAR", "seat email (seats.csv)", non_empty=True),
        Column("workstream", "VARCHAR", "ledger workstream, or Unassigned"),
        _count("sessions", "sessions in the window"),
        _count("lines_added", "lines added in the window"),
        Column(
            "status",
            "VARCHAR",
            "completely idle, no Claude Code use or barely active",
            allowed=(COMPLETELY_IDLE, NO_CLAUDE_CODE_USE, BARELY_ACTIVE),
        ),
        Column("reason", "VARCHAR", "the seat's human note from seats.csv", nullable=True),
        _usd("monthly_cost_usd", "what the seat costs per month"),
        Column(
            "last_active",
            "DATE",
            "last day up to as_of with any record; NULL: never seen",
            nullable=True,
        ),
        # Last: a warehouse written before this column gains it at the end (migrations.py).
        Column(
            "other_activity",
            "DOUBLE",
            "enterprise: other_activity over the window (chat, Cowork, Office, ...); NULL on "
            "the claude_code source",
            nullable=True,
            min_value=0,
        ),
    ),
    unique_together=("as_of", "email"),
    row_checks=(
        RowCheck(
            "last_active_not_after_as_of",
            "last_active must not be after as_of",
            lambda frame: frame["last_active"].isna() | (frame["last_active"] <= frame["as_of"]),
        ),
    ),
)

BUDGET_FORECAST = Table(
    name="budget_forecast",
    partition_column="as_of",
    description="Month-end forecast per workstream, Unassigned and TOTAL (the organisation, "
    "seats included) against each monthly budget, as of each day (docs/rules.md).",
    columns=(
        Column("as_of", "DATE", "the day the forecast is made"),
        Column("month", "DATE", "first day of the month forecast"),
        Column(
            "workstream",
            "VARCHAR",
            "ledger workstream, Unassigned, or TOTAL (the whole organisation)",
            non_empty=True,
        ),
        _usd("spent_to_date_usd", "spend of the 1st of the month … as_of (TOTAL: plus seats)"),
        _usd("forecast_usd", "spent so far plus each remaining day's weekday run rate"),
        _usd("budget_usd", "the month's budget from budgets.csv (NULL: no budget)", nullable=True),
        _usd(
            "forecast_vs_budget",
            "forecast / budget (NULL without a budget or budget 0)",
            nullable=True,
        ),
        Column(
            "status",
            "VARCHAR",
            "over budget, forecast over budget or on track (NULL without a budget)",
            nullable=True,
            allowed=(OVER_BUDGET, FORECAST_OVER_BUDGET, ON_TRACK),
        ),
        # Last, so that a warehouse written before it gains it in place (connection.py).
        _count(
            "run_rate_days",
            "loaded days of the 28 up to as_of that the run rate is the mean of (below 7: an "
            "early guess; NULL in rows written before this column existed)",
            min_value=1,
        ),
    ),
    unique_together=("as_of", "workstream"),
    row_checks=(
        RowCheck(
            "status_needs_a_budget",
            "status must be NULL exactly when budget_usd is NULL",
            lambda frame: frame["status"].isna() == frame["budget_usd"].isna(),
        ),
        RowCheck(
            "forecast_not_below_spent",
            "forecast_usd must not be below spent_to_date_usd",
            lambda frame: frame["forecast_usd"] >= frame["spent_to_date_usd"] - 1e-9,
        ),
    ),
)

BILLED_COST = Table(
    name="billed_cost",
    partition_column="usage_date",
    description="What Anthropic bills per actor × model × day for Claude Code, from the Usage "
    'and Cost Analytics API (docs/rules.md, "The bill").',
    columns=(
        Column("usage_date", "DATE", "UTC day billed"),
        Column(
            "actor",
            "VARCHAR",
            "email (user), api_key_id (api_key), service_account_id, provider:subject "
            "(federated), or the actor's JSON (unknown)",
            non_empty=True,
        ),
        Column(
            "actor_type",
            "VARCHAR",
            "user, api_key, service_account, federated or unknown",
            allowed=(USER, API_KEY, SERVICE_ACCOUNT, FEDERATED, UNKNOWN_ACTOR),
        ),
        Column("model", "VARCHAR", "model id as billed", non_empty=True),
        _usd("amount_usd", "billed after discounts, before credits: cost.amount / 100"),
        _usd("list_amount_usd", "billed at list price, before discounts: cost.list_amount / 100"),
        _count("requests", "requests billed"),
        Column(
            "data_refreshed_at",
            "TIMESTAMP",
            "when the API last refreshed these figures (UTC; they settle over ~30 days)",
            nullable=True,
        ),
    ),
    unique_together=("usage_date", "actor", "actor_type", "model"),
)

BILL_RECONCILIATION = Table(
    name="bill_reconciliation",
    partition_column="usage_date",
    description="The estimate (usage at list prices) against the bill, per day "
    '(docs/rules.md, "The bill").',
    columns=(
        Column("usage_date", "DATE", "UTC day", unique=True),
        _usd("estimate_usd", "sum of priced_usage.list_price_cost_usd"),
        _usd(
            "billed_list_usd", "sum of billed_cost.list_amount_usd (NULL: no bill)", nullable=True
        ),
        _usd("billed_usd", "sum of billed_cost.amount_usd (NULL: no bill)", nullable=True),
        Column(
            "gap_usd", "DOUBLE", "estimate_usd - billed_list_usd (NULL: no bill)", nullable=True
        ),
        Column(
            "gap_share",
            "DOUBLE",
            "gap_usd / billed_list_usd (NULL: no bill, or billed list 0)",
            nullable=True,
        ),
        Column(
            "within_tolerance",
            "BOOLEAN",
            "estimate and bill agree within bill_tolerance (NULL: no bill for the day)",
            nullable=True,
        ),
    ),
    row_checks=(
        RowCheck(
            "verdict_needs_a_bill",
            "within_tolerance must be NULL exactly when billed_list_usd is NULL",
            lambda frame: frame["within_tolerance"].isna() == frame["billed_list_usd"].isna(),
        ),
    ),
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        RAW_USAGE,
        RAW_TOKEN_USAGE,
        PRICED_USAGE,
        WORKSTREAM_COST,
        DAILY_SPEND,
        IDLE_SEATS,
        BUDGET_FORECAST,
        BILLED_COST,
        BILL_RECONCILIATION,
    )
}


def as_contract_dtypes(table_name: str, frame):
    """Frames read back from DuckDB with the dtypes the assets produce: nanosecond datetimes for
    dates, and nullable booleans (a BOOLEAN column without NULLs comes back as plain bool)."""
    sql_types = {column.name: column.sql_type for column in TABLES[table_name].columns}
    nullable_counts = nullable_count_columns(TABLES[table_name])
    for column in frame.columns:
        if sql_types.get(column) in ("DATE", "TIMESTAMP"):
            frame[column] = frame[column].astype("datetime64[ns]")
        elif sql_types.get(column) == "BOOLEAN":
            frame[column] = frame[column].astype("boolean")
        elif column in nullable_counts:
            frame[column] = frame[column].astype("float64")
    return frame


def nullable_count_columns(table: Table) -> set[str]:
    """Counts that may be NULL: pandas holds them as floats (NaN for NULL)."""
    return {c.name for c in table.columns if c.sql_type == "BIGINT" and c.nullable}
