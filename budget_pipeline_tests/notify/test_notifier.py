"""The notifier against a real webhook server on 127.0.0.1."""

import logging
import socket

from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify import webhook
from budget_pipeline_tests.webhook_receiver import SECRET_PATH


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


def test_one_post_per_message(receiver):
    notifier = AlertNotifier(webhook_url=receiver.url)
    assert notifier.notify("first") and notifier.notify("second")
    assert receiver.texts == ["first", "second"]
    assert receiver.attempts == [SECRET_PATH, SECRET_PATH]


def test_retries_a_500_then_delivers_once(receiver, caplog):
    receiver.statuses = [500, 503]
    notifier = AlertNotifier(webhook_url=receiver.url, backoff_seconds=0.01)
    with caplog.at_level(logging.DEBUG):
        assert notifier.notify("spend alert")
    assert receiver.texts == ["spend alert"]
    assert len(receiver.attempts) == 3
    assert SECRET_PATH not in caplog.text and "s3cr3t" not in caplog.text


def test_gives_up_after_max_attempts_without_raising_or_leaking_the_url(receiver, caplog):
    receiver.statuses = [500] * 5
    notifier = AlertNotifier(webhook_url=receiver.url, max_attempts=3, backoff_seconds=0.01)
    with caplog.at_level(logging.DEBUG):
        assert notifier.notify("lost") is False
    assert len(receiver.attempts) == 3 and receiver.texts == []
    assert "NOT delivered after 3 attempt(s) (HTTP 500)" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_client_error_is_final(receiver):
    receiver.statuses = [404]
    notifier = AlertNotifier(webhook_url=receiver.url, backoff_seconds=0.01)
    assert notifier.notify("x") is False
    assert len(receiver.attempts) == 1


def test_connection_refused_is_retried_then_logged_without_the_url(caplog):
    url = closed_port_url()
    notifier = AlertNotifier(webhook_url=url, max_attempts=2, backoff_seconds=0.01)
    with caplog.at_level(logging.DEBUG):
        assert notifier.notify("nobody listens") is False
    assert "NOT delivered after 2 attempt(s) (ConnectError" in caplog.text
    assert "s3cr3t" not in caplog.text and url not in caplog.text


def test_unset_webhook_only_logs(receiver, caplog):
    with caplog.at_level(logging.INFO):
        assert AlertNotifier().notify("just a log line")
    assert "logged only" in caplog.text and "just a log line" in caplog.text
    assert receiver.attempts == []


def test_links_only_with_a_webserver_url():
    assert AlertNotifier().link("runs/abc") is None
    notifier = AlertNotifier(webserver_url="http://dagster.internal:3000/")
    assert notifier.link("runs/abc") == "http://dagster.internal:3000/runs/abc"


# A URL as pasted into a secret: upper-case host, a space and characters httpx percent-encodes.
ODD_PATH = "/services/T0ODD/B0ODD/Odd-s3cr3t Hook|é~"


def assert_no_spelling_of_the_secret(texts: list[str]) -> None:
    # "Odd-s3cr3t" is in every spelling of the path: raw, %20-encoded, escaped.
    leaked = [text for text in texts if "Odd-s3cr3t" in text or "odd-s3cr3t" in text.lower()]
    assert not leaked


def test_httpx_own_log_shows_no_spelling_of_an_odd_webhook_url(receiver, caplog):
    url = receiver.url_for(ODD_PATH, host="LocalHost")
    with caplog.at_level(logging.DEBUG):
        assert AlertNotifier(webhook_url=url).notify("spend alert")

    assert receiver.texts == ["spend alert"]
    # httpx logged the request at INFO, with the URL as it normalised it
    requests = [r for r in caplog.records if r.name == "httpx" and r.levelno == logging.INFO]
    assert requests and "HTTP Request: POST" in requests[0].getMessage()
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert_no_spelling_of_the_secret([r.getMessage() for r in caplog.records] + [caplog.text])


def test_a_failing_post_to_an_odd_url_shows_no_spelling_of_it(caplog):
    url = closed_port_url().replace("127.0.0.1", "LocalHost").replace(SECRET_PATH, ODD_PATH)
    with caplog.at_level(logging.DEBUG):
        delivery = webhook.post_text(url, "nobody listens", max_attempts=2, backoff_seconds=0.01)
        assert AlertNotifier(webhook_url=url, max_attempts=1).notify("nobody listens") is False

    assert not delivery.delivered and delivery.detail.startswith("ConnectError")
    assert "connect_tcp.failed" in caplog.text  # httpcore logged the exception at DEBUG
    assert_no_spelling_of_the_secret(
        [delivery.detail] + [r.getMessage() for r in caplog.records] + [caplog.text]
    )


def test_a_webhook_url_ending_with_a_line_break_still_delivers(receiver, caplog):
    url = receiver.url + "\n"  # read from a secret file
    with caplog.at_level(logging.DEBUG):
        assert AlertNotifier(webhook_url=url).notify("spend alert")
    assert receiver.texts == ["spend alert"]
    assert "s3cr3t" not in caplog.text
