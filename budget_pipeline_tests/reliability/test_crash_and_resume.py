"""Crash and resume: a day is replaced in one DuckDB transaction, so a failed or killed run never
leaves a half-written day, and running the same range again completes it (docs/reliability.md)."""

import os
import signal
import subprocess
import threading
import time

import dagster as dg
import duckdb
import pandas as pd
import pytest

from budget_pipeline.defs.metadata import table_asset_metadata
from budget_pipeline.defs.partitions import daily_partitions
from budget_pipeline.warehouse import housekeeping, io_manager
from budget_pipeline.warehouse.tables import RAW_USAGE, TABLES
from budget_pipeline_tests.reliability.conftest import (
    REFERENCE_END,
    REFERENCE_START,
    assert_tables_equal,
    cli_environment,
    dagster_home,
    read_tables,
    rows_of_days,
    run_materialize,
    start_materialize,
    step_failures,
)

START, END = "2026-03-02", "2026-03-04"


def test_a_frame_that_cannot_be_inserted_leaves_the_previous_rows(tmp_path, reference):
    database = tmp_path / "warehouse.duckdb"
    reference.copy_to(database)
    manager = io_manager.WarehouseIOManager(
        database=str(database), schema="budget"
    ).create_io_manager(dg.build_init_resource_context())
    context = dg.build_output_context(
        asset_key=dg.AssetKey("raw_usage"),
        definition_metadata=table_asset_metadata(RAW_USAGE),
        asset_partitions_def=daily_partitions,
        asset_partition_key_range=dg.PartitionKeyRange(START, END),
        resource_config={"database": str(database)},
    )
    frame = reference.days(START, END)["raw_usage"].copy()
    frame["usage_date"] = pd.to_datetime(frame["usage_date"]).astype("datetime64[ns]")
    broken = frame.astype({"num_sessions": "object"})
    broken.loc[len(broken) // 2, "num_sessions"] = "many"  # not a BIGINT: the INSERT fails

    with pytest.raises(duckdb.ConversionException):
        manager.handle_output(context, broken)
    assert_tables_equal(read_tables(database), reference.tables)

    # the same context with a valid frame does replace the days (the failure was the insert)
    manager.handle_output(context, frame.iloc[:5])
    raw = read_tables(database)["raw_usage"]
    assert len(raw) == len(reference.tables["raw_usage"]) - len(frame) + 5


def test_a_write_failing_after_the_delete_rolls_the_delete_back(pipeline, reference, monkeypatch):
    reference.copy_to(pipeline.duckdb_file)
    insert = io_manager._WarehouseFrameHandler.handle_output
    seen_after_delete = []

    def insert_then_fail(self, context, table_slice, obj, connection):
        # workstream_cost is written by the IO manager (raw_usage and priced_usage write their
        # own batches through the same warehouse.transaction)
        if table_slice.table == "workstream_cost":
            seen_after_delete.append(
                connection.execute(
                    "SELECT count(*) FROM budget.workstream_cost WHERE usage_date BETWEEN ? AND ?",
                    [START, END],
                ).fetchall()[0][0]
            )
            insert(self, context, table_slice, obj, connection)
            raise OSError("No space left on device")
        return insert(self, context, table_slice, obj, connection)

    monkeypatch.setattr(io_manager._WarehouseFrameHandler, "handle_output", insert_then_fail)

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert "No space left on device" in step_failures(result)["workstream_cost"]
    assert seen_after_delete == [0]  # inside the transaction the run's days were gone …
    assert_tables_equal(read_tables(pipeline.duckdb_file), reference.tables)  # … and are back


def test_rematerialising_a_range_gives_identical_tables(pipeline, reference):
    for start, end in [
        (REFERENCE_START, REFERENCE_END),
        (REFERENCE_START, REFERENCE_END),
        ("2026-03-05", REFERENCE_END),
    ]:
        assert pipeline.materialize(start, end).success
        assert_tables_equal(read_tables(pipeline.duckdb_file), reference.tables)


# -- a real `dagster asset materialize` killed with SIGKILL ---------------------------------------


def newest_run(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return None, set()
        written = {
            entry.dagster_event.asset_key.path[-1]
            for entry in instance.all_logs(
                runs[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
        }
        return runs[0], written


def wait_for(condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def assert_only_complete_days(duckdb_file, reference) -> dict[str, int]:
    """Every day present in a table equals the clean run's rows for that day."""
    tables = read_tables(duckdb_file)
    days_present = {}
    for name, frame in tables.items():
        column = TABLES[name].partition_column
        present = sorted(pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d").unique())
        for day in present:
            pd.testing.assert_frame_equal(
                rows_of_days({name: frame}, day, day)[name],
                rows_of_days({name: reference.tables[name]}, day, day)[name],
                check_dtype=False,
                obj=f"budget.{name} on {day}",
            )
        days_present[name] = len(present)
    return days_present


class LedgerFifo:
    """workstreams.csv as a FIFO that answers its first reader only.

    raw_usage reads the ledger once, when it judges every config file before fetching; the next
    reader (workstream_cost or daily_spend) then waits on the FIFO for ever: a run killed while
    it waits is always killed before it could finish, however loaded the machine."""

    def __init__(self, path, content: bytes):
        self.path, self.content = path, content
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            with open(self.path, "wb") as fifo:  # blocks until a reader opens it
                if not self.stopped.is_set():
                    fifo.write(self.content)
        except BrokenPipeError:
            return

    def stop(self) -> None:
        """Release a writer still waiting for a reader, and wait for it to end."""
        self.stopped.set()
        while self.thread.is_alive():
            try:
                reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                break
            self.thread.join(timeout=0.2)
            os.close(reader)


def test_a_killed_backfill_leaves_whole_days_and_a_rerun_completes_it(
    api_server, config_dir, tmp_path, reference
):
    home = dagster_home(tmp_path)
    duckdb_file = tmp_path / "warehouse.duckdb"
    environment = cli_environment(home, api_server, config_dir, duckdb_file)
    api_server.page_latency = 0.8  # one page per day at the CLI's limit=1000: ~2 s of fetching

    def raw_usage_fetching():
        return len(api_server.usage_requests()) >= 2

    def asset_written(name):
        return lambda: name in newest_run(home)[1]

    # (moment, the table that must then hold every day of the range, or none for nothing yet)
    moments = [
        ("while raw_usage fetches", raw_usage_fetching, None),
        ("after raw_usage was written", asset_written("raw_usage"), "raw_usage"),
        ("after priced_usage was written", asset_written("priced_usage"), "priced_usage"),
    ]
    ledger = config_dir / "workstreams.csv"
    ledger_text = ledger.read_bytes()
    ledger.unlink()
    os.mkfifo(ledger)
    killed_runs = []
    for what, moment, written in moments:
        # while raw_usage fetches, the API holds its pages: the kill lands mid-fetch for sure
        if written is None:
            api_server.hold.clear()
        served = LedgerFifo(ledger, ledger_text)
        log = tmp_path / f"killed-{len(killed_runs)}.log"
        process = start_materialize(REFERENCE_START, REFERENCE_END, environment, tmp_path, log)
        try:
            wait_for(moment, what)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
            api_server.hold.set()
            served.stop()
        run, _ = newest_run(home)
        killed_runs.append(run.run_id)
        assert run.status == dg.DagsterRunStatus.STARTED, what  # killed, not finished
        days_present = assert_only_complete_days(duckdb_file, reference)
        if written is None:
            assert days_present["raw_usage"] == 0, what  # the open transaction died with it
        else:
            assert days_present[written] == 8, what

    ledger.unlink()
    ledger.write_bytes(ledger_text)
    api_server.page_latency = 0.0
    completed = run_materialize(REFERENCE_START, REFERENCE_END, environment, tmp_path, timeout=240)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert_tables_equal(read_tables(duckdb_file), reference.tables)
    # the dead runs no longer hold the warehouse pool, and say why
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run_id in killed_runs:
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()


def _started_run(instance: dg.DagsterInstance, name: str, pid: int) -> dg.DagsterRun:
    """A run as a CLI process leaves it: started, with its process id in RUN_START."""
    job = dg.define_asset_job(name).resolve(
        asset_graph=dg.Definitions(assets=[_a_nothing_asset]).resolve_asset_graph()
    )
    run = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    instance.report_dagster_event(
        dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=run.job_name, pid=pid),
        run_id=run.run_id,
    )
    return run


@dg.asset
def _a_nothing_asset() -> None:
    return None


def test_a_run_killed_between_steps_holds_no_slot_and_is_still_marked_failed(tmp_path):
    """The SIGKILL test above kills inside steps; between two steps a run holds no pool slot,
    and without this check it would show as started forever."""
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has any more
    with dg.DagsterInstance.from_config(str(dagster_home(tmp_path))) as instance:
        killed = _started_run(instance, "killed_between_steps", gone.pid)
        alive = _started_run(instance, "still_running", os.getpid())
        assert not instance.event_log_storage.get_concurrency_run_ids()

        assert housekeeping.fail_dead_runs(instance) == [killed.run_id]
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
