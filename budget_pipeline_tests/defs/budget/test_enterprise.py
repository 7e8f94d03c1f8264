"""The Enterprise source through a real materialisation: loopback server → Dagster → DuckDB file,
with one hand-made day whose figures are worked out below."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest

from budget_pipeline.defs.budget.checks import COST_IS_BILLED
from budget_pipeline.defs.resources import AnalyticsApiResource
from budget_pipeline.demo.server import Fault, UsageApiServer
from budget_pipeline_tests.conftest import Pipeline

ANALYTICS_KEY = "sk-ant-analytics-TEST-5d1e7b"
DAY = dt.date(2026, 3, 2)
SONNET, HAIKU, MYSTERY = "claude-sonnet-4-6", "claude-haiku-4-5", "claude-mystery-1"
KEY_ID, SERVICE_ACCOUNT = "apikey_01abc", "svcacct_01xyz"

MEMBERS = [
    # Claude Code and chat, Excel and web search; cowork null, design absent, Word null.
    {
        "user": {"id": "user_01a", "email_address": "Ada@Example.com"},
        "claude_code_metrics": {
            "core_metrics": {
                "distinct_session_count": 2,
                "commit_count": 1,
                "pull_request_count": 1,
                "lines_of_code": {"added_count": 30, "removed_count": 5},
            },
            "tool_actions": {"edit_tool": {"accepted_count": 3, "rejected_count": 0}},
        },
        "chat_metrics": {"message_count": 3, "distinct_conversation_count": 1},
        "cowork_metrics": None,
        "office_metrics": {"excel": {"message_count": 2}, "word": {"message_count": None}},
        "web_search_count": 1,
        "a_field_the_api_added": {"kept": True},
    },
    # Listed with zeros, every block null.
    {
        "user": {"id": "user_01b", "email_address": "bo@example.com"},
        "claude_code_metrics": None,
        "chat_metrics": None,
        "office_metrics": None,
        "web_search_count": None,
    },
    # Chat only.
    {
        "user": {"id": "user_01c", "email_address": "cy@example.com"},
        "chat_metrics": {"message_count": 4},
    },
]


def usage_row(actor: dict, model: str, usage: dict) -> dict:
    return {
        "starting_at": f"{DAY}T00:00:00Z",
        "ending_at": f"{DAY + dt.timedelta(days=1)}T00:00:00Z",
        "group": {"actor": actor, "model": model},
        "usage": usage,
    }


ADA = {"type": "user_actor", "user_id": "user_01a", "email_address": "Ada@Example.com"}
KEY = {"type": "api_key_actor", "api_key_id": KEY_ID}
ACCOUNT = {"type": "service_account_actor", "service_account_id": SERVICE_ACCOUNT}
TOKEN_ROWS = [
    usage_row(
        ADA,
        SONNET,
        {
            "uncached_input_tokens": 1_000_000,
            "output_tokens": 100_000,
            "cache_read_input_tokens": 2_000_000,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 100_000,
                "ephemeral_1h_input_tokens": 50_000,
            },
        },
    ),
    # An API key: the cache_creation block absent, output null.
    usage_row(KEY, SONNET, {"uncached_input_tokens": 500_000, "output_tokens": None}),
    usage_row(ACCOUNT, MYSTERY, {"uncached_input_tokens": 10, "output_tokens": 10}),
]


def bill_row(actor: dict, model: str, amount: str, list_amount: str) -> dict:
    return {
        "starting_at": f"{DAY}T00:00:00Z",
        "ending_at": f"{DAY + dt.timedelta(days=1)}T00:00:00Z",
        "group": {"actor": actor, "model": model, "product": None},
        "cost": {"amount": amount, "list_amount": list_amount, "currency": "USD", "requests": 3},
    }


BILL = [
    # Within Ada's seat: billed 0.
    bill_row(ADA, SONNET, "0.000000", "577.500000"),
    # Billed without a token row (the usage endpoint lagging): a row of its own.
    bill_row(ADA, HAIKU, "30.000000", "30.000000"),
    bill_row(KEY, SONNET, "150.000000", "150.000000"),
    # A model prices.csv lacks: billed correctly, its worth the billed list amount.
    bill_row(ACCOUNT, MYSTERY, "200.000000", "250.000000"),
]


@pytest.fixture
def enterprise_config(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "prices.csv").write_text(
        "model,input_per_mtok,output_per_mtok,cache_write_per_mtok,cache_read_per_mtok,"
        "cache_write_1h_per_mtok\n"
        f"{SONNET},3,15,3.75,0.30,6\n"
        f"{HAIKU},1,5,1.25,0.10,\n"
    )
    (config / "workstreams.csv").write_text(
        f"actor,workstream\nada@example.com,search\n{KEY_ID},platform\n"
    )
    (config / "seats.csv").write_text(
        "email,monthly_cost_usd,note\nada@example.com,60,\nbo@example.com,60,\n"
        "cy@example.com,60,\ndee@example.com,60,\n"
    )
    return config


@pytest.fixture
def enterprise(enterprise_config, duckdb_file, instance):
    with UsageApiServer(
        api_key=ANALYTICS_KEY, today=dt.date(2026, 3, 10), seat_plan=True
    ) as server:
        server.set_members(DAY, MEMBERS)
        server.set_token_rows(DAY, TOKEN_ROWS)
        server.set_bill(DAY, BILL)
        pipeline = Pipeline(server, enterprise_config, duckdb_file, instance)
        pipeline.api = AnalyticsApiResource(
            source="enterprise",
            base_url=server.base_url,
            analytics_api_key=ANALYTICS_KEY,
            page_limit=2,
            base_delay_seconds=0.05,
            max_delay_seconds=0.2,
            max_attempts=4,
            timeout_seconds=1.0,
        )
        yield pipeline


def test_a_hand_made_day_reads_as_worked_out(enterprise):
    result = enterprise.materialize(str(DAY))
    assert result.success

    raw = enterprise.table("raw_usage").set_index("actor").sort_index()
    assert list(raw.index) == [
        "Ada@Example.com",
        KEY_ID,
        "bo@example.com",
        "cy@example.com",
        SERVICE_ACCOUNT,
    ]
    assert (raw["source"] == "enterprise").all()
    assert "dee@example.com" not in raw.index  # a seat the API left out that day: no row
    ada = raw.loc["Ada@Example.com"]
    assert (
        ada.num_sessions,
        ada.lines_added,
        ada.lines_removed,
        ada.commits,
        ada.pull_requests,
    ) == (
        2,
        30,
        5,
        1,
        1,
    )
    # chat 3 + Excel 2 + web searches 1; cowork null, design absent, Word null read as 0
    assert ada.other_activity == 6 and ada.customer_type == "subscription"
    assert json.loads(ada.record_json) == MEMBERS[0]  # as received, unknown fields kept
    assert raw.loc["bo@example.com", "other_activity"] == 0
    assert raw.loc["bo@example.com", "num_sessions"] == 0
    assert raw.loc["cy@example.com", "other_activity"] == 4
    # Tokens without a member row: the key (by its id) and the service account.
    for actor, actor_type in ((KEY_ID, "api_key"), (SERVICE_ACCOUNT, "service_account")):
        row = raw.loc[actor]
        assert row.actor_type == actor_type
        assert pd.isna(row.customer_type) and pd.isna(row.other_activity)
        assert json.loads(row.record_json)["usage"][0]["group"]["actor"]["type"].startswith(
            actor_type.split("_")[0]
        )
    # Paging without has_more: two members a page, so the day took a second page.
    pages = [r.query.get("page") for r in enterprise.server.users_requests()]
    assert pages[0] is None and len(pages) == 2

    priced = enterprise.table("priced_usage").set_index(["actor", "model"]).sort_index()
    # Ada's Sonnet: 1M x $3 + 0.1M x $15 + 2M x $0.30 + 0.1M x $3.75 + 0.05M x $6 (one-hour).
    ada_sonnet = priced.loc[("Ada@Example.com", SONNET)]
    assert ada_sonnet.list_price_cost_usd == pytest.approx(3 + 1.5 + 0.6 + 0.375 + 0.3)
    assert ada_sonnet.cache_creation_tokens == 150_000
    assert ada_sonnet.cost_usd == 0  # the seat covers it
    assert ada_sonnet.price_source == "billed" and ada_sonnet.price_model == SONNET
    ada_haiku = priced.loc[("Ada@Example.com", HAIKU)]
    assert ada_haiku.input_tokens == 0 and ada_haiku.cost_usd == pytest.approx(0.30)
    key = priced.loc[(KEY_ID, SONNET)]
    assert key.list_price_cost_usd == pytest.approx(1.5) and key.cost_usd == pytest.approx(1.5)
    assert key.output_tokens == 0 and key.cache_creation_tokens == 0
    mystery = priced.loc[(SERVICE_ACCOUNT, MYSTERY)]
    assert mystery.cost_usd == pytest.approx(2.0)
    assert mystery.list_price_cost_usd == pytest.approx(2.5)
    assert pd.isna(mystery.price_model)

    [billed] = [e for e in result.get_asset_check_evaluations() if e.check_name == COST_IS_BILLED]
    assert billed.passed and billed.description.startswith("cost_usd is what the bill charges")

    spend = enterprise.table("daily_spend")
    assert spend["cost_usd"].tolist() == [pytest.approx(0.30 + 1.5 + 2.0)]
    workstreams = enterprise.table("workstream_cost").set_index("workstream")["cost_usd"]
    assert workstreams["platform"] == pytest.approx(1.5)
    assert workstreams["search"] == pytest.approx(0.30)

    # Re-pricing calls no API: the usage rows are in the warehouse.
    before = len(enterprise.server.requests)
    assert enterprise.materialize(
        str(DAY), selection="group:budget and not tag:fetches=api"
    ).success
    assert len(enterprise.server.requests) == before
    again = enterprise.table("priced_usage").set_index(["actor", "model"]).sort_index()
    pd.testing.assert_frame_equal(again, priced)


def close_the_bill(enterprise, status: int = 404, message: str = "not enabled") -> None:
    enterprise.server.set_bill(DAY, [])
    enterprise.server.add_fault(
        Fault(status=status, message=message, day=DAY, endpoint="cost", times=10)
    )


def test_a_closed_bill_falls_back_to_list_prices(enterprise):
    # Every model priced by prices.csv: with the bill closed, nothing else prices one.
    enterprise.server.set_token_rows(DAY, TOKEN_ROWS[:2])
    close_the_bill(enterprise)
    result = enterprise.materialize(str(DAY))
    assert result.success
    priced = enterprise.table("priced_usage").set_index(["actor", "model"]).sort_index()
    ada = priced.loc[("Ada@Example.com", SONNET)]
    assert ada.price_source == "price_table"
    assert ada.cost_usd == pytest.approx(ada.list_price_cost_usd)
    [billed] = [e for e in result.get_asset_check_evaluations() if e.check_name == COST_IS_BILLED]
    assert not billed.passed and billed.severity == dg.AssetCheckSeverity.WARN
    assert "2026-03-02" in billed.description
    assert "list prices, not what is billed" in billed.description


def test_a_day_asked_too_early_fails_in_one_line_and_writes_nothing(enterprise):
    early = dt.date(2026, 3, 8)  # the server's today is 03-10 with a lag of 3: 03-07 is served
    result = enterprise.materialize(str(early), raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message.strip()
    assert "2026-03-08" in message and "latest available date is 2026-03-07" in message
    assert "not retried" in message
    # Asked once: not retried.
    assert len(enterprise.server.users_requests()) == 1
    assert enterprise.table("raw_usage").empty


def test_a_member_listed_twice_fails_the_day_naming_page_and_member_and_writes_nothing(
    enterprise,
):
    # Two members a page: Ada on page 1, again (in other case) on page 2.
    again = {**MEMBERS[2], "user": {"id": "user_01a", "email_address": " ada@EXAMPLE.com"}}
    enterprise.server.set_members(DAY, [MEMBERS[0], MEMBERS[1], again])
    result = enterprise.materialize(str(DAY), raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message.strip()
    assert "\n" not in message
    assert "2026-03-02 page 2" in message and "ada@EXAMPLE.com twice" in message
    assert "first on page 1" in message and "nothing was written" in message
    assert enterprise.table("raw_usage").empty
    assert enterprise.table("raw_token_usage").empty


def test_a_closed_bill_and_a_model_prices_csv_lacks_fail_the_run_naming_them(enterprise):
    close_the_bill(enterprise, status=400, message="not available for HIPAA-ready organizations")
    result = enterprise.materialize(str(DAY), raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "priced_usage"
    message = failure.event_specific_data.error.message.strip()
    assert "\n" not in message
    assert f"no price for model(s) {MYSTERY}" in message
    assert f"2026-03-02 {SERVICE_ACCOUNT} {MYSTERY}" in message
    assert "Add a row for the model to prices.csv" in message
    assert enterprise.table("priced_usage").empty
    assert enterprise.table("daily_spend").empty
