"""A warehouse written by the release before the bill opens, gains what it lacks, and keeps
every row (docs/operations.md, "Upgrading").

The fixture `release_046fdb2.tgz` holds a warehouse.duckdb and a DAGSTER_HOME written by commit
046fdb2 (`fixtures/make_release_fixture.py`: a 4-seat organisation, 2026-03-02 … 2026-03-04).
"""

import tarfile
from pathlib import Path

import duckdb
import pytest

from budget_pipeline.warehouse.connection import connect
from budget_pipeline.warehouse.migrations import MIGRATIONS, MIGRATIONS_TABLE, migrate
from budget_pipeline.warehouse.tables import TABLES

RELEASE_FIXTURE = Path(__file__).parents[1] / "fixtures" / "release_046fdb2.tgz"


def unpack_release(destination: Path) -> Path:
    """The release's files under `destination` (warehouse.duckdb, dagster_home/)."""
    with tarfile.open(RELEASE_FIXTURE) as archive:
        archive.extractall(destination, filter="data")
    return destination


def columns(connection, table: str) -> list[str]:
    return [
        name
        for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'budget' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


@pytest.fixture
def release_warehouse(tmp_path: Path) -> Path:
    return unpack_release(tmp_path) / "warehouse.duckdb"


def test_the_release_warehouse_lacks_what_this_release_adds(release_warehouse):
    with duckdb.connect(str(release_warehouse), read_only=True) as connection:
        assert "list_price_cost_usd" not in columns(connection, "priced_usage")
        assert columns(connection, "billed_cost") == []


def test_opening_it_for_writing_migrates_it_and_keeps_every_row(release_warehouse):
    with duckdb.connect(str(release_warehouse), read_only=True) as connection:
        before = {
            name: connection.execute(f"SELECT * FROM budget.{name}").fetchdf()
            for name in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend")
        }
    assert len(before["priced_usage"]) == 20

    with connect(str(release_warehouse)) as connection:
        for name, table in TABLES.items():
            assert columns(connection, name) == table.column_names, name
        priced = connection.execute("SELECT * FROM budget.priced_usage").fetchdf()
        assert (priced["list_price_cost_usd"] == priced["cost_usd"]).all()
        assert priced.drop(columns="list_price_cost_usd").equals(before["priced_usage"])
        for name in ("raw_usage", "workstream_cost", "daily_spend"):
            after = connection.execute(f"SELECT * FROM budget.{name}").fetchdf()
            # raw_usage gains source and other_activity (below): the old columns are unchanged.
            assert after[before[name].columns].equals(before[name]), name
        raw = connection.execute("SELECT source, other_activity FROM budget.raw_usage").fetchdf()
        assert len(raw) > 0
        assert (raw["source"] == "claude_code").all()
        assert raw["other_activity"].isna().all()
        applied = connection.execute(f"SELECT version FROM {MIGRATIONS_TABLE}").fetchall()
        assert [version for (version,) in applied] == [m.version for m in MIGRATIONS]
        # Opened again: nothing left to apply.
        assert migrate(connection) == []


def test_a_new_warehouse_records_the_migrations_as_done(tmp_path):
    with connect(str(tmp_path / "new.duckdb")) as connection:
        assert columns(connection, "priced_usage") == TABLES["priced_usage"].column_names
        assert migrate(connection) == []
