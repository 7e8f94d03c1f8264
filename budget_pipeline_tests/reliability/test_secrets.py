"""The admin key and the webhook URL never leave the environment: not in the CLI's
output, the Dagster event log, run config, tags, snapshots, or any file the instance writes."""

import datetime as dt
import logging
import random
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.defs.operations.sensors import run_failure_notifier
from budget_pipeline.demo.server import ECHO_KEY_PREFIX, Fault, UsageApiServer
from budget_pipeline.ingest.client import (
    ERROR_PAGE_CHARS,
    AnalyticsClient,
    FinalApiError,
    RetryPolicy,
)
from budget_pipeline_tests.conftest import TEST_ORGANISATION
from budget_pipeline_tests.reliability.conftest import (
    cli_environment,
    dagster_home,
    run_materialize,
)
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

SECRET_KEY = "sk-ant-admin-SECRET-0123456789"
SECRET_HOOK = "http://127.0.0.1:9/hooks/SECRET-HOOK-abcdef"
API_MESSAGE = "may not read usage reports"


def instance_texts(home) -> list[str]:
    """Everything the instance recorded about every run, as text."""
    texts = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            texts += [repr(run.run_config), repr(run.tags), repr(run)]
            texts.append(dg.serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            texts.append(dg.serialize_value(plan))
            for entry in instance.all_logs(run.run_id):
                texts += [entry.message, entry.user_message, repr(entry.error_info)]
                texts.append(repr(entry.dagster_event))
    return texts


@contextmanager
def secret_api(config_dir, tmp_path, **settings) -> Iterator[tuple[Path, UsageApiServer, dict]]:
    """A Dagster home, the loopback API answering SECRET_KEY alone, and the CLI's environment
    with `settings` (the webhook SECRET_HOOK unless they name another)."""
    home = dagster_home(tmp_path)
    with UsageApiServer(TEST_ORGANISATION, api_key=SECRET_KEY) as server:
        yield (
            home,
            server,
            cli_environment(
                home,
                server,
                config_dir,
                tmp_path / "warehouse.duckdb",
                **({"BUDGET_PIPELINE_ALERT_WEBHOOK": SECRET_HOOK} | settings),
            ),
        )


def file_bytes(*folders) -> list[bytes]:
    """Every file written under the folders: sqlite storage, compute logs, the warehouse."""
    return [path.read_bytes() for folder in folders for path in folder.rglob("*") if path.is_file()]


# The Console source's admin key, and the Enterprise source's analytics key (its first
# endpoint, the members' activity, echoes it).
SOURCES = [
    pytest.param({"ANTHROPIC_ADMIN_API_KEY": SECRET_KEY}, "usage", id="claude_code"),
    pytest.param(
        {
            "ANTHROPIC_ADMIN_API_KEY": "",
            "ANTHROPIC_ANALYTICS_API_KEY": SECRET_KEY,
            "BUDGET_PIPELINE_SOURCE": "enterprise",
        },
        "users",
        id="enterprise",
    ),
]


@pytest.mark.parametrize(("key_settings", "endpoint"), SOURCES)
def test_key_and_webhook_url_appear_nowhere(config_dir, tmp_path, key_settings, endpoint):
    with secret_api(config_dir, tmp_path, **key_settings) as (home, server, environment):
        # an API that echoes the key back in its error message
        server.add_fault(
            Fault(
                status=403,
                message=f"key {SECRET_KEY} {API_MESSAGE}",
                day=dt.date(2026, 3, 3),
                endpoint=endpoint,
            )
        )
        failed = run_materialize("2026-03-02", "2026-03-04", environment, tmp_path)
        passed = run_materialize("2026-03-02", "2026-03-04", environment, tmp_path)

    assert failed.returncode != 0 and passed.returncode == 0, passed.stderr[-2000:]
    outputs = [failed.stdout, failed.stderr, passed.stdout, passed.stderr]
    recorded = instance_texts(home)
    stored = file_bytes(home, tmp_path)
    # the scan covers what matters: the API's error reached the output and the event log
    assert any(API_MESSAGE in text and "[redacted]" in text for text in outputs)
    assert any(API_MESSAGE in text and "[redacted]" in text for text in recorded)
    assert any(API_MESSAGE.encode() in data for data in stored)
    for secret in (SECRET_KEY, SECRET_HOOK, "SECRET-HOOK-abcdef"):
        assert not [text for text in outputs + recorded if secret in text], secret
        assert not [data for data in stored if secret.encode() in data], secret


def test_a_key_read_with_a_line_break_is_used_and_appears_nowhere(config_dir, tmp_path):
    with secret_api(
        config_dir,
        tmp_path,
        # as read from a Kubernetes secret or an env file with CRLF line ends
        ANTHROPIC_ADMIN_API_KEY=SECRET_KEY + "\r\n",
        BUDGET_PIPELINE_ALERT_WEBHOOK="http://LocalHost:9/hooks/SECRET-HOOK-abcdef Odd|é\n",
    ) as (home, _, environment):
        passed = run_materialize("2026-03-02", "2026-03-03", environment, tmp_path)

    assert passed.returncode == 0, passed.stderr[-2000:]
    outputs = [passed.stdout, passed.stderr]
    recorded = instance_texts(home)
    # the operator is told the key was cleaned, in the run's own log
    assert any("admin API key had whitespace" in text for text in recorded)
    for secret in ("SECRET-0123456789", "SECRET-HOOK-abcdef"):
        assert not [text for text in outputs + recorded if secret in text], secret
        assert not [data for data in file_bytes(home, tmp_path) if secret.encode() in data]


# -- a gateway's HTML page that echoes the request, cut to ERROR_PAGE_CHARS in the error ---------

# Shaped like a real admin key: the shared prefix, then ~90 random characters.
_RANDOM_PART = "".join(random.Random(23).choices(string.ascii_letters + string.digits + "-_", k=88))
ADMIN_KEY = f"sk-ant-admin01-{_RANDOM_PART}AA"
HOOK_TOKEN = "T0SECRET1/B0SECRET2/" + "".join(random.Random(5).choices(string.ascii_letters, k=24))
PAGE_HEAD = "<html><body><h1>403</h1>"
PIECE = 8  # any run of this many characters of a secret's own part counts as a leak


def leaked(texts, secret_part: str) -> list[str]:
    """The pieces of `secret_part` (PIECE characters or more) found in any of `texts`."""
    pieces = {secret_part[i : i + PIECE] for i in range(len(secret_part) - PIECE + 1)}
    return sorted(
        piece
        for text in texts
        for piece in pieces
        if (piece.encode() in text if isinstance(text, bytes) else piece in text)
    )


def echo_page(secret: str, offset: int, hook_url: str) -> str:
    """The `message` of an html_echo fault that puts `secret` (the key, which the page echoes,
    or the webhook URL, as a referer) `offset` characters into the page."""
    if secret == "key":
        return PAGE_HEAD + "x" * (offset - len(PAGE_HEAD) - len(ECHO_KEY_PREFIX))
    referer = "<p>Referer: "
    return PAGE_HEAD + "x" * (offset - len(PAGE_HEAD) - len(referer)) + f"{referer}{hook_url}</p>"


@pytest.mark.parametrize("secret", ["key", "webhook-url"])
def test_an_echo_page_cut_at_any_point_of_a_secret_keeps_no_piece_of_it(secret, caplog):
    caplog.set_level(logging.DEBUG)
    hook_url = f"https://hooks.slack.com/services/{HOOK_TOKEN}"
    length = len(ADMIN_KEY if secret == "key" else hook_url)
    # the secret starting at every offset from wholly before the cut to wholly after it
    offsets = range(ERROR_PAGE_CHARS - length - 2, ERROR_PAGE_CHARS + 2)
    texts = []
    with (
        UsageApiServer(TEST_ORGANISATION, api_key=ADMIN_KEY) as server,
        AnalyticsClient(
            server.base_url, ADMIN_KEY, also_redact=[hook_url], retry=RetryPolicy(max_attempts=1)
        ) as client,
    ):
        for offset in offsets:
            page = echo_page(secret, offset, hook_url)
            server.add_fault(Fault(kind="html_echo", status=403, message=page))
            with pytest.raises(FinalApiError) as refused:
                client.fetch_day(dt.date(2026, 3, 3))
            error = refused.value
            texts += [str(error), repr(error), error.api_message, repr(vars(error))]
            assert "2026-03-03 page 1: HTTP 403 error: <html><body><h1>403</h1>" in str(error)

    assert len(texts) == 4 * len(offsets)
    assert not leaked([*texts, caplog.text], _RANDOM_PART), secret
    assert not leaked([*texts, caplog.text], HOOK_TOKEN), secret


def test_an_echo_page_cut_inside_the_key_leaves_no_piece_of_it_anywhere(config_dir, tmp_path):
    """One real run end to end: the key crosses the cut, the webhook URL is on the page too."""
    home = dagster_home(tmp_path)
    with (
        UsageApiServer(TEST_ORGANISATION, api_key=ADMIN_KEY) as server,
        WebhookReceiver() as receiver,
    ):
        hook_token = receiver.url.split("/services/")[1]
        head = f"{PAGE_HEAD}<p>Referer: {receiver.url}</p>"
        key_at = ERROR_PAGE_CHARS - len(ADMIN_KEY) // 2  # half of the key before the cut
        page = head + "x" * (key_at - len(head) - len(ECHO_KEY_PREFIX))
        environment = cli_environment(
            home,
            server,
            config_dir,
            tmp_path / "warehouse.duckdb",
            ANTHROPIC_ADMIN_API_KEY=ADMIN_KEY,
            BUDGET_PIPELINE_ALERT_WEBHOOK=receiver.url,
        )
        server.add_fault(Fault(kind="html_echo", status=403, message=page, day=dt.date(2026, 3, 3)))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            notifier = AlertNotifier(webhook_url=receiver.url, backoff_seconds=0.01)
            with dg.build_sensor_context(
                instance=instance, resources={"alert_notifier": notifier}
            ) as context:
                run_failure_notifier.evaluate_tick(context)  # from now on
                failed = run_materialize("2026-03-02", "2026-03-04", environment, tmp_path)
                run_failure_notifier.evaluate_tick(context)
        posts = receiver.texts

    assert failed.returncode != 0
    outputs = [failed.stdout, failed.stderr]
    recorded = instance_texts(home)
    stored = file_bytes(home, tmp_path)
    # the scan covers what matters: the page reached the output, the event log and the post
    assert any("HTTP 403 error: <html><body><h1>403</h1><p>Referer: " in t for t in outputs)
    assert any("HTTP 403 error: <html><body><h1>403</h1><p>Referer: " in t for t in recorded)
    assert len(posts) == 1 and "HTTP 403 error: &lt;html&gt;" in posts[0], posts
    for texts in (outputs, recorded, stored, posts):
        assert not leaked(texts, _RANDOM_PART)
        assert not leaked(texts, hook_token)


def test_the_bill_s_errors_carry_no_key_whether_they_fail_the_run_or_close_the_bill(
    config_dir, tmp_path
):
    with secret_api(config_dir, tmp_path, ANTHROPIC_ADMIN_API_KEY=SECRET_KEY) as (
        home,
        server,
        environment,
    ):
        # The cost endpoint echoes the key: a 429 (retried, logged), then a 401 (the run fails).
        server.add_fault(Fault(status=429, message=f"slow down {SECRET_KEY}", endpoint="cost"))
        server.add_fault(
            Fault(status=401, message=f"key {SECRET_KEY} {API_MESSAGE}", endpoint="cost")
        )
        failed = run_materialize("2026-03-02", "2026-03-03", environment, tmp_path)
        # Then closed (403): the reason, key and all, goes to the metadata and the check.
        server.add_fault(
            Fault(status=403, message=f"key {SECRET_KEY} beta off", times=100, endpoint="cost")
        )
        closed = run_materialize("2026-03-02", "2026-03-03", environment, tmp_path)

    assert failed.returncode != 0 and closed.returncode == 0, closed.stderr[-2000:]
    outputs = [failed.stdout, failed.stderr, closed.stdout, closed.stderr]
    recorded = instance_texts(home)
    stored = file_bytes(home, tmp_path)
    assert any(API_MESSAGE in text and "[redacted]" in text for text in recorded)
    assert any("beta off" in text and "[redacted]" in text for text in recorded)
    for secret in (SECRET_KEY, SECRET_HOOK, "SECRET-HOOK-abcdef"):
        assert not [text for text in outputs + recorded if secret in text], secret
        assert not [data for data in stored if secret.encode() in data], secret
