"""Outside text stays text: the two rules on their own, then every message through a real webhook
server on 127.0.0.1."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify import run_failure
from budget_pipeline.notify import seat_digest as digest
from budget_pipeline.notify import spend_alert as alerts
from budget_pipeline.text_safety import (
    WORD_JOINER,
    markdown_code_block,
    markdown_text,
    reversible_spreadsheet_cell,
    slack_escape,
    spreadsheet_safe,
    spreadsheet_safe_frame,
    spreadsheet_text,
)
from budget_pipeline_tests.markdown_reader import (
    live_markup,
    rendered_tokens,
    shown_text,
    table_shapes,
)
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

FORMULA = '=HYPERLINK("http://x","refund")'
FORMULAS = [FORMULA, "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
MENTIONS = ["<!channel>", "<!here>", "<@U123>", "<http://x|click>"]
MARKDOWN = [
    "![x](http://127.0.0.1:9/x)",
    "[click](https://127.0.0.1:9/c)",
    "<img src=http://127.0.0.1:9/i>",
    "<http://127.0.0.1:9/a>",
    "a | b",
    "`code` and ``more``",
    "**bold** _it_ ~~gone~~",
    "&lt; &amp; &#x3C;",
    "back\\slash \\*",
    "# heading",
    "> quote",
    "- item",
    "+ item",
    "12. item",
    "3) item",
    "---",
    "===",
    "www.example.com and HTTP://127.0.0.1:9/u",
    "first\nsecond\r\nthird\rfourth\u2028fifth",
    "dev.one@example.com",
    "claude-sonnet-4-5",
    "snake_case_name _emphasis_ __strong__",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_starting_like_a_formula_gets_a_leading_apostrophe(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["alice@example.com", "ci-review-bot", "'quoted", "", " =spaced", "a=b", "<!channel>"]
)
def test_other_text_is_unchanged(text):
    assert spreadsheet_safe(text) == text


@pytest.mark.parametrize(
    "number",
    [-5, 1, -2.5, Decimal("-3.10"), np.int64(-7), np.float64(-0.5), None, True],
)
def test_numbers_and_missing_values_are_unchanged(number):
    assert spreadsheet_safe(number) is number


def test_nan_is_unchanged():
    assert np.isnan(spreadsheet_safe(float("nan")))


def test_a_negative_number_written_as_text_is_text():
    assert spreadsheet_safe("-5") == "'-5"


def test_only_text_columns_of_a_frame_are_marked():
    frame = pd.DataFrame(
        {
            "actor": [FORMULA, "bob", None],
            "note": pd.Series(["-5", "+1", pd.NA], dtype="string"),
            "cost_usd": [-1.5, 2.0, np.nan],
            "sessions": [-3, 0, 4],
            "day": pd.to_datetime(["2026-03-01", "2026-03-02", None]),
        }
    )
    safe = spreadsheet_safe_frame(frame)
    assert safe["actor"].tolist() == ["'" + FORMULA, "bob", None]
    assert safe["note"].tolist()[:2] == ["'-5", "'+1"] and pd.isna(safe["note"].iloc[2])
    pd.testing.assert_frame_equal(safe[["cost_usd", "sessions", "day"]], frame.iloc[:, 2:])
    assert frame["actor"].iloc[0] == FORMULA  # the caller's frame is not changed


@pytest.mark.parametrize("name", [*FORMULAS, "'=x", "''+1", "'bob", "bob", ""])
def test_a_marked_ledger_cell_reads_back_as_the_exact_name(name):
    cell = reversible_spreadsheet_cell(name)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert spreadsheet_text(cell) == name


def test_slack_escape_turns_markup_into_literal_text():
    assert slack_escape("<!channel> & <@U123>") == "&lt;!channel&gt; &amp; &lt;@U123&gt;"
    assert slack_escape("<http://x|click>") == "&lt;http://x|click&gt;"
    assert slack_escape("&lt;") == "&amp;lt;"  # an entity in a name is shown as typed
    assert slack_escape(":rotating_light: 1.5× • a→b") == ":rotating_light: 1.5× • a→b"


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def send(receiver, text: str) -> str:
    assert AlertNotifier(webhook_url=receiver.url).notify(text)
    return receiver.texts[-1]


def test_the_spend_alert_shows_outside_names_literally(receiver):
    spend = alerts.SpendDay(
        day=dt.date(2026, 4, 8),
        cost_usd=500.0,
        alert=True,
        same_weekday_last_week_usd=100.0,
        ma7_usd=90.0,
        top_movers={
            "workstream": [
                {"name": "@SUM(A1) <!channel>", "change_usd": 1, "today_usd": 2, "last_week_usd": 1}
            ],
            "actor": [
                {"name": "<@U123>", "change_usd": 1, "today_usd": 2, "last_week_usd": 1},
                {"name": "a&b", "change_usd": 1, "today_usd": 2, "last_week_usd": 1},
            ],
            "model": [{"name": "<!here>", "change_usd": 1, "today_usd": 2, "last_week_usd": 1}],
        },
    )
    text = send(receiver, alerts.spend_alert_message(spend, "http://ui:3000/assets/x?a=1&b=2"))
    assert "• workstreams: @SUM(A1) &lt;!channel&gt; +$1.00" in text
    assert "• actors: &lt;@U123&gt; +$1.00 ($2.00 vs $1.00), a&amp;b +$1.00" in text
    assert "• models: &lt;!here&gt; +$1.00" in text
    assert "<" not in text and ">" not in text
    assert text.endswith("http://ui:3000/assets/x?a=1&amp;b=2")  # Slack reads the link back


def test_the_run_failure_message_shows_the_error_literally(receiver):
    message = run_failure.run_failure_message(
        job_name="budget_daily_job",
        run_id="abc",
        partitions="2026-04-08",
        step_key="raw_usage",
        error="key <!channel> & <http://evil|click> failed",
    )
    text = send(receiver, message)
    assert "• error: key &lt;!channel&gt; &amp; &lt;http://evil|click&gt; failed" in text
    assert "<" not in text


def test_the_digest_shows_emails_workstreams_notes_and_actors_literally(receiver):
    current = pd.DataFrame(
        {
            "email": ["<@U123>@example.com"],
            "workstream": ["<!channel>"],
            "sessions": [0],
            "lines_added": [0],
            "status": ["completely idle"],
            "reason": ["+1 <!here> & ping"],
            "monthly_cost_usd": [150.0],
            "last_active": pd.to_datetime(["2026-03-20"]),
        }
    )
    ledger = digest.LedgerFollowUp(
        start=dt.date(2026, 3, 30),
        end=dt.date(2026, 4, 12),
        threshold=0.15,
        days_over=3,
        actors=pd.DataFrame({"actor": [FORMULA, "<!channel>"], "cost_usd": [10.0, 5.0]}),
    )
    message = digest.digest_text(dt.date(2026, 4, 12), current, current, 14, ledger)
    text = send(receiver, message)
    assert (
        "• &lt;@U123&gt;@example.com (&lt;!channel&gt;): 0 sessions, 0 lines added, "
        "$150.00/month, last active 2026-03-20. Note: +1 &lt;!here&gt; &amp; ping" in text
    )
    assert "• &lt;!channel&gt; $5.00" in text
    quoted_formula = "\"'" + FORMULA.replace('"', '""') + '"'
    assert f"```\n{quoted_formula},\n&lt;!channel&gt;,\n```" in text
    assert "<" not in text and ">" not in text


@pytest.mark.parametrize("text", MARKDOWN)
def test_markdown_text_shows_outside_text_literally_in_a_table_cell(text):
    table = f"| name | n |\n| --- | --- |\n| {markdown_text(text)} | 1 |"
    assert live_markup(table) == []
    assert table_shapes(table) == [[2, 2]]
    assert shown_text(table).splitlines()[2] == " ".join(text.splitlines())


@pytest.mark.parametrize("text", MARKDOWN)
def test_markdown_text_shows_outside_text_literally_on_a_line_of_its_own(text):
    markdown = f"Listed:\n\n{markdown_text(text)}\n\nend"
    assert live_markup(markdown) == []
    blocks = [t.type for t in rendered_tokens(markdown) if t.nesting == 1]
    assert blocks == ["paragraph_open"] * 3
    assert shown_text(markdown).splitlines()[1] == " ".join(text.splitlines())


def test_names_people_copy_from_the_ui_stay_as_written():
    for name in ("dev.one@example.com", "claude-sonnet-4-5", "2026-03", "usage_date", "ci-bot"):
        assert markdown_text(name) == name
    assert WORD_JOINER not in markdown_text("an email: x@y.example")


def test_a_note_with_backticks_cannot_close_its_code_block():
    text = "• idle.person@example.com — note:\n```\n![x](http://127.0.0.1:9/x)\n````\nafter"
    block = markdown_code_block(text)
    [fence] = [t for t in rendered_tokens(block) if t.nesting == 0 and t.block]
    assert fence.type == "fence" and fence.content == text + "\n"
    assert live_markup(block) == []
    assert markdown_code_block("plain") == "```\nplain\n```"
