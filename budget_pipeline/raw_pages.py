"""API pages → rows of raw_usage, parsed by DuckDB in the fetching threads.

In Python every record of a page becomes ~40 objects (orjson), is validated field by field and
flattened into a tuple, all under the GIL: at 5,000 seats that was most of a backfill. Here a
page's text goes to DuckDB, which parses, checks and inserts it without the GIL (one cursor per
fetching thread, so pages are parsed in parallel).

DuckDB only takes the pages it can prove are good: the `json_structure` of the page's
records (all merged into one shape) must be one `records_shape_ok` accepts (judged once per
distinct shape) and every record's values must pass `VALUES_OK`. Anything else (a bad record,
an odd but valid one, a body that is not JSON) goes through the Python path of
`budget_pipeline.api.validation`, whose error names the day, page, record and problem, so both
paths accept and reject exactly what the Python contract does (tests/test_raw_pages.py).
"""

import datetime as dt
import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from budget_pipeline.api.client import parsed_records
from budget_pipeline.rules.usage_records import raw_usage_rows
from budget_pipeline.warehouse import RAW_USAGE, insert_frame

_COUNT = "UBIGINT"  # json_structure's type of a non-negative integer literal
_TOKEN_KINDS = ("input", "output", "cache_read", "cache_creation")

# The values the insert and VALUES_OK read; the types are checked by shape first.
_VALUES = json.dumps(
    {
        "date": "VARCHAR",
        "actor": {"type": "VARCHAR", "email_address": "VARCHAR", "api_key_name": "VARCHAR"},
        "customer_type": "VARCHAR",
        "terminal_type": "VARCHAR",
        "core_metrics": {
            "num_sessions": "BIGINT",
            "lines_of_code": {"added": "BIGINT", "removed": "BIGINT"},
            "commits_by_claude_code": "BIGINT",
            "pull_requests_by_claude_code": "BIGINT",
        },
        "tool_actions": "MAP(VARCHAR, JSON)",
        "model_breakdown": [
            {
                "model": "VARCHAR",
                "tokens": {kind: "BIGINT" for kind in _TOKEN_KINDS},
                "estimated_cost": {"amount": "DOUBLE"},
            }
        ],
    }
)

# What a shape cannot tell: the day, the actor's name, and the nulls json_structure hides
# when it merges records and entries into one shape (a null merges into any type; bool_and
# skips NULLs: hence the coalesce per entry; a tool's counts holding a null go to Python).
# Stricter than the contract where that is simpler: a name must hold a visible ASCII character
# (Python's strip() knows more whitespace than SQL's trim), an entry without estimated_cost
# takes the Python path.
VALUES_OK = """
    (v.date = $day OR (starts_with(v.date, $day) AND substr(v.date, 11, 1) IN ('T', ' ')))
    AND CASE v.actor.type
        WHEN 'user_actor' THEN coalesce(regexp_matches(v.actor.email_address, '[!-~]'), false)
        WHEN 'api_actor' THEN coalesce(regexp_matches(v.actor.api_key_name, '[!-~]'), false)
        ELSE false END
    AND v.core_metrics.num_sessions IS NOT NULL
    AND v.core_metrics.commits_by_claude_code IS NOT NULL
    AND v.core_metrics.pull_requests_by_claude_code IS NOT NULL
    AND v.core_metrics.lines_of_code.added IS NOT NULL
    AND v.core_metrics.lines_of_code.removed IS NOT NULL
    AND coalesce(list_bool_and(list_transform(map_values(v.tool_actions), lambda counts:
        coalesce(NOT contains(counts, 'null'), false))), true)
    AND coalesce(list_bool_and(list_transform(v.model_breakdown, lambda e: coalesce(
        e.model <> ''
        AND e.tokens.input IS NOT NULL AND e.tokens.output IS NOT NULL
        AND e.tokens.cache_read IS NOT NULL AND e.tokens.cache_creation IS NOT NULL
        AND e.estimated_cost.amount >= 0, false))), true)
"""

# Every JSON function parses its argument again: each query reads the page text once.
_RECORDS = "records AS (SELECT unnest(json_extract(CAST($body AS JSON), '$.data[*]')) AS record)"

# The page's header and the distinct shapes of its records.
CHECK_SQL = """
WITH header AS (
    SELECT json_type(body) AS body_type, parts[1] AS data, parts[2] AS has_more,
           parts[3] AS next_page
    FROM (SELECT body, json_extract(body, ['$.data', '$.has_more', '$.next_page']) AS parts
          FROM (SELECT CAST($body AS JSON) AS body))
),
SELECT body_type, json_type(data), json_type(has_more), has_more::VARCHAR, json_type(next_page),
       next_page ->> '$', json_array_length(data), json_structure(data)
FROM header
"""

# A record off the fast path stops the statement: DuckDB rolls the whole page back.
OFF_THE_FAST_PATH = "budget_pipeline: record off the fast path"

# The shapes of the page were judged by CHECK_SQL; the values are judged here.
INSERT_SQL = f"""
INSERT INTO @staging@
WITH {_RECORDS},
parsed AS (SELECT record, from_json(record, '{_VALUES}') AS v FROM records)
SELECT
    CASE WHEN {VALUES_OK} THEN $day::DATE ELSE error('{OFF_THE_FAST_PATH}') END,
    CASE v.actor.type WHEN 'user_actor' THEN v.actor.email_address ELSE v.actor.api_key_name END,
    CASE v.actor.type WHEN 'user_actor' THEN 'user' ELSE 'api_key' END,
    v.customer_type,
    v.terminal_type,
    v.core_metrics.num_sessions,
    v.core_metrics.lines_of_code.added,
    v.core_metrics.lines_of_code.removed,
    v.core_metrics.commits_by_claude_code,
    v.core_metrics.pull_requests_by_claude_code,
    record::VARCHAR
FROM parsed
"""


def _counts(shape: dict, names) -> bool:
    return all(shape.get(name) == _COUNT for name in names)


def _optional(shape: dict, name: str, expected: str) -> bool:
    return shape.get(name, "NULL") in (expected, "NULL")


def _tool_actions_ok(actions) -> bool:
    if actions in (None, "NULL"):
        return True
    return isinstance(actions, dict) and all(
        isinstance(counts, dict)
        and all(counts[name] == _COUNT for name in ("accepted", "rejected") if name in counts)
        for counts in actions.values()
    )


def _model_breakdown_ok(breakdown) -> bool:
    if breakdown in (None, "NULL", ["NULL"]):
        return True
    if not (isinstance(breakdown, list) and len(breakdown) == 1):
        return False
    [entry] = breakdown
    if not isinstance(entry, dict) or entry.get("model") != "VARCHAR":
        return False
    tokens, cost = entry.get("tokens"), entry.get("estimated_cost")
    return (
        isinstance(tokens, dict)
        and all(kind in tokens for kind in _TOKEN_KINDS)
        and all(kind == _COUNT for kind in tokens.values())
        and isinstance(cost, dict)
        and cost.get("amount") in (_COUNT, "DOUBLE")
    )


def records_shape_ok(data_shape: str) -> bool:
    """Whether the `json_structure` of a page's `data` gives every record the types the
    contract asks for (SPEC §2; unknown fields are allowed, as in `validation.record_problem`).

    json_structure merges all records into one shape, and a null merges into any type:
    VALUES_OK checks what a merge can hide (required values that are null).
    """
    shape = json.loads(data_shape)
    if not (isinstance(shape, list) and len(shape) == 1):
        return False
    return shape_ok(shape[0])


def shape_ok(shape) -> bool:
    """Whether a record shape (a parsed `json_structure`) has the contract's types."""
    if not isinstance(shape, dict) or shape.get("date") != "VARCHAR":
        return False
    actor = shape.get("actor")
    metrics = shape.get("core_metrics")
    if not isinstance(actor, dict) or actor.get("type") != "VARCHAR":
        return False
    # Whichever name the type asks for must be a string (VALUES_OK checks it is there).
    if not all(actor.get(key, "VARCHAR") == "VARCHAR" for key in ("email_address", "api_key_name")):
        return False
    if not isinstance(metrics, dict) or not _counts(
        metrics, ("num_sessions", "commits_by_claude_code", "pull_requests_by_claude_code")
    ):
        return False
    lines = metrics.get("lines_of_code")
    return (
        isinstance(lines, dict)
        and _counts(lines, ("added", "removed"))
        and _optional(shape, "customer_type", "VARCHAR")
        and _optional(shape, "terminal_type", "VARCHAR")
        and _tool_actions_ok(shape.get("tool_actions"))
        and _model_breakdown_ok(shape.get("model_breakdown"))
    )


class RawPageSink:
    """Inserts each page's records into `staging` (a table shaped like raw_usage), from the
    fetching threads, each with its own DuckDB cursor. Used through `raw_page_sink`."""

    def __init__(self, cursors: "queue.SimpleQueue[duckdb.DuckDBPyConnection]", staging: str):
        self._cursors = cursors
        self._insert = INSERT_SQL.replace("@staging@", staging)
        self._staging = staging
        self._shapes: dict[str, bool] = {}
        self._lock = threading.Lock()
        self.pages_in_python = 0

    def take(
        self, content: bytes, *, day: dt.date, page: int, seen_cursors: set[str]
    ) -> tuple[int, str | None]:
        cursor = self._cursors.get()
        try:
            return self._take(cursor, content, day, page, seen_cursors)
        finally:
            self._cursors.put(cursor)

    def _take(self, cursor, content: bytes, day: dt.date, page: int, seen: set[str]):
        body = content.decode()  # UnicodeDecodeError is a ValueError: fetched again, as orjson's
        params = {"body": body}
        try:
            [header] = cursor.execute(CHECK_SQL, params).fetchall()
        except duckdb.Error:
            return self._take_in_python(cursor, content, day, page, seen)
        body_type, data_type, has_more_type, has_more, next_type, next_page, count, shape = header
        if (
            body_type != "OBJECT"
            or data_type != "ARRAY"
            or has_more_type != "BOOLEAN"
            or next_type not in (None, "NULL", "VARCHAR")
            or (has_more == "true" and (not next_page or next_page in seen))
        ):
            return self._take_in_python(cursor, content, day, page, seen)
        next_page = next_page if has_more == "true" else None
        if count == 0:
            return 0, next_page
        if not self._good(shape):
            return self._take_in_python(cursor, content, day, page, seen)
        try:
            [(inserted,)] = cursor.execute(
                self._insert, params | {"day": day.isoformat()}
            ).fetchall()
        except duckdb.Error as error:
            if OFF_THE_FAST_PATH not in str(error):
                raise
            return self._take_in_python(cursor, content, day, page, seen)
        return inserted, next_page

    def _good(self, shape: str) -> bool:
        """Whether the page's records have the contract's types (judged once per shape)."""
        with self._lock:
            if shape not in self._shapes:
                self._shapes[shape] = records_shape_ok(shape)
            return self._shapes[shape]

    def _take_in_python(self, cursor, content: bytes, day: dt.date, page: int, seen: set[str]):
        """The contract's own checks: raise its error, or insert what it accepts."""
        self.pages_in_python += 1
        records, next_page = parsed_records(content, day=day, page=page, seen_cursors=seen)
        insert_frame(cursor, RAW_USAGE, raw_usage_rows(day, records), into=self._staging)
        return len(records), next_page


@contextmanager
def raw_page_sink(connection, staging: str, threads: int) -> Iterator[RawPageSink]:
    cursors: queue.SimpleQueue = queue.SimpleQueue()
    opened = [connection.cursor() for _ in range(threads)]
    for cursor in opened:
        cursors.put(cursor)
    try:
        yield RawPageSink(cursors, staging)
    finally:
        for cursor in opened:
            cursor.close()
