"""A month report of an organisation whose key names, workstreams and seat notes are hostile: a
real backfill through the loopback API server, then the report materialised by Dagster.

Finance opens the CSVs in a spreadsheet, so every cell of outside text that starts like a formula
must read as text there; the page must show the same names literally.
"""

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from budget_pipeline.demo.organisation import (
    CI_BOT,
    CONTRACTOR,
    IDLE_SEAT,
    REVIEWER,
    SyntheticOrganisation,
)
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.report.files import ReportFiles
from budget_pipeline.report.month import Month
from budget_pipeline_tests.conftest import TEST_API_KEY, Pipeline
from budget_pipeline_tests.report.conftest import materialize_report
from budget_pipeline_tests.report.test_budget_report import parse, table_with

FORMULA_KEY = '=HYPERLINK("http://x","refund")'
SCRIPT_KEY = "<script>alert(1)</script>"
FORMULA_WORKSTREAM = "@SUM(A1)"
MENTION_WORKSTREAM = "+1 <!channel>"
MENTION_NOTE = "-2+3 <@U123>"
NUMBER_NOTE = "-5"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
WORKSTREAM_NAMES = {"platform": FORMULA_WORKSTREAM, "search": MENTION_WORKSTREAM}


@dataclass(frozen=True)
class HostileOrganisation(SyntheticOrganisation):
    """The test organisation with the CI bot's key renamed to a formula, the contractor turned
    into a key named like a script (both left out of the ledger), two workstreams and two seat
    notes that start like formulas."""

    def records_for(self, day):
        records = []
        for record in super().records_for(day):
            actor = record["actor"]
            if actor.get("api_key_name") == CI_BOT:
                record = {**record, "actor": {"type": "api_actor", "api_key_name": FORMULA_KEY}}
            elif actor.get("email_address") == CONTRACTOR:
                record = {**record, "actor": {"type": "api_actor", "api_key_name": SCRIPT_KEY}}
            records.append(record)
        return sorted(records, key=lambda r: str(sorted(r["actor"].items())))

    def ledger(self):
        return [
            (actor, WORKSTREAM_NAMES.get(workstream, workstream))
            for actor, workstream in super().ledger()
            if actor != CI_BOT
        ]

    def seat_rows(self):
        notes = {IDLE_SEAT: MENTION_NOTE, REVIEWER: NUMBER_NOTE}
        return [(email, cost, notes.get(email, note)) for email, cost, note in super().seat_rows()]


@dataclass
class HostileReport:
    pipeline: Pipeline
    files: ReportFiles


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> HostileReport:
    root = tmp_path_factory.mktemp("hostile")
    organisation = HostileOrganisation(seats=12, seed=11)
    organisation.write_config(root / "config")
    with (
        UsageApiServer(organisation, api_key=TEST_API_KEY) as server,
        dg.instance_for_test() as instance,
    ):
        pipeline = Pipeline(server, root / "config", root / "data" / "warehouse.duckdb", instance)
        assert pipeline.materialize("2026-03-01", "2026-03-14").success
        assert materialize_report(pipeline, "2026-03", root / "reports").success
        yield HostileReport(
            pipeline, ReportFiles.for_month(root / "reports", Month.from_key("2026-03"))
        )


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_text_cells_are_text(rows: list[dict[str, str]]) -> None:
    """No cell starts like a formula unless it is a number (a negative cost would still be one)."""
    for row in rows:
        for column, cell in row.items():
            if cell.startswith(FORMULA_STARTS):
                float(cell)  # raises for `-2+3`, `@SUM(A1)`, `=HYPERLINK(...)`: text, unmarked
                assert column not in ("actor", "email", "workstream", "reason", "x_Workstream")


def test_the_csv_exports_show_outside_text_as_text_and_numbers_as_numbers(hostile_report):
    files = hostile_report.files
    workstreams = rows_of(files.workstream_cost_csv)
    idle = rows_of(files.idle_seats_csv)
    focus = rows_of(files.focus_csv)
    for rows in (workstreams, idle, focus):
        assert_text_cells_are_text(rows)

    assert {"'" + FORMULA_WORKSTREAM, "'" + MENTION_WORKSTREAM} <= {
        row["workstream"] for row in workstreams
    }
    for row in workstreams:
        float(row["cost_usd"]), int(row["pull_requests"]), float(row["cache_savings_usd"])

    seats = {row["email"]: row for row in idle}
    assert seats[IDLE_SEAT]["reason"] == "'" + MENTION_NOTE
    assert seats[REVIEWER]["reason"] == "'" + NUMBER_NOTE  # text in a text column, marked
    assert seats[REVIEWER]["workstream"] == "'" + MENTION_WORKSTREAM
    for row in idle:
        int(row["sessions"]), int(row["lines_added"]), float(row["monthly_cost_usd"])

    usage = [row for row in focus if row["ChargeCategory"] == "Usage"]
    resources = {row["ResourceId"] for row in usage}
    assert {"'" + FORMULA_KEY, SCRIPT_KEY} <= resources
    assert {row["ResourceName"] for row in usage} == resources
    platform = {row["x_Workstream"] for row in focus} & {"'" + FORMULA_WORKSTREAM}
    assert platform, "the renamed platform workstream is in the FOCUS export, marked"
    for row in usage:
        float(row["EffectiveCost"]), int(row["ConsumedQuantity"])


def test_the_page_shows_hostile_names_literally(hostile_report):
    html = hostile_report.files.html.read_text(encoding="utf-8")
    page = parse(html)
    assert "script" not in page.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    unassigned = table_with(page, "Not in the ledger (largest first)")
    assert {FORMULA_KEY, SCRIPT_KEY} <= set(unassigned)
    # The paste lines carry the mark and the CSV quoting, escaped for HTML.
    pre = re.search(r"<pre>(.*?)</pre>", html, re.S).group(1)
    assert "&quot;&#x27;=HYPERLINK(&quot;&quot;http://x&quot;&quot;,&quot;&quot;refund" in pre
    assert "&lt;script&gt;alert(1)&lt;/script&gt;," in pre
    assert MENTION_WORKSTREAM.replace("<", "&lt;").replace(">", "&gt;") in html
