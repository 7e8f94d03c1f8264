"""A changed configuration file shows up as stale partitions without anyone pressing "Observe
sources": the sensor launches the observation of the changed files, and Dagster's own staleness
resolver (the UI's) then marks what they feed."""

import dagster as dg

from budget_pipeline.dagster_internals import StaleStatus, get_stale_status_resolver
from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.config_files.jobs import observe_config_files_job
from budget_pipeline.defs.config_files.sensors import config_files_sensor

DAY = "2026-03-05"


def tick(pipeline, cursor=None) -> tuple[dg.SensorResult | dg.SkipReason, str | None]:
    context = dg.build_sensor_context(
        instance=pipeline.instance,
        cursor=cursor,
        resources={"config_files": pipeline.resources()["config_files"]},
    )
    result = config_files_sensor(context)
    return result, result.cursor if isinstance(result, dg.SensorResult) else cursor


def launch(pipeline, request: dg.RunRequest) -> None:
    defs = dg.Definitions(
        assets=[*config_sources, *budget_assets],
        jobs=[observe_config_files_job],
        resources=pipeline.resources(),
    )
    job = defs.resolve_job_def(observe_config_files_job.name)
    result = job.execute_in_process(
        instance=pipeline.instance, asset_selection=request.asset_selection
    )
    assert result.success


def stale(pipeline, asset: str) -> StaleStatus:
    resolver = get_stale_status_resolver(pipeline.instance, [*config_sources, *budget_assets])
    return resolver.get_status(dg.AssetKey(asset), DAY)


def test_an_edited_file_is_observed_by_the_sensor_and_marks_what_it_feeds_stale(pipeline):
    first, cursor = tick(pipeline)
    [request] = first.run_requests
    assert {key.to_user_string() for key in request.asset_selection} == {
        "workstreams_csv",
        "prices_csv",
        "seats_csv",
        "budgets_csv",
    }
    launch(pipeline, request)
    assert pipeline.materialize(DAY).success
    assert stale(pipeline, "priced_usage") is StaleStatus.FRESH

    unchanged, cursor = tick(pipeline, cursor)
    assert isinstance(unchanged, dg.SkipReason)

    budgets = pipeline.config_dir / "budgets.csv"
    budgets.write_text(budgets.read_text().replace("payments,,1200", "payments,,1500"))
    changed, cursor = tick(pipeline, cursor)
    [request] = changed.run_requests
    assert [key.to_user_string() for key in request.asset_selection] == ["budgets_csv"]
    launch(pipeline, request)
    assert stale(pipeline, "budget_forecast") is StaleStatus.STALE
    assert stale(pipeline, "priced_usage") is StaleStatus.FRESH


def test_the_optional_budgets_file_appearing_is_a_change_too(pipeline):
    budgets = pipeline.config_dir / "budgets.csv"
    text = budgets.read_text()
    budgets.unlink()
    _, cursor = tick(pipeline)
    budgets.write_text(text)
    changed, _ = tick(pipeline, cursor)
    [request] = changed.run_requests
    assert [key.to_user_string() for key in request.asset_selection] == ["budgets_csv"]


def test_a_run_records_the_files_it_reads_so_their_first_observation_marks_nothing_stale(pipeline):
    # No observation before the run: the first sensor tick comes only after it.
    assert pipeline.materialize(DAY).success
    first, cursor = tick(pipeline)
    launch(pipeline, first.run_requests[0])
    for asset in (
        "priced_usage",
        "workstream_cost",
        "daily_spend",
        "idle_seats",
        "budget_forecast",
    ):
        assert stale(pipeline, asset) is StaleStatus.FRESH, asset

    prices = pipeline.config_dir / "prices.csv"
    lines = prices.read_text().splitlines()
    model, input_price, *rest = lines[2].split(",")
    lines[2] = ",".join([model, str(float(input_price) + 1), *rest])
    prices.write_text("\n".join(lines) + "\n")
    changed, _ = tick(pipeline, cursor)
    launch(pipeline, changed.run_requests[0])
    assert stale(pipeline, "priced_usage") is StaleStatus.STALE
    assert stale(pipeline, "idle_seats") is StaleStatus.FRESH  # does not read prices.csv


def test_runs_record_a_file_again_only_after_it_changed(pipeline):
    def observations(asset: str) -> int:
        return len(pipeline.instance.fetch_observations(dg.AssetKey(asset), limit=10).records)

    assert pipeline.materialize(DAY).success
    assert pipeline.materialize(DAY).success
    assert {name: observations(name) for name in ("prices_csv", "seats_csv")} == {
        "prices_csv": 1,
        "seats_csv": 1,
    }
    seats = pipeline.config_dir / "seats.csv"
    seats.write_text(seats.read_text() + "late.joiner@example.com,150,\n")
    assert pipeline.materialize(DAY).success
    assert observations("seats_csv") == 2
    assert observations("prices_csv") == 1
