"""The development instance (dagster.yaml): Dagster's own, whose default storage is Dagster's
SQLite storage in the same files, with the event log keeping its connections open
(docs/operations.md, "The instance: dagster.yaml").

Dagster 1.13.27's SQLite event log builds a new SQLAlchemy engine, and opens and closes a SQLite
connection, for every event it stores (twice for an asset's: its run's file and the index).
Closing the last connection of a WAL database checkpoints it, an fsync. A 90-day backfill stores
about 1,500 events, and that was over half of the time of a run that does nothing else
(benchmarks/backfill.py, the floor). Here each file keeps its engine and its connection.

Two things relied on the closing, and are kept:
- The UI follows a running run by watching its file (`<run_id>.db`) change, which the checkpoint
  on close did at every event: a run's file is touched after each write here (a write goes to
  the WAL file, which SQLite checkpoints as it grows; the index is not watched).
- `wipe` deletes run files: their connections are closed first, so nothing writes to a deleted
  file.

Engines are kept for the most recent few files only (the UI reads many runs), and a forked
process starts without its parent's connections.

The storage comes in as the instance's default (`BudgetPipelineInstance.config_defaults`), not
as a `storage:` block: Dagster hands a default the instance's own folder, which a block would
have to spell out (`DAGSTER_HOME`), and `dg dev` or `dg check defs` run without DAGSTER_HOME
make an instance in a temporary folder.
"""

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg
import yaml
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from budget_pipeline.dagster_internals import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    ConfigurableClassData,
    DagsterSqliteStorage,
    InstanceRef,
    SqliteEventLogStorage,
    event_logs_directory,
)

# Files whose connection stays open: a run writes two (its own and the index); the UI reading
# many runs keeps the most recent ones.
OPEN_FILES = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log with one open connection per file, for the last OPEN_FILES
    files used."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "PooledSqliteEventLogStorage":
        # Dagster's own from_config_value names its class, not `cls`.
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():
            # SQLite connections must not cross a fork: the child opens its own.
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        # Calls are serialised by the storage's lock: one connection a file is all it uses.
        engine = create_engine(
            self.conn_string_for_shard(shard),
            pool_size=1,
            max_overflow=1,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        self._engines[shard] = engine
        while len(self._engines) > OPEN_FILES:
            _, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    def _close_all(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection:
                sqlite = connection.connection.dbapi_connection
                changes = sqlite.total_changes
                with connection.begin():
                    yield connection
                wrote = sqlite.total_changes != changes
            if wrote and shard != INDEX_SHARD_NAME:
                # The UI's watcher of the run's file wakes on a change of the file, which a write,
                # in the WAL file, is not. A touch is (half the cost of a checkpoint's two
                # fsyncs); after writes only, or a watcher reading the file would wake itself.
                os.utime(self.path_for_shard(shard))

    def wipe(self) -> None:
        with self._db_lock:
            self._close_all()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        with self._db_lock:
            self._close_all()


class PooledSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, event log, schedules under `base_dir`, the same files as
    Dagster's default) with the pooled event log."""

    def __init__(self, base_dir: str, inst_data=None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage = PooledSqliteEventLogStorage(event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "PooledSqliteStorage":
        # Dagster's own from_config_value names its class, not `cls`.
        return cls.from_local(inst_data=inst_data, **config_value)


def _class_data(cls: type, config: Mapping[str, str]) -> ConfigurableClassData:
    return ConfigurableClassData(cls.__module__, cls.__name__, yaml.dump(dict(config)))


class BudgetPipelineInstance(dg.DagsterInstance):
    """Dagster's instance, whose default storage is `PooledSqliteStorage` in the instance's
    folder (DAGSTER_HOME, or the temporary folder of a CLI run without it). A `storage:` block
    in dagster.yaml (deploy/dagster.yaml's PostgreSQL) still wins."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        return {
            **InstanceRef.config_defaults(base_dir),
            "storage": _class_data(PooledSqliteStorage, {"base_dir": base_dir}),
            "event_log_storage": _class_data(
                PooledSqliteEventLogStorage, {"base_dir": event_logs_directory(base_dir)}
            ),
        }
