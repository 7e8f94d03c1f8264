"""The definitions load in-process, as `dg check defs` loads them, and explain themselves."""

import dagster as dg
import pytest

from budget_pipeline.definitions import defs as load_definitions

DAILY_ASSETS = {
    "raw_usage",
    "priced_usage",
    "workstream_cost",
    "daily_spend",
    "idle_seats",
    "budget_forecast",
    "billed_cost",
    "bill_reconciliation",
}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return load_definitions()


def _assets(definitions: dg.Definitions) -> dict[str, dg.AssetSpec]:
    return {spec.key.to_user_string(): spec for spec in definitions.resolve_all_asset_specs()}


def test_every_asset_says_what_it_is_who_owns_it_and_where_it_lives(definitions):
    for name, spec in _assets(definitions).items():
        assert spec.description, name
        assert spec.owners, name
        assert spec.kinds, name
        assert spec.group_name, name


def test_every_warehouse_table_shows_its_columns(definitions):
    assets = _assets(definitions)
    for name in DAILY_ASSETS:
        schema = assets[name].metadata["dagster/column_schema"]
        assert schema.columns and all(column.description for column in schema.columns), name


def test_the_budget_group_is_the_daily_assets(definitions):
    budget = {name for name, spec in _assets(definitions).items() if spec.group_name == "budget"}
    assert budget >= DAILY_ASSETS
    for name in budget:
        assert isinstance(_assets(definitions)[name].partitions_def, dg.DailyPartitionsDefinition)


def test_exactly_the_assets_that_call_an_api_carry_the_fetches_tag(definitions):
    tagged = {
        name for name, spec in _assets(definitions).items() if spec.tags.get("fetches") == "api"
    }
    assert tagged == {"raw_usage", "billed_cost"}


def test_every_job_schedule_and_sensor_resolves(definitions):
    for job in (
        "budget_daily_job",
        "bill_refresh_job",
        "idle_seat_digest_job",
        "observe_config_files_job",
    ):
        assert definitions.resolve_job_def(job).name == job
    for schedule in ("budget_daily_schedule", "bill_weekly_schedule", "idle_seat_digest_schedule"):
        assert definitions.resolve_schedule_def(schedule).job_name
    for sensor in (
        "spend_alert_sensor",
        "budget_alert_sensor",
        "run_failure_notifier",
        "config_files_sensor",
    ):
        assert definitions.resolve_sensor_def(sensor).name == sensor


def test_every_resource_an_asset_needs_is_defined(definitions):
    # Resolving the implicit asset job binds every asset to its resources; a missing one raises.
    definitions.resolve_implicit_global_asset_job_def()
    assert {"analytics_api", "config_files", "warehouse", "io_manager", "thresholds"} <= set(
        definitions.resources
    )


def test_no_module_under_defs_is_left_out(definitions):
    # Dagster's loader imports every module of the defs folder: a new file there is picked up.
    import budget_pipeline.defs.budget.assets as budget_assets

    assert budget_assets.raw_layer.keys <= {
        spec.key for spec in definitions.resolve_all_asset_specs()
    }
