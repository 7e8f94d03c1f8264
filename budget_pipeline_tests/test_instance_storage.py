"""The development instance's event log keeps its SQLite connections open
(budget_pipeline/instance_storage.py, docs/operations.md "The instance: dagster.yaml"): what a
user sees of runs must not change. Another process reads every event, the UI follows a running
run event by event, an instance written by Dagster's default storage opens with its history, and
a wiped or forked instance never writes into a file it no longer owns."""

import contextlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from budget_pipeline.instance_storage import (
    OPEN_FILES,
    PooledSqliteEventLogStorage,
    PooledSqliteStorage,
)
from budget_pipeline_tests.commands import new_dagster_home

PROJECT = Path(__file__).resolve().parents[1]
DAYS = dg.DailyPartitionsDefinition(start_date="2026-04-01", end_date="2026-04-11")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def tokens(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for key in context.partition_keys:
        context.add_asset_metadata({"rows": len(key)}, partition_key=key)
    return dg.MaterializeResult()


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[tokens])
def spend() -> dg.MaterializeResult:
    return dg.MaterializeResult()


@dg.op
def nothing() -> None:
    pass


@dg.job
def watched():
    nothing()


def backfill(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [tokens, spend],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2026-04-01",
            "dagster/asset_partition_range_end": "2026-04-10",
        },
    )


def materialized_days(instance: dg.DagsterInstance, asset: str) -> list[str]:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=100).records
    return sorted(record.partition_key for record in records)


def in_another_process(home: Path, code: str) -> str:
    """`code`'s output, run in a fresh Python with `instance`, the instance of `home`."""
    script = f"import dagster as dg\ninstance = dg.DagsterInstance.get()\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()


@pytest.fixture
def home(tmp_path):
    return new_dagster_home(tmp_path)


def test_the_projects_instance_uses_the_pooled_event_log_in_dagsters_own_files(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = backfill(instance)
    assert result.success
    # Dagster's default places: runs in history/runs.db, a run's events in history/runs/<id>.db.
    assert (home / "history" / "runs.db").exists()
    assert (home / "history" / "runs" / f"{result.run_id}.db").exists()
    assert (home / "history" / "runs" / "index.db").exists()


def test_another_process_reads_every_event_of_a_run_as_it_was_written(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = backfill(instance)
        events = len(instance.all_logs(result.run_id))
        days = materialized_days(instance, "spend")
    assert len(days) == 10
    seen = in_another_process(
        home,
        f"print(len(instance.all_logs({result.run_id!r})), "
        "len(instance.fetch_materializations(dg.AssetKey('spend'), limit=100).records))",
    )
    assert seen == f"{events} 10"


def test_the_ui_follows_a_running_run_event_by_event(home):
    """The UI's log of a running run is fed by a watcher of the run's file: each event must
    reach it while the run goes on, not when the run's process ends."""
    with (
        dg.DagsterInstance.from_config(str(home)) as writer,
        dg.DagsterInstance.from_config(str(home)) as reader,
    ):
        run = writer.create_run_for_job(watched)
        received: list[str] = []
        arrived = threading.Condition()

        def on_event(entry, _cursor):
            with arrived:
                received.append(entry.message)
                arrived.notify_all()

        reads = []
        read_records = reader.event_log_storage.get_records_for_run

        def counted_read(*args, **kwargs):
            reads.append(time.monotonic())
            return read_records(*args, **kwargs)

        reader.event_log_storage.get_records_for_run = counted_read
        reader.event_log_storage.watch(run.run_id, None, on_event)
        try:
            for index in range(5):
                writer.report_engine_event(f"event {index}", run)
                with arrived:
                    assert arrived.wait_for(
                        lambda index=index: f"event {index}" in received, timeout=10
                    ), f"the watcher never saw event {index}: {received}"
            # Once the run is quiet the watcher is too: reading the file must not wake it.
            time.sleep(1)
            quiet_since = len(reads)
            time.sleep(1)
            assert len(reads) == quiet_since
        finally:
            reader.event_log_storage.end_watch(run.run_id, on_event)


def test_an_instance_written_by_dagsters_default_storage_opens_with_its_history(home):
    # The instance of the release before this storage: no storage block, Dagster's default.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as before:
        assert type(before.event_log_storage).__name__ == "SqliteEventLogStorage"
        earlier = backfill(before)
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as after:
        assert isinstance(after.event_log_storage, PooledSqliteEventLogStorage)
        assert after.get_run_by_id(earlier.run_id).is_success
        assert materialized_days(after, "spend") == [f"2026-04-{day:02d}" for day in range(1, 11)]
        assert backfill(after).success
        assert len(materialized_days(after, "spend")) == 20


def open_files_under(folder: Path) -> set[str]:
    """The files under `folder` this process holds open (a deleted one ends in " (deleted)")."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        # The listing's own descriptor is gone by the time it is read.
        with contextlib.suppress(FileNotFoundError):
            names.add(os.readlink(f"/proc/self/fd/{fd}"))
    return {name for name in names if name.startswith(str(folder))}


def test_a_wiped_instance_holds_no_deleted_file_open_and_runs_on(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        first = backfill(instance)
        instance.wipe()
        # A deleted file held open keeps its disk space until the process ends.
        assert not [name for name in open_files_under(home) if name.endswith("(deleted)")]
        assert not (home / "history" / "runs" / f"{first.run_id}.db").exists()
        again = backfill(instance)
    seen = in_another_process(
        home,
        f"print(instance.get_run_by_id({again.run_id!r}) is not None, "
        "len(instance.fetch_materializations(dg.AssetKey('spend'), limit=100).records))",
    )
    assert seen == "True 10"


def test_reading_many_runs_keeps_only_a_few_files_open(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [backfill(instance).run_id for _ in range(OPEN_FILES + 4)]
        for run_id in runs:
            assert instance.all_logs(run_id)
        open_files = {
            name for name in open_files_under(home / "history" / "runs") if name.endswith(".db")
        }
    # The index and the last few runs; not one file per run ever read.
    assert len(open_files) <= OPEN_FILES
    assert str(home / "history" / "runs" / f"{runs[-1]}.db") in open_files


_parent_instance: list[dg.DagsterInstance] = []


def _store_in_child(run_id: str, parent_engine_id: int) -> None:
    instance = _parent_instance[0]
    instance.report_engine_event("from the child", instance.get_run_by_id(run_id))
    # SQLite connections must not cross a fork: the child stored through an engine of its own.
    engine = instance.event_log_storage._engines[run_id]
    sys.exit(0 if id(engine) != parent_engine_id else 3)


def test_a_forked_process_opens_its_own_connections(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        first = backfill(instance)
        instance.report_engine_event("before the fork", instance.get_run_by_id(first.run_id))
        parent_engine = instance.event_log_storage._engines[first.run_id]
        _parent_instance[:] = [instance]
        try:
            child = multiprocessing.get_context("fork").Process(
                target=_store_in_child, args=(first.run_id, id(parent_engine))
            )
            child.start()
            child.join(60)
        finally:
            _parent_instance.clear()
        assert child.exitcode == 0
        # The parent's connections still work, and both processes' events are in the file.
        instance.report_engine_event("from the parent", instance.get_run_by_id(first.run_id))
        messages = [entry.message for entry in instance.all_logs(first.run_id)]
    assert "from the child" in messages and "from the parent" in messages


def test_without_dagster_home_the_cli_s_temporary_instance_has_the_pooled_event_log(tmp_path):
    """`dg dev`, `dg check defs` or `dagster asset materialize` without DAGSTER_HOME make an
    instance in a temporary folder, configured by the dagster.yaml of the current folder."""
    shutil.copy(PROJECT / "dagster.yaml", tmp_path / "dagster.yaml")
    script = (
        "from dagster._cli.utils import get_possibly_temporary_instance_for_cli\n"
        "with get_possibly_temporary_instance_for_cli() as instance:\n"
        "    print(type(instance.event_log_storage).__name__, instance.root_directory)"
    )
    environment = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    printed = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert printed[0] == "PooledSqliteEventLogStorage"
    assert Path(printed[1]).parent == tmp_path


def test_a_storage_block_in_dagster_yaml_still_wins(home):
    # deploy/dagster.yaml names PostgreSQL; any named storage is taken as it is.
    text = (home / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(
        f"{text}\nstorage:\n  sqlite:\n    base_dir: {home / 'elsewhere'}\n"
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert (home / "elsewhere" / "history").is_dir()


def test_the_storage_is_configured_like_dagsters_own(home):
    storage = PooledSqliteStorage.from_config_value(None, {"base_dir": str(home)})
    assert isinstance(storage, PooledSqliteStorage)
    assert isinstance(storage.event_log_storage, PooledSqliteEventLogStorage)
