"""API records → the rows of `raw_usage` and the per-model token rows behind pricing.

Session and line metrics belong to the record; tokens belong to the record *and model*. Keeping
the two apart is what stops a mixed-model day from counting its sessions twice.
"""

import datetime as dt
from collections.abc import Iterable

import orjson
import pandas as pd

from budget_pipeline.warehouse.tables import CLAUDE_CODE_SOURCE, RAW_USAGE

ACTOR_TYPES = {"user_actor": "user", "api_actor": "api_key"}

MODEL_USAGE_COLUMNS = [
    "usage_date",
    "actor",
    "actor_type",
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "api_estimated_cost_usd",
]
TOKEN_COLUMNS = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"]


def actor_of(record: dict) -> tuple[str, str]:
    """(actor id, actor_type): the email for a user, the key name for an API key."""
    actor = record["actor"]
    if actor["type"] == "user_actor":
        return actor["email_address"], "user"
    return actor["api_key_name"], "api_key"


def raw_usage_rows(day: dt.date, records: Iterable[dict]) -> pd.DataFrame:
    """One row per record; the record itself is kept verbatim in `record_json`."""
    rows = []
    for record in records:
        actor, actor_type = actor_of(record)
        metrics = record.get("core_metrics") or {}
        lines = metrics.get("lines_of_code") or {}
        rows.append(
            (
                day,
                actor,
                actor_type,
                record.get("customer_type"),
                record.get("terminal_type"),
                metrics.get("num_sessions", 0),
                lines.get("added", 0),
                lines.get("removed", 0),
                metrics.get("commits_by_claude_code", 0),
                metrics.get("pull_requests_by_claude_code", 0),
                orjson.dumps(record).decode(),
                CLAUDE_CODE_SOURCE,
                None,
            )
        )
    frame = pd.DataFrame(rows, columns=RAW_USAGE.column_names)
    frame["usage_date"] = frame["usage_date"].astype("datetime64[ns]")
    for column in ("num_sessions", "lines_added", "lines_removed", "commits", "pull_requests"):
        frame[column] = frame[column].astype("int64")
    frame["other_activity"] = frame["other_activity"].astype("float64")
    return frame


# The model breakdown is parsed by DuckDB straight from the stored record_json: no record ever
# becomes a Python object again after raw_usage, whatever the size of the range.
# estimated_cost is read as JSON because the record contract accepts it as {"amount": cents} or
# as a bare number of cents: a struct type would read the bare number as NULL.
_MODEL_BREAKDOWN_TYPE = (
    '[{"model": "VARCHAR", "tokens": {"input": "BIGINT", "output": "BIGINT", '
    '"cache_read": "BIGINT", "cache_creation": "BIGINT"}, "estimated_cost": "JSON"}]'
)
# The entry's estimate in cents, either shape; NULL when the entry has none.
_ESTIMATE_CENTS = (
    "CASE WHEN starts_with(entry.estimated_cost, '{') "
    "THEN TRY_CAST(entry.estimated_cost ->> '$.amount' AS DOUBLE) "
    "ELSE TRY_CAST(entry.estimated_cost AS DOUBLE) END"
)
MODEL_USAGE_SQL = f"""
WITH entries AS (
    SELECT usage_date, actor, actor_type,
           -- one parse of the record (json_extract first parses it twice: ~20 % slower)
           unnest(from_json(record_json, '{{"model_breakdown": {_MODEL_BREAKDOWN_TYPE}}}')
                  .model_breakdown) AS entry
    FROM {RAW_USAGE.qualified_name}
    WHERE usage_date BETWEEN $first AND $last
)
SELECT usage_date,
       actor,
       first(actor_type ORDER BY actor_type) AS actor_type,
       entry.model AS model,
       sum(coalesce(entry.tokens.input, 0))::BIGINT AS input_tokens,
       sum(coalesce(entry.tokens.output, 0))::BIGINT AS output_tokens,
       sum(coalesce(entry.tokens.cache_read, 0))::BIGINT AS cache_read_tokens,
       sum(coalesce(entry.tokens.cache_creation, 0))::BIGINT AS cache_creation_tokens,
       -- in cents; NULL when an entry has no estimate: a partial sum would under-price an
       -- unknown model, and pricing decides what a missing estimate means
       CASE WHEN count(estimate_cents) = count(*) THEN sum(estimate_cents) / 100 END
           AS api_estimated_cost_usd
FROM (SELECT *, {_ESTIMATE_CENTS} AS estimate_cents FROM entries)
GROUP BY usage_date, actor, entry.model
ORDER BY usage_date, actor, model
"""


def model_usage(connection, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Tokens per usage_date × actor × model of the stored raw_usage rows, summed over the
    actor's records of the day.

    The API normally sends one record per actor and day, but may split a day (e.g. by
    terminal): every record counts. `api_estimated_cost_usd` is NaN when any of the
    summed entries had no estimate.
    """
    frame = connection.execute(MODEL_USAGE_SQL, {"first": first, "last": last}).fetchdf()
    frame["usage_date"] = frame["usage_date"].astype("datetime64[ns]")
    frame["api_estimated_cost_usd"] = frame["api_estimated_cost_usd"].astype("float64")
    return frame[MODEL_USAGE_COLUMNS]
