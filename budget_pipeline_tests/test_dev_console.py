"""`dg dev` (and `dagster dev`) on a fresh clone in a folder of any name: the console stays quiet.

Without a code location name in pyproject.toml, Dagster names the project after its folder and
warned on every load that the name did not match the one the workspace registered: dozens of
times a minute."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from budget_pipeline_tests.commands import BIN, start_dev, stop_process_group
from budget_pipeline_tests.test_dagster_dev import Webserver, free_port

REPO = Path(__file__).resolve().parents[1]
MISMATCH = "does not match the name"
# The daemon's first tick of config_files_sensor: the definitions have been loaded by the
# webserver, the daemon and the sensor's code server by then.
SENSOR_TICKED = "config_files_sensor"
TICK_TIMEOUT = 120


def fresh_clone(folder: Path) -> Path:
    """The repository's tracked files, as `git clone` would lay them out, in `folder`."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        target = folder / name.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name.decode()).read_bytes())
    return folder


@pytest.mark.parametrize("command", ["dg", "dagster"])
def test_dev_on_a_clone_in_a_folder_of_any_name_prints_no_location_name_warning(tmp_path, command):
    clone = fresh_clone(tmp_path / "newcomer")
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BUDGET_PIPELINE_", "ANTHROPIC_"))
    }
    environment["DAGSTER_HOME"] = str(clone)  # as the README runs it, from the clone's root
    port = free_port()
    log = tmp_path / "dev.log"
    process = start_dev(str(BIN / command), port, clone, environment, log)
    try:
        webserver = Webserver(port)
        webserver.wait_until_loaded(process, log)
        [entry] = webserver.query(
            "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
        )["workspaceOrError"]["locationEntries"]
        assert entry["name"] == "budget_pipeline"
        deadline = time.monotonic() + TICK_TIMEOUT
        while SENSOR_TICKED not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
    finally:
        stop_process_group(process)
    output = log.read_text()
    assert MISMATCH not in output, [line for line in output.splitlines() if MISMATCH in line][:1]
