"""`budget-pipeline summary` while another process writes the warehouse: a few seconds, then one
line saying the warehouse is busy and with what, never minutes and a traceback."""

import os
import signal
import subprocess
import sys
import time

import dagster as dg
import pytest

from budget_pipeline.cli.main import main
from budget_pipeline.cli.warehouse_busy import SUMMARY_LOCK_WAIT_SECONDS
from budget_pipeline_tests.commands import cli_environment
from budget_pipeline_tests.reliability.conftest import start_materialize

# The lock wait, plus reading the instance and printing, with room for a loaded machine.
FAST_ENOUGH = SUMMARY_LOCK_WAIT_SECONDS + 15


def _use(monkeypatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        if name.startswith(("BUDGET_PIPELINE_", "ANTHROPIC_", "DAGSTER_HOME")):
            monkeypatch.setenv(name, value)


def _summary_refused(capsys) -> str:
    started = time.monotonic()
    assert main(["summary", "2026-03-02", "2026-03-02"]) == 1
    assert time.monotonic() - started < FAST_ENOUGH
    output = capsys.readouterr()
    assert "Traceback" not in output.out + output.err
    [line] = output.err.strip().splitlines()
    return line


def test_a_summary_while_a_duckdb_shell_holds_the_file_names_that_process(
    api_server, config_dir, tmp_path, monkeypatch, capsys
):
    environment = cli_environment(api_server, config_dir, tmp_path)
    _use(monkeypatch, environment)
    path = environment["BUDGET_PIPELINE_DUCKDB"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"connection = duckdb.connect({path!r})\n"
            "print('holding', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        line = _summary_refused(capsys)
    finally:
        holder.kill()
        holder.wait()
    assert line.startswith(
        f"the warehouse {path} is busy (waited {SUMMARY_LOCK_WAIT_SECONDS:g} s): "
        f"process {holder.pid} ("
    )
    assert "holds it, not a Dagster run in progress" in line


def test_a_summary_while_a_run_writes_the_warehouse_names_the_run_and_its_step(
    api_server, config_dir, tmp_path, monkeypatch, capsys
):
    environment = cli_environment(api_server, config_dir, tmp_path)
    _use(monkeypatch, environment)
    path = environment["BUDGET_PIPELINE_DUCKDB"]
    # The API holds its pages: the run stays inside raw_layer, which has the file open to write.
    api_server.hold_timeout = 60
    api_server.hold.clear()
    run = start_materialize(
        "2026-03-02", "2026-03-02", environment, tmp_path, log=tmp_path / "materialize.log"
    )
    try:
        deadline = time.monotonic() + 120
        while not api_server.usage_requests():
            assert run.poll() is None, "the run ended before fetching"
            assert time.monotonic() < deadline, "the run never fetched"
            time.sleep(0.2)
        line = _summary_refused(capsys)
        api_server.hold.set()
        assert run.wait(timeout=120) == 0
    finally:
        api_server.hold.set()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    with dg.DagsterInstance.from_config(environment["DAGSTER_HOME"]) as instance:
        [record] = instance.get_runs()
    assert line == (
        f"the warehouse {path} is busy (waited {SUMMARY_LOCK_WAIT_SECONDS:g} s): Dagster run "
        f"{record.run_id} (pid {run.pid}, step raw_layer) is writing it; run the summary again "
        "when that run ends"
    )
    # and once it has ended, the summary reads the day it wrote
    assert main(["summary", "2026-03-02", "2026-03-02"]) == 0
    assert "Budget summary 2026-03-02 … 2026-03-02 (1 days loaded)" in capsys.readouterr().out


@pytest.fixture(autouse=True)
def _no_webhook(monkeypatch):
    monkeypatch.delenv("BUDGET_PIPELINE_ALERT_WEBHOOK", raising=False)
