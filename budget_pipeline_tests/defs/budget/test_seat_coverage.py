"""The Console source warns when most seats never appear: real runs against the loopback API.

On 2026-03-02 the test organisation's API reports 39 of its 43 seats.
"""

import dagster as dg
import pytest

from budget_pipeline.dagster_internals import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.budget.seat_coverage import (
    SEATS_REPORTED,
    idle_seats_most_seats_reported,
)
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.resources import AnalyticsApiResource

DAY = "2026-03-02"


def materialize(pipeline, selection, analytics_api=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*config_sources, *budget_assets, idle_seats_most_seats_reported],
        selection=selection,
        resources={**pipeline.resources(), "analytics_api": analytics_api or pipeline.api},
        instance=pipeline.instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: DAY, ASSET_PARTITION_RANGE_END_TAG: DAY},
    )


def seats_reported(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == SEATS_REPORTED
    ]
    return evaluation


def add_seats_the_api_never_reports(pipeline, count: int) -> None:
    seats = pipeline.config_dir / "seats.csv"
    fake = "".join(f"team{n:03d}@example.com,30,\n" for n in range(count))
    seats.write_text(seats.read_text() + fake)


@pytest.fixture
def console_run_with_subscription_seats(pipeline):
    # 45 seats signed in through claude.ai: 49 of 88 never reported, more than half.
    add_seats_the_api_never_reports(pipeline, 45)
    result = materialize(pipeline, "group:budget")
    assert result.success
    return result


def test_the_console_source_warns_when_most_seats_never_appear_and_points_to_enterprise(
    console_run_with_subscription_seats,
):
    evaluation = seats_reported(console_run_with_subscription_seats)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description.startswith(
        "49 of 88 seats in seats.csv never appear in any record since 2026-01-01."
    )
    assert "does not report people who sign in with a claude.ai subscription" in (
        evaluation.description
    )
    assert "BUDGET_PIPELINE_SOURCE=enterprise with ANTHROPIC_ANALYTICS_API_KEY" in (
        evaluation.description
    )
    assert evaluation.metadata["seats_never_reported"].value == 49
    assert "team000@example.com" in evaluation.metadata["never_reported"].value


def test_the_console_source_passes_when_most_seats_appear(pipeline):
    # Four seats without usage (4 of 43): a question for the digest, not a wrong source.
    add_seats_the_api_never_reports(pipeline, 0)
    result = materialize(pipeline, "group:budget")
    evaluation = seats_reported(result)
    assert evaluation.passed
    assert evaluation.description is None
    assert evaluation.metadata["seats_never_reported"].value == 4


def test_the_enterprise_source_is_not_checked_and_says_why(
    pipeline, console_run_with_subscription_seats
):
    enterprise = AnalyticsApiResource(source="enterprise", base_url=pipeline.server.base_url)
    result = materialize(
        pipeline, dg.AssetSelection.checks(idle_seats_most_seats_reported), enterprise
    )
    evaluation = seats_reported(result)
    assert evaluation.passed
    assert evaluation.description == (
        "not checked: the enterprise source reports every member of the organisation, "
        "whatever their sign-in"
    )
