"""Posting a message to a Slack-compatible incoming webhook (docs/operations.md).

A webhook URL is a credential (whoever has it can post to the channel), so it never appears in a
return value, an exception message or a log line, including httpx's own request log.
"""

import time
from dataclasses import dataclass

import httpx

from budget_pipeline.redaction import protect_in_http_logs, redact
from budget_pipeline.text_safety import slack_escape

REDACTED = "<webhook redacted>"


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    detail: str  # why it failed, or "HTTP 200"; never contains the URL


def _described(error: Exception, url: str) -> str:
    return f"{type(error).__name__}: {redact(str(error), [url], REDACTED) or 'no detail'}"


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def post_text(
    url: str,
    text: str,
    *,
    max_attempts: int = 3,
    backoff_seconds: float = 0.5,
    timeout_seconds: float = 10.0,
    within_seconds: float | None = None,
) -> Delivery:
    """POST `{"text": text}`; retry 429/5xx and connection errors with a doubling backoff.

    `text` is plain text and arrives as written: it is escaped here, once for every message,
    because the messages carry names nobody here controls (an API key named `<!channel>` must
    not ping the channel) and no Slack markup of their own (links are bare URLs).

    `within_seconds` bounds the whole delivery, retries and pauses included: a sensor tick has
    a time limit, and three slow attempts must not spend it. Never raises: a failed delivery is
    a result for the caller to log, not a reason to crash a sensor that may have other days to
    report.
    """
    protect_in_http_logs(url, REDACTED)
    # A URL read from a secret file often ends with a line break, which httpx refuses.
    configured, url = url, url.strip()
    detail = "not attempted"
    attempt = 0
    deadline = None if within_seconds is None else time.monotonic() + within_seconds
    try:
        with httpx.Client(timeout=timeout_seconds) as client:
            for attempt in range(1, max_attempts + 1):
                timeout = timeout_seconds
                if deadline is not None:
                    timeout = min(timeout_seconds, deadline - time.monotonic())
                    if timeout <= 0:
                        detail = f"{detail}; out of time for attempt {attempt}"
                        return Delivery(False, attempt - 1, detail)
                try:
                    response = client.post(url, json={"text": slack_escape(text)}, timeout=timeout)
                except httpx.HTTPError as error:
                    detail = _described(error, configured)
                else:
                    detail = f"HTTP {response.status_code}"
                    if response.is_success:
                        return Delivery(True, attempt, detail)
                    if not _is_transient(response.status_code):
                        return Delivery(False, attempt, detail)
                if attempt < max_attempts:
                    pause = backoff_seconds * 2 ** (attempt - 1)
                    if deadline is not None and time.monotonic() + pause >= deadline:
                        return Delivery(False, attempt, f"{detail}; out of time for a retry")
                    time.sleep(pause)
    except Exception as error:  # an invalid URL must not crash the sensor either
        detail = _described(error, configured)
    return Delivery(False, attempt, detail)
