"""The March report built by a real Dagster run, checked against the warehouse tables and against
figures recomputed by hand from the organisation's config files and the API records."""

import csv
import json
import re
from collections import defaultdict
from html.parser import HTMLParser

import dagster as dg
import pandas as pd
import pytest

from budget_pipeline.report.focus import FOCUS_COLUMNS
from budget_pipeline_tests.report.conftest import materialize_report

# The columns the issue names, all of which FOCUS 1.2 defines.
REQUIRED_FOCUS_COLUMNS = [
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ChargeCategory",
    "ChargeDescription",
    "ServiceName",
    "ServiceCategory",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ResourceId",
    "ResourceName",
    "SkuId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "x_Workstream",
]


class _Page(HTMLParser):
    """Tables (as rows of cell text), every src/href value, and the tags used."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.links += [value for name, value in attrs if name in ("src", "href") and value]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def table_with(page: _Page, header: str) -> dict[str, list[str]]:
    """The table whose first header cell is `header`, keyed by the first cell of each row."""
    table = next(t for t in page.tables if t and t[0] and t[0][0].lower() == header.lower())
    return {row[0]: row for row in table[1:]}


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def month_rows(frame: pd.DataFrame, column: str = "usage_date") -> pd.DataFrame:
    dates = pd.to_datetime(frame[column])
    return frame.loc[(dates >= "2026-03-01") & (dates <= "2026-03-31")]


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_page_states_the_warehouse_numbers(march_report):
    assert march_report.backfill.success and march_report.result.success
    pipeline = march_report.pipeline
    page = parse(march_report.html)

    cost = month_rows(pipeline.table("workstream_cost"))
    by_workstream = cost.groupby("workstream")["cost_usd"].sum()
    table = table_with(page, "Workstream")
    for workstream, total in by_workstream.items():
        assert table[workstream][1] == dollars(total), workstream
    token_total = month_rows(pipeline.table("daily_spend"))["cost_usd"].sum()
    assert table["Total tokens"][1] == dollars(token_total)
    assert by_workstream.sum() == pytest.approx(token_total)

    seats = read_csv(pipeline.config_dir / "seats.csv")
    seat_total = sum(float(row["monthly_cost_usd"]) for row in seats)
    assert f"${token_total + seat_total:,.0f}" in march_report.html  # the headline card
    assert f"{len(seats)} seats {dollars(seat_total)}" in march_report.html

    # February is half loaded: the page compares per-day averages and says so.
    assert "per-day averages of the loaded days" in march_report.html
    assert "14 of 28" in march_report.html


def test_idle_seats_on_the_page_are_the_table_as_of_the_last_day(march_report):
    idle = march_report.pipeline.table("idle_seats")
    last = idle.loc[pd.to_datetime(idle["as_of"]) == "2026-03-31"]
    assert len(last) == 3
    page = parse(march_report.html)
    table = table_with(page, "Seat")
    for row in last.itertuples():
        cells = table[row.email]
        assert cells[2] == row.status
        assert cells[7] == f"${row.monthly_cost_usd:,.0f}"
        if pd.isna(row.last_active):
            assert cells[5] == (
                "not reported by the API — may be a claude.ai sign-in, which the Claude Code "
                "Analytics API does not report: ask how this person signs in"
            )
        else:
            assert cells[5] == f"{row.last_active:%Y-%m-%d}"
    assert table["Total"][7] == f"${last['monthly_cost_usd'].sum():,.0f}"
    assert "Parental leave until March" in table["idle.person@example.com"]
    assert "not for performance reviews" in march_report.html

    exported = read_csv(march_report.files.idle_seats_csv)
    assert {row["email"] for row in exported} == set(last["email"])


def test_unit_costs_recomputed_by_hand_for_one_workstream(march_report):
    pipeline = march_report.pipeline
    ledger = {
        row["actor"]: row["workstream"] for row in read_csv(pipeline.config_dir / "workstreams.csv")
    }
    prices = {row["model"]: row for row in read_csv(pipeline.config_dir / "prices.csv")}
    people = {actor for actor, workstream in ledger.items() if workstream == "payments"}

    raw = month_rows(pipeline.table("raw_usage"))
    mine = raw.loc[raw["actor"].isin(people)]
    accepted = rejected = 0
    for text in mine["record_json"]:
        actions = json.loads(text).get("tool_actions", {})
        for tool in ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool"):
            accepted += actions.get(tool, {}).get("accepted", 0)
            rejected += actions.get(tool, {}).get("rejected", 0)
    priced = month_rows(pipeline.table("priced_usage"))
    saved = 0.0
    for row in priced.loc[priced["actor"].isin(people)].itertuples():
        if row.price_source == "price_table":
            price = prices[row.price_model]
            per_mtok = float(price["input_per_mtok"]) - float(price["cache_read_per_mtok"])
            saved += row.cache_read_tokens * per_mtok / 1e6
    cost = month_rows(pipeline.table("workstream_cost"))
    spend = cost.loc[cost["workstream"] == "payments", "cost_usd"].sum()

    row = table_with(parse(march_report.html), "Workstream")
    # the value table is the second one keyed by workstream: find it by its column count
    value = next(
        {r[0]: r for r in t[1:]}
        for t in parse(march_report.html).tables
        if t[0][:2] == ["Workstream", "Token spend"]
    )["payments"]
    assert row["payments"][1] == dollars(spend)
    assert value[2] == f"{mine['pull_requests'].sum():,}"
    assert value[3] == dollars(spend / mine["pull_requests"].sum())
    assert value[4] == dollars(spend / mine["commits"].sum())
    assert value[5] == dollars(1000 * spend / mine["lines_added"].sum())
    assert value[6] == f"{accepted / (accepted + rejected):.1%}"
    assert value[7] == dollars(saved)

    exported = {r["workstream"]: r for r in read_csv(march_report.files.workstream_cost_csv)}
    assert float(exported["payments"]["cost_per_commit_usd"]) == pytest.approx(
        spend / mine["commits"].sum(), abs=1e-6
    )


def test_alert_days_and_unassigned_actors_are_explained(march_report):
    pipeline = march_report.pipeline
    spend = month_rows(pipeline.table("daily_spend"))
    alerts = spend.loc[spend["alert"].fillna(False).astype(bool)]
    assert len(alerts) >= 1
    for row in alerts.itertuples():
        assert f"{row.usage_date:%A %d %B}: {dollars(row.cost_usd)}" in march_report.html
        ratio = row.cost_usd / row.same_weekday_last_week_usd
        assert f"{ratio:.2f}× the same weekday last week" in march_report.html
    assert "Workstreams that grew most: search" in march_report.html

    ledger = {row["actor"] for row in read_csv(pipeline.config_dir / "workstreams.csv")}
    priced = month_rows(pipeline.table("priced_usage"))
    unknown = priced.loc[~priced["actor"].isin(ledger)].groupby("actor")["cost_usd"].sum()
    page = parse(march_report.html)
    table = table_with(page, "Not in the ledger (largest first)")
    assert list(table) == list(unknown.sort_values(ascending=False).index)
    pre = re.search(r"<pre>(.*?)</pre>", march_report.html, re.S).group(1)
    assert pre.splitlines() == [f"{actor}," for actor in table]


def test_the_page_is_self_contained(march_report):
    page = parse(march_report.html)
    assert "script" not in page.tags and "img" not in page.tags
    assert len(re.findall(r"<svg ", march_report.html)) == 4
    for link in page.links:
        # relative links to the exports beside the page, or an inline data: URL; nothing else
        assert link.startswith("data:") or not re.match(r"^([a-z][a-z0-9+.-]*:|//)", link), link
    assert "http" not in march_report.html
    assert "@import" not in march_report.html and "url(" not in march_report.html
    exports = {link for link in page.links if not link.startswith("data:")}
    assert exports == {
        march_report.files.workstream_cost_csv.name,
        march_report.files.idle_seats_csv.name,
        march_report.files.focus_csv.name,
    }


def test_focus_export_has_the_columns_and_sums_to_the_month(march_report):
    pipeline = march_report.pipeline
    rows = read_csv(march_report.files.focus_csv)
    assert list(rows[0]) == FOCUS_COLUMNS
    assert set(REQUIRED_FOCUS_COLUMNS) <= set(rows[0])

    token_total = month_rows(pipeline.table("daily_spend"))["cost_usd"].sum()
    seats = read_csv(pipeline.config_dir / "seats.csv")
    seat_total = sum(float(row["monthly_cost_usd"]) for row in seats)
    effective = defaultdict(float)
    for row in rows:
        effective[row["ChargeCategory"]] += float(row["EffectiveCost"])
        assert row["BilledCost"] == ""
        assert row["BillingCurrency"] == "USD"
        assert row["BillingPeriodStart"] == "2026-03-01T00:00:00Z"
        assert row["BillingPeriodEnd"] == "2026-04-01T00:00:00Z"
        assert row["ProviderName"] == row["PublisherName"] == row["InvoiceIssuerName"]
        assert row["x_Workstream"]
        # a fixed number of decimals: never float noise like 0.7396822999999999
        assert re.fullmatch(r"\d+\.\d{10}", row["EffectiveCost"]), row["EffectiveCost"]
    assert set(effective) == {"Usage", "Purchase"}
    assert effective["Usage"] == pytest.approx(token_total, abs=1e-6)
    assert effective["Purchase"] == pytest.approx(seat_total)
    assert sum(effective.values()) == pytest.approx(token_total + seat_total, abs=1e-6)
    # the sum the page states is the one the export adds up to
    assert f"= {dollars(token_total + seat_total)}. The FOCUS export" in march_report.html

    usage = [row for row in rows if row["ChargeCategory"] == "Usage"]
    priced = [row for row in usage if row["ListUnitPrice"]]
    for row in priced[:50]:
        assert float(row["PricingQuantity"]) == pytest.approx(float(row["ConsumedQuantity"]) / 1e6)
        assert float(row["ListCost"]) == pytest.approx(
            float(row["ListUnitPrice"]) * float(row["PricingQuantity"])
        )
    assert {row["ConsumedUnit"] for row in usage} == {"Tokens"}
    unpriced = [row for row in usage if not row["ListUnitPrice"]]
    assert unpriced and {row["SkuId"] for row in unpriced} == {"claude-nova-preview"}
    purchases = [row for row in rows if row["ChargeCategory"] == "Purchase"]
    assert sorted(row["ResourceId"] for row in purchases) == sorted(r["email"] for r in seats)


def test_the_ui_gets_a_link_a_headline_and_numbers_it_can_plot(march_report):
    [report] = march_report.result.asset_materializations_for_node("budget_report")
    assert report.partition == "2026-03"
    metadata = report.metadata
    assert isinstance(metadata["report"], dg.PathMetadataValue)
    assert metadata["report"].value == str(march_report.files.html.resolve())
    assert metadata["report_url"].value.startswith("file://")
    assert "| search |" in metadata["headline"].value
    for name in ("total_cost_usd", "token_cost_usd", "idle_monthly_cost_usd"):
        assert isinstance(metadata[name], dg.FloatMetadataValue), name

    # the daily assets' per-partition numbers are plain floats, so the UI can plot them
    by_partition = {
        (m.asset_key.path[-1], m.partition): m.metadata
        for node in ("daily_spend", "workstream_cost")
        for m in march_report.backfill.asset_materializations_for_node(node)
    }
    day = by_partition[("daily_spend", "2026-03-10")]
    assert isinstance(day["cost_usd"], dg.FloatMetadataValue)
    assert type(day["cost_usd"].value) is float
    workstreams = by_partition[("workstream_cost", "2026-03-10")]
    assert isinstance(workstreams["cost_usd/search"], dg.FloatMetadataValue)
    assert type(workstreams["cost_usd/search"].value) is float


def test_a_month_without_loaded_days_fails_with_the_command_to_run(march_report, tmp_path):
    result = materialize_report(
        march_report.pipeline, "2026-05", tmp_path / "reports", raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "no day of 2026-05 is loaded" in message
    assert "--partition-range 2026-05-01...2026-05-31" in message
    assert not (tmp_path / "reports" / "2026-05").exists()
