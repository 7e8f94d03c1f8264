"""The report's idle-seat section says what each status asks of the people who decide (the page
built from hand-made rows; the whole page is checked after a real run in test_budget_report)."""

from types import SimpleNamespace

import pandas as pd

from budget_pipeline.report import page
from budget_pipeline.rules.idle_seats import listed_monthly_cost
from budget_pipeline_tests.idle_seat_rows import idle_seats_frame

AS_OF = pd.Timestamp("2026-03-31")


def figures(rows: list[tuple], console_source: bool, min_lines: int = 20) -> SimpleNamespace:
    idle = idle_seats_frame(rows, "other_activity")
    return SimpleNamespace(
        idle_as_of=AS_OF,
        idle_seats=idle,
        idle_monthly_cost_usd=listed_monthly_cost(idle),
        console_source=console_source,
        idle_min_lines=min_lines,
    )


IDLE = ("a@x.com", "search", 0, 0, "completely idle", None, 100.0, "2026-03-01", 0)
CHAT_ONLY = ("d@x.com", "data", 0, 0, "no Claude Code use", None, 150.0, "2026-03-30", 1234)
BARELY = ("c@x.com", "mobile", 3, 5, "barely active", None, 200.0, "2026-03-29", None)
NEVER = ("b@x.com", "Unassigned", 0, 0, "completely idle", None, 150.0, None, None)


def test_each_status_shown_says_what_it_asks():
    html = page._idle_section(figures([IDLE, CHAT_ONLY, BARELY], console_source=False))
    assert (
        "<li><em>completely idle</em>: no session, and no other Claude use reported — reclaim "
        "the seat, or ask its owner whether it is still needed.</li>"
    ) in html
    assert (
        "<li><em>no Claude Code use</em>: the seat is used for other Claude surfaces (chat, "
        "Cowork, Office…), not for Claude Code — ask whether this person needs a Claude Code "
        "(premium) seat.</li>"
    ) in html
    assert (
        "<li><em>barely active</em>: sessions but fewer than 20 lines added — ask what is in the "
        "way.</li>"
    ) in html
    assert '<th class="n">Other Claude use</th>' in html
    assert '<td>d@x.com</td><td>data</td><td><span class="">no Claude Code use</span></td>' in (
        html
    )
    assert '<td class="n">1,234</td>' in html
    assert "never seen" not in html


def test_a_seat_never_seen_is_a_sign_in_question_on_the_console_source_only():
    console = page._idle_section(figures([NEVER, BARELY], console_source=True))
    assert (
        "<li><em>never seen</em>: not reported by the API — may be a claude.ai sign-in, which "
        "the Claude Code Analytics API does not report: ask how this person signs in before "
        "counting the seat as a saving.</li>"
    ) in console
    assert "no Claude Code use" not in console  # only the statuses shown are explained
    assert "Other Claude use" not in console  # the Console source reports no other surface
    enterprise = page._idle_section(figures([NEVER, CHAT_ONLY], console_source=False))
    assert "never seen" not in enterprise
    assert "<td>never active on any Claude surface</td>" in enterprise


def test_a_seat_never_active_on_the_enterprise_source_says_what_it_means_for_the_decision():
    html = page._idle_section(figures([NEVER, CHAT_ONLY], console_source=False))
    assert (
        "<li><em>never active on any Claude surface</em>: no activity on any Claude surface "
        "since the first day: the seat has never been used — reclaim the seat, or ask its owner "
        "whether it is still needed.</li>"
    ) in html


def test_barely_active_says_the_threshold_the_rule_was_run_with():
    html = page._idle_section(figures([BARELY], console_source=True, min_lines=50))
    assert "<li><em>barely active</em>: sessions but fewer than 50 lines added" in html
