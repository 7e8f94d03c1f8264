"""One redaction for the admin key and the webhook URL: every spelling httpx really prints, made
by making httpx raise against a loopback server, never reaches the text a user sees."""

import json
from urllib.parse import quote

import httpx
import pytest

from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.redaction import MIN_FRAGMENT, REDACTED, redact, secret_forms
from budget_pipeline_tests.webhook_receiver import WebhookReceiver

KEY = "sk-ant-admin-SECRET-0123456789"


def printed_forms(error: Exception) -> list[str]:
    """The exception as a log line, a repr, and a repr inside another message."""
    return [str(error), repr(error), repr(str(error)), repr(repr(error)), f"{error!r:}"]


@pytest.mark.parametrize(
    "configured",
    [KEY + "\n", KEY + "\r\n", KEY + "\r", " " + KEY + "\t", KEY[:12] + "\n" + KEY[12:]],
    ids=["line-feed", "crlf", "carriage-return", "spaces-and-tab", "line-feed-inside"],
)
def test_a_key_httpx_refuses_is_redacted_in_every_form_of_the_error(configured):
    with (
        UsageApiServer(api_key=KEY) as server,
        httpx.Client() as client,
        pytest.raises(httpx.LocalProtocolError) as caught,
    ):
        client.get(server.base_url, headers={"x-api-key": configured})

    texts = printed_forms(caught.value)
    assert any("\\n" in text or "\\r" in text or "\\t" in text for text in texts)
    for text in texts:
        redacted = redact(text, [configured])
        assert REDACTED in redacted
        assert "SECRET-0123" not in redacted and "sk-ant" not in redacted, redacted


def test_a_webhook_url_is_redacted_as_httpx_normalises_it_in_an_error():
    with WebhookReceiver() as receiver, httpx.Client() as client:
        receiver.statuses = [404]
        url = receiver.url_for("/services/T0/B0/Odd-s3cr3t Hook|é~", host="LocalHost")
        response = client.post(url, json={"text": "x"})
        with pytest.raises(httpx.HTTPStatusError) as caught:
            response.raise_for_status()

    assert "http://localhost:" in str(caught.value) and "%20Hook" in str(caught.value)
    for text in printed_forms(caught.value):
        redacted = redact(text, [url], "<webhook redacted>")
        assert "<webhook redacted>" in redacted
        assert "s3cr3t" not in redacted, redacted


def test_a_secret_carried_inside_another_url_is_redacted_percent_encoded():
    secret_url = "http://hooks.example/services/T0/B0/Odd-s3cr3t Hook/é"
    with WebhookReceiver() as receiver, httpx.Client() as client:
        receiver.statuses = [500]
        response = client.post(receiver.url, params={"next": secret_url}, json={})
        with pytest.raises(httpx.HTTPStatusError) as caught:
            response.raise_for_status()

    assert "%2FOdd-s3cr3t+Hook%2F%C3%A9" in str(caught.value)  # form-encoded in the query
    for text in printed_forms(caught.value):
        assert "Odd-s3cr3t" not in redact(text, [secret_url]), text


def test_secret_forms_cover_the_configured_stripped_escaped_and_encoded_spellings():
    forms = secret_forms("http://Hooks.Example/a b/Odd-s3cr3t-token\n")
    assert {
        "http://Hooks.Example/a b/Odd-s3cr3t-token\n",  # as configured
        "http://Hooks.Example/a b/Odd-s3cr3t-token",  # stripped
        "http://Hooks.Example/a b/Odd-s3cr3t-token\\n",  # escaped
        "http://hooks.example/a%20b/Odd-s3cr3t-token",  # as httpx prints it
        "http%3A%2F%2FHooks.Example%2Fa%20b%2FOdd-s3cr3t-token",  # percent-encoded
        "http%3a%2f%2fHooks.Example%2fa%20b%2fOdd-s3cr3t-token",  # lower-case escapes
        "/a%20b/Odd-s3cr3t-token",  # the path, the part that is the secret
    } <= forms
    assert secret_forms("") == set()
    assert redact("nothing secret here", [KEY]) == "nothing secret here"


ADMIN_KEY = "sk-ant-admin01-Qm7xZ2pL9vT4rW8kN3bH6dF1sJ5gY0cA-_uE2iO7aR4tK9mX3nB8vC1zL6qP5wS0yD"


@pytest.mark.parametrize("piece", [ADMIN_KEY[:40], ADMIN_KEY[-30:], ADMIN_KEY[25:37]])
@pytest.mark.parametrize(
    "spelling",
    [str, repr, json.dumps, lambda text: quote(text, safe=""), lambda text: repr(text.encode())],
    ids=["plain", "repr", "json", "percent-encoded", "bytes"],
)
def test_a_long_piece_of_the_key_is_redacted_in_every_spelling(piece, spelling):
    text = f"error page: {spelling(piece)} (cut)"
    redacted = redact(text, [ADMIN_KEY])
    assert redacted.startswith("error page: ") and redacted.endswith(" (cut)")
    assert REDACTED in redacted
    secret_part = ADMIN_KEY[len("sk-ant-admin01-") :]
    assert not any(secret_part[i : i + 6] in redacted for i in range(len(secret_part) - 5))


def test_a_long_piece_of_a_webhook_path_is_redacted_but_its_host_is_kept():
    url = "http://Hooks.Example/services/T0/B0/Odd-s3cr3t Hook|é~token"
    path = "/services/T0/B0/Odd-s3cr3t Hook|é~token"
    for text in (path[8:30], quote(path)[10:40], json.dumps(path)[12:-1]):
        redacted = redact(f"seen at hooks.example: {text}", [url])
        assert redacted == f"seen at hooks.example: {REDACTED}", text
    # a piece shorter than MIN_FRAGMENT is too short to give a secret away, and is kept
    assert redact("3cr3t Hook", [url]) == "3cr3t Hook" and len("3cr3t Hook") < MIN_FRAGMENT
