"""The March page opened in a real headless Chromium: it renders without a console error, fetches
nothing but itself, every chart has a size, and a screenshot is kept for people to look at."""

from pathlib import Path

import pytest

from budget_pipeline_tests.report.browser import Browser, ensure_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture
def browser(chromium):
    session = Browser(chromium, width=1280, height=2400)
    yield session
    session.close()


def test_the_page_renders_offline_with_visible_charts(march_report, browser):
    url = march_report.files.html.resolve().as_uri()
    browser.open(url)

    assert browser.console_errors() == []
    # readable offline: the only request is the page itself
    assert browser.requested_urls() == [url]

    charts = browser.evaluate(
        "[...document.querySelectorAll('svg')].map(s => {"
        "  const r = s.getBoundingClientRect();"
        "  return {label: s.getAttribute('aria-label'), width: r.width, height: r.height,"
        "          shapes: s.querySelectorAll('rect, path, line').length};"
        "})"
    )
    assert [c["label"] for c in charts] == [
        "Organisation spend so far against its budget (burn-up)",
        "Token spend per day, by workstream",
        "Unassigned share of each day's token spend",
        "Model mix: share of each workstream's cost",
    ]
    for chart in charts:
        assert chart["width"] > 600 and chart["height"] > 150, chart
        assert chart["shapes"] > 10, chart
    # the page opens with the budget: its heading on a laptop's first screen, its burn-up
    # chart before the window's first 1,400 pixels end
    budget = browser.evaluate(
        "(() => { const h = document.querySelector('h2'); const c = document.querySelector('svg');"
        "  return {heading: h.textContent, top: h.getBoundingClientRect().top,"
        "          chart_bottom: c.getBoundingClientRect().bottom}; })()"
    )
    assert budget["heading"] == "1. Budget: spent and forecast"
    assert budget["top"] < 800 and budget["chart_bottom"] < 1400, budget
    # the page fits the window's width: nothing to scroll sideways
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1280

    screenshot = ARTIFACTS / "budget-report-2026-03.png"
    browser.screenshot(screenshot)
    assert screenshot.stat().st_size > 50_000


def test_the_harness_sees_console_errors_and_requests(browser, tmp_path):
    # Without this, an empty error list could mean the browser reported nothing at all.
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom'); undefined_call();</script>"
        '<img src="missing.png"></body></html>'
    )
    browser.open(page.as_uri())
    errors = browser.console_errors()
    assert any("boom" in error for error in errors)
    assert any("Uncaught" in error or "exception" in error.lower() for error in errors)
    assert any(url.endswith("missing.png") for url in browser.requested_urls())
