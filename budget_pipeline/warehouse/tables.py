"""The warehouse contract (SPEC §5): the five tables, their DuckDB types and what each column means.

One definition serves three readers: the DDL that creates the tables (so column types never depend
on what pandas happened to infer for a day, e.g. an all-NULL column on a quiet day), the column
schemas shown in the Dagster UI, and the order of the columns the assets return.
"""

from dataclasses import dataclass

SCHEMA = "budget"


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    description: str


@dataclass(frozen=True)
class Table:
    name: str
    partition_column: str
    columns: tuple[Column, ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def qualified_name(self) -> str:
        return f"{SCHEMA}.{self.name}"

    def create_statement(self) -> str:
        body = ",\n  ".join(f"{c.name} {c.sql_type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified_name} (\n  {body}\n)"


RAW_USAGE = Table(
    name="raw_usage",
    partition_column="usage_date",
    description="One API record (actor × day) as received from the Analytics API.",
    columns=(
        Column("usage_date", "DATE", "UTC day of the record"),
        Column("actor", "VARCHAR", "email address (user) or API key name (api_key)"),
        Column("actor_type", "VARCHAR", "user or api_key"),
        Column("customer_type", "VARCHAR", "customer_type as reported by the API"),
        Column("terminal_type", "VARCHAR", "terminal_type as reported by the API"),
        Column("num_sessions", "BIGINT", "core_metrics.num_sessions"),
        Column("lines_added", "BIGINT", "core_metrics.lines_of_code.added"),
        Column("lines_removed", "BIGINT", "core_metrics.lines_of_code.removed"),
        Column("commits", "BIGINT", "core_metrics.commits_by_claude_code"),
        Column("pull_requests", "BIGINT", "core_metrics.pull_requests_by_claude_code"),
        Column("record_json", "VARCHAR", "the record exactly as received (unknown fields kept)"),
    ),
)

PRICED_USAGE = Table(
    name="priced_usage",
    partition_column="usage_date",
    description="Tokens per actor × model × day, priced with the price table (SPEC §4.1).",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("actor", "VARCHAR", "email address or API key name"),
        Column("actor_type", "VARCHAR", "user or api_key"),
        Column("model", "VARCHAR", "model id as reported by the API"),
        Column("input_tokens", "BIGINT", "input tokens"),
        Column("output_tokens", "BIGINT", "output tokens"),
        Column("cache_read_tokens", "BIGINT", "prompt-cache read tokens"),
        Column("cache_creation_tokens", "BIGINT", "prompt-cache write tokens"),
        Column(
            "price_model", "VARCHAR", "prices.csv row used (exact or longest prefix), NULL if none"
        ),
        Column("price_source", "VARCHAR", "price_table, or api_estimate for an unpriced model"),
        Column("cost_usd", "DOUBLE", "cost in USD (SPEC §4.1; API estimate when unpriced)"),
        Column("api_estimated_cost_usd", "DOUBLE", "the API's estimated_cost.amount / 100"),
    ),
)

WORKSTREAM_COST = Table(
    name="workstream_cost",
    partition_column="usage_date",
    description="Cost per workstream and day; actors missing from the ledger are Unassigned.",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("workstream", "VARCHAR", "ledger workstream, or Unassigned"),
        Column("cost_usd", "DOUBLE", "sum of priced_usage.cost_usd"),
        Column("share", "DOUBLE", "cost_usd / the day's total (NULL when the day cost nothing)"),
        Column("actors", "BIGINT", "distinct actors with usage"),
    ),
)

DAILY_SPEND = Table(
    name="daily_spend",
    partition_column="usage_date",
    description="Total spend per day with the combined alert (SPEC §4.4).",
    columns=(
        Column("usage_date", "DATE", "UTC day"),
        Column("cost_usd", "DOUBLE", "the day's total cost (0 on a day without usage)"),
        Column("same_weekday_last_week_usd", "DOUBLE", "total of D-7 (NULL without 7 days)"),
        Column("ma7_usd", "DOUBLE", "mean total of D-7 … D-1 (NULL without 7 loaded days)"),
        Column("alert", "BOOLEAN", "combined alert verdict (NULL without history)"),
        Column("unassigned_share", "DOUBLE", "Unassigned cost / total (NULL without spend)"),
    ),
)

IDLE_SEATS = Table(
    name="idle_seats",
    partition_column="as_of",
    description="Paid seats idle or barely active over the 14 days ending on as_of (SPEC §4.3).",
    columns=(
        Column("as_of", "DATE", "last day of the window"),
        Column("email", "VARCHAR", "seat email (seats.csv)"),
        Column("workstream", "VARCHAR", "ledger workstream, or Unassigned"),
        Column("sessions", "BIGINT", "sessions in the window"),
        Column("lines_added", "BIGINT", "lines added in the window"),
        Column("status", "VARCHAR", "completely idle or barely active"),
        Column("reason", "VARCHAR", "the seat's human note from seats.csv"),
        Column("monthly_cost_usd", "DOUBLE", "what the seat costs per month"),
        Column("last_active", "DATE", "last day up to as_of with any record; NULL: never seen"),
    ),
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (RAW_USAGE, PRICED_USAGE, WORKSTREAM_COST, DAILY_SPEND, IDLE_SEATS)
}


def as_contract_dtypes(table_name: str, frame):
    """Frames read back from DuckDB with the dtypes the assets produce: nanosecond datetimes for
    dates, and nullable booleans (a BOOLEAN column without NULLs comes back as plain bool)."""
    sql_types = {column.name: column.sql_type for column in TABLES[table_name].columns}
    for column in frame.columns:
        if sql_types.get(column) == "DATE":
            frame[column] = frame[column].astype("datetime64[ns]")
        elif sql_types.get(column) == "BOOLEAN":
            frame[column] = frame[column].astype("boolean")
    return frame
