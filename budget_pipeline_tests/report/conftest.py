"""One real backfill shared by the report tests: 2026-02-15 … 2026-03-31 through the loopback API
server into a DuckDB file, then the March report materialised by Dagster into a temporary folder.

February is half loaded on purpose: March then has its alert baselines and idle-seat windows,
and the page has to say that February's total is not comparable (and has no forecast: its first
half is missing). The budget forecast of every backfilled day is filled in before the report."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.report.assets import budget_report
from budget_pipeline.defs.resources import ReportsResource
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline.report.files import ReportFiles
from budget_pipeline.report.month import Month
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION, Pipeline

BACKFILL = ("2026-02-15", "2026-03-31")
MONTH = "2026-03"


def materialize_report(
    pipeline: Pipeline, month: str, reports_dir: Path, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*config_sources, *budget_assets, budget_report],
        selection="budget_report",
        partition_key=month,
        resources={**pipeline.resources(), "reports": ReportsResource(directory=str(reports_dir))},
        instance=pipeline.instance,
        raise_on_error=raise_on_error,
    )


@dataclass
class MarchReport:
    pipeline: Pipeline
    backfill: dg.ExecuteInProcessResult
    result: dg.ExecuteInProcessResult
    files: ReportFiles
    reports_dir: Path

    @property
    def html(self) -> str:
        return self.files.html.read_text(encoding="utf-8")


@pytest.fixture(scope="package")
def march_report(tmp_path_factory) -> MarchReport:
    root = tmp_path_factory.mktemp("march")
    config_dir = root / "config"
    TEST_ORGANISATION.write_config(config_dir)
    with (
        UsageApiServer(TEST_ORGANISATION, api_key=TEST_API_KEY) as server,
        dg.instance_for_test() as instance,
    ):
        pipeline = Pipeline(server, config_dir, root / "data" / "warehouse.duckdb", instance)
        backfill = pipeline.materialize(*BACKFILL)
        reports_dir = root / "reports"
        result = materialize_report(pipeline, MONTH, reports_dir)
        yield MarchReport(
            pipeline=pipeline,
            backfill=backfill,
            result=result,
            files=ReportFiles.for_month(reports_dir, Month.from_key(MONTH)),
            reports_dir=reports_dir,
        )
