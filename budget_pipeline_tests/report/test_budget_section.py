"""The page's budget section against the budget_forecast table: the figures to the cent, the
burn-up chart, the forecast's accuracy, the mid-month preview and the reason a month has none."""

import dataclasses
import re

import numpy as np
import pandas as pd

from budget_pipeline.report.figures import month_figures
from budget_pipeline.report.month import Month
from budget_pipeline.report.page import render_page
from budget_pipeline.report.tables import read_month
from budget_pipeline.rules.config_files import load_ledger, load_prices, load_seats
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline_tests.report.conftest import materialize_report
from budget_pipeline_tests.report.test_budget_report import dollars, parse, table_with

TOTAL_LABEL = "TOTAL (organisation, seats included)"
BURN_UP = "Organisation spend so far against its budget (burn-up)"


def forecast_as_of(march_report, day: str) -> pd.DataFrame:
    rows = march_report.pipeline.table("budget_forecast")
    return rows.loc[pd.to_datetime(rows["as_of"]) == day].set_index("workstream")


def label(workstream: str) -> str:
    return TOTAL_LABEL if workstream == "TOTAL" else workstream


def burn_up_svg(html: str) -> str:
    return re.search(rf'<svg [^>]*aria-label="{re.escape(BURN_UP)}".*?</svg>', html, re.S).group(0)


def page_for(march_report, month: str, change_tables=lambda tables: tables, **figures) -> str:
    """The page of `month` rendered from the test warehouse, its tables changed first."""
    config = march_report.pipeline.config_dir
    with warehouse.connect(str(march_report.pipeline.duckdb_file), read_only=True) as connection:
        tables = change_tables(read_month(connection, Month.from_key(month)))
    arguments = {"first_day": pd.Timestamp("2026-01-01"), **figures}
    result = month_figures(
        tables,
        ledger=load_ledger(config / "workstreams.csv"),
        prices=load_prices(config / "prices.csv"),
        seats=load_seats(config / "seats.csv"),
        **arguments,
    )
    return render_page(result, {}, "now")


def test_the_budget_section_states_the_forecast_table_to_the_cent(march_report):
    html = march_report.html
    last = forecast_as_of(march_report, "2026-03-31")
    assert {"over budget", "on track"} <= set(last["status"].dropna())
    table = table_with(parse(html), "Forecast for")
    workstreams = sorted(ws for ws in last.index if ws not in ("Unassigned", "TOTAL"))
    assert list(table) == [*workstreams, "Unassigned", TOTAL_LABEL]  # the organisation last
    for workstream, row in last.iterrows():
        cells = table[label(workstream)]
        assert cells[1] == dollars(row.spent_to_date_usd), workstream
        assert cells[2] == dollars(row.forecast_usd), workstream
        if pd.isna(row.budget_usd):
            assert cells[3:] == ["—", "—", "no budget"], workstream
        else:
            assert cells[3] == dollars(row.budget_usd), workstream
            assert cells[4] == f"{row.forecast_vs_budget:.1%}", workstream
            assert cells[5] == row.status, workstream

    # The page opens with it: the first card, and the first section after the brief.
    total = last.loc["TOTAL"]
    first_card = re.search(r'<div class="card wide">(.*?)</div></div>', html, re.S).group(1)
    assert html.index('class="card wide"') < html.index('class="card"')
    assert (
        f"${total.spent_to_date_usd:,.0f} spent · ${total.forecast_usd:,.0f} forecast · "
        f"${total.budget_usd:,.0f} budget" in first_card
    )
    assert f"organisation {total.status}" in first_card
    over = sorted(last.index[(last["status"] == "over budget") & (last.index != "TOTAL")])
    assert f"{len(over)} workstreams over their budget ({', '.join(over)})" in first_card
    assert re.search(r"<h2>(.*?)</h2>", html).group(1) == "1. Budget: spent and forecast"
    # A finished month is no preview.
    # "is over" would read as over budget: a finished month has ended.
    assert "March 2026 has ended" in html and "Preview" not in html
    assert "is over" not in html


def test_the_burn_up_climbs_day_by_day_to_the_budget_line(march_report):
    svg = burn_up_svg(march_report.html)
    assert 'width="960" height="300"' in svg
    spent = march_report.pipeline.table("budget_forecast")
    spent = spent.loc[spent["workstream"] == "TOTAL"].sort_values("as_of")
    points = re.findall(r"<title>spent by (\S+): \$([\d,.]+)</title>", svg)
    assert [day for day, _ in points] == [f"{d:%Y-%m-%d}" for d in spent["as_of"]]
    assert [amount for _, amount in points] == [f"{v:,.2f}" for v in spent["spent_to_date_usd"]]
    assert len(points) == 31
    assert "<title>budget $20,000.00</title>" in svg
    assert "forecast for" not in svg  # the month is over: nothing left to forecast


def test_the_forecast_accuracy_is_the_error_of_the_day_7_14_and_21_forecasts(march_report):
    rows = march_report.pipeline.table("budget_forecast")
    rows = rows.assign(as_of=pd.to_datetime(rows["as_of"]))
    actual = rows.loc[rows["as_of"] == "2026-03-31"].set_index("workstream")["spent_to_date_usd"]
    early = rows.loc[rows["as_of"].isin(pd.to_datetime(["2026-03-07", "2026-03-14", "2026-03-21"]))]
    table = table_with(parse(march_report.html), "Accuracy of")
    header = next(t for t in parse(march_report.html).tables if t[0][0] == "Accuracy of")[0]
    assert header == ["Accuracy of", "Mar 2026"]  # February is half loaded: not judged
    for workstream, spent in actual.items():
        if spent <= 0:
            assert label(workstream) not in table
            continue
        forecasts = early.loc[early["workstream"] == workstream, "forecast_usd"]
        assert len(forecasts) == 3
        mape = np.mean(np.abs(forecasts - spent) / spent)
        assert table[label(workstream)][1] == f"{mape:.1%}", workstream


def test_a_month_without_forecast_rows_says_why(march_report, tmp_path):
    # February is loaded from the 15th only: its spend so far is unknown on every day.
    result = materialize_report(march_report.pipeline, "2026-02", tmp_path / "reports")
    assert result.success
    html = (tmp_path / "reports" / "2026-02" / "budget-report-2026-02.html").read_text()
    assert "<h2>1. Budget: spent and forecast</h2>" in html
    assert (
        "No forecast for February 2026:</strong> 14 day(s) of the month so far not loaded "
        "(2026-02-01, 2026-02-02, 2026-02-03, 2026-02-04, 2026-02-05 and 9 more)" in html
    )
    assert (
        'class="card wide"><div class="label">Budget</div><div class="value ">no forecast' in html
    )
    assert BURN_UP not in html

    began_early = page_for(march_report, "2026-02", first_day=pd.Timestamp("2026-02-15"))
    assert (
        "the month began on 2026-02-01, before the first partition day 2026-02-15: its spend so "
        "far is unknown" in began_early
    )


def test_the_current_month_is_a_preview_with_its_forecast_line(march_report):
    as_of = pd.Timestamp("2026-03-15")

    def up_to_the_15th(tables):
        return dataclasses.replace(
            tables,
            budget_forecast=tables.budget_forecast.loc[tables.budget_forecast["as_of"] <= as_of],
            daily_spend=tables.daily_spend.loc[tables.daily_spend["usage_date"] <= as_of],
        )

    html = page_for(march_report, "2026-03", up_to_the_15th)
    total = forecast_as_of(march_report, "2026-03-15").loc["TOTAL"]
    assert "Preview — forecast as of 15 Mar, 16 days left" in html
    assert "the month has not ended, so the forecast is" in html
    assert "Budget — forecast as of 15 Mar, 16 days left" in html
    table = table_with(parse(html), "Forecast for")
    assert table[TOTAL_LABEL][1:3] == [
        dollars(total.spent_to_date_usd),
        dollars(total.forecast_usd),
    ]
    svg = burn_up_svg(html)
    assert len(re.findall(r"<title>spent by ", svg)) == 15
    assert f"<title>forecast for 2026-03-31: {dollars(total.forecast_usd)}</title>" in svg


def test_a_gap_after_the_last_forecast_is_named(march_report):
    def forecast_up_to_the_20th(tables):
        kept = tables.budget_forecast["as_of"] <= pd.Timestamp("2026-03-20")
        return dataclasses.replace(tables, budget_forecast=tables.budget_forecast.loc[kept])

    html = page_for(march_report, "2026-03", forecast_up_to_the_20th)
    assert "Preview — forecast as of 20 Mar, 11 days left" in html
    assert (
        "Days after 20 March have no forecast: budget_forecast has no rows for 2026-03-31: "
        "materialise it for that day" in html
    )


def test_without_budgets_the_forecast_is_shown_and_the_page_says_none_are_set(march_report):
    def without_budgets(tables):
        rows = tables.budget_forecast.assign(
            budget_usd=np.nan, forecast_vs_budget=np.nan, status=None
        )
        return dataclasses.replace(tables, budget_forecast=rows)

    html = page_for(march_report, "2026-03", without_budgets)
    assert "No budgets set for March 2026" in html
    assert "no budgets set (budgets.csv)" in html
    table = table_with(parse(html), "Forecast for")
    assert table[TOTAL_LABEL][3:] == ["—", "—", "no budget"]
    assert "budget $" not in burn_up_svg(html)


def test_outside_names_in_the_budget_section_are_escaped(march_report):
    def hostile_name(tables):
        rows = tables.budget_forecast.replace({"workstream": {"mobile": "<b>mobile</b>"}})
        return dataclasses.replace(tables, budget_forecast=rows)

    html = page_for(march_report, "2026-03", hostile_name)
    assert "<b>mobile</b>" not in html
    assert "&lt;b&gt;mobile&lt;/b&gt;" in html
