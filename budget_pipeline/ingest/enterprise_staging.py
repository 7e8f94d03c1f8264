"""Enterprise pages → staged raw_usage and raw_token_usage rows, parsed and judged by DuckDB.

Read in Python, every member and usage row became ~40 objects, was read field by field,
serialised again for record_json, built into frames and scanned back by DuckDB, all under the
GIL: at 5,000 members that was most of a backfill, 2.5 times the Console's records, while the
Console source hands its pages to DuckDB (`page_staging.py`). Here each page is written to a
spool folder as it arrives, and two statements read a chunk of whole days with `read_json`,
judging every row in SQL while the next days are fetched.

DuckDB only stages what it can prove the Python readers (`rules.enterprise.member_raw_row`,
`token_row`) accept, and reads it the same way. Stricter where that is simpler: an email must
be visible ASCII only (so that trimming and lower-casing match Python's), an actor of another
type than the four known is left to Python (its id is its JSON as Python prints it). Anything
doubtful, a member listed twice included, sends the chunk back to the caller, who reads it in
Python: its error names the day, the page, the row and the field, and it accepts the odd but
valid. Nothing of a chunk is staged until every row of it is judged.
"""

import datetime as dt
import json
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from budget_pipeline.ingest.page_staging import READ_SPOOLED_PAGES, new_spool
from budget_pipeline.rules.enterprise import OFFICE_PRODUCTS, OTHER_SURFACES, SUBSCRIPTION
from budget_pipeline.warehouse.tables import (
    API_KEY,
    ENTERPRISE_SOURCE,
    FEDERATED,
    SERVICE_ACCOUNT,
    USER,
)

# A day's pages as fetched: (day, member pages, usage pages), each page the file of its 200 body
# in the stager's spool (`EnterprisePageStager.spool_page`).
DayPages = tuple[dt.date, list[Path], list[Path]]

_TOKENS = "_enterprise_tokens"

# Every value the readers judge, as JSON text (DuckDB's typed reads are lax: "4", 4.5 and true
# all read as BIGINT 4). JSON null and a missing key or block both read as NULL; a block that is
# not an object reads as an object of NULLs, as Python reads it as {}.
_MEMBER_TYPE = json.dumps(
    {
        "user": {"email_address": "JSON"},
        "claude_code_metrics": {
            "core_metrics": {
                "distinct_session_count": "JSON",
                "commit_count": "JSON",
                "pull_request_count": "JSON",
                "lines_of_code": {"added_count": "JSON", "removed_count": "JSON"},
            }
        },
        **{surface: {"message_count": "JSON"} for surface in OTHER_SURFACES},
        "office_metrics": {product: {"message_count": "JSON"} for product in OFFICE_PRODUCTS},
        "web_search_count": "JSON",
    }
)
_ACTOR_FIELDS = (
    "type",
    "email_address",
    "api_key_id",
    "api_key_name",
    "service_account_id",
    "provider",
    "subject",
)
_TOKEN_TYPE = json.dumps(
    {
        "group": {"actor": dict.fromkeys(_ACTOR_FIELDS, "JSON"), "model": "JSON"},
        "usage": {
            "uncached_input_tokens": "JSON",
            "output_tokens": "JSON",
            "cache_read_input_tokens": "JSON",
            "cache_creation": {
                "ephemeral_5m_input_tokens": "JSON",
                "ephemeral_1h_input_tokens": "JSON",
            },
        },
    }
)


def _count_ok(text: str) -> str:
    """SQL: absent, null, or a non-negative integer that fits the table's BIGINT."""
    return (
        f"({text} IS NULL OR (regexp_full_match({text}, '[0-9]+') "
        f"AND TRY_CAST({text} AS BIGINT) IS NOT NULL))"
    )


def _count(text: str) -> str:
    return f"coalesce(TRY_CAST({text} AS BIGINT), 0)"


def _non_empty_string(text: str) -> str:
    return f"coalesce(starts_with({text}, '\"') AND {text} <> '\"\"', false)"


def _email_ok(text: str) -> str:
    """A JSON string of visible ASCII only: Python's strip() and lower() then agree with SQL's."""
    visible = f"regexp_full_match({text} ->> '$', '[!-~]+')"
    return f"coalesce(starts_with({text}, '\"') AND {visible}, false)"


_MEMBER_COUNTS = {
    "num_sessions": "v.claude_code_metrics.core_metrics.distinct_session_count",
    "lines_added": "v.claude_code_metrics.core_metrics.lines_of_code.added_count",
    "lines_removed": "v.claude_code_metrics.core_metrics.lines_of_code.removed_count",
    "commits": "v.claude_code_metrics.core_metrics.commit_count",
    "pull_requests": "v.claude_code_metrics.core_metrics.pull_request_count",
}
_OTHER_COUNTS = [
    *(f"v.{surface}.message_count" for surface in OTHER_SURFACES),
    *(f"v.office_metrics.{product}.message_count" for product in OFFICE_PRODUCTS),
    "v.web_search_count",
]
_TOKEN_COUNTS = {
    "input_tokens": "v.usage.uncached_input_tokens",
    "output_tokens": "v.usage.output_tokens",
    "cache_read_tokens": "v.usage.cache_read_input_tokens",
    "cache_creation_5m_tokens": "v.usage.cache_creation.ephemeral_5m_input_tokens",
    "cache_creation_1h_tokens": "v.usage.cache_creation.ephemeral_1h_input_tokens",
}

OFF_THE_FAST_PATH = "budget_pipeline: enterprise row off the fast path"


def _rows(row_type: str) -> str:
    """SQL: each row of the spooled pages `$files` of one endpoint, with its day, its page file
    (the day and the page number, so they sort in cursor order) and its place on the page."""
    return f"""
WITH pages AS (
    SELECT parse_filename(filename) AS page_file, coalesce(data, [NULL::JSON]) AS page_rows
    FROM {READ_SPOOLED_PAGES}
),
records AS (
    SELECT page_file, unnest(page_rows) AS record, unnest(range(len(page_rows))) AS row_index
    FROM pages
),
parsed AS (
    SELECT substr(page_file, 1, 10)::DATE AS usage_date, page_file, row_index, record,
           from_json(record, '{row_type}') AS v
    FROM records
)"""


_MEMBER_OK = " AND ".join(
    [
        "json_type(record) = 'OBJECT'",
        _email_ok("v.user.email_address"),
        *(_count_ok(path) for path in [*_MEMBER_COUNTS.values(), *_OTHER_COUNTS]),
    ]
)
# Straight into the staging table, in the chunk's transaction: no copy of the records.
MEMBERS_SQL = f"""
INSERT INTO @raw@ BY NAME
{_rows(_MEMBER_TYPE)}
SELECT usage_date, v.user.email_address ->> '$' AS actor, '{USER}' AS actor_type,
       '{SUBSCRIPTION}' AS customer_type, NULL AS terminal_type,
       {", ".join(f"{_count(path)} AS {name}" for name, path in _MEMBER_COUNTS.items())},
       record::VARCHAR AS record_json, '{ENTERPRISE_SOURCE}' AS source,
       {" + ".join(_count(path) for path in _OTHER_COUNTS)} AS other_activity
FROM parsed
WHERE CASE WHEN coalesce({_MEMBER_OK}, false) THEN true ELSE error('{OFF_THE_FAST_PATH}') END
"""
# The chunk's member rows: only members have a customer_type on the Enterprise source, and
# each day is staged in one chunk.
_CHUNK_MEMBERS = (
    f"SELECT usage_date, lower(actor) AS email FROM @raw@ "
    f"WHERE list_contains($days, usage_date) AND customer_type = '{SUBSCRIPTION}'"
)
# One member is one row a day: a second listing is left to Python, whose error names its page.
REPEATED_MEMBER_SQL = (
    f"SELECT 1 FROM ({_CHUNK_MEMBERS}) GROUP BY usage_date, email HAVING count(*) > 1 LIMIT 1"
)

_ACTOR = "v.group.actor"


def _first_string(*fields: str) -> str:
    """SQL: the first of the actor's `fields` that is a non-empty string, else NULL."""
    whens = " ".join(
        f"WHEN {_non_empty_string(f'{_ACTOR}.{field}')} THEN {_ACTOR}.{field} ->> '$'"
        for field in fields
    )
    return f"CASE {whens} END"


_FEDERATED_ID = f"""CASE WHEN {_non_empty_string(f"{_ACTOR}.provider")}
        AND {_non_empty_string(f"{_ACTOR}.subject")}
    THEN ({_ACTOR}.provider ->> '$') || ':' || ({_ACTOR}.subject ->> '$') END"""
# `rules.bill.billed_actor` in SQL for the four known actor types; NULL for anything else.
_ACTOR_ID = f"""CASE {_ACTOR}.type
    WHEN '"user_actor"' THEN CASE WHEN {_email_ok(f"{_ACTOR}.email_address")}
        THEN {_ACTOR}.email_address ->> '$' END
    WHEN '"api_key_actor"' THEN {_first_string("api_key_id", "api_key_name")}
    WHEN '"api_actor"' THEN {_first_string("api_key_id", "api_key_name")}
    WHEN '"service_account_actor"' THEN {_first_string("service_account_id")}
    WHEN '"federated_actor"' THEN {_FEDERATED_ID}
END"""
_ACTOR_TYPE = f"""CASE {_ACTOR}.type
    WHEN '"user_actor"' THEN '{USER}'
    WHEN '"api_key_actor"' THEN '{API_KEY}'
    WHEN '"api_actor"' THEN '{API_KEY}'
    WHEN '"service_account_actor"' THEN '{SERVICE_ACCOUNT}'
    WHEN '"federated_actor"' THEN '{FEDERATED}'
END"""
_TOKEN_OK = " AND ".join(
    [
        "json_type(record) = 'OBJECT'",
        "actor IS NOT NULL",
        _non_empty_string("v.group.model"),
        *(_count_ok(path) for path in _TOKEN_COUNTS.values()),
    ]
)
TOKENS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_TOKENS} AS
{_rows(_TOKEN_TYPE)},
identified AS (SELECT *, {_ACTOR_ID} AS actor, {_ACTOR_TYPE} AS actor_type FROM parsed)
SELECT usage_date, page_file, row_index, actor, actor_type, v.group.model ->> '$' AS model,
       {", ".join(f"{_count(path)} AS {name}" for name, path in _TOKEN_COUNTS.items())},
       record::VARCHAR AS record_json
FROM identified
WHERE CASE WHEN coalesce({_TOKEN_OK}, false) THEN true ELSE error('{OFF_THE_FAST_PATH}') END
"""

# One member is one row a day: a second listing is left to Python, whose error names its page.
# An actor with tokens and no member row (an API key, a service account): one raw_usage row,
# whose record is its usage rows in the order received (`rules.enterprise.day_frames`).
_UNLISTED_ROWS_SQL = f"""
INSERT INTO @raw@ BY NAME
SELECT usage_date, actor, actor_type, NULL AS customer_type, NULL AS terminal_type,
       0 AS num_sessions, 0 AS lines_added, 0 AS lines_removed, 0 AS commits,
       0 AS pull_requests,
       '{{"usage":[' || string_agg(record_json, ',' ORDER BY page_file, row_index) || ']}}'
           AS record_json,
       '{ENTERPRISE_SOURCE}' AS source, NULL AS other_activity
FROM {_TOKENS} AS token
WHERE actor_type <> '{USER}' OR NOT EXISTS (
    SELECT 1 FROM ({_CHUNK_MEMBERS}) AS member
    WHERE member.usage_date = token.usage_date AND member.email = lower(token.actor))
GROUP BY usage_date, actor, actor_type
"""
_TOKEN_ROWS_SQL = f"""
INSERT INTO @tokens@ BY NAME
SELECT usage_date, actor, actor_type, model, {", ".join(_TOKEN_COUNTS)}, record_json
FROM {_TOKENS}
"""


class EnterprisePageStager:
    """Stages whole days of Enterprise pages into the staging tables of raw_usage and
    raw_token_usage (`raw_staging`, `token_staging`), a chunk at a time."""

    def __init__(self, connection, spool: Path, raw_staging: str, token_staging: str):
        # A cursor of its own: the stager may work in another thread than the connection's.
        self._connection = connection.cursor()
        self._spool = spool
        self._members = MEMBERS_SQL.replace("@raw@", raw_staging)
        self._repeated = REPEATED_MEMBER_SQL.replace("@raw@", raw_staging)
        self._unlisted = _UNLISTED_ROWS_SQL.replace("@raw@", raw_staging)
        self._tokens = _TOKEN_ROWS_SQL.replace("@tokens@", token_staging)

    def spool_page(self, kind: str, day: dt.date, page: int, content: bytes) -> Path:
        """Write a page to the spool as it arrives (in a fetching thread), named so that a
        day's pages sort in cursor order ("members" or "usage")."""
        path = self._spool / f"{day.isoformat()}_{kind}_{page:05d}.json"
        path.write_bytes(content)
        return path

    def stage(self, chunk: Sequence[DayPages]) -> bool:
        """Stage the chunk's days if DuckDB proves every row of them good (True, and their
        pages are deleted); False, with nothing staged and the pages left in place, when any
        row, page or member is doubtful: the caller reads the chunk in Python."""
        members = [str(path) for _, pages, _ in chunk for path in pages]
        tokens = [str(path) for _, _, pages in chunk for path in pages]
        days = {"days": [day for day, _, _ in chunk]}
        connection = self._connection
        try:
            connection.execute("BEGIN TRANSACTION")
            try:
                # Every day has a first page of each endpoint: the lists are never empty.
                connection.execute(TOKENS_SQL, {"files": tokens})
                connection.execute(self._members, {"files": members})
                doubted = bool(connection.execute(self._repeated, days).fetchall())
            except duckdb.Error:
                doubted = True
            if doubted:
                connection.execute("ROLLBACK")
                return False
            connection.execute(self._unlisted, days)
            connection.execute(self._tokens)
            connection.execute("COMMIT")
            for path in [*members, *tokens]:
                Path(path).unlink(missing_ok=True)
            return True
        except BaseException:
            with suppress(duckdb.Error):
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.execute(f"DROP TABLE IF EXISTS {_TOKENS}")

    def close(self) -> None:
        self._connection.close()


@contextmanager
def enterprise_page_stager(
    connection, raw_staging: str, token_staging: str
) -> Iterator[EnterprisePageStager]:
    """A stager whose spool folder goes when the block ends (or, if the process is killed
    first, at the start of the next run: `page_staging.new_spool`)."""
    spool = new_spool()
    stager = EnterprisePageStager(connection, spool, raw_staging, token_staging)
    try:
        yield stager
    finally:
        stager.close()
        shutil.rmtree(spool, ignore_errors=True)
