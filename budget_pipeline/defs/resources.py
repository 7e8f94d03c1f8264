import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from budget_pipeline import settings
from budget_pipeline.defs.notifier import notifier_from_environment
from budget_pipeline.ingest.client import (
    DEFAULT_MAX_PAGES_PER_DAY,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_MAX_SECONDS_PER_DAY,
    DEFAULT_REQUEST_DEADLINE,
    AnalyticsClient,
    RetryPolicy,
)
from budget_pipeline.rules import config_files
from budget_pipeline.rules.attribution import MAX_UNASSIGNED_SHARE
from budget_pipeline.rules.bill import BILL_TOLERANCE
from budget_pipeline.rules.idle_seats import IdleSeatRules
from budget_pipeline.rules.spend import AlertThresholds
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.io_manager import WarehouseIOManager
from budget_pipeline.warehouse.tables import SCHEMA

DEMO_API_KEY = "sk-ant-admin-demo"
DEMO_ANALYTICS_KEY = "sk-ant-analytics-demo"


class AnalyticsApiResource(dg.ConfigurableResource):
    """The Claude Code Analytics Admin API (docs/rules.md), the Claude Enterprise Analytics API,
    or the built-in demo organisation served through either path by a loopback server."""

    source: str = Field(
        default="demo",
        description="claude_code (or api): a Console organisation; enterprise: a Claude "
        "Enterprise organisation; demo / demo-enterprise: the built-in organisation",
    )
    base_url: str = Field(
        default=settings.DEFAULT_BASE_URL, description="API base URL (proxies, tests)"
    )
    api_key: str | None = Field(default=None, description="Admin key; set it through an EnvVar")
    analytics_api_key: str | None = Field(
        default=None, description="Analytics key (enterprise); set it through an EnvVar"
    )
    enterprise_lag_days: int = Field(
        default=settings.DEFAULT_ENTERPRISE_LAG_DAYS,
        description="enterprise: days after its end before the API serves a day",
    )
    max_concurrent_days: int = Field(
        default=16, description="days fetched at once (benchmarks/fetch_and_stage.py)"
    )
    page_limit: int = Field(default=1000, description="records per page (the API's maximum)")
    timeout_seconds: float = Field(default=30.0, description="connect/read timeout of one request")
    request_deadline_seconds: float = Field(
        default=DEFAULT_REQUEST_DEADLINE,
        description="longest one request may take, body included, before it is retried",
    )
    max_pages_per_day: int = Field(
        default=DEFAULT_MAX_PAGES_PER_DAY,
        description="most pages one day may have; more is a cursor that never ends: the run fails",
    )
    max_seconds_per_day: float = Field(
        default=DEFAULT_MAX_SECONDS_PER_DAY,
        description="longest one day's pages may take (checked before each page); then it fails",
    )
    max_attempts: int = Field(default=6, description="attempts per page before the run fails")
    base_delay_seconds: float = Field(default=0.5, description="first backoff delay")
    max_delay_seconds: float = Field(default=30.0, description="backoff cap")
    max_retry_after_seconds: float = Field(
        default=DEFAULT_MAX_RETRY_AFTER,
        description="longest retry-after waited out; a longer one fails the run",
    )

    @property
    def is_enterprise(self) -> bool:
        return settings.is_enterprise(self.source)

    @contextmanager
    def client(self, logger=None) -> Iterator[AnalyticsClient]:
        with ExitStack() as stack:
            if self.source in (settings.DEMO, settings.DEMO_ENTERPRISE):
                # Imported lazily: production runs never load the synthetic organisation.
                from budget_pipeline.demo.organisation import DEMO_ORGANISATION
                from budget_pipeline.demo.server import UsageApiServer

                key = DEMO_ANALYTICS_KEY if self.is_enterprise else DEMO_API_KEY
                server = stack.enter_context(
                    UsageApiServer(
                        DEMO_ORGANISATION,
                        api_key=key,
                        enterprise_lag_days=self.enterprise_lag_days,
                        seat_plan=self.is_enterprise,
                    )
                )
                base_url, api_key = server.base_url, key
            elif self.source in (settings.CLAUDE_CODE, "api"):
                if not self.api_key:
                    raise dg.Failure(
                        f"BUDGET_PIPELINE_SOURCE is {self.source!r} but "
                        f"{settings.API_KEY_ENV} is not set"
                    )
                base_url, api_key = self.base_url, self.api_key
            elif self.source == settings.ENTERPRISE:
                if not self.analytics_api_key:
                    raise dg.Failure(
                        f"BUDGET_PIPELINE_SOURCE is 'enterprise' but "
                        f"{settings.ANALYTICS_KEY_ENV} is not set"
                    )
                base_url, api_key = self.base_url, self.analytics_api_key
            else:
                raise dg.Failure(
                    f"unknown source {self.source!r}: expected one of {', '.join(settings.SOURCES)}"
                )
            client = stack.enter_context(
                AnalyticsClient(
                    base_url,
                    api_key,
                    timeout=self.timeout_seconds,
                    request_deadline=self.request_deadline_seconds,
                    max_concurrent_days=self.max_concurrent_days,
                    page_limit=self.page_limit,
                    max_pages_per_day=self.max_pages_per_day,
                    max_seconds_per_day=self.max_seconds_per_day,
                    retry=RetryPolicy(
                        max_attempts=self.max_attempts,
                        base_delay=self.base_delay_seconds,
                        max_delay=self.max_delay_seconds,
                        max_retry_after=self.max_retry_after_seconds,
                    ),
                    logger=logger,
                    # Should a gateway ever echo it, the webhook URL is kept out of the errors too.
                    # and so is the other source's key, should both be set.
                    also_redact=[
                        os.environ.get(name, "")
                        for name in (
                            settings.WEBHOOK_ENV,
                            settings.API_KEY_ENV,
                            settings.ANALYTICS_KEY_ENV,
                        )
                    ],
                )
            )
            yield client


class ConfigFilesResource(dg.ConfigurableResource):
    """The configuration files: ledger, prices, seats and the optional budgets (docs/rules.md)."""

    directory: str = Field(default="config", description="folder holding the CSV files")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # In a run, before its first step: the files' versions go into every materialisation's
        # provenance (budget_pipeline/defs/config_files/observations.py). Sensors and schedules
        # build this resource outside a run: they record nothing.
        if context.instance is None or context.run_id is None:
            return
        # Imported here: the observable source assets are built on top of this resource.
        from budget_pipeline.defs.config_files.observations import record_config_file_versions

        record_config_file_versions(context.instance, self, context.run_id)

    def path(self, name: str) -> Path:
        return Path(self.directory) / name

    def ledger(self) -> pd.DataFrame:
        return config_files.load_ledger(self.path(config_files.LEDGER_FILE))

    def prices(self) -> pd.DataFrame:
        return config_files.load_prices(self.path(config_files.PRICES_FILE))

    def seats(self) -> pd.DataFrame:
        return config_files.load_seats(self.path(config_files.SEATS_FILE))

    def judge_all(self) -> None:
        """Read every file: the first problem raises ConfigFileError naming file and line."""
        config_files.judge_config_files(Path(self.directory))

    def budgets(self, ledger: pd.DataFrame) -> pd.DataFrame:
        """The monthly budgets; none when the optional budgets.csv is absent."""
        return config_files.load_budgets_if_present(
            self.path(config_files.BUDGETS_FILE), ledger["workstream"]
        )


class WarehouseResource(dg.ConfigurableResource):
    """Direct SQL access to the DuckDB warehouse, for reads that reach beyond a run's own
    partitions (history for baselines, last_active)."""

    path: str = Field(default=settings.DEFAULT_DUCKDB_PATH, description="DuckDB file")

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.path) as connection:
            yield connection


class ReportsResource(dg.ConfigurableResource):
    """Where the monthly budget reports are written, one folder per month."""

    directory: str = Field(
        default=settings.DEFAULT_REPORTS_DIR, description="folder of the monthly reports"
    )


class ThresholdsResource(dg.ConfigurableResource):
    """Every threshold of the rules (docs/rules.md), in one place: the daily assets, the weekly
    digest and the monthly report all read this resource, so they cannot disagree.

    Change it for one run in the run config, e.g.
    `{"resources": {"thresholds": {"config": {"alert_floor_usd": 100}}}}`: fields left out keep
    their defaults. The lineage drawn in the UI keeps the default windows (docs/rules.md).
    """

    alert_floor_usd: float = Field(
        default=AlertThresholds.floor_usd,
        description="spend alert: stay quiet below this day total",
    )
    same_weekday_ratio: float = Field(
        default=AlertThresholds.same_weekday_ratio,
        description="spend alert: today / the same weekday last week",
    )
    ma7_ratio: float = Field(
        default=AlertThresholds.ma7_ratio,
        description="spend alert: today / the mean of the 7 previous days",
    )
    max_unassigned_share: float = Field(
        default=MAX_UNASSIGNED_SHARE,
        description="Unassigned above this share of a day's spend: the ledger needs a refresh",
    )
    idle_window_days: int = Field(
        default=IdleSeatRules.window_days, description="idle seats: trailing window, as-of included"
    )
    idle_min_lines: int = Field(
        default=IdleSeatRules.min_lines, description="idle seats: fewer lines added: barely active"
    )
    bill_tolerance: float = Field(
        default=BILL_TOLERANCE,
        description="the bill: estimate and billed list amount agree within this share",
    )

    def alert_thresholds(self) -> AlertThresholds:
        return AlertThresholds(
            floor_usd=self.alert_floor_usd,
            same_weekday_ratio=self.same_weekday_ratio,
            ma7_ratio=self.ma7_ratio,
        )

    def idle_seat_rules(self) -> IdleSeatRules:
        return IdleSeatRules(window_days=self.idle_window_days, min_lines=self.idle_min_lines)


def build_resources() -> dict[str, object]:
    source = settings.source()
    duckdb_path = settings.duckdb_path()
    return {
        "analytics_api": AnalyticsApiResource(
            source=source,
            base_url=settings.base_url(),
            # An EnvVar is resolved at run time: the key never enters run config or the UI.
            api_key=dg.EnvVar(settings.API_KEY_ENV) if source == settings.CLAUDE_CODE else None,
            analytics_api_key=(
                dg.EnvVar(settings.ANALYTICS_KEY_ENV) if source == settings.ENTERPRISE else None
            ),
            enterprise_lag_days=settings.enterprise_lag_days(),
        ),
        "config_files": ConfigFilesResource(directory=str(settings.config_dir())),
        "warehouse": WarehouseResource(path=duckdb_path),
        "reports": ReportsResource(directory=settings.reports_dir()),
        "io_manager": WarehouseIOManager(database=duckdb_path, schema=SCHEMA),
        "thresholds": ThresholdsResource(),
        "alert_notifier": notifier_from_environment(),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
