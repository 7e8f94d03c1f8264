"""DuckDB's fast path for API pages accepts and rejects exactly what the Python contract does.

Pages go through `RawPageSink` (spooled by `take`, staged by `flush`) into a staging table of a
real DuckDB file; the expected rows and errors come from `validation.validate_page` and
`usage_records.raw_usage_rows`, the Python path the sink falls back to.
"""

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

import orjson
import pandas as pd
import pytest

from budget_pipeline.ingest import page_staging as raw_pages
from budget_pipeline.ingest.errors import BadResponseError
from budget_pipeline.ingest.page_staging import raw_page_sink
from budget_pipeline.ingest.records import model_usage, raw_usage_rows
from budget_pipeline.ingest.validation import validate_page
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.tables import RAW_USAGE, as_contract_dtypes
from budget_pipeline_tests.conftest import TEST_ORGANISATION
from budget_pipeline_tests.ingest.test_client import _record as client_record

DAY = dt.date(2026, 3, 4)
STAGING = "budget.test_staging"


def record(**overrides) -> dict:
    """The client tests' well-formed record, on DAY."""
    return client_record(day=DAY, **overrides)


def changed(path: str, value) -> dict:
    """A record with the value at a dotted path (list indexes as numbers) replaced."""
    changed_record = copy.deepcopy(record())
    *parents, last = path.split(".")
    target = changed_record
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return changed_record


def second_entry(**entry) -> dict:
    """Two model entries, the second one altered: the checks must look at every entry."""
    first = record()["model_breakdown"][0]
    return record(model_breakdown=[first, {**copy.deepcopy(first), **entry}])


def page(records, has_more=False, next_page=None) -> bytes:
    return orjson.dumps({"data": records, "has_more": has_more, "next_page": next_page})


@pytest.fixture
def connection(tmp_path):
    with warehouse.connect(str(tmp_path / "pages.duckdb")) as connection:
        connection.execute(RAW_USAGE.create_statement(STAGING))
        yield connection


def staged(connection) -> pd.DataFrame:
    frame = connection.execute(f"SELECT * FROM {STAGING} ORDER BY record_json").fetchdf()
    return as_contract_dtypes("raw_usage", frame)


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True)


def assert_same_rows(actual: pd.DataFrame, records) -> None:
    # record_json is the record as received (re-serialised by DuckDB or orjson): same JSON
    assert sorted(canonical(json.loads(text)) for text in actual["record_json"]) == sorted(
        map(canonical, records)
    )
    expected = raw_usage_rows(DAY, records)
    columns = [c for c in expected.columns if c != "record_json"]
    pd.testing.assert_frame_equal(
        actual[columns].sort_values(columns).reset_index(drop=True),
        expected[columns].sort_values(columns).reset_index(drop=True),
        check_dtype=False,
    )


def take(sink, content: bytes, seen=None, page_number=1, day=DAY):
    return sink.take(content, day=day, page=page_number, seen_cursors=seen or set())


def assert_fails_when_staged_as_not_json(connection, content: bytes) -> None:
    """The page is spooled, then fails when staged, naming its page; nothing of it is staged."""
    with (
        raw_page_sink(connection, STAGING, threads=1) as sink,
        pytest.raises(BadResponseError, match=r"^2026-03-04 page 1: body is not JSON"),
    ):
        take(sink, content)
        sink.flush()
    assert staged(connection).empty


def staged_in_one_batch(sink, *contents: bytes) -> int:
    for number, content in enumerate(contents, start=1):
        take(sink, content, page_number=number)
    return sink.flush()


def test_the_demo_organisations_pages_take_the_fast_path(connection):
    records = TEST_ORGANISATION.records_for(DAY)
    assert len(records) > 10
    with raw_page_sink(connection, STAGING, threads=2) as sink:
        first = take(sink, page(records[:7], has_more=True, next_page="c1"))
        rest = take(sink, page(records[7:]), seen={"c1"}, page_number=2)
        assert staged(connection).empty  # spooled, not staged yet
        assert sink.flush() == len(records)

    assert first == (0, "c1") and rest == (0, None)
    assert sink.pages_in_python == 0 and sink.records_staged == len(records)
    actual = staged(connection)
    assert_same_rows(actual, records)
    assert {json.loads(text)["actor"]["type"] for text in actual["record_json"]} == {
        "user_actor",
        "api_actor",
    }


ODD_BUT_VALID = {
    "unknown fields": record(future={"nested": [1, 2]}, organization_id="org"),
    "extra token kind": changed("model_breakdown.0.tokens.cache_creation_1h", 9),
    "no tool_actions": {k: v for k, v in record().items() if k != "tool_actions"},
    "empty tool_actions": record(tool_actions={}),
    "null tool_actions": record(tool_actions=None),
    "tool without rejected": record(tool_actions={"edit_tool": {"accepted": 2}}),
    "no model_breakdown": {k: v for k, v in record().items() if k != "model_breakdown"},
    "empty model_breakdown": record(model_breakdown=[]),
    "cost as a bare number": changed("model_breakdown.0.estimated_cost", 12.5),
    "no estimated_cost": changed("model_breakdown.0.estimated_cost", None),
    "plain date": record(date=DAY.isoformat()),
    "date with a space": record(date=f"{DAY.isoformat()} 00:00:00"),
    "time at another offset on the same UTC day": record(date="2026-03-05T01:30:00+02:00"),
    "time with milliseconds": record(date=f"{DAY.isoformat()}T23:59:59.999Z"),
    "largest count the warehouse holds": changed("model_breakdown.0.tokens.input", 2**63 - 1),
    "null customer_type": record(customer_type=None),
    "no terminal_type": {k: v for k, v in record().items() if k != "terminal_type"},
    "non-ASCII email": record(actor={"type": "user_actor", "email_address": "ünï@例え.jp"}),
    "api key": record(actor={"type": "api_actor", "api_key_name": "ci-bot"}),
}


@pytest.mark.parametrize("name", ODD_BUT_VALID)
def test_valid_records_are_kept_whichever_path_takes_them(connection, name):
    records = [record(), ODD_BUT_VALID[name]]
    validate_page(orjson.loads(page(records)), day=DAY, page=1)  # the contract accepts it

    with raw_page_sink(connection, STAGING, threads=1) as sink:
        assert take(sink, page(records)) == (0, None)
        assert sink.flush() == 2

    assert_same_rows(staged(connection), records)


BAD = {
    "another day": record(date="2026-03-05T00:00:00Z"),
    "date prefix only": record(date=f"{DAY.isoformat()}X"),
    "offset landing on the next UTC day": record(date=f"{DAY.isoformat()}T23:00:00-05:00"),
    "offset landing on the previous UTC day": record(date=f"{DAY.isoformat()}T01:00:00+02:00"),
    "garbage time": record(date=f"{DAY.isoformat()}Tgarbage"),
    "hour 25": record(date=f"{DAY.isoformat()}T25:00:00Z"),
    "tokens of 2^63": changed("model_breakdown.0.tokens.input", 2**63),
    "extra token kind of 2^63": changed("model_breakdown.0.tokens.cache_creation_1h", 2**63),
    "sessions of 2^63": changed("core_metrics.num_sessions", 2**63),
    "accepted of 2^63": record(tool_actions={"edit_tool": {"accepted": 2**63, "rejected": 0}}),
    "no actor": {k: v for k, v in record().items() if k != "actor"},
    "actor not an object": record(actor="a@example.com"),
    "unknown actor type": record(actor={"type": "robot", "email_address": "r@x"}),
    "email missing": record(actor={"type": "user_actor", "api_key_name": "k"}),
    "email blank": record(actor={"type": "user_actor", "email_address": "  "}),
    "email a tab": record(actor={"type": "user_actor", "email_address": "\t"}),
    "email a no-break space": record(actor={"type": "user_actor", "email_address": "\u00a0"}),
    "email a number": record(actor={"type": "user_actor", "email_address": 5}),
    "email a number, key a string": record(
        actor={"type": "user_actor", "email_address": 5, "api_key_name": "k"}
    ),
    "key name null": record(actor={"type": "api_actor", "api_key_name": None}),
    "sessions null": changed("core_metrics.num_sessions", None),
    "sessions negative": changed("core_metrics.num_sessions", -1),
    "sessions a float": changed("core_metrics.num_sessions", 1.0),
    "sessions true": changed("core_metrics.num_sessions", True),
    "sessions a string": changed("core_metrics.num_sessions", "1"),
    "commits missing": record(
        core_metrics={
            k: v for k, v in record()["core_metrics"].items() if k != "commits_by_claude_code"
        }
    ),
    "lines not an object": changed("core_metrics.lines_of_code", 12),
    "lines removed null": changed("core_metrics.lines_of_code.removed", None),
    "core_metrics null": record(core_metrics=None),
    "tool_actions a list": record(tool_actions=[1]),
    "tool counts null": record(tool_actions={"edit_tool": None}),
    "accepted null": record(tool_actions={"edit_tool": {"accepted": None, "rejected": 0}}),
    "rejected negative": record(tool_actions={"edit_tool": {"accepted": 1, "rejected": -2}}),
    "model_breakdown an object": record(model_breakdown={"model": "x"}),
    "entry null": record(model_breakdown=[None]),
    "second entry null": record(model_breakdown=[record()["model_breakdown"][0], None]),
    "model empty": changed("model_breakdown.0.model", ""),
    "second model null": second_entry(model=None),
    "second model a number": second_entry(model=7),
    "token missing": changed(
        "model_breakdown.0.tokens", {"input": 1, "output": 2, "cache_read": 3}
    ),
    "second entry's token null": second_entry(
        tokens={"input": None, "output": 2, "cache_read": 3, "cache_creation": 4}
    ),
    "second entry's token missing": second_entry(
        tokens={"output": 2, "cache_read": 3, "cache_creation": 4}
    ),
    "extra token kind a float": changed("model_breakdown.0.tokens.cache_creation_1h", 0.5),
    "negative cost": changed("model_breakdown.0.estimated_cost.amount", -1),
    "cost amount null": changed("model_breakdown.0.estimated_cost.amount", None),
    "second entry's amount null": second_entry(estimated_cost={"amount": None}),
    "cost a string": changed("model_breakdown.0.estimated_cost", "1.00"),
    "record a string": "not a record",
    "record null": None,
}


@pytest.mark.parametrize("name", BAD)
def test_bad_records_fail_with_the_contracts_own_message(connection, name):
    records = [record(), BAD[name], record()]
    with pytest.raises(BadResponseError) as by_contract:
        validate_page(orjson.loads(page(records)), day=DAY, page=1)

    with (
        raw_page_sink(connection, STAGING, threads=1) as sink,
        pytest.raises(BadResponseError) as by_sink,
    ):
        take(sink, page(records))
        sink.flush()

    assert str(by_sink.value) == str(by_contract.value)
    assert str(by_sink.value).startswith("2026-03-04 page 1 record 1: ")
    assert staged(connection).empty  # the page's good records were not kept either


@pytest.mark.parametrize(
    "body",
    [
        {"has_more": False, "next_page": None},
        {"data": {}, "has_more": False},
        {"data": None, "has_more": False, "next_page": None},
        {"data": "[]", "has_more": False, "next_page": None},
        {"data": [], "has_more": "no"},
        {"data": [], "has_more": False, "next_page": 3},
        {"data": [], "has_more": True, "next_page": None},
        {"data": [], "has_more": True, "next_page": "seen-before"},
        [1, 2],
    ],
)
def test_bad_pages_fail_with_the_contracts_own_message(connection, body):
    content = orjson.dumps(body)
    with pytest.raises(BadResponseError) as by_contract:
        validate_page(body, day=DAY, page=1, seen_cursors={"seen-before"})
    with (
        raw_page_sink(connection, STAGING, threads=1) as sink,
        pytest.raises(BadResponseError) as by_sink,
    ):
        take(sink, content, seen={"seen-before"})
        sink.flush()  # a bad `data` is found with the records
    assert str(by_sink.value) == str(by_contract.value)


@pytest.mark.parametrize(
    "content",
    [page([record()])[:-25], b"", b"<html>busy</html>", page([record()]).replace(b"a@", b"\xff@")],
    ids=["truncated", "empty", "html", "not UTF-8"],
)
def test_a_body_that_is_not_json_is_a_value_error_so_the_page_is_fetched_again(connection, content):
    with raw_page_sink(connection, STAGING, threads=1) as sink, pytest.raises(ValueError):
        take(sink, content)
    assert staged(connection).empty


def test_one_batch_stages_good_pages_in_duckdb_and_odd_ones_in_python(connection):
    records = TEST_ORGANISATION.records_for(DAY)
    odd = [record(), ODD_BUT_VALID["cost as a bare number"]]
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        staged_count = staged_in_one_batch(sink, page(records[:5]), page(odd), page(records[5:]))

    assert staged_count == len(records) + 2
    assert sink.pages_in_python == 1  # only the odd page
    assert_same_rows(staged(connection), records + odd)


def test_a_bad_record_among_good_pages_names_its_page_and_stages_nothing(connection):
    records = TEST_ORGANISATION.records_for(DAY)
    bad = [record(), BAD["sessions a string"]]
    with (
        raw_page_sink(connection, STAGING, threads=1) as sink,
        pytest.raises(BadResponseError, match=r"^2026-03-04 page 2 record 1: core_metrics"),
    ):
        staged_in_one_batch(sink, page(records[:5]), page(bad), page(records[5:]))
    # what the batch staged before the error is dropped with the staging table by raw_usage;
    # the bad page itself left nothing
    assert not any('"1"' in text for text in staged(connection)["record_json"])


def test_a_data_that_is_not_a_list_among_good_pages_fails_with_the_contracts_message(connection):
    records = TEST_ORGANISATION.records_for(DAY)
    with (
        raw_page_sink(connection, STAGING, threads=1) as sink,
        pytest.raises(BadResponseError, match=r"^2026-03-04 page 2: 'data' is \{\} \(must be"),
    ):
        staged_in_one_batch(
            sink, page(records), orjson.dumps({"data": {}, "has_more": False, "next_page": None})
        )


@pytest.mark.parametrize("amount", [b"NaN", b"1e999"])
def test_a_number_only_duckdb_reads_is_a_bad_response_naming_the_page(connection, amount):
    # DuckDB's JSON reader takes NaN and 1e999 (infinity); the contract's JSON reader does not
    content = page([record()]).replace(b'"amount":1}', b'"amount":' + amount + b"}")
    assert amount in content
    with pytest.raises(ValueError):
        orjson.loads(content)
    assert_fails_when_staged_as_not_json(connection, content)


def test_an_integer_too_large_for_a_bigint_takes_the_python_path(connection):
    content = page([record()]).replace(b'"num_sessions":1', b'"num_sessions":' + b"9" * 30)
    assert b"9" * 30 in content
    with pytest.raises(BadResponseError) as by_contract:
        validate_page(orjson.loads(content), day=DAY, page=1)
    with (
        raw_page_sink(connection, STAGING, threads=1) as sink,
        pytest.raises(BadResponseError) as by_sink,
    ):
        take(sink, content)
        sink.flush()
    assert str(by_sink.value) == str(by_contract.value)


def test_batches_are_staged_in_the_background_and_the_spool_goes_away(connection, monkeypatch):
    records = TEST_ORGANISATION.records_for(DAY)
    first = page(records[:7], has_more=True, next_page="c1")
    monkeypatch.setattr(raw_pages, "FLUSH_BYTES", len(first))
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        spool = sink._spool
        take(sink, first)  # a batch is due: staged while the fetching goes on
        deadline = time.monotonic() + 30
        while sink.records_staged < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.records_staged == 7
        take(sink, page(records[7:8]), seen={"c1"}, page_number=2)  # too small to be due
        assert sink.flush() == 8  # waits for the stager, stages the rest
        assert list(spool.iterdir()) == []  # staged pages leave the spool
    assert not spool.exists()
    assert_same_rows(staged(connection), records[:8])


def test_an_error_of_a_background_batch_stops_the_fetching_threads(connection, monkeypatch):
    bad = page([record(), BAD["sessions a string"]])
    monkeypatch.setattr(raw_pages, "FLUSH_BYTES", len(bad))
    monkeypatch.setattr(raw_pages, "MAX_SPOOLED_BYTES", 1)  # any spooled page is a full spool
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        # a fetching thread waits for the stager (the spool is full) and gets the batch's error
        with pytest.raises(BadResponseError, match=r"^2026-03-04 page 1 record 1: "):
            take(sink, bad)
            take(sink, page([record()]), page_number=2)
        with pytest.raises(BadResponseError, match=r"^2026-03-04 page 1 record 1: "):
            sink.flush()
    assert staged(connection).empty


def test_entries_in_another_key_order_still_take_the_fast_path(connection):
    entry = record()["model_breakdown"][0]
    reordered = record(
        model_breakdown=[
            {
                "estimated_cost": {"amount": 7.5, "currency": "USD"},
                "tokens": dict(reversed(list(entry["tokens"].items()))),
                "model": entry["model"],
            }
        ]
    )
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        assert staged_in_one_batch(sink, page([record(), reordered])) == 2
    assert sink.pages_in_python == 0
    assert_same_rows(staged(connection), [record(), reordered])


def test_the_next_run_removes_the_spool_a_killed_run_left_and_keeps_a_live_ones(
    connection, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "system-temp"))
    root = raw_pages.spool_root()
    assert root.parent == tmp_path / "system-temp"
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)  # the process has exited: nobody cleans its spool
    stale = root / f"{dead_pid}-killed"
    stale.mkdir(parents=True)
    (stale / f"{DAY.isoformat()}_00001.json").write_bytes(page([record()]))
    live = root / f"{os.getpid()}-running"
    live.mkdir()
    (live / f"{DAY.isoformat()}_00001.json").write_bytes(page([record()]))

    with raw_page_sink(connection, STAGING, threads=1) as sink:
        assert sink._spool.parent == root and sink._spool.name.startswith(f"{os.getpid()}-")
        assert not stale.exists()
        take(sink, page([record()]))
        assert sink.flush() == 1
    assert not stale.exists() and not sink._spool.exists()
    assert (live / f"{DAY.isoformat()}_00001.json").exists()


def test_an_estimate_in_either_accepted_shape_is_priced_whichever_path_staged_it(connection):
    bare = changed("model_breakdown.0.estimated_cost", 1850)
    bare["actor"]["email_address"] = "bare@example.com"
    missing = changed("model_breakdown.0.estimated_cost", None)
    missing["actor"]["email_address"] = "missing@example.com"
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        # the first page takes the fast path (DuckDB), the second the contract's Python path
        assert staged_in_one_batch(sink, page([record()]), page([bare, missing])) == 3
    assert sink.pages_in_python == 1
    connection.execute(f"INSERT INTO {RAW_USAGE.qualified_name} FROM {STAGING}")

    estimates = model_usage(connection, DAY, DAY).set_index("actor")["api_estimated_cost_usd"]
    assert estimates["a@example.com"] == 0.01  # {"amount": 1}
    assert estimates["bare@example.com"] == 18.50  # 1850, a bare number of cents
    assert pd.isna(estimates["missing@example.com"])  # no estimate, not $0


@pytest.fixture
def header_sql_unavailable(monkeypatch):
    """Any page that is not read from its tail then takes the Python path: counted."""
    monkeypatch.setattr(raw_pages, "HEADER_SQL", "SELECT no_such_function($body)")


def test_the_next_cursor_is_read_from_the_pages_tail_without_parsing_it(
    connection, header_sql_unavailable
):
    records = TEST_ORGANISATION.records_for(DAY)
    # A record's text that looks like the page's end must not be taken for it.
    decoy = record(terminal_type='x","has_more":false,"next_page":null}')
    pretty = json.dumps(
        {"data": records[5:], "has_more": False, "next_page": None}, indent=2
    ).encode()
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        first = take(sink, page([decoy, *records[:5]], has_more=True, next_page='c"1'))
        last = take(sink, pretty + b"\n", seen={'c"1'}, page_number=2)
        assert sink.flush() == len(records) + 1

    assert (first, last) == ((0, 'c"1'), (0, None))
    assert sink.pages_in_python == 0
    assert_same_rows(staged(connection), [decoy, *records])


@pytest.mark.parametrize(
    "content",
    [
        # has_more and next_page before the records
        b'{"has_more": true, "next_page": "c1", "data": []}',
        # a member after them
        b'{"data": [], "has_more": true, "next_page": "c1", "extra": 1}',
    ],
    ids=["header first", "member after"],
)
def test_a_page_not_ending_with_its_cursor_is_parsed_whole(connection, content):
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        assert take(sink, content) == (0, "c1")
        assert sink.pages_in_python == 0


def test_a_page_whose_tail_is_good_but_body_is_not_json_fails_naming_the_page(
    connection, header_sql_unavailable
):
    broken = page([record()], has_more=False).replace(b'"actor":', b'"actor"', 1)
    assert_fails_when_staged_as_not_json(connection, broken)


@pytest.mark.parametrize("odd_page", [False, True], ids=["fast-path", "one-copy-in-python"])
def test_a_record_staged_twice_on_a_day_is_refused_as_a_duplicate(connection, odd_page):
    records = TEST_ORGANISATION.records_for(DAY)
    overlap = records[4:8]  # pages that overlap by one record
    if odd_page:
        overlap = [*overlap, ODD_BUT_VALID["cost as a bare number"]]
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        staged_in_one_batch(sink, page(records[:5]), page(overlap))

    with pytest.raises(BadResponseError, match=r"^2026-03-04: duplicate record\(s\)") as refused:
        raw_pages.refuse_duplicate_records(connection, STAGING)
    actor = records[4]["actor"]
    assert (actor.get("email_address") or actor["api_key_name"]) in str(refused.value)
    assert "1 exact copy(ies)" in str(refused.value)


def test_records_sharing_actor_and_day_but_not_every_field_are_no_duplicates(connection):
    split = [record(), record(terminal_type="jetbrains"), record(date=f"{DAY.isoformat()}")]
    with raw_page_sink(connection, STAGING, threads=1) as sink:
        staged_in_one_batch(sink, page(split[:1]), page(split[1:]))

    raw_pages.refuse_duplicate_records(connection, STAGING)
    assert len(staged(connection)) == 3
