"""API pages → rows of raw_usage: spooled to files by the fetching threads, parsed by DuckDB in
batches.

In Python every record of a page becomes ~40 objects (orjson), is validated field by field and
flattened into a tuple, all under the GIL: at 5,000 seats that was most of a backfill. One SQL
statement per page was better but still parsed each page three times and planned two
statements per page. Here a fetching thread only reads the page's header (the cursor it needs
next, one parse without the GIL) and writes the body to a spool file; a stager thread then has
DuckDB read a batch of spooled pages with `read_json`, judging and flattening every record in
one INSERT while the fetching goes on.

DuckDB only takes the records it can prove good (`RECORD_OK`, the contract in SQL). A single
doubtful record stops the batch's INSERT; the batch is then staged again without the doubted
pages, which go through the Python path of `budget_pipeline.ingest.validation`: its error names
the day, page, record and problem, and it accepts the odd but valid. So both paths accept and
reject exactly what the Python contract does (tests/test_raw_pages.py).

Pages are spooled, not kept in memory, and the staging table is only swapped in when the whole
range is in: a batch may hold part of a day, and a run that fails drops it with the staging
table. Spooled pages hold actor emails, so a run that is killed must not leave them behind for
good: see `spool_root`.
"""

import datetime as dt
import json
import os
import queue
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb

from budget_pipeline import process_identity
from budget_pipeline.ingest.client import parsed_records
from budget_pipeline.ingest.errors import BadResponseError
from budget_pipeline.ingest.records import raw_usage_rows
from budget_pipeline.ingest.validation import TOKEN_KINDS
from budget_pipeline.warehouse.connection import insert_frame
from budget_pipeline.warehouse.tables import RAW_USAGE

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
SPOOL_FOLDER = "budget_pipeline-raw-pages"

# Every value the checks judge is read as JSON text (as DuckDB's JSON writer prints it: minified,
# strings quoted), because DuckDB's typed reads are lax ("4", 4.5 and true all read as BIGINT 4)
# and the contract is not. JSON null and a missing key both read as NULL.
_RECORD_TYPE = json.dumps(
    {
        "date": "JSON",
        "actor": {"type": "JSON", "email_address": "JSON", "api_key_name": "JSON"},
        "customer_type": "JSON",
        "terminal_type": "JSON",
        "core_metrics": {
            "num_sessions": "JSON",
            "lines_of_code": {"added": "JSON", "removed": "JSON"},
            "commits_by_claude_code": "JSON",
            "pull_requests_by_claude_code": "JSON",
        },
        "tool_actions": "JSON",
        "model_breakdown": "JSON",
    }
)
_ENTRIES_TYPE = json.dumps(
    [{"model": "JSON", "tokens": "MAP(VARCHAR, JSON)", "estimated_cost": {"amount": "JSON"}}]
)
_METRICS = {
    "num_sessions": "v.core_metrics.num_sessions",
    "lines_added": "v.core_metrics.lines_of_code.added",
    "lines_removed": "v.core_metrics.lines_of_code.removed",
    "commits": "v.core_metrics.commits_by_claude_code",
    "pull_requests": "v.core_metrics.pull_requests_by_claude_code",
}


def _count(text: str) -> str:
    """SQL: the JSON text is a non-negative integer (that fits the table's BIGINT)."""
    return f"(regexp_full_match({text}, '[0-9]+') AND TRY_CAST({text} AS BIGINT) IS NOT NULL)"


def _string(text: str) -> str:
    return f"starts_with({text}, '\"')"


def _all(items: str, check: str) -> str:
    """SQL: `check` (on `item`) holds for every item of a list; an empty list passes."""
    every = f"list_bool_and(list_transform({items}, lambda item: coalesce({check}, false)))"
    return f"coalesce({every}, true)"


# A JSON string as DuckDB prints it.
_STRING = r'"(?:[^"\\]|\\.)*"'
_TOKEN_KIND_LIST = "[" + ", ".join(f"'{kind}'" for kind in TOKEN_KINDS) + "]"
# tool_actions as DuckDB prints it (minified): an object of tools, each an object of at most an
# accepted and a rejected count, in at most 18 digits (so it fits BIGINT). One regular
# expression instead of parsing the text again (that was a quarter of the batch's CPU); other
# tool shapes take the Python path.
_TOOL_COUNT = '"(?:accepted|rejected)":[0-9]{1,18}'
_TOOL = rf"{_STRING}:\{{(?:{_TOOL_COUNT}(?:,{_TOOL_COUNT})?)?\}}"
_TOOLS_OK = f"regexp_full_match(v.tool_actions, '\\{{(?:{_TOOL}(?:,{_TOOL})*)?\\}}')"
# The common model_breakdown as DuckDB prints it: entries of the documented shape (keys in
# its order, counts of at most 18 digits so they fit BIGINT, an amount without exponent so it is
# finite). One regular expression, cheap; any other valid shape is judged by _ENTRY_OK.
_DIGITS = "[0-9]{1,18}"
_TOKENS = ",".join(f'"{kind}":{_DIGITS}' for kind in TOKEN_KINDS) + f"(?:,{_STRING}:{_DIGITS})*"
_ENTRY = (
    rf'\{{"model":"(?:[^"\\]|\\.)+","tokens":\{{{_TOKENS}\}},'
    rf'"estimated_cost":\{{(?:"currency":{_STRING},)?"amount":{_DIGITS}(?:\.[0-9]+)?\}}\}}'
)
_COMMON_MODELS = rf"regexp_full_match(v.model_breakdown, '\[(?:{_ENTRY}(?:,{_ENTRY})*)?\]')"
_ENTRY_OK = f"""(
    {_string("item.model")} AND item.model <> '""'
    AND list_has_all(map_keys(item.tokens), {_TOKEN_KIND_LIST})
    AND {_all("map_values(item.tokens)", _count("item"))}
    AND regexp_full_match(item.estimated_cost.amount, '[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?')
    AND isfinite(TRY_CAST(item.estimated_cost.amount AS DOUBLE))
)"""

# A time of the requested day in UTC (a time without an offset is UTC), as APIs print it: any
# other time (another offset, a fraction of another length) is judged by the Python contract.
_UTC_TIME = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{3}|\.[0-9]{6})?(Z|[+-]00:00)?"

# What validation.record_problem accepts, in SQL; stricter where that is simpler (those records
# take the Python path, which accepts them): a name must hold a visible ASCII character (Python's
# strip() knows more whitespace than SQL's trim), a model entry needs an estimated_cost object
# with its amount, an accepted/rejected count must be written as plain digits, and an amount
# must be finite (DuckDB reads NaN and 1e999, the contract's JSON reader refuses the page).
RECORD_OK = f"""coalesce(
    (v.date = '"' || day || '"' OR regexp_full_match(v.date, '"' || day || '{_UTC_TIME}"'))
    AND CASE v.actor.type
        WHEN '"user_actor"' THEN {_string("v.actor.email_address")}
            AND regexp_matches(v.actor.email_address ->> '$', '[!-~]')
        WHEN '"api_actor"' THEN {_string("v.actor.api_key_name")}
            AND regexp_matches(v.actor.api_key_name ->> '$', '[!-~]')
        ELSE false END
    AND (v.customer_type IS NULL OR {_string("v.customer_type")})
    AND (v.terminal_type IS NULL OR {_string("v.terminal_type")})
    AND {" AND ".join(_count(metric) for metric in _METRICS.values())}
    AND (v.tool_actions IS NULL OR {_TOOLS_OK})
    AND CASE WHEN v.model_breakdown IS NULL OR {_COMMON_MODELS} THEN true
        ELSE starts_with(v.model_breakdown, '[')
            AND {_all(f"from_json(v.model_breakdown, '{_ENTRIES_TYPE}')", _ENTRY_OK)} END
, false)"""

# One parse of the body, without the GIL: the two values the next request needs.
HEADER_SQL = "SELECT json_extract($body, ['$.has_more', '$.next_page'])"
# The same two values when the page ends with them, as the API writes it: read from its last
# bytes instead of handing DuckDB the whole body (~4 ms a 1 MB page, mostly converting it into a
# DuckDB value with the GIL held, while the stager needs the CPU). Only the top-level object's
# last members can match: the body's final brace closes it, and no string holds a bare quote.
# The records are judged when the page is staged, as any page's are.
JSON_SPACE = rb"[ \t\n\r]*"
JSON_STRING_OR_NULL = rb'(null|"(?:[^"\\]|\\.)*")'
PAGE_TAIL = re.compile(
    JSON_SPACE.join(
        [
            rb",",
            rb'"has_more"',
            rb":",
            rb"(true|false)",
            rb",",
            rb'"next_page"',
            rb":",
            JSON_STRING_OR_NULL,
            rb"\}",
            rb"\Z",
        ]
    )
)
TAIL_BYTES = 4096


def page_tail(content: bytes) -> tuple[str, str] | None:
    """has_more and next_page as JSON texts, when the page ends with them."""
    tail = PAGE_TAIL.search(content, max(0, len(content) - TAIL_BYTES))
    return None if tail is None else (tail[1].decode(), tail[2].decode())


def parsed_header(cursor: duckdb.DuckDBPyConnection, content: bytes) -> tuple | None:
    """has_more and next_page as JSON texts from one DuckDB parse of the whole body; None for a
    body DuckDB cannot read."""
    try:
        [(header,)] = cursor.execute(HEADER_SQL, {"body": content.decode()}).fetchall()
    except duckdb.Error:
        return None
    return header


# The spooled pages `$files`, one row each with `data` and the file's name. All three fields of
# a page are declared: with `data` alone read_json was 15 times slower (measured, DuckDB 2.0).
READ_SPOOLED_PAGES = f"""read_json($files,
    columns = {{'data': 'JSON[]', 'has_more': 'JSON', 'next_page': 'JSON'}},
    format = 'unstructured', filename = true, maximum_object_size = {MAX_PAGE_BYTES})"""

# The records of a batch of spooled pages, each with its verdict. A `data` that is null or
# missing becomes one NULL record (so its page is doubted); a `data` that is not a list fails
# the statement.
_JUDGED = f"""
WITH records AS (
    SELECT parse_filename(filename) AS page_file,
           unnest(coalesce(data, [NULL::JSON])) AS record
    FROM {READ_SPOOLED_PAGES}
),
parsed AS (
    SELECT page_file, substr(page_file, 1, 10) AS day, record,
           from_json(record, '{_RECORD_TYPE}') AS v
    FROM records
),
judged AS (SELECT *, {RECORD_OK} AS ok FROM parsed)
"""
OFF_THE_FAST_PATH = "budget_pipeline: record off the fast path"

# Optimistic: one statement stages the batch, and a single doubtful record stops it (DuckDB
# rolls the statement back); `DOUBTED_SQL` then finds the pages to leave to Python.
INSERT_SQL = f"""
INSERT INTO @staging@
{_JUDGED}
SELECT
    day::DATE,
    CASE v.actor.type WHEN '"user_actor"' THEN v.actor.email_address ->> '$'
        ELSE v.actor.api_key_name ->> '$' END,
    CASE v.actor.type WHEN '"user_actor"' THEN 'user' ELSE 'api_key' END,
    v.customer_type ->> '$',
    v.terminal_type ->> '$',
    {", ".join(f"TRY_CAST({metric} AS BIGINT)" for metric in _METRICS.values())},
    record::VARCHAR,
    'claude_code',
    NULL
FROM judged
WHERE CASE WHEN ok THEN true ELSE error('{OFF_THE_FAST_PATH}') END
"""
DOUBTED_SQL = f"{_JUDGED} SELECT DISTINCT page_file FROM judged WHERE NOT ok"


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
    __slots__ = ("day", "page", "path")

    def __init__(self, day: dt.date, page: int, path: Path):
        self.day, self.page, self.path = day, page, path


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
        self._insert_sql = INSERT_SQL.replace("@staging@", staging)
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
        content.decode()  # UnicodeDecodeError is a ValueError: fetched again, as orjson's
        cursor = self._cursors.get()
        try:
            header = page_tail(content) or parsed_header(cursor, content)
            good, next_page = _checked_header(*header, seen_cursors) if header else (False, None)
            if not good:
                return self._take_in_python(cursor, content, day, page, seen_cursors)
        finally:
            self._cursors.put(cursor)
        path = self._spool / f"{day.isoformat()}_{page:05d}.json"
        path.write_bytes(content)
        with self._lock:
            self._pending.append(_Spooled(day, page, path))
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
        """DuckDB stages the pages it can prove good, Python the others (and raises)."""
        files = [str(spooled.path) for spooled in batch]
        try:
            return self._insert(files)
        except duckdb.Error:
            pass  # a doubtful record, or a `data` that is not a list: find the pages
        try:
            doubted = {
                name
                for (name,) in self._batch_cursor.execute(DOUBTED_SQL, {"files": files}).fetchall()
            }
        except duckdb.Error:
            doubted = {spooled.path.name for spooled in batch}
        good = [spooled for spooled in batch if spooled.path.name not in doubted]
        staged = self._insert([str(spooled.path) for spooled in good]) if good else 0
        for spooled in batch:
            if spooled.path.name in doubted:
                staged += self._stage_in_python(spooled)
        return staged

    def _insert(self, files: list[str]) -> int:
        [(inserted,)] = self._batch_cursor.execute(self._insert_sql, {"files": files}).fetchall()
        return inserted

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


# Records staged more than once on a day, found by a hash of the record (cheap on a year of a
# large organisation) and confirmed on the record itself.
_DUPLICATES_SQL = """
WITH candidates AS (
    SELECT usage_date, hash(record_json) AS digest
    FROM @staging@ GROUP BY ALL HAVING count(*) > 1
)
SELECT usage_date, actor, count(*) - 1 AS extra
FROM @staging@ JOIN candidates USING (usage_date)
WHERE hash(record_json) = digest
GROUP BY usage_date, actor, record_json HAVING count(*) > 1
ORDER BY usage_date, actor
"""


def refuse_duplicate_records(connection, staging: str) -> None:
    """BadResponseError naming the first day on which a record was staged twice or more.

    The API sends one record per actor, day and split (such as terminal): two records that are
    the same to the last byte are one record sent twice (pages that overlap), and summing both
    would double that actor's spend. Which copy is true cannot be known, so the day is refused
    rather than corrected; records that merely share an actor and day are summed as usual.
    """
    duplicates = connection.execute(_DUPLICATES_SQL.replace("@staging@", staging)).fetchall()
    if not duplicates:
        return
    day = duplicates[0][0]
    on_day = [(a, extra) for d, a, extra in duplicates if d == day]
    copies = sum(extra for _, extra in on_day)
    actors = ", ".join(a for a, _ in on_day[:3]) + (", ..." if len(on_day) > 3 else "")
    raise BadResponseError(
        f"{day.isoformat()}: duplicate record(s): the API sent {copies} exact copy(ies) of "
        f"records it had already sent that day (actor(s) {actors}), as pages that overlap "
        "would; counting them would double that usage, so the day is refused and nothing "
        "is written",
        day=day,
    )


def spool_root() -> Path:
    """The one folder that holds every run's spool: `budget_pipeline-raw-pages` in the system
    temp folder, each run's spool a subfolder named `<pid>-<start ticks>-<random>` (`_is_stale`).

    The system temp folder, not the DuckDB file's folder: the warehouse may sit on a slow or
    shared volume, and pages are written and read once within seconds, which local scratch
    space suits best; the folder is private to its owner (mode 0700), like the run's own files.
    One named folder, not loose `mkdtemp` folders, so that the next run can find what a killed
    run left behind (`remove_stale_spools`).
    """
    return Path(tempfile.gettempdir()) / SPOOL_FOLDER


def _is_stale(folder: Path) -> bool:
    """Whether a spool folder `<pid>-<start ticks>-<random>` belongs to a process that is gone.

    The pid alone does not say: after a container restart or a wrap-around another process has
    it. The process that has the pid now must also have started at the moment in the name. A
    folder `<pid>-<random>` of an earlier version is stale when the process that has its pid now
    started after the folder was last written to."""
    pid, _, rest = folder.name.partition("-")
    if not pid.isdigit() or not folder.is_dir():
        return False
    ticks, named, _ = rest.partition("-")
    if named and ticks.isdigit():
        running = process_identity.identity_of(int(pid))
        if running is None:  # no such process, or no /proc to tell
            return not process_identity.pid_exists(int(pid))
        return running.start_ticks != int(ticks)
    try:
        changed = folder.stat().st_mtime
    except OSError:
        return False
    return not process_identity.has_run_since(int(pid), changed)


def remove_stale_spools(root: Path | None = None) -> list[Path]:
    """Remove the spools of runs whose process is gone (killed before its `finally` ran);
    returns the folders removed. A live run's spool, or a folder not named by this module, is
    left alone."""
    root = root or spool_root()
    removed = []
    try:
        folders = list(root.iterdir())
    except FileNotFoundError:
        return removed
    for folder in folders:
        if _is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _spool_prefix() -> str:
    """`<pid>-<start ticks>-`: the process that owns the spool, even once its pid is reused."""
    identity = process_identity.this_process()
    return f"{os.getpid()}-{identity.start_ticks}-" if identity else f"{os.getpid()}-"


def new_spool() -> Path:
    """This run's spool folder, after removing the spools that killed runs left behind."""
    root = spool_root()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_spools(root)
    return Path(tempfile.mkdtemp(prefix=_spool_prefix(), dir=root))


@contextmanager
def raw_page_sink(connection, staging: str, threads: int) -> Iterator[RawPageSink]:
    """A sink for `threads` fetching threads; the spool folder goes when the block ends (or,
    if the process is killed first, at the start of the next run)."""
    spool = new_spool()
    cursors: queue.SimpleQueue = queue.SimpleQueue()
    opened = [connection.cursor() for _ in range(threads + 1)]
    for cursor in opened[1:]:
        cursors.put(cursor)
    sink = RawPageSink(cursors, opened[0], staging, spool)
    try:
        yield sink
    finally:
        sink.close()
        for cursor in opened:
            cursor.close()
        shutil.rmtree(spool, ignore_errors=True)
