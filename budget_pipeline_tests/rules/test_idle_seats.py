import duckdb
import numpy as np
import pandas as pd

from budget_pipeline.rules.idle_seats import (
    BARELY_ACTIVE,
    COMPLETELY_IDLE,
    NO_CLAUDE_CODE_USE,
    SHOWS_ACTIVITY_SQL,
    IdleSeatRules,
    _trailing_sums,
    idle_seats_as_of,
    shows_activity,
    verdict_days,
)
from budget_pipeline.warehouse.tables import IDLE_SEATS

AS_OF = pd.Timestamp("2026-06-30")
SEATS = pd.DataFrame(
    {
        "email": ["edge13@x.com", "edge14@x.com", "few@x.com", "busy@x.com", "never@x.com"],
        "monthly_cost_usd": [150.0, 150.0, 100.0, 150.0, 200.0],
        "note": ["", "", "Review-only role", "", "Parental leave"],
    }
)
LEDGER = pd.DataFrame({"actor": ["edge13@x.com", "few@x.com"], "workstream": ["search", "data"]})


def usage(rows):
    frame = pd.DataFrame(rows, columns=["usage_date", "actor", "num_sessions", "lines_added"])
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    return frame


def test_window_edges_and_statuses():
    d13 = AS_OF - pd.Timedelta(days=13)
    d14 = AS_OF - pd.Timedelta(days=14)
    rows = usage(
        [
            (d13, "edge13@x.com", 1, 500),  # D-13 is inside the window
            (d14, "edge14@x.com", 3, 900),  # D-14 is not
            (AS_OF, "few@x.com", 1, 12),
            (AS_OF - pd.Timedelta(days=2), "few@x.com", 1, 7),  # 19 lines: still under 20
            (AS_OF, "busy@x.com", 2, 400),
            (AS_OF, "not-a-seat@x.com", 0, 0),  # usage without a seat is not a seat
        ]
    )
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]),
        rows,
        SEATS,
        LEDGER,
        # the caller looks up records before the window separately
        last_seen_before=pd.Series({"edge14@x.com": d14}),
    ).set_index("email")
    assert set(listed.index) == {"edge14@x.com", "few@x.com", "never@x.com"}
    assert listed.loc["edge14@x.com", "status"] == COMPLETELY_IDLE
    assert listed.loc["edge14@x.com", "last_active"] == d14
    assert listed.loc["few@x.com", "status"] == BARELY_ACTIVE
    assert (listed.loc["few@x.com", "sessions"], listed.loc["few@x.com", "lines_added"]) == (2, 19)
    assert listed.loc["few@x.com", "reason"] == "Review-only role"
    assert listed.loc["few@x.com", "workstream"] == "data"
    assert listed.loc["never@x.com", "workstream"] == "Unassigned"
    assert pd.isna(listed.loc["never@x.com", "last_active"])
    assert listed.loc["never@x.com", "monthly_cost_usd"] == 200.0


def test_sorted_by_sessions_then_lines():
    rows = usage([(AS_OF, "few@x.com", 1, 5), (AS_OF, "busy@x.com", 1, 3)])
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]), rows, SEATS, LEDGER, pd.Series(dtype="datetime64[ns]")
    )
    assert list(listed["email"])[-2:] == ["busy@x.com", "few@x.com"]
    assert list(listed["sessions"]) == sorted(listed["sessions"])


def test_last_active_reaches_back_before_the_window():
    long_ago = pd.Timestamp("2026-05-02")
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]),
        usage([]),
        SEATS,
        LEDGER,
        last_seen_before=pd.Series({"busy@x.com": long_ago}),
    ).set_index("email")
    assert listed.loc["busy@x.com", "last_active"] == long_ago


def test_no_verdict_while_the_window_reaches_before_the_first_day_or_a_day_is_missing():
    rules = IdleSeatRules()
    first = pd.Timestamp("2026-06-01")
    days = pd.date_range(first, "2026-06-20")
    assert list(verdict_days(days, days, first, rules)) == list(
        pd.date_range("2026-06-14", "2026-06-20")
    )
    holes = days.drop(pd.Timestamp("2026-06-05"))
    assert list(verdict_days(days, holes, first, rules)) == list(
        pd.date_range("2026-06-19", "2026-06-20")
    )


def test_trailing_sums_match_the_window_summed_day_by_day():
    rng = np.random.default_rng(3)
    per_day = rng.integers(0, 50, size=(40, 7))
    sums = _trailing_sums(per_day, 14)
    for row in range(40):
        expected = per_day[max(0, row - 13) : row + 1].sum(axis=0)
        assert (sums[row] == expected).all(), row


def test_a_seat_matches_its_records_whatever_the_case_of_either_email():
    seats = pd.DataFrame(
        {
            "email": ["Alice@Example.com", "bob@example.com", "carol@example.com"],
            "monthly_cost_usd": [150.0, 150.0, 100.0],
            "note": ["", "", ""],
        }
    )
    ledger = pd.DataFrame({"actor": ["ALICE@example.com"], "workstream": ["search"]})
    long_ago = pd.Timestamp("2026-05-02")
    rows = usage(
        [
            (AS_OF, "alice@example.com", 2, 15),  # the API's spelling of the seat
            (AS_OF - pd.Timedelta(days=3), "ALICE@EXAMPLE.COM", 1, 4),
            (AS_OF, "Bob@Example.com", 1, 400),
        ]
    )
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]),
        rows,
        seats,
        ledger,
        last_seen_before=pd.Series({"Carol@Example.com": long_ago, "bob@example.com": long_ago}),
    )
    # Alice: 3 sessions, 19 lines over the window → barely active, in the ledger's search,
    # shown as seats.csv spells her; Bob has 400 lines → not listed; Carol never in the window
    # but seen before it under another spelling.
    assert listed[["email", "workstream", "sessions", "lines_added", "status"]].to_dict(
        "records"
    ) == [
        {
            "email": "carol@example.com",
            "workstream": "Unassigned",
            "sessions": 0,
            "lines_added": 0,
            "status": COMPLETELY_IDLE,
        },
        {
            "email": "Alice@Example.com",
            "workstream": "search",
            "sessions": 3,
            "lines_added": 19,
            "status": BARELY_ACTIVE,
        },
    ]
    assert list(listed["last_active"]) == [long_ago, AS_OF]


def enterprise_usage(rows):
    """Records of the Enterprise source: other_activity counts every surface but Claude Code."""
    frame = pd.DataFrame(
        rows, columns=["usage_date", "actor", "num_sessions", "lines_added", "other_activity"]
    )
    frame["usage_date"] = pd.to_datetime(frame["usage_date"])
    return frame


ENTERPRISE_SEATS = pd.DataFrame(
    {
        "email": [
            "zeros@x.com",
            "chat@x.com",
            "few@x.com",
            "busy@x.com",
            "unlisted@x.com",
            "office@x.com",
        ],
        "monthly_cost_usd": [150.0, 150.0, 100.0, 150.0, 200.0, 150.0],
        "note": ["", "", "", "", "", ""],
    }
)


def test_each_status_when_the_source_counts_every_surface():
    rows = enterprise_usage(
        [
            # listed every other day, always with zeros: never active
            *[(AS_OF - pd.Timedelta(days=d), "zeros@x.com", 0, 0, 0) for d in range(0, 14, 2)],
            # chat alone: 35 messages, then 3 web searches, then listed with zeros
            (AS_OF - pd.Timedelta(days=5), "chat@x.com", 0, 0, 35),
            (AS_OF - pd.Timedelta(days=3), "chat@x.com", 0, 0, 3),
            (AS_OF - pd.Timedelta(days=1), "chat@x.com", 0, 0, 0),
            # a little Claude Code and a lot of chat: barely active all the same
            (AS_OF - pd.Timedelta(days=4), "few@x.com", 2, 15, 400),
            (AS_OF, "busy@x.com", 3, 250, 0),
            # Office only, 2 messages: less used on other surfaces than chat@
            (AS_OF - pd.Timedelta(days=9), "office@x.com", 0, 0, 2),
        ]
    )
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]),
        rows,
        ENTERPRISE_SEATS,
        LEDGER,
        pd.Series(dtype="datetime64[ns]"),
    )
    # The table holds other_activity now (it was appended while the table lacked it).
    assert list(listed.columns) == IDLE_SEATS.column_names
    assert IDLE_SEATS.column_names[-1] == "other_activity"
    by_email = listed.set_index("email")
    # sessions == 0 and other == 0: completely idle; listed with zeros is not active
    assert by_email.loc["zeros@x.com", "status"] == COMPLETELY_IDLE
    assert by_email.loc["zeros@x.com", "other_activity"] == 0
    assert pd.isna(by_email.loc["zeros@x.com", "last_active"])
    # sessions == 0 and other > 0: used, not for Claude Code; last active on chat alone
    assert by_email.loc["chat@x.com", "status"] == NO_CLAUDE_CODE_USE
    assert by_email.loc["chat@x.com", "other_activity"] == 38
    assert by_email.loc["chat@x.com", "last_active"] == AS_OF - pd.Timedelta(days=3)
    assert by_email.loc["office@x.com", "status"] == NO_CLAUDE_CODE_USE
    assert by_email.loc["office@x.com", "last_active"] == AS_OF - pd.Timedelta(days=9)
    # sessions > 0 and lines < 20: barely active, whatever the other surfaces
    assert by_email.loc["few@x.com", "status"] == BARELY_ACTIVE
    assert (by_email.loc["few@x.com", "sessions"], by_email.loc["few@x.com", "lines_added"]) == (
        2,
        15,
    )
    assert by_email.loc["few@x.com", "other_activity"] == 400
    # never listed: completely idle, never seen, and nothing reported for other surfaces
    assert by_email.loc["unlisted@x.com", "status"] == COMPLETELY_IDLE
    assert pd.isna(by_email.loc["unlisted@x.com", "last_active"])
    assert pd.isna(by_email.loc["unlisted@x.com", "other_activity"])
    assert "busy@x.com" not in by_email.index
    # sessions, lines, then other activity: the completely idle first, then the least used
    assert list(listed["email"]) == [
        "unlisted@x.com",
        "zeros@x.com",
        "office@x.com",
        "chat@x.com",
        "few@x.com",
    ]


def test_a_member_listed_with_zeros_keeps_the_last_day_they_were_active_before_the_window():
    long_ago = pd.Timestamp("2026-05-02")
    rows = enterprise_usage([(AS_OF, "zeros@x.com", 0, 0, 0), (AS_OF, "chat@x.com", 0, 0, 1)])
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]),
        rows,
        ENTERPRISE_SEATS,
        LEDGER,
        # the caller's look-up before the window counts only records that show activity
        last_seen_before=pd.Series({"zeros@x.com": long_ago, "chat@x.com": long_ago}),
    ).set_index("email")
    assert listed.loc["zeros@x.com", "last_active"] == long_ago
    assert listed.loc["chat@x.com", "last_active"] == AS_OF


def test_console_records_without_the_column_give_todays_result():
    d14 = AS_OF - pd.Timedelta(days=14)
    console = usage(
        [
            (d14, "edge14@x.com", 3, 900),
            (AS_OF, "few@x.com", 1, 12),
            (AS_OF, "busy@x.com", 2, 400),
            (AS_OF - pd.Timedelta(days=1), "edge13@x.com", 0, 0),  # a Console record is seen
        ]
    )
    listed = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]), console, SEATS, LEDGER, pd.Series({"edge14@x.com": d14})
    )
    assert list(listed.columns) == IDLE_SEATS.column_names
    assert listed[["email", "status", "sessions", "lines_added", "last_active"]].to_dict(
        "records"
    ) == [
        {
            "email": "edge13@x.com",
            "status": COMPLETELY_IDLE,
            "sessions": 0,
            "lines_added": 0,
            "last_active": AS_OF - pd.Timedelta(days=1),
        },
        {
            "email": "edge14@x.com",
            "status": COMPLETELY_IDLE,
            "sessions": 0,
            "lines_added": 0,
            "last_active": d14,
        },
        {
            "email": "never@x.com",
            "status": COMPLETELY_IDLE,
            "sessions": 0,
            "lines_added": 0,
            "last_active": pd.NaT,
        },
        {
            "email": "few@x.com",
            "status": BARELY_ACTIVE,
            "sessions": 1,
            "lines_added": 12,
            "last_active": AS_OF,
        },
    ]
    # The same records with the column present but NULL (Console rows in a warehouse that has
    # it): the same rows, other_activity NULL.
    with_column = idle_seats_as_of(
        pd.DatetimeIndex([AS_OF]),
        console.assign(other_activity=np.nan),
        SEATS,
        LEDGER,
        pd.Series({"edge14@x.com": d14}),
    )
    assert with_column["other_activity"].isna().all()
    # Now that the table holds the column, both shapes of input give it (NULL).
    pd.testing.assert_frame_equal(with_column, listed)


def test_a_record_shows_activity_the_same_in_python_and_in_sql():
    records = pd.DataFrame(
        {
            "num_sessions": [0, 0, 0, 1, 0, 0],
            "lines_added": [0, 0, 0, 0, 5, 0],
            "other_activity": [np.nan, 0, 4, 0, 0, np.nan],
        }
    )
    # Console (NULL) always; Enterprise only above zero on some surface.
    expected = [True, False, True, True, True, True]
    assert list(shows_activity(records)) == expected
    assert list(shows_activity(records.drop(columns="other_activity"))) == [True] * 6
    numbered = records.assign(position=range(len(records)))  # noqa: F841 (read by DuckDB)
    in_sql = (
        duckdb.connect()
        .execute(f"SELECT {SHOWS_ACTIVITY_SQL} FROM numbered ORDER BY position")
        .fetchall()
    )
    assert [value for (value,) in in_sql] == expected
