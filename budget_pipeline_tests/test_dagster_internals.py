"""Each private Dagster name the project relies on still exists and still means the same thing.

A Dagster upgrade that moves one of them fails here, with the name, not somewhere in a run."""

import dagster as dg
import pytest

from budget_pipeline import dagster_internals


@pytest.mark.parametrize("name", dagster_internals.__all__)
def test_every_private_name_still_imports(name):
    assert getattr(dagster_internals, name) is not None


def test_partition_range_tags_are_the_ones_dagster_reads():
    # `dagster asset materialize --partition-range` writes these tags; the schedule writes them too.
    assert (
        dagster_internals.ASSET_PARTITION_RANGE_START_TAG == "dagster/asset_partition_range_start"
    )
    assert dagster_internals.ASSET_PARTITION_RANGE_END_TAG == "dagster/asset_partition_range_end"


def test_a_test_instance_runs_on_sqlite_storage():
    with dg.instance_for_test() as instance:
        assert isinstance(instance.run_storage, dagster_internals.SqliteRunStorage)


def test_the_duckdb_client_still_has_the_hooks_the_io_manager_overrides():
    for hook in ("connect", "ensure_schema_exists", "delete_table_slice"):
        assert callable(getattr(dagster_internals.DuckDbClient, hook))


def test_the_current_defs_state_storage_is_the_innermost_open_instances():
    # The `instance` fixture's teardown check relies on this to find a test that left one open.
    with dg.instance_for_test() as outer:
        assert dagster_internals.DefsStateStorage.get() is outer.defs_state_storage
        with dg.DagsterInstance.from_ref(outer.get_ref()) as inner:
            assert dagster_internals.DefsStateStorage.get() is inner.defs_state_storage
        assert dagster_internals.DefsStateStorage.get() is outer.defs_state_storage
