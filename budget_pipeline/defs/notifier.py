import logging

import dagster as dg
from pydantic import Field

from budget_pipeline import settings
from budget_pipeline.notify import webhook
from budget_pipeline.redaction import redact

WEBHOOK_ENV = settings.WEBHOOK_ENV

_fallback_log = logging.getLogger("budget_pipeline.notifications")


class AlertNotifier(dg.ConfigurableResource):
    """Where spend alerts and run failures go : a Slack-compatible incoming webhook, or,
    without one, the sensor's log."""

    webhook_url: str | None = Field(
        default=None, description=f"incoming webhook; set it through EnvVar {WEBHOOK_ENV}"
    )
    webserver_url: str | None = Field(
        default=None, description="base URL of the Dagster UI, for links in notifications"
    )
    max_attempts: int = Field(default=3, description="posts per message before giving up")
    backoff_seconds: float = Field(default=0.5, description="first pause between attempts")
    timeout_seconds: float = Field(default=10.0, description="timeout of one post")

    def link(self, path: str) -> str | None:
        if not self.webserver_url:
            return None
        return f"{self.webserver_url.rstrip('/')}/{path.lstrip('/')}"

    def notify(
        self, text: str, log: logging.Logger | None = None, within_seconds: float | None = None
    ) -> bool:
        """Deliver `text`, giving up after `within_seconds` if given; True when it reached the
        webhook or, without one, the log."""
        log = log or _fallback_log
        # The message may quote an error that quoted the URL: it is never posted or logged.
        text = redact(text, [self.webhook_url or ""], webhook.REDACTED)
        if not self.webhook_url:
            log.info(f"notification (no {WEBHOOK_ENV} set, logged only):\n{text}")
            return True
        delivery = webhook.post_text(
            self.webhook_url,
            text,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            timeout_seconds=self.timeout_seconds,
            within_seconds=within_seconds,
        )
        if delivery.delivered:
            log.info(f"notification delivered to the webhook ({delivery.detail})")
        else:
            log.error(
                f"notification NOT delivered after {delivery.attempts} attempt(s) "
                f"({delivery.detail}); message was:\n{text}"
            )
        return delivery.delivered


def notifier_from_environment() -> AlertNotifier:
    # The EnvVar keeps the URL out of the UI's resource config; an unset EnvVar would fail every
    # sensor tick, so it is only used when the variable is set.
    return AlertNotifier(
        webhook_url=dg.EnvVar(WEBHOOK_ENV) if settings.webhook_is_set() else None,
        webserver_url=settings.webserver_url(),
    )
