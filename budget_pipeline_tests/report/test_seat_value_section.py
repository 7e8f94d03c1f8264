"""The report's "What the seats delivered" section: a hand-made month worked out to the cent, then
the demo organisation through the Enterprise path, materialised for real and read back against
its warehouse."""

import datetime as dt
from types import SimpleNamespace

import dagster as dg
import pandas as pd
import pytest

from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.report.assets import budget_report
from budget_pipeline.defs.resources import AnalyticsApiResource, ReportsResource
from budget_pipeline.demo.organisation import CHAT_ONLY_SEAT, DEMO_ORGANISATION
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.report import page
from budget_pipeline.report.files import ReportFiles
from budget_pipeline.report.month import Month
from budget_pipeline.rules.seat_value import SeatValue, surface_use
from budget_pipeline_tests.conftest import Pipeline
from budget_pipeline_tests.idle_seat_rows import idle_seats_frame
from budget_pipeline_tests.report.conftest import materialize_report
from budget_pipeline_tests.report.test_budget_report import dollars, parse, table_with

HOSTILE = "<script>x</script>@x.com"
CHAT_ONLY = ("d@x.com", "data", 0, 0, "no Claude Code use", None, 75.0, "2026-03-30", 12)
HOSTILE_CHAT_ONLY = (HOSTILE, "data", 0, 0, "no Claude Code use", None, 60.0, "2026-03-29", 3)
IDLE = ("a@x.com", "search", 0, 0, "completely idle", None, 60.0, None, 0)


def figures(value: SeatValue | None, idle_rows=(), complete=True) -> SimpleNamespace:
    return SimpleNamespace(
        month=Month.from_key("2026-03"),
        seats=2,
        complete=complete,
        seat_value=value,
        surface_use=None
        if value is None
        else pd.DataFrame(
            [("Claude Code", "sessions", 1, 3), ("Chat", "messages", 2, 1_208)],
            columns=["surface", "unit", "members", "count"],
        ),
        idle_seats=idle_seats_frame(list(idle_rows), "other_activity"),
        idle_as_of=pd.Timestamp("2026-03-31"),
    )


# Seats $10 + $5; billed $0.30 + $1.50 + $0.40 + $2.05 = $4.25; worth $23.50 (the rules test).
MONTH = SeatValue(
    list_price_worth_usd=23.50, seat_cost_usd=15.0, billed_usd=4.25, days=31, days_not_billed=0
)


def test_the_section_says_what_the_seats_delivered_against_what_was_paid_to_the_cent():
    html = page._seat_value_section(figures(MONTH, [IDLE, CHAT_ONLY, HOSTILE_CHAT_ONLY]))
    assert (
        "Over the 31 loaded days of March 2026, the seats delivered <strong>$23.50</strong> of "
        "Claude Code usage at list prices for <strong>$19.25</strong> paid: seats $15.00 + "
        "billed beyond the seats $4.25. Each dollar paid bought $1.22 of usage at list prices: "
        "the usage was worth $4.25 more than was paid."
    ) in html
    table = table_with(parse(html), "What the seats delivered")
    assert {label: cells[1] for label, cells in table.items()} == {
        "Usage at list prices (tokens × prices.csv)": "$23.50",
        "Seats (2, one month each, seats.csv)": "$15.00",
        "Billed beyond the seats": "$4.25",
        "Paid (seats + billed)": "$19.25",
        "Usage at list prices ÷ paid": "1.22×",
        "Usage at list prices − paid": "+$4.25",
    }
    surfaces = table_with(parse(html), "Surface")
    assert surfaces["Chat"][1:] == ["2", "1,208 messages"]
    # The seats used only for other surfaces, named, with their cost and what to ask; outside
    # text escaped.
    assert (
        "2 seats ($135/month) were used for other Claude surfaces and not for Claude Code in the "
        "idle-seat window up to 31 March: d@x.com, &lt;script&gt;x&lt;/script&gt;@x.com. They "
        "deliver chat, Cowork, Office…, none of it in the list-price figure above — ask whether "
        "this person needs a Claude Code (premium) seat (section 5)."
    ) in html
    assert "<script>" not in html
    assert "whole month while the usage covers the loaded days" not in html


def test_less_worth_than_paid_an_incomplete_month_and_a_closed_bill_are_said():
    value = SeatValue(
        list_price_worth_usd=80.0, seat_cost_usd=100.0, billed_usd=0.0, days=10, days_not_billed=2
    )
    html = page._seat_value_section(figures(value, complete=False))
    assert "Each dollar paid bought $0.80 of usage at list prices" in html
    assert "the usage was worth $20.00 less than was paid." in html
    assert 'Usage at list prices − paid</td><td class="n">−$20.00' in html
    assert "the ratio grows as the month&#x27;s days are loaded" in html
    assert "2 day(s) had no bill (closed to the organisation)" in html
    assert "used for other Claude surfaces and not for Claude Code" not in html


def test_the_console_source_says_in_one_line_whom_the_section_is_for():
    html = page._seat_value_section(figures(None))
    assert html == page.SEAT_VALUE_HEADING + page.SEAT_VALUE_CONSOLE
    assert "organisations that pay per seat (Claude Enterprise" in html


DEMO_KEY = "sk-ant-analytics-TEST-value"
DEMO_DAYS = ("2026-03-01", "2026-03-14")


@pytest.fixture(scope="module")
def demo_enterprise_report(tmp_path_factory):
    """The demo organisation through the Enterprise path, its first 14 March days, and the March
    report (an incomplete month with an idle-seat verdict on the 14th)."""
    root = tmp_path_factory.mktemp("demo-enterprise")
    DEMO_ORGANISATION.write_config(root / "config")
    with (
        UsageApiServer(
            DEMO_ORGANISATION, api_key=DEMO_KEY, today=dt.date(2026, 4, 1), seat_plan=True
        ) as server,
        dg.instance_for_test() as instance,
    ):
        pipeline = Pipeline(server, root / "config", root / "data" / "warehouse.duckdb", instance)
        pipeline.api = AnalyticsApiResource(
            source="enterprise", base_url=server.base_url, analytics_api_key=DEMO_KEY
        )
        assert pipeline.materialize(*DEMO_DAYS).success
        # The setting says Console while the month's rows say Enterprise: the report speaks
        # for the rows.
        with pytest.MonkeyPatch.context() as environment:
            environment.setenv("BUDGET_PIPELINE_SOURCE", "demo")
            report = materialize_report(pipeline, "2026-03", root / "reports")
        files = ReportFiles.for_month(root / "reports", Month.from_key("2026-03"))
        metadata = report.asset_materializations_for_node("budget_report")[0].metadata
        yield pipeline, files.html.read_text(encoding="utf-8"), metadata


def test_the_demo_enterprise_report_sets_the_seats_worth_against_what_they_cost(
    demo_enterprise_report,
):
    pipeline, html, metadata = demo_enterprise_report
    priced = pipeline.table("priced_usage")
    seats = pd.read_csv(pipeline.config_dir / "seats.csv")
    worth = priced["list_price_cost_usd"].sum()
    billed = priced["cost_usd"].sum()
    seat_cost = seats["monthly_cost_usd"].sum()
    # A seat-based plan: most usage is covered, so the usage is worth more than the bill.
    assert (priced["price_source"] == "billed").all() and worth > billed > 0
    table = table_with(parse(html), "What the seats delivered")
    assert table["Usage at list prices (tokens × prices.csv)"][1] == dollars(worth)
    assert table[f"Seats ({len(seats)}, one month each, seats.csv)"][1] == dollars(seat_cost)
    assert table["Billed beyond the seats"][1] == dollars(billed)
    assert table["Paid (seats + billed)"][1] == dollars(seat_cost + billed)
    assert table["Usage at list prices ÷ paid"][1] == f"{worth / (seat_cost + billed):.2f}×"
    assert (
        f"Over the 14 loaded days of March 2026, the seats delivered <strong>{dollars(worth)}"
        f"</strong> of Claude Code usage at list prices for <strong>"
        f"{dollars(seat_cost + billed)}</strong> paid: seats {dollars(seat_cost)} + billed "
        f"beyond the seats {dollars(billed)}."
    ) in html
    assert "the ratio grows as the month&#x27;s days are loaded" in html
    assert metadata["usage_at_list_price_usd"].value == round(worth, 4)
    assert metadata["paid_usd"].value == round(seat_cost + billed, 4)

    surfaces = table_with(parse(html), "Surface")
    expected = surface_use(pipeline.table("raw_usage")).set_index("surface")
    for surface, row in expected.iterrows():
        assert surfaces[surface][1:] == [f"{row.members:,}", f"{row['count']:,} {row.unit}"]
    assert expected.loc["Chat", "members"] > expected.loc["Claude Code", "members"]
    # The chat-only seat is named as a seat that delivers other surfaces.
    assert f"not for Claude Code in the idle-seat window up to 14 March: {CHAT_ONLY_SEAT}" in html


def test_the_console_report_says_whom_the_section_is_for(march_report):
    assert page.SEAT_VALUE_HEADING + page.SEAT_VALUE_CONSOLE in march_report.html
    assert "What the seats delivered</th>" not in march_report.html


def test_the_demo_enterprise_focus_export_bills_the_bill_and_lists_the_worth(
    demo_enterprise_report,
):
    pipeline, _, metadata = demo_enterprise_report
    priced = pipeline.table("priced_usage")
    focus = pd.read_csv(metadata["exports"].value["focus"])
    tokens = focus.loc[focus["ChargeCategory"] == "Usage"]
    assert round(tokens["BilledCost"].sum(), 6) == round(priced["cost_usd"].sum(), 6)
    assert round(tokens["EffectiveCost"].sum(), 6) == round(priced["cost_usd"].sum(), 6)
    assert round(tokens["ListCost"].sum(), 6) == round(priced["list_price_cost_usd"].sum(), 6)
    descriptions = tokens["ChargeDescription"]
    assert not descriptions.str.contains("estimate").any()
    assert descriptions.str.endswith(", covered by the seat").any()
    assert descriptions.str.endswith(", billed beyond the seat").any()


def test_the_report_speaks_for_its_rows_source_not_the_setting(demo_enterprise_report):
    _, html, metadata = demo_enterprise_report
    assert metadata["source"].value == "enterprise"
    assert "what Anthropic's bill charged for the tokens of the loaded days" in html
    assert "estimate for unpriced models" not in html
    assert page.SEAT_VALUE_CONSOLE not in html
    assert "What the seats delivered</th>" in html


def test_a_console_month_reads_as_console_whatever_the_source_setting_says(
    march_report, tmp_path, monkeypatch
):
    monkeypatch.setenv("BUDGET_PIPELINE_SOURCE", "demo-enterprise")
    pipeline = march_report.pipeline
    result = dg.materialize(
        [*config_sources, *budget_assets, budget_report],
        selection="budget_report",
        partition_key="2026-03",
        resources={
            **pipeline.resources(),
            "reports": ReportsResource(directory=str(tmp_path)),
        },
        instance=pipeline.instance,
    )
    metadata = result.asset_materializations_for_node("budget_report")[0].metadata
    assert metadata["source"].value == "claude_code"
    html = ReportFiles.for_month(tmp_path, Month.from_key("2026-03")).html.read_text("utf-8")
    assert "prices.csv; the API's own estimate for unpriced models" in html
    assert page.SEAT_VALUE_HEADING + page.SEAT_VALUE_CONSOLE in html
