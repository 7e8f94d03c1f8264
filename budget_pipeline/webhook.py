"""Posting a message to a Slack-compatible incoming webhook (SPEC §7).

A webhook URL is a credential (whoever has it can post to the channel), so it never appears in a
return value, an exception message or a log line, including httpx's own request log.
"""

import logging
import threading
import time
from dataclasses import dataclass

import httpx

from budget_pipeline.text_safety import slack_escape

REDACTED = "<webhook redacted>"

_secret_urls: set[str] = set()
_secret_lock = threading.Lock()


class _RedactWebhookUrls(logging.Filter):
    """httpx logs every request's URL at INFO; a daemon logging at INFO would print the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _secret_lock:
            secrets = list(_secret_urls)
        if not secrets:
            return True
        message = record.getMessage()
        if any(secret in message for secret in secrets):
            record.msg, record.args = redact(message, secrets), ()
        return True


_redacting_filter = _RedactWebhookUrls()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_redacting_filter)


def redact(text: str, secrets: list[str] | set[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    detail: str  # why it failed, or "HTTP 200"; never contains the URL


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def post_text(
    url: str,
    text: str,
    *,
    max_attempts: int = 3,
    backoff_seconds: float = 0.5,
    timeout_seconds: float = 10.0,
) -> Delivery:
    """POST `{"text": text}`; retry 429/5xx and connection errors with a doubling backoff.

    `text` is plain text and arrives as written: it is escaped here, once for every message,
    because the messages carry names nobody here controls (an API key named `<!channel>` must
    not ping the channel) and no Slack markup of their own (links are bare URLs).

    Never raises: a failed delivery is a result for the caller to log, not a reason to crash a
    sensor that may have other days to report.
    """
    with _secret_lock:
        _secret_urls.add(url)
    detail = "not attempted"
    attempt = 0
    try:
        with httpx.Client(timeout=timeout_seconds) as client:
            for attempt in range(1, max_attempts + 1):
                try:
                    response = client.post(url, json={"text": slack_escape(text)})
                except httpx.HTTPError as error:
                    detail = f"{type(error).__name__}: {redact(str(error), [url]) or 'no detail'}"
                else:
                    detail = f"HTTP {response.status_code}"
                    if response.is_success:
                        return Delivery(True, attempt, detail)
                    if not _is_transient(response.status_code):
                        return Delivery(False, attempt, detail)
                if attempt < max_attempts:
                    time.sleep(backoff_seconds * 2 ** (attempt - 1))
    except Exception as error:  # an invalid URL must not crash the sensor either
        detail = f"{type(error).__name__}: {redact(str(error), [url])}"
    return Delivery(False, attempt, detail)
