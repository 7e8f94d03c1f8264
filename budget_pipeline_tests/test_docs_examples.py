"""The examples in docs/ are what the pipeline really says: the demo organisation (the one
`budget-pipeline demo` serves, with the repository's config/) is loaded over the days the docs
name, and the messages the digest and the spend-alert sensor produce are compared with the docs'
blocks, character for character. When wording changes, copy the new text from this test's
failure into the docs."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.budget.jobs import budget_daily_job
from budget_pipeline.defs.budget.sensors import build_spend_alert_sensor
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.hygiene.assets import digest_assets
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.demo.organisation import DEMO_ORGANISATION
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline_tests.conftest import TEST_API_KEY, Pipeline
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "docs" / "operations.md"
FIRST, DIGEST_DAY, ALERT_DAY = "2026-10-27", "2026-11-22", dt.date(2026, 11, 4)
UI = "http://127.0.0.1:3000"
LOGGED_ONLY = "logged only):\n"


def block_after(path: Path, marker: str) -> str:
    """The first fenced block after the line holding `marker`."""
    text = path.read_text(encoding="utf-8")
    start = text.index("```", text.index(marker))
    body = text.index("\n", start) + 1
    return text[body : text.index("\n```", body)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo organisation and the repository's config/ loaded over FIRST … DIGEST_DAY."""
    folder = tmp_path_factory.mktemp("demo")
    config = folder / "config"
    shutil.copytree(ROOT / "config", config)
    with (
        UsageApiServer(DEMO_ORGANISATION, api_key=TEST_API_KEY) as server,
        dg.instance_for_test() as instance,
    ):
        pipeline = Pipeline(server, config, folder / "warehouse.duckdb", instance)
        assert pipeline.materialize(FIRST, DIGEST_DAY).success
        yield pipeline


def test_the_digest_example_is_what_the_digest_run_logs(demo):
    notifier = AlertNotifier(webhook_url=None, webserver_url=None)
    result = dg.materialize(
        [*config_sources, *budget_assets, *digest_assets],
        selection=["idle_seats", "idle_seat_digest"],  # what the docs' command selects
        partition_key=DIGEST_DAY,
        resources={**demo.resources(), "alert_notifier": notifier},
        instance=demo.instance,
    )
    assert result.success
    [logged] = [
        record.user_message.split(LOGGED_ONLY, 1)[1]
        for record in demo.instance.all_logs(result.run_id)
        if LOGGED_ONLY in record.user_message
    ]
    documented = block_after(OPERATIONS, f"{FIRST} … {DIGEST_DAY} and no webhook set")
    assert documented == logged, f"docs/operations.md should show:\n{logged}"


def test_the_spend_alert_example_is_what_the_sensor_sends(demo):
    sensor = build_spend_alert_sensor(
        max_age_days=3, today=lambda: ALERT_DAY + dt.timedelta(days=1)
    )
    with WebhookReceiver() as receiver:
        notifier = AlertNotifier(webhook_url=receiver.url, webserver_url=UI, backoff_seconds=0.01)
        context = dg.build_sensor_context(
            instance=demo.instance, resources={"alert_notifier": notifier}
        )
        sensor(context)
    [sent] = [text for text in receiver.texts if f"for {ALERT_DAY}" in text]
    documented = block_after(OPERATIONS, "What the spend alert and the run-failure message")
    assert documented.split("\n\n")[0] == sent, f"docs/operations.md should show:\n{sent}"


def test_the_daily_jobs_description_names_no_stale_count():
    description = budget_daily_job.description
    assert description.startswith("Every asset of group budget"), description
