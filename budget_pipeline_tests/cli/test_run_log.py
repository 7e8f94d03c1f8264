"""The CLI's full run log stays on the machine: Dagster's telemetry uploader, in every webserver
and daemon process, POSTs whatever it finds in $DAGSTER_HOME/logs/ to its endpoint and deletes
it, whatever dagster.yaml says (dagster/_core/telemetry_upload.py)."""

import os
import subprocess
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from budget_pipeline_tests.commands import (
    BIN,
    SHELL_SETTINGS,
    budget_pipeline,
    new_dagster_home,
    stop_process_group,
)
from budget_pipeline_tests.test_dagster_dev import free_port

REPO = Path(__file__).resolve().parents[2]
UPLOAD_TIMEOUT = 120
CANARY = b"a file the uploader sends: when it has arrived and the queue is empty, its pass is over"


class TelemetryListener:
    """Dagster's telemetry endpoint on 127.0.0.1: keeps every body posted to it."""

    def __init__(self):
        self.bodies: list[bytes] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                listener.bodies.append(zlib.decompress(body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/actions"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()


def _demo_environment(tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(new_dagster_home(tmp_path)),
        "BUDGET_PIPELINE_CONFIG_DIR": str(REPO / "config"),
        "BUDGET_PIPELINE_DUCKDB": str(tmp_path / "data" / "warehouse.duckdb"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    # The demo organisation, as a new user runs it; and nothing that turns the uploader off.
    for name in (
        *SHELL_SETTINGS,
        "BUDGET_PIPELINE_ALERT_WEBHOOK",
        "DAGSTER_DISABLE_TELEMETRY",
        "BUILDKITE",
        "TF_BUILD",
    ):
        environment.pop(name, None)
    return environment


def test_the_ui_started_after_a_demo_sends_nothing_of_the_organisation_and_the_log_stays(
    tmp_path,
):
    environment = _demo_environment(tmp_path)
    home = Path(environment["DAGSTER_HOME"])
    completed = budget_pipeline(environment, tmp_path, "demo", "--days", "2")
    assert completed.returncode == 0, completed.stderr[-3000:]
    [log] = (tmp_path / "data" / "run_logs").glob("budget-pipeline-*.log")
    assert "STEP_SUCCESS" in log.read_text()

    (home / "logs").mkdir(exist_ok=True)
    (home / "logs" / "canary.log").write_bytes(CANARY)
    queue = home / ".logs_queue"
    port = free_port()
    output = tmp_path / "webserver.log"
    with TelemetryListener() as listener, open(output, "wb") as server_output:
        webserver = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env={**environment, "DAGSTER_TELEMETRY_URL": listener.url},
            stdout=server_output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + UPLOAD_TIMEOUT
            while not (CANARY in listener.bodies and queue.is_dir() and not any(queue.iterdir())):
                assert webserver.poll() is None, output.read_text()[-3000:]
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"no upload pass in {UPLOAD_TIMEOUT} s: {output.read_text()[-3000:]}"
                    )
                time.sleep(0.2)
        finally:
            stop_process_group(webserver)

    assert listener.bodies == [CANARY]
    assert "STEP_SUCCESS" in log.read_text()
