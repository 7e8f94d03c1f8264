"""The UI's Markdown of an organisation whose key names and seat notes are hostile: a real
backfill through the loopback API server and the weekly digest, materialised by Dagster.

The Dagster UI renders `MetadataValue.md` as GitHub-flavoured Markdown and loads the images it
finds, so every preview must show outside text literally: no image, link or HTML of its own, and
a `|` or a line break must not move a table's cells.
"""

from dataclasses import dataclass

import dagster as dg
import pytest

from budget_pipeline.demo.organisation import CI_BOT, CONTRACTOR, IDLE_SEAT, SyntheticOrganisation
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline_tests.conftest import TEST_API_KEY, Pipeline
from budget_pipeline_tests.defs.hygiene.test_idle_seat_digest import run_digest
from budget_pipeline_tests.markdown_reader import (
    live_markup,
    rendered_tokens,
    shown_text,
    table_shapes,
)
from budget_pipeline_tests.report.conftest import materialize_report

IMAGE_KEY = "![x](http://127.0.0.1:9/x)"
# Under the 60 characters a preview cell shows in full.
TABLE_KEY = "|`<img src=http://127.0.0.1:9/i>\n[l](http://127.0.0.1:9/l)"
IMAGE_NOTE = "``` ![n](http://127.0.0.1:9/n) | <b>bold</b> www.example.com"
LINK_WORKSTREAM = "[w](http://127.0.0.1:9/w)"


@dataclass(frozen=True)
class HostileOrganisation(SyntheticOrganisation):
    """The test organisation with the CI bot's and the contractor's keys renamed to Markdown
    (both left out of the ledger, so they are listed as Unassigned), a workstream named as a
    link and the idle seat's note written as Markdown."""

    def records_for(self, day):
        names = {CI_BOT: IMAGE_KEY, CONTRACTOR: TABLE_KEY}
        records = []
        for record in super().records_for(day):
            actor = record["actor"]
            name = names.get(actor.get("api_key_name") or actor.get("email_address"))
            if name:
                record = {**record, "actor": {"type": "api_actor", "api_key_name": name}}
            records.append(record)
        return sorted(records, key=lambda r: str(sorted(r["actor"].items())))

    def ledger(self):
        return [
            (actor, LINK_WORKSTREAM if workstream == "platform" else workstream)
            for actor, workstream in super().ledger()
            if actor != CI_BOT
        ]

    def seat_rows(self):
        return [
            (email, cost, IMAGE_NOTE if email == IDLE_SEAT else note)
            for email, cost, note in super().seat_rows()
        ]


@pytest.fixture(scope="module")
def markdown_values(tmp_path_factory) -> dict[str, str]:
    """Every Markdown metadata value of a two-week backfill, of the digest that follows it and of
    the month's report, by `asset/key` (checks: `check/key`)."""
    root = tmp_path_factory.mktemp("hostile-markdown")
    organisation = HostileOrganisation(seed=11)
    organisation.write_config(root / "config")
    with (
        UsageApiServer(organisation, api_key=TEST_API_KEY) as server,
        dg.instance_for_test() as instance,
    ):
        pipeline = Pipeline(server, root / "config", root / "data" / "warehouse.duckdb", instance)
        backfill = pipeline.materialize("2026-03-01", "2026-03-15")
        assert backfill.success
        _, digest = run_digest(pipeline, "2026-03-16")
        report = materialize_report(pipeline, "2026-03", root / "reports")
        assert report.success
        values = {"idle_seat_digest/digest": digest["digest"]}
        for result in (backfill, report):
            for event in result.get_asset_materialization_events():
                materialization = event.step_materialization_data.materialization
                for key, value in materialization.metadata.items():
                    if isinstance(value, dg.MarkdownMetadataValue):
                        values[f"{materialization.asset_key.to_user_string()}/{key}"] = value.value
            for evaluation in result.get_asset_check_evaluations():
                for key, value in evaluation.metadata.items():
                    if isinstance(value, dg.MarkdownMetadataValue):
                        values[f"{evaluation.check_name}/{key}"] = value.value
        return values


def test_no_outside_text_becomes_an_image_a_link_or_html_in_the_ui(markdown_values):
    assert {
        "raw_usage/preview",
        "idle_seats/preview",
        "idle_seat_digest/digest",
        "budget_report/headline",
    } <= set(markdown_values)
    found = {key: live_markup(value) for key, value in markdown_values.items()}
    assert {key: markup for key, markup in found.items() if markup} == {}


def test_hostile_names_and_notes_are_shown_literally_in_their_own_cells(markdown_values):
    everything = "\n".join(shown_text(value) for value in markdown_values.values())
    assert IMAGE_KEY in everything
    assert TABLE_KEY.replace("\n", " ") in everything
    assert IMAGE_NOTE in everything
    assert LINK_WORKSTREAM in shown_text(markdown_values["budget_report/headline"])
    for key, value in markdown_values.items():
        for shape in table_shapes(value):
            assert len(set(shape)) == 1, (key, shape, value)


def test_the_digest_is_one_code_block_whatever_its_lines_hold(markdown_values):
    digest = markdown_values["idle_seat_digest/digest"]
    blocks = [t for t in rendered_tokens(digest) if t.type == "fence"]
    assert len(blocks) == 1 and "Weekly seat digest" in blocks[0].content
    assert "Ready to paste into workstreams.csv" in blocks[0].content
    assert IMAGE_KEY in blocks[0].content
