"""Two overlapping range backfills started at the same moment share one Dagster instance and one
DuckDB file: the `duckdb_warehouse` pool makes them take turns, and both succeed."""

import time

import dagster as dg

from budget_pipeline_tests.reliability.conftest import (
    assert_tables_equal,
    cli_environment,
    dagster_home,
    read_tables,
    start_materialize,
)

# Both inside the reference's first 7 days, where no day has a baseline yet: the tables do not
# depend on which run writes first (a day's baseline needs the 7 days before it loaded).
RANGES = [("2026-03-02", "2026-03-06"), ("2026-03-04", "2026-03-08")]
POOL = "duckdb_warehouse"
BLOCKED = f"Step blocked by limit for pool {POOL}"


def wait_for_pool_waiter(home, processes, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            info = instance.event_log_storage.get_concurrency_info(POOL)
        if info.pending_step_count >= 1 and info.active_slot_count == 1:
            return
        for process in processes:
            assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"no step waited for the pool: {info}"
        time.sleep(0.2)


def test_overlapping_backfills_take_turns_and_leave_one_copy_of_each_day(
    api_server, config_dir, tmp_path, reference
):
    environment = cli_environment(
        dagster_home(tmp_path), api_server, config_dir, tmp_path / "warehouse.duckdb"
    )
    # The API holds its pages until one run waits for the pool slot the other holds (inside
    # raw_usage): the collision happens however far apart the two processes start.
    api_server.hold.clear()
    processes = [start_materialize(start, end, environment, tmp_path) for start, end in RANGES]
    wait_for_pool_waiter(dagster_home(tmp_path), processes)
    api_server.hold.set()
    outputs = [process.communicate(timeout=240) for process in processes]

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    assert any(BLOCKED in stderr for _, stderr in outputs)
    # no duplicate rows: every table is exactly the clean run's rows for the union of the days
    tables = read_tables(tmp_path / "warehouse.duckdb")
    assert_tables_equal(tables, reference.days("2026-03-02", "2026-03-08"))
    assert not tables["raw_usage"].duplicated().any()
