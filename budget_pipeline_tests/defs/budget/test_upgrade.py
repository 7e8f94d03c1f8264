"""Upgrading keeps the data: a warehouse and a Dagster instance written by the release before the
bill (fixtures/release_046fdb2.tgz) open and run; the new tables appear on the first run,
nothing is fetched again and nothing is lost (docs/operations.md, "Upgrading")."""

import dagster as dg
import duckdb
import pandas as pd
import pytest

from budget_pipeline.demo.organisation import SyntheticOrganisation
from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline_tests.conftest import TEST_API_KEY, Pipeline
from budget_pipeline_tests.warehouse.test_migrations import unpack_release

# What fixtures/make_release_fixture.py wrote.
RELEASE_ORGANISATION = SyntheticOrganisation(seats=4, seed=11)
START, END = "2026-03-02", "2026-03-04"
DOWNSTREAM_ONLY = "group:budget and not tag:fetches=api"


def table(path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(f"SELECT * FROM budget.{name}").fetchdf()


@pytest.fixture
def released(tmp_path):
    root = unpack_release(tmp_path / "release")
    config = tmp_path / "config"
    RELEASE_ORGANISATION.write_config(config)
    with (
        UsageApiServer(RELEASE_ORGANISATION, api_key=TEST_API_KEY) as server,
        dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance,
    ):
        yield Pipeline(server, config, root / "warehouse.duckdb", instance)


def test_the_release_s_warehouse_and_instance_run_on_without_fetching_again(released):
    before = {name: table(released.duckdb_file, name) for name in ("raw_usage", "priced_usage")}
    [release_run] = released.instance.get_runs()
    raw_usage = dg.AssetKey("raw_usage")
    assert released.instance.get_materialized_partitions(raw_usage) == {START, "2026-03-03", END}

    # Only what is computed from the warehouse: no API is asked anything.
    assert released.materialize(START, END, selection=DOWNSTREAM_ONLY).success
    assert released.server.requests == []
    # The release's rows, unchanged, gain the source they came from (and no other activity).
    raw = table(released.duckdb_file, "raw_usage")
    pd.testing.assert_frame_equal(raw[before["raw_usage"].columns], before["raw_usage"])
    assert (raw["source"] == "claude_code").all() and raw["other_activity"].isna().all()
    priced = table(released.duckdb_file, "priced_usage")
    assert len(priced) == len(before["priced_usage"]) == 20
    assert (priced["list_price_cost_usd"] == priced["cost_usd"]).all()
    assert priced["cost_usd"].sum() == pytest.approx(before["priced_usage"]["cost_usd"].sum())
    reconciled = table(released.duckdb_file, "bill_reconciliation")
    assert len(reconciled) == 3 and reconciled["within_tolerance"].isna().all()
    assert table(released.duckdb_file, "billed_cost").empty

    # Then the bill alone for the old days: the usage is still not fetched again.
    assert released.materialize(START, END, selection="key:billed_cost+").success
    assert released.server.usage_requests() == []
    assert len(released.server.cost_requests()) == 3
    reconciled = table(released.duckdb_file, "bill_reconciliation")
    assert reconciled["within_tolerance"].notna().all()

    runs = released.instance.get_runs()
    assert len(runs) == 3 and runs[-1].run_id == release_run.run_id
    assert released.instance.get_materialized_partitions(raw_usage) == {
        START,
        "2026-03-03",
        END,
    }
