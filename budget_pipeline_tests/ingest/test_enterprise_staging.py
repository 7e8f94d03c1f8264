"""DuckDB's fast path for Enterprise pages stages exactly the rows the Python readers make, and
never a row they refuse: what it cannot prove good it hands back (`stage` returns False, nothing
staged) for the Python readers to accept or to refuse naming day, page, row and field.

Pages go through `EnterprisePageStager` into staging tables of a real DuckDB file; the expected
rows and errors come from `read_enterprise_day` and `day_frames`, the path it falls back to.
"""

import copy
import datetime as dt

import orjson
import pandas as pd
import pytest

from budget_pipeline.defs.resources import AnalyticsApiResource
from budget_pipeline.ingest.enterprise import (
    _page_as_received,
    fetch_enterprise_pages,
    read_enterprise_day,
)
from budget_pipeline.ingest.enterprise_staging import enterprise_page_stager
from budget_pipeline.ingest.errors import BadResponseError
from budget_pipeline.rules.enterprise import day_frames
from budget_pipeline.settings import DEMO_ENTERPRISE
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.tables import RAW_TOKEN_USAGE, RAW_USAGE, as_contract_dtypes

DAY = dt.date(2026, 3, 4)
RAW_STAGING, TOKEN_STAGING = "budget.test_raw", "budget.test_tokens"

MEMBER = {
    "user": {"id": "user_01", "email_address": "ada@example.com"},
    "claude_code_metrics": {
        "core_metrics": {
            "distinct_session_count": 3,
            "commit_count": 2,
            "pull_request_count": 1,
            "lines_of_code": {"added_count": 120, "removed_count": 7},
        },
        "tool_actions": {"edit_tool": {"accepted_count": 4, "rejected_count": 1}},
    },
    "chat_metrics": {"message_count": 11, "distinct_conversation_count": 2},
    "cowork_metrics": {"message_count": 1},
    "design_metrics": None,
    "office_metrics": {"excel": {"message_count": 2}, "word": {"message_count": None}},
    "web_search_count": 5,
    "a_field_added_later": {"kept": True},
}


def usage(actor: dict, model: str = "claude-sonnet-4-5", **counts) -> dict:
    return {
        "starting_at": f"{DAY.isoformat()}T00:00:00Z",
        "group": {"actor": actor, "model": model},
        "usage": {
            "uncached_input_tokens": counts.get("input", 100),
            "output_tokens": counts.get("output", 20),
            "cache_read_input_tokens": 300,
            "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 5},
        },
    }


ADA = {"type": "user_actor", "email_address": "ada@example.com"}
API_KEY = {"type": "api_key_actor", "api_key_id": "apikey_01"}


def member(path: str, value) -> dict:
    """MEMBER with the value at a dotted path replaced."""
    row = copy.deepcopy(MEMBER)
    *parents, last = path.split(".")
    target = row
    for key in parents:
        target = target[key]
    target[last] = value
    return row


def pages(rows: list, per_page: int = 2) -> list[bytes]:
    """The rows in cursor pages of `per_page`, as the API writes them (no has_more)."""
    chunks = [rows[start : start + per_page] for start in range(0, len(rows), per_page)] or [[]]
    return [
        orjson.dumps({"data": chunk, "next_page": None if last else f"page_{index + 2}"})
        for index, (chunk, last) in enumerate(
            (chunk, index == len(chunks) - 1) for index, chunk in enumerate(chunks)
        )
    ]


def spooled(stager, kind: str, bodies: list[bytes]) -> list:
    return [stager.spool_page(kind, DAY, page, body) for page, body in enumerate(bodies, start=1)]


@pytest.fixture
def connection(tmp_path):
    with warehouse.connect(str(tmp_path / "pages.duckdb")) as connection:
        connection.execute(RAW_USAGE.create_statement(RAW_STAGING))
        connection.execute(RAW_TOKEN_USAGE.create_statement(TOKEN_STAGING))
        yield connection


def staged_by_duckdb(connection, members: list, tokens: list) -> tuple | None:
    """(raw_usage rows, raw_token_usage rows) as DuckDB stages the day; None when it hands the
    day back, in which case it staged nothing."""
    with enterprise_page_stager(connection, RAW_STAGING, TOKEN_STAGING) as stager:
        day_pages = (
            DAY,
            spooled(stager, "members", pages(members)),
            spooled(stager, "usage", pages(tokens)),
        )
        accepted = stager.stage([day_pages])
        # Staged pages are deleted; a day handed back keeps them for the Python readers.
        assert all(page.exists() != accepted for page in [*day_pages[1], *day_pages[2]])
    raw, token = (_read(connection, table) for table in (RAW_USAGE, RAW_TOKEN_USAGE))
    if not accepted:
        assert raw.empty and token.empty, "a day handed back must leave nothing staged"
        return None
    return raw, token


def read_by_python(members: list, tokens: list) -> tuple:
    raw, token = day_frames(DAY, *read_enterprise_day(DAY, pages(members), pages(tokens)))
    return _sorted(RAW_USAGE, raw), _sorted(RAW_TOKEN_USAGE, token)


def _read(connection, table) -> pd.DataFrame:
    staging = RAW_STAGING if table is RAW_USAGE else TOKEN_STAGING
    frame = connection.execute(f"SELECT * FROM {staging}").fetchdf()
    return _sorted(table, as_contract_dtypes(table.name, frame))


def _sorted(table, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[table.column_names].astype({"usage_date": "datetime64[ns]"})
    if "other_activity" in frame:
        frame["other_activity"] = frame["other_activity"].astype("float64")
    return frame.sort_values(["actor", "record_json"]).reset_index(drop=True)


def assert_same_as_python(connection, members: list, tokens: list) -> None:
    staged = staged_by_duckdb(connection, members, tokens)
    assert staged is not None, "DuckDB handed back a day it should stage"
    expected = read_by_python(members, tokens)
    for actual, wanted in zip(staged, expected, strict=True):
        pd.testing.assert_frame_equal(actual, wanted, check_dtype=False)


def another(row: dict, email: str = "bo@example.com") -> dict:
    """The row as another member's: one person is one row a day."""
    return {**row, "user": {"email_address": email}}


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([MEMBER], id="a member with every block"),
        pytest.param([{"user": {"email_address": "bo@example.com"}}], id="every block absent"),
        pytest.param(
            [member("chat_metrics", None), another(member("claude_code_metrics", None))],
            id="null blocks",
        ),
        pytest.param([member("chat_metrics.message_count", None)], id="a null count"),
        pytest.param(
            [member("chat_metrics", 5), another(member("office_metrics", [1]))],
            id="a block that is not an object",
        ),
        pytest.param(
            [member("claude_code_metrics.core_metrics.commit_count", 2**63 - 1)],
            id="the largest count",
        ),
        pytest.param(
            [another(MEMBER, f"member{index}@example.com") for index in range(5)],
            id="members over three pages",
        ),
    ],
)
def test_members_duckdb_stages_are_the_rows_python_reads(connection, members):
    assert_same_as_python(connection, members, [usage(ADA), usage(API_KEY)])


def test_usage_rows_of_every_actor_type_and_unlisted_actors_are_staged_as_python_reads_them(
    connection,
):
    tokens = [
        usage(ADA),
        usage({"type": "user_actor", "email_address": "ADA@example.com"}, model="claude-opus-4"),
        usage(API_KEY),
        usage({"type": "api_key_actor", "api_key_id": "apikey_01"}, model="claude-opus-4"),
        usage({"type": "api_actor", "api_key_name": "ci"}),
        usage({"type": "service_account_actor", "service_account_id": "svc_01"}),
        usage({"type": "federated_actor", "provider": "okta", "subject": "u1"}),
        usage({"type": "user_actor", "email_address": "gone@example.com"}, output=None),
        usage(API_KEY, model="claude-haiku-4-5", input=0),
    ]
    # Pages of two rows: an unlisted actor's record keeps its usage rows across pages in order.
    assert_same_as_python(connection, [MEMBER], tokens)


BAD_MEMBERS = {
    "a count as a string": member("chat_metrics.message_count", "5"),
    "a negative count": member("claude_code_metrics.core_metrics.commit_count", -1),
    "a fractional count": member("web_search_count", 1.0),
    "a boolean count": member("cowork_metrics.message_count", True),
    "no email": member("user", {"id": "user_01"}),
    "an empty email": member("user.email_address", ""),
    "a blank email": member("user.email_address", "   "),
    "an email that is not a string": member("user.email_address", 5),
    "a user that is not an object": member("user", "ada@example.com"),
    "a row that is not an object": 5,
    "a null row": None,
}


@pytest.mark.parametrize("bad", BAD_MEMBERS.values(), ids=BAD_MEMBERS.keys())
def test_a_member_row_python_refuses_is_never_staged_by_duckdb(connection, bad):
    members = [another(MEMBER), bad]

    assert staged_by_duckdb(connection, members, [usage(ADA)]) is None
    with pytest.raises(BadResponseError, match=f"{DAY.isoformat()} page 1: .* row 1: "):
        read_by_python(members, [usage(ADA)])


BAD_USAGE = {
    "an empty model": usage(ADA, model=""),
    "no model": {"group": {"actor": ADA}, "usage": {}},
    "a user without an email": usage({"type": "user_actor"}),
    "an API key without an id or a name": usage({"type": "api_key_actor", "api_key_id": ""}),
    "a federated actor without a subject": usage({"type": "federated_actor", "provider": "x"}),
    "a token count as a string": usage(ADA, input="100"),
    "a negative token count": usage(ADA, output=-5),
    "a row that is not an object": [1, 2],
}


@pytest.mark.parametrize("bad", BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_a_usage_row_python_refuses_is_never_staged_by_duckdb(connection, bad):
    tokens = [usage(API_KEY), bad]

    assert staged_by_duckdb(connection, [MEMBER], tokens) is None
    with pytest.raises(BadResponseError, match=f"{DAY.isoformat()} page 1: the usage row 1: "):
        read_by_python([MEMBER], tokens)


DOUBTED_BUT_VALID = {
    "activity beyond BIGINT": ([member("web_search_count", 2**63)], [usage(ADA)]),
    "an email beyond visible ASCII": (
        [member("user.email_address", "zoë@example.com")],
        [usage(ADA)],
    ),
    "an email with a space": ([member("user.email_address", " ada@example.com")], [usage(ADA)]),
    "an actor of a type not known yet": (
        [MEMBER],
        [usage({"type": "workload_actor", "workload": "w1"})],
    ),
    "an actor that is not an object": ([MEMBER], [usage("someone")]),
}


@pytest.mark.parametrize(("members", "tokens"), DOUBTED_BUT_VALID.values(), ids=DOUBTED_BUT_VALID)
def test_a_valid_row_duckdb_cannot_prove_good_is_left_to_python_which_accepts_it(
    connection, members, tokens
):
    assert staged_by_duckdb(connection, members, tokens) is None
    raw, token = read_by_python(members, tokens)
    assert len(raw) >= 1 and len(token) == len(tokens)


def test_a_member_listed_twice_is_left_to_python_which_names_both_pages(connection):
    members = [MEMBER, another(MEMBER), another(MEMBER, "ADA@example.com")]

    assert staged_by_duckdb(connection, members, [usage(ADA)]) is None
    with pytest.raises(
        BadResponseError, match=r"page 2: .*ADA@example.com twice \(first on page 1"
    ):
        read_by_python(members, [usage(ADA)])


# -- the paging, read from a page's last bytes --------------------------------------------------

TAKE = _page_as_received("usage")


@pytest.mark.parametrize(
    ("body", "next_page"),
    [
        (b'{"data":[{"a":1}],"next_page":"page_2"}', "page_2"),
        (b'{"data":[],"has_more":false,"next_page":null}', None),
        (b'{"data":[] , "has_more" : true , "next_page" : "p\\"2" }\n', 'p"2'),
        # A tail that does not end the page as the API writes it: the page is parsed whole.
        (b'{"next_page":"page_2","data":[{"next_page":null}]}', "page_2"),
    ],
)
def test_the_cursor_is_read_from_the_page_as_a_whole_parse_reads_it(body, next_page):
    assert TAKE(body, day=DAY, page=1, seen_cursors=set()) == (body, next_page)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"data":[],"has_more":true,"next_page":null}', "says has_more but gives no next_page"),
        # has_more far from the end of the last page: only the whole page tells.
        (b'{"has_more":true,"data":[],"next_page":null}', "says has_more but gives no next_page"),
        (b'{"data":[],"next_page":"seen"}', "cursor repeats"),
        (b'{"data":[],"next_page":""}', "next_page is ''"),
    ],
)
def test_a_page_whose_paging_breaks_is_refused_naming_day_and_page(body, problem):
    with pytest.raises(BadResponseError, match=f"{DAY.isoformat()} page 3: the usage .*{problem}"):
        TAKE(body, day=DAY, page=3, seen_cursors={"seen"})


def test_a_page_that_ends_well_but_is_not_json_fails_naming_its_day_and_page():
    body = b'{"data":[{"user": nope}],"next_page":null}'
    assert TAKE(body, day=DAY, page=1, seen_cursors=set()) == (body, None)

    with pytest.raises(BadResponseError, match=f"{DAY.isoformat()} page 1: .*not JSON"):
        read_enterprise_day(DAY, [body], pages([usage(ADA)]))


# -- the fetch: pages wait on disk -------------------------------------------------------------


def test_fetched_days_wait_as_files_in_the_spool_each_page_as_the_api_sent_it(tmp_path):
    """The days in flight hold their pages' paths, not their bytes (~30 MB a day at 20,000
    members); each file is a page as served, in cursor order, and the Python readers read
    them whole."""
    spool = tmp_path / "spool"
    spool.mkdir()

    def spool_page(kind: str, day: dt.date, page: int, content: bytes):
        path = spool / f"{day.isoformat()}_{kind}_{page:05d}.json"
        path.write_bytes(content)
        return path

    days = [dt.date(2026, 11, 24), dt.date(2026, 11, 25)]
    api = AnalyticsApiResource(source=DEMO_ENTERPRISE, page_limit=7)
    with api.client() as client:
        fetched = sorted(fetch_enterprise_pages(client, days, spool_page))

    assert [day for day, _, _ in fetched] == days
    for day, member_pages, token_pages in fetched:
        assert len(member_pages) > 1 and len(token_pages) > 1, "the day should span pages"
        for kind, paths in (("members", member_pages), ("usage", token_pages)):
            assert paths == sorted(spool.glob(f"{day.isoformat()}_{kind}_*.json"))
            assert all(isinstance(orjson.loads(path.read_bytes())["data"], list) for path in paths)
        members, tokens = read_enterprise_day(
            day, [p.read_bytes() for p in member_pages], [p.read_bytes() for p in token_pages]
        )
        emails = {row["actor"] for row in members}
        assert len(emails) == len(members) > 7 and len(tokens) > 7
