"""API pages → rows of raw_usage: spooled to files by the fetching threads, parsed by DuckDB in
batches.

In Python every record of a page becomes ~40 objects (orjson), is validated field by field and
flattened into a tuple, all under the GIL: at 5,000 seats that was most of a backfill. One SQL
statement per page was better but still parsed each page three times and planned two
statements per page. Here a fetching thread only reads the page's header (the cursor it needs
next, one parse without the GIL) and writes the body to a spool file; `flush` then has DuckDB
read a batch of spooled pages with `read_json` in one statement, checking and flattening every
record on the way (measured: ~3x less CPU per record than one statement per page).

DuckDB only takes the pages it can prove are good: each record's `json_structure` must be one
`shape_ok` accepts (judged once per distinct shape) and its values must pass `VALUES_OK`.
Anything else (a bad record, an odd but valid one, a `data` that is not a list) goes through the
Python path of `budget_pipeline.api.validation`, whose error names the day, page, record and
problem, so both paths accept and reject exactly what the Python contract does
(tests/test_raw_pages.py).

Pages are spooled, not kept in memory, and the staging table is only swapped in when the whole
range is in: a batch may hold part of a day, and a run that fails drops it with the staging
table.
"""

import datetime as dt
import json
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb

from budget_pipeline.api.client import parsed_records
from budget_pipeline.api.errors import BadResponseError
from budget_pipeline.rules.usage_records import raw_usage_rows
from budget_pipeline.warehouse import RAW_USAGE, insert_frame

# Spooled bytes that make a batch: ~40,000 records, large enough that DuckDB's per-statement
# costs vanish, small enough to keep the spool and the batch table small.
FLUSH_BYTES = 32 * 1024 * 1024
# Spooled bytes at which the fetching threads wait for the stager: the spool stays small even
# when DuckDB is slower than the API.
MAX_SPOOLED_BYTES = 4 * FLUSH_BYTES
# read_json refuses larger pages (a page of 1,000 records is ~1 MB), which then go through the
# Python path with their batch. It also reads with buffers of twice this size per thread:
# 256 MB needed 512 MB and broke the warehouse's memory_limit.
MAX_PAGE_BYTES = 16 * 1024 * 1024

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
# when it merges a list's entries into one shape (a null merges into any type; bool_and
# skips NULLs: hence the coalesce per entry; a tool's counts holding a null go to Python).
# Stricter than the contract where that is simpler: a name must hold a visible ASCII character
# (Python's strip() knows more whitespace than SQL's trim), an entry without estimated_cost
# takes the Python path. An amount must be finite: DuckDB reads NaN and 1e999, the contract's
# JSON reader (orjson) refuses the page.
VALUES_OK = """
    (v.date = day OR (starts_with(v.date, day) AND substr(v.date, 11, 1) IN ('T', ' ')))
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
        AND isfinite(e.estimated_cost.amount) AND e.estimated_cost.amount >= 0, false))), true)
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


def record_shape_ok(record_shape: str) -> bool:
    """Whether a record's `json_structure` has the types the contract asks for (SPEC §2;
    unknown fields are allowed, as in `validation.record_problem`).

    json_structure merges the entries of a list into one shape, and a null merges into any
    type: VALUES_OK checks what a merge can hide (required values that are null).
    """
    return shape_ok(json.loads(record_shape))


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


# One parse of the body, without the GIL: the two values the next request needs.
HEADER_SQL = "SELECT json_extract($body, ['$.has_more', '$.next_page'])"

# A batch of spooled pages: every record with its shape, its verdict and its raw_usage row.
# A `data` that is null or missing becomes one NULL record (so the page is doubted); a `data`
# that is not a list fails the statement (so the whole batch is doubted). All three fields of a
# page are declared: with `data` alone read_json was 15 times slower (DuckDB 1.4/2.0, measured).
BATCH_TABLE = "raw_page_batch"
BATCH_SQL = f"""
CREATE OR REPLACE TEMP TABLE {BATCH_TABLE} AS
WITH records AS (
    SELECT parse_filename(filename) AS page_file,
           unnest(coalesce(data, [NULL::JSON])) AS record
    FROM read_json($files, columns = {{'data': 'JSON[]', 'has_more': 'JSON', 'next_page': 'JSON'}},
                   format = 'unstructured',
                   filename = true, maximum_object_size = {MAX_PAGE_BYTES})
),
parsed AS (
    SELECT page_file, substr(page_file, 1, 10) AS day, record,
           from_json(record, '{_VALUES}') AS v
    FROM records
)
SELECT
    page_file,
    json_structure(record) AS shape,
    coalesce({VALUES_OK}, false) AS values_ok,
    day::DATE AS usage_date,
    CASE v.actor.type WHEN 'user_actor' THEN v.actor.email_address ELSE v.actor.api_key_name END
        AS actor,
    CASE v.actor.type WHEN 'user_actor' THEN 'user' ELSE 'api_key' END AS actor_type,
    v.customer_type AS customer_type,
    v.terminal_type AS terminal_type,
    v.core_metrics.num_sessions AS num_sessions,
    v.core_metrics.lines_of_code.added AS lines_added,
    v.core_metrics.lines_of_code.removed AS lines_removed,
    v.core_metrics.commits_by_claude_code AS commits,
    v.core_metrics.pull_requests_by_claude_code AS pull_requests,
    record::VARCHAR AS record_json
FROM parsed
"""


def _checked_header(
    has_more: str | None, next_page: str | None, seen: set[str]
) -> tuple[bool, str | None]:
    """(certainly what `validate_page` accepts, the next cursor) from the header's JSON texts."""
    if has_more not in ("true", "false"):
        return False, None
    if next_page is None or next_page == "null":
        next_page = None
    elif next_page.startswith('"'):
        next_page = json.loads(next_page)
    else:
        return False, None
    if has_more == "false":
        return True, None
    return bool(next_page) and next_page not in seen, next_page


class _Spooled:
    __slots__ = ("day", "page", "path", "size")

    def __init__(self, day: dt.date, page: int, path: Path, size: int):
        self.day, self.page, self.path, self.size = day, page, path, size


class RawPageSink:
    """Spools each page of the fetching threads (each with its own DuckDB cursor for the
    header) and stages the spooled records into `staging` (a table shaped like raw_usage) a
    batch at a time, in a thread of its own so that fetching goes on meanwhile (DuckDB works
    without the GIL). Used through `raw_page_sink`; `flush` stages what is left and raises the
    first error of a batch."""

    def __init__(
        self,
        cursors: "queue.SimpleQueue[duckdb.DuckDBPyConnection]",
        batch_cursor: duckdb.DuckDBPyConnection,
        staging: str,
        spool: Path,
    ):
        self._cursors = cursors
        self._batch_cursor = batch_cursor
        self._staging = staging
        self._spool = spool
        self._shapes: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._staged_some = threading.Condition(self._lock)
        self._pending: list[_Spooled] = []
        self._pending_bytes = 0
        self._stager = ThreadPoolExecutor(max_workers=1, thread_name_prefix="budget-raw-stage")
        self._staging_batch: Future | None = None
        self._error: BaseException | None = None
        self.pages_in_python = 0
        self.records_staged = 0

    def take(
        self, content: bytes, *, day: dt.date, page: int, seen_cursors: set[str]
    ) -> tuple[int, str | None]:
        """The `PageSink` of the client: returns (0, next cursor) for a spooled page, whose
        records are counted when `flush` stages them."""
        body = content.decode()  # UnicodeDecodeError is a ValueError: fetched again, as orjson's
        cursor = self._cursors.get()
        try:
            try:
                [(header,)] = cursor.execute(HEADER_SQL, {"body": body}).fetchall()
            except duckdb.Error:
                header = None
            good, next_page = _checked_header(*header, seen_cursors) if header else (False, None)
            if not good:
                return self._take_in_python(cursor, content, day, page, seen_cursors)
        finally:
            self._cursors.put(cursor)
        path = self._spool / f"{day.isoformat()}_{page:05d}.json"
        path.write_bytes(content)
        with self._lock:
            self._pending.append(_Spooled(day, page, path, len(content)))
            self._pending_bytes += len(content)
            self._stage_in_background_if_due()
            while self._pending_bytes > MAX_SPOOLED_BYTES and self._error is None:
                # A timeout, not a bare wait: the stager may have just finished without seeing
                # this page, and then only this thread can start the next batch.
                self._staged_some.wait(timeout=0.1)
                self._stage_in_background_if_due()
            if self._error is not None:
                raise self._error
        return 0, next_page

    def _stage_in_background_if_due(self) -> None:
        """With the lock held: hand a batch to the stager if one is due and it is idle."""
        idle = self._staging_batch is None or self._staging_batch.done()
        if idle and self._error is None and self._pending_bytes >= FLUSH_BYTES:
            self._staging_batch = self._stager.submit(self._stage_pending)

    def _stage_pending(self) -> None:
        try:
            while True:
                self._stage_batch()
                with self._lock:
                    self._staged_some.notify_all()
                    if self._pending_bytes < FLUSH_BYTES:
                        return
        except BaseException as error:
            with self._lock:
                self._error = error
                self._staged_some.notify_all()

    def flush(self) -> int:
        """Stage every spooled page; returns the records staged so far. Raises the contract's
        BadResponseError for a bad record (nothing of a doubted page is staged by DuckDB)."""
        with self._lock:
            running = self._staging_batch
        if running is not None:
            running.result()
        if self._error is not None:
            raise self._error
        self._stage_batch()
        return self.records_staged

    def close(self) -> None:
        self._stager.shutdown(wait=True)

    def _stage_batch(self) -> None:
        with self._lock:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        if not batch:
            return
        batch.sort(key=lambda spooled: (spooled.day, spooled.page))
        try:
            staged = self._stage(batch)
        finally:
            for spooled in batch:
                spooled.path.unlink(missing_ok=True)
        with self._lock:
            self.records_staged += staged

    def _stage(self, batch: list[_Spooled]) -> int:
        cursor = self._batch_cursor
        try:
            cursor.execute(BATCH_SQL, {"files": [str(spooled.path) for spooled in batch]})
        except duckdb.Error:
            doubted = {spooled.path.name for spooled in batch}
        else:
            shapes = [
                shape
                for (shape,) in cursor.execute(
                    f"SELECT DISTINCT shape FROM {BATCH_TABLE} WHERE shape IS NOT NULL"
                ).fetchall()
            ]
            bad_shapes = [shape for shape in shapes if not self._good(shape)]
            doubted = {
                page_file
                for (page_file,) in cursor.execute(
                    f"SELECT DISTINCT page_file FROM {BATCH_TABLE} "
                    "WHERE NOT values_ok OR shape IS NULL OR list_contains($bad, shape)",
                    {"bad": bad_shapes},
                ).fetchall()
            }
        staged = 0
        if len(doubted) < len(batch):
            columns = ", ".join(RAW_USAGE.column_names)
            [(staged,)] = cursor.execute(
                f"INSERT INTO {self._staging} SELECT {columns} FROM {BATCH_TABLE} "
                "WHERE NOT list_contains($doubted, page_file)",
                {"doubted": sorted(doubted)},
            ).fetchall()
        cursor.execute(f"DROP TABLE IF EXISTS {BATCH_TABLE}")
        for spooled in batch:
            if spooled.path.name in doubted:
                staged += self._stage_in_python(spooled)
        return staged

    def _good(self, shape: str) -> bool:
        """Whether a record shape has the contract's types (judged once per shape)."""
        if shape not in self._shapes:
            self._shapes[shape] = record_shape_ok(shape)
        return self._shapes[shape]

    def _stage_in_python(self, spooled: _Spooled) -> int:
        content = spooled.path.read_bytes()
        try:
            taken, _ = self._take_in_python(
                self._batch_cursor, content, spooled.day, spooled.page, set()
            )
        except ValueError as error:  # yyjson read the body, orjson cannot (e.g. a huge integer)
            raise BadResponseError(
                f"{spooled.day.isoformat()} page {spooled.page}: body is not JSON the contract "
                f"can read ({error})",
                day=spooled.day,
                page=spooled.page,
            ) from None
        return taken

    def _take_in_python(self, cursor, content: bytes, day: dt.date, page: int, seen: set[str]):
        """The contract's own checks: raise its error, or stage what it accepts."""
        with self._lock:
            self.pages_in_python += 1
        records, next_page = parsed_records(content, day=day, page=page, seen_cursors=seen)
        insert_frame(cursor, RAW_USAGE, raw_usage_rows(day, records), into=self._staging)
        return len(records), next_page


@contextmanager
def raw_page_sink(connection, staging: str, threads: int) -> Iterator[RawPageSink]:
    """A sink for `threads` fetching threads; the spool folder goes when the block ends."""
    cursors: queue.SimpleQueue = queue.SimpleQueue()
    opened = [connection.cursor() for _ in range(threads + 1)]
    for cursor in opened[1:]:
        cursors.put(cursor)
    spool = Path(tempfile.mkdtemp(prefix="budget-raw-pages-"))
    sink = RawPageSink(cursors, opened[0], staging, spool)
    try:
        yield sink
    finally:
        sink.close()
        for cursor in opened:
            cursor.close()
        shutil.rmtree(spool, ignore_errors=True)
