"""The digest's wording and the ledger lines, on hand-made frames (no Dagster)."""

import csv
import datetime as dt
import io

import pandas as pd

from budget_pipeline.notify import seat_digest as digest
from budget_pipeline.rules.attribution import (
    ledger_paste_lines,
    unassigned_actors_over,
    workstream_of,
)
from budget_pipeline.rules.config_files import load_ledger
from budget_pipeline_tests.idle_seat_rows import idle_seats_frame

AS_OF = dt.date(2026, 4, 12)


def seats(*rows) -> pd.DataFrame:
    return idle_seats_frame(rows)


IDLE = ("a@x.com", "search", 0, 0, "completely idle", None, 100.0, "2026-03-20")
NEVER = ("b@x.com", "Unassigned", 0, 0, "completely idle", "Parental leave", 150.0, None)
BARELY = ("c@x.com", "mobile", 3, 5, "barely active", None, 200.0, "2026-04-10")


def test_iso_week_keys_the_digest_by_the_week_of_its_as_of_day():
    assert digest.iso_week(AS_OF) == "2026-W15"
    assert digest.iso_week(dt.date(2027, 1, 3)) == "2026-W53"
    assert digest.iso_week_days(AS_OF)[0] == dt.date(2026, 4, 6)


def test_never_seen_seats_are_a_question_and_counted_apart():
    text = digest.digest_text(AS_OF, seats(IDLE, NEVER, BARELY), seats(NEVER), 14)
    assert "3 seat(s) listed, $450.00/month (of which $150.00/month for 1 seat(s)" in text
    never = text.split("Never reported by the API (a question, not a saving):\n")[1]
    assert never.startswith(
        f"• b@x.com (Unassigned): 0 sessions, 0 lines added, $150.00/month, "
        f"{digest.NEVER_SEEN_QUESTION}. Note: Parental leave"
    )
    assert "b@x.com" not in text.split("Completely idle")[1].split("\n\n")[0]
    assert "• newly listed: a@x.com (completely idle)" in text
    assert "• newly listed: c@x.com (barely active)" in text
    assert "active again" not in text
    assert digest.NOT_FOR_REVIEWS in text


def test_changes_against_last_week_and_without_a_verdict():
    moved = (*BARELY[:4], "completely idle", *BARELY[5:])
    text = digest.digest_text(AS_OF, seats(moved), seats(IDLE, BARELY), 14)
    assert "• active again: a@x.com (was completely idle)" in text
    assert "• c@x.com: barely active → completely idle" in text
    unchanged = digest.digest_text(AS_OF, seats(IDLE), seats(IDLE), 14)
    assert "• no change" in unchanged
    first = digest.digest_text(AS_OF, seats(), None, 14)
    assert "Every paid seat was used in the window" in first
    assert "no comparison: there is no idle-seat verdict as of 2026-04-05" in first


def test_a_seat_retyped_in_another_case_is_the_same_seat_from_week_to_week():
    retyped = ("C@X.com", *BARELY[1:4], "completely idle", *BARELY[5:])
    text = digest.digest_text(AS_OF, seats(IDLE, retyped), seats(IDLE, BARELY), 14)
    assert "• C@X.com: barely active → completely idle" in text
    assert "newly listed" not in text
    assert "active again" not in text


def test_ledger_lines_are_the_largest_unassigned_actors_of_the_window_and_parse_back():
    priced = pd.DataFrame(
        {
            "usage_date": pd.to_datetime(["2026-03-29", "2026-03-30", "2026-04-12", "2026-04-12"]),
            "actor": ["old@x.com", "ci, nightly", "new@x.com", "known@x.com"],
            "cost_usd": [99.0, 1.5, 7.25, 50.0],
        }
    )
    ledger = pd.DataFrame({"actor": ["known@x.com"], "workstream": ["search"]})
    actors = unassigned_actors_over(priced, ledger, pd.Timestamp(AS_OF))
    assert list(actors["actor"]) == ["new@x.com", "ci, nightly"]  # old@x.com: before the window
    lines = ledger_paste_lines(actors["actor"])
    assert lines == ["new@x.com,", '"ci, nightly",']
    follow_up = digest.LedgerFollowUp(dt.date(2026, 3, 30), AS_OF, 0.15, 3, actors)
    text = digest.digest_text(AS_OF, seats(), None, 14, follow_up)
    assert "Unassigned was above 15% of the day's spend on 3 day(s)" in text
    assert "• new@x.com $7.25\n• ci, nightly $1.50" in text
    assert '```\nnew@x.com,\n"ci, nightly",\n```' in text
    no_follow_up = digest.LedgerFollowUp(dt.date(2026, 3, 30), AS_OF, 0.15, 0, actors)
    assert "Ledger follow-up" not in digest.digest_text(AS_OF, seats(), None, 14, no_follow_up)


def test_completed_ledger_lines_load_as_the_ledger(tmp_path):
    lines = ledger_paste_lines(["new@x.com", 'key "q", 2'])
    path = tmp_path / "workstreams.csv"
    path.write_text("actor,workstream\n" + "\n".join(f"{line}platform" for line in lines) + "\n")
    assert list(load_ledger(path)["actor"]) == ["new@x.com", 'key "q", 2']


def test_ledger_lines_of_keys_named_like_formulas_read_as_text_and_load_back_exactly(tmp_path):
    actors = [
        '=HYPERLINK("http://x","refund")',
        "+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1+1",
        "'=x",
        "a,b",
        'say "hi"',
        "<!channel>",
    ]
    # A value of workstreams.csv is one line, so no line can map a name holding a line break:
    # it gets none, rather than one that would stop the next run.
    lines = ledger_paste_lines(["two\nlines", *actors, "\r=1+1"])
    cells = [row[0] for row in csv.reader(io.StringIO("\n".join(lines)))]
    for actor, cell in zip(actors, cells, strict=True):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        assert cell in (actor, "'" + actor)
    # Pasted with their workstream, they map the keys' exact names.
    ledger_file = tmp_path / "workstreams.csv"
    pasted = [line.removesuffix(",") + ",payments" for line in lines]
    ledger_file.write_text("actor,workstream\n" + "\n".join(pasted) + "\n", encoding="utf-8")
    ledger = load_ledger(ledger_file)
    assert workstream_of(pd.Series(actors), ledger).eq("payments").all()


def forecast(*rows, as_of="2026-04-12") -> pd.DataFrame:
    """budget_forecast rows of one as-of day: (workstream, spent, forecast, budget, status)."""
    frame = pd.DataFrame(
        rows, columns=["workstream", "spent_to_date_usd", "forecast_usd", "budget_usd", "status"]
    )
    return frame.assign(
        as_of=pd.Timestamp(as_of),
        month=pd.Timestamp(as_of).replace(day=1),
        forecast_vs_budget=frame["forecast_usd"] / frame["budget_usd"],
    )


def budgets_section(text: str) -> str:
    return text.split("Budgets at risk this month")[1].split("\n\n")[0]


def test_the_digest_lists_the_budgets_at_risk_with_spent_forecast_and_budget():
    rows = forecast(
        ("mobile", 700.0, 1400.0, 600.0, "over budget"),
        ("payments", 500.0, 1300.0, 1200.0, "forecast over budget"),
        ("search", 100.0, 200.0, 3500.0, "on track"),
        ("Unassigned", 10.0, 20.0, None, None),
        ("TOTAL", 9000.0, 21000.0, 20000.0, "forecast over budget"),
    )
    budgets = digest.BudgetsThisMonth(AS_OF, rows)
    section = budgets_section(digest.digest_text(AS_OF, seats(), None, 14, budgets=budgets))
    assert section.splitlines() == [
        " (April 2026, forecast as of 2026-04-12, 18 days left):",
        "• the organisation (TOTAL, seats included): forecast over budget — spent $9,000.00, "
        "forecast $21,000.00, budget $20,000.00 (105% of it)",
        "• mobile: over budget — spent $700.00, forecast $1,400.00, budget $600.00 (233% of it)",
        "• payments: forecast over budget — spent $500.00, forecast $1,300.00, "
        "budget $1,200.00 (108% of it)",
    ]


def test_the_digest_says_when_every_budget_is_on_track_or_none_is_set():
    on_track = forecast(
        ("search", 100.0, 200.0, 3500.0, "on track"),
        ("TOTAL", 900.0, 2000.0, 20000.0, "on track"),
        as_of="2026-04-10",
    )
    text = digest.digest_text(
        AS_OF, seats(), None, 14, budgets=digest.BudgetsThisMonth(AS_OF, on_track)
    )
    assert budgets_section(text).splitlines() == [
        " (April 2026, forecast as of 2026-04-10, 20 days left):",
        "• all budgets on track",
    ]
    none_set = forecast(("search", 100.0, 200.0, None, None), ("TOTAL", 900.0, 2000.0, None, None))
    text = digest.digest_text(
        AS_OF, seats(), None, 14, budgets=digest.BudgetsThisMonth(AS_OF, none_set)
    )
    assert budgets_section(text).splitlines()[1:] == ["• no budgets set (budgets.csv)"]


def test_the_digest_says_why_there_is_no_forecast():
    budgets = digest.BudgetsThisMonth(
        AS_OF, forecast().iloc[0:0], "the month began on 2026-04-01, before the first day"
    )
    section = budgets_section(digest.digest_text(AS_OF, seats(), None, 14, budgets=budgets))
    assert section.splitlines() == [
        " (April 2026):",
        "• no forecast as of 2026-04-12: the month began on 2026-04-01, before the first day",
    ]
    assert "Budgets at risk" not in digest.digest_text(AS_OF, seats(), None, 14)


def enterprise_seats(*rows) -> pd.DataFrame:
    """idle_seats rows of a source that counts every Claude surface (other_activity)."""
    return seats(*(row[:-1] for row in rows)).assign(other_activity=[row[-1] for row in rows])


CHAT_ONLY = ("d@x.com", "data", 0, 0, "no Claude Code use", None, 150.0, "2026-04-09", 38)


def test_each_status_says_what_it_asks_of_the_people_who_decide():
    text = digest.digest_text(
        AS_OF,
        enterprise_seats((*IDLE, 0), (*BARELY, 12), CHAT_ONLY),
        seats(),
        14,
        console_source=False,
    )
    assert (
        "Completely idle (no session in the window, and no other Claude use reported) — "
        "reclaim the seat, or ask its owner whether it is still needed:\n"
        "• a@x.com (search): 0 sessions, 0 lines added, 0 messages or searches on other Claude "
        "surfaces, $100.00/month, last active 2026-03-20\n\n"
        "No Claude Code use (the seat is used for other Claude surfaces: chat, Cowork, Office…, "
        "not for Claude Code) — ask whether this person needs a Claude Code (premium) seat:\n"
        "• d@x.com (data): 0 sessions, 0 lines added, 38 messages or searches on other Claude "
        "surfaces, $150.00/month, last active 2026-04-09\n\n"
        "Barely active (sessions, but few lines added) — ask what is in the way:\n"
        "• c@x.com (mobile): 3 sessions, 5 lines added, 12 messages or searches on other Claude "
        "surfaces, $200.00/month, last active 2026-04-10\n\n"
    ) in text
    assert "• newly listed: d@x.com (no Claude Code use)" in text


def test_a_seat_never_seen_is_a_sign_in_question_on_the_console_source_only():
    console = digest.digest_text(AS_OF, seats(NEVER), None, 14)
    assert "Never reported by the API (a question, not a saving):\n• b@x.com" in console
    assert (
        "never reported by the API: may be a claude.ai sign-in, which the Claude Code Analytics "
        "API does not report. Ask how this person signs in before counting the seat as unused"
    ) in console
    assert "$150.00/month for 1 seat(s) the API never reported" in console
    # The enterprise source reports every member: a seat never seen was never active.
    enterprise = digest.digest_text(
        AS_OF, enterprise_seats((*NEVER, None)), seats(), 14, console_source=False
    )
    assert "Never reported by the API" not in enterprise
    assert "never reported" not in enterprise
    assert "• newly listed: b@x.com (completely idle)" in enterprise
    assert (
        "— reclaim the seat, or ask its owner whether it is still needed:\n"
        "• b@x.com (Unassigned): 0 sessions, 0 lines added, $150.00/month, never active on any "
        "Claude surface since the first day. Note: Parental leave"
    ) in enterprise
