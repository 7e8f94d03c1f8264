"""The project's commands in a subprocess, as a user runs them: a DAGSTER_HOME of their own, the
loopback API, and none of the settings of the shell the tests were started from."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from budget_pipeline_tests.conftest import TEST_API_KEY

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a developer's shell may have set that would change what the command under test does.
SHELL_SETTINGS = (
    "ANTHROPIC_ADMIN_API_KEY",
    "ANTHROPIC_BASE_URL",
    "BUDGET_PIPELINE_SOURCE",
    "BUDGET_PIPELINE_START_DATE",
    "BUDGET_PIPELINE_LOG_DIR",
)


def new_dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml (its `duckdb_warehouse` pool limit)."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    return home


def without_project_settings() -> dict[str, str]:
    """This process's environment less every setting of the project and its API keys."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BUDGET_PIPELINE_", "ANTHROPIC_"))
    }


def cli_environment(
    api_server, config_dir: Path, tmp_path: Path, api_key: str = TEST_API_KEY, **extra: str
) -> dict[str, str]:
    return {
        **without_project_settings(),
        "DAGSTER_HOME": str(new_dagster_home(tmp_path)),
        "ANTHROPIC_ADMIN_API_KEY": api_key,
        "ANTHROPIC_BASE_URL": api_server.base_url,
        "BUDGET_PIPELINE_CONFIG_DIR": str(config_dir),
        "BUDGET_PIPELINE_DUCKDB": str(tmp_path / "warehouse.duckdb"),
        "BUDGET_PIPELINE_START_DATE": "2026-03-01",
        **extra,
    }


def run_command(argv: list[str], environment: dict[str, str], cwd: Path):
    return subprocess.run(
        argv, env=environment, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def budget_pipeline(environment: dict[str, str], cwd: Path, *args: str):
    return run_command([str(BIN / "budget-pipeline"), *args], environment, cwd)


def start_dev(program: str, port: int, cwd: Path, environment: dict[str, str], log: Path):
    """`program dev` (dg or dagster) on 127.0.0.1:`port`, in a session of its own so that
    stop_process_group reaches its webserver, daemon and code servers; its console in `log`."""
    with open(log, "wb") as output:
        return subprocess.Popen(
            [program, "dev", "-h", "127.0.0.1", "-p", str(port)],
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process_group(process: subprocess.Popen) -> None:
    """Stops a process started in a session of its own, with its children. `dagster dev` and the
    webserver may ignore SIGTERM while their children shut down: a few seconds, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
