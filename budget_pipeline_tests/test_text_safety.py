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
    reversible_spreadsheet_cell,
    slack_escape,
    spreadsheet_safe,
    spreadsheet_safe_frame,
    spreadsheet_text,
)
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

FORMULA = '=HYPERLINK("http://x","refund")'
FORMULAS = [FORMULA, "+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]
MENTIONS = ["<!channel>", "<!here>", "<@U123>", "<http://x|click>"]


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
