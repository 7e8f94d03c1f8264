"""The daily schedule: one run over yesterday and the two days before it (docs/operations.md)."""

import datetime as dt

import dagster as dg

from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.budget.jobs import bill_refresh_job, budget_daily_job
from budget_pipeline.defs.budget.schedules import (
    bill_weekly_schedule,
    budget_daily_schedule,
    daily_range,
)
from budget_pipeline.defs.config_files.assets import config_sources

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def at_six(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T06:00:00+00:00")


def test_a_tick_targets_yesterday_and_the_two_days_before_in_one_run_request():
    context = dg.build_schedule_context(scheduled_execution_time=at_six("2026-04-09"))
    data = budget_daily_schedule.evaluate_tick(context)
    [request] = data.run_requests
    assert request.tags[RANGE_START] == "2026-04-06" and request.tags[RANGE_END] == "2026-04-08"
    assert request.run_key == "2026-04-06...2026-04-08"
    assert budget_daily_schedule.cron_schedule == "0 6 * * *"
    assert budget_daily_schedule.execution_timezone == "UTC"
    assert budget_daily_schedule.job_name == budget_daily_job.name


def test_on_the_enterprise_source_a_tick_targets_the_day_its_lag_allows(monkeypatch):
    monkeypatch.setenv("BUDGET_PIPELINE_SOURCE", "demo-enterprise")
    context = dg.build_schedule_context(scheduled_execution_time=at_six("2026-04-09"))
    [request] = budget_daily_schedule.evaluate_tick(context).run_requests
    # three days back (the default lag), and the two before it
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-04-04", "2026-04-06")
    monkeypatch.setenv("BUDGET_PIPELINE_ENTERPRISE_LAG_DAYS", "2")
    [request] = budget_daily_schedule.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-04-05", "2026-04-07")


def test_the_range_never_starts_before_the_first_partition():
    assert daily_range(at_six("2026-01-02")) == ("2026-01-01", "2026-01-01")
    assert daily_range(at_six("2026-01-03")) == ("2026-01-01", "2026-01-02")


def test_the_scheduled_run_materialises_three_days_in_one_run(pipeline):
    defs = dg.Definitions(
        assets=[*config_sources, *budget_assets],
        jobs=[budget_daily_job],
        resources=pipeline.resources(),
        executor=dg.in_process_executor,
    )
    job = defs.resolve_job_def(budget_daily_job.name)
    # Given an instance, the context opens its own from the instance's ref: `with` closes it.
    with dg.build_schedule_context(
        scheduled_execution_time=at_six("2026-04-09"), instance=pipeline.instance
    ) as context:
        [request] = budget_daily_schedule.evaluate_tick(context).run_requests
    result = job.execute_in_process(instance=pipeline.instance, tags=request.tags)
    assert result.success
    assert len(pipeline.instance.get_run_records()) == 1
    for asset in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend", "idle_seats"):
        partitions = {
            event.partition
            for event in result.get_asset_materialization_events()
            if event.asset_key == dg.AssetKey(asset)
        }
        assert partitions == {"2026-04-06", "2026-04-07", "2026-04-08"}, asset
    # each day was fetched from the API once: one fetch loop for the three days
    fetched = {r.query["starting_at"] for r in pipeline.server.usage_requests()}
    assert fetched == {"2026-04-06", "2026-04-07", "2026-04-08"}


def at_seven_on_monday(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T07:00:00+00:00")


def test_the_weekly_bill_refresh_skips_until_a_day_is_loaded(instance):
    with dg.build_schedule_context(
        scheduled_execution_time=at_seven_on_monday("2026-04-13"), instance=instance
    ) as context:
        data = bill_weekly_schedule.evaluate_tick(context)
    assert not data.run_requests and "no day is loaded" in data.skip_message
    assert bill_weekly_schedule.cron_schedule == "0 7 * * 1"
    assert bill_weekly_schedule.execution_timezone == "UTC"
    assert bill_weekly_schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_weekly_bill_refresh_re_fetches_31_days_ending_with_the_newest_loaded(pipeline):
    assert pipeline.materialize("2026-02-25", "2026-03-06").success
    assert pipeline.materialize("2026-04-03", "2026-04-04").success
    with dg.build_schedule_context(
        scheduled_execution_time=at_seven_on_monday("2026-04-13"), instance=pipeline.instance
    ) as context:
        [request] = bill_weekly_schedule.evaluate_tick(context).run_requests
    assert request.tags[RANGE_START] == "2026-03-05" and request.tags[RANGE_END] == "2026-04-04"
    defs = dg.Definitions(
        assets=[*config_sources, *budget_assets],
        jobs=[bill_refresh_job],
        resources=pipeline.resources(),
        executor=dg.in_process_executor,
    )
    usage_requests = len(pipeline.server.usage_requests())
    cost_requests = len(pipeline.server.cost_requests())

    job = defs.resolve_job_def(bill_refresh_job.name)
    result = job.execute_in_process(instance=pipeline.instance, tags=request.tags)

    assert result.success
    assert len(pipeline.server.usage_requests()) == usage_requests
    refetched = pipeline.server.cost_requests()[cost_requests:]
    assert len({r.query["starting_at"] for r in refetched}) == 31
    materialised = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert materialised == {"billed_cost", "bill_reconciliation"}
    reconciled = pipeline.table("bill_reconciliation")
    # Days never loaded get the bill and an estimate of 0: the reconciliation says so.
    assert len(reconciled) == 10 + 31 - 2
