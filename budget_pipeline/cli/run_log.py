"""Where `budget-pipeline` keeps a run's full log, and the folders it must never write.

Every Dagster webserver and daemon process (`dagster dev` and `dg dev` start both) runs Dagster's
telemetry uploader: it POSTs each file it finds in `$DAGSTER_HOME/logs/` (and `.logs_queue/`) to
Dagster's telemetry endpoint and then deletes it, whatever `telemetry: enabled: false` says in
dagster.yaml; only the DAGSTER_DISABLE_TELEMETRY variable stops it. A run's log holds the
organisation's spend, people and budgets, so it lives next to the warehouse instead.
"""

import datetime as dt
from pathlib import Path

from budget_pipeline import settings

# The folders of DAGSTER_HOME that Dagster's telemetry uploader ships and empties.
TELEMETRY_FOLDERS = ("logs", ".logs_queue")


def telemetry_folder_holding(path: Path, dagster_home: str | None) -> Path | None:
    """The telemetry folder `path` would be written in, if any. Without DAGSTER_HOME, Dagster's
    home is ~/.dagster."""
    home = Path(dagster_home) if dagster_home else Path.home() / ".dagster"
    resolved = path.expanduser().resolve()
    for name in TELEMETRY_FOLDERS:
        shipped = (home / name).resolve()
        if resolved == shipped or shipped in resolved.parents:
            return shipped
    return None


def shipped_folder_problem(dagster_home: str | None) -> str | None:
    """One line when a folder the pipeline writes is one the telemetry uploader ships."""
    written = (
        (settings.LOG_DIR_ENV, settings.log_dir()),
        ("BUDGET_PIPELINE_DUCKDB", Path(settings.duckdb_path())),
        ("BUDGET_PIPELINE_REPORTS_DIR", Path(settings.reports_dir())),
    )
    for variable, path in written:
        if shipped := telemetry_folder_holding(path, dagster_home):
            return (
                f"{variable} is {path}: inside {shipped}, which Dagster's telemetry uploader "
                "sends to Dagster and deletes (docs/operations.md); choose another folder"
            )
    return None


def run_log_path(start: dt.date, end: dt.date) -> Path:
    folder = settings.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"budget-pipeline-{start}...{end}.log"
