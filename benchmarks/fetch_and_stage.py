"""raw_usage's fetch-and-stage loop alone, without Dagster: how many days to fetch at once.

Starts the loopback API server (its own process, `--cache-pages`, 150 ms a page), fetches the
range once untimed so that the server has encoded every page, then for each `--concurrency`
times the loop raw_usage runs (`AnalyticsClient.load_days` into `page_staging.raw_page_sink`, a
staging table in a fresh DuckDB file), and the same fetch into a sink that only reads the cursor
(what the API alone costs). Prints wall time and this process's CPU time for each.

    .venv/bin/python benchmarks/fetch_and_stage.py --seats 5000 --days 90 --concurrency 8 16 32
"""

import argparse
import datetime as dt
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import duckdb

# run as a script, this folder is on sys.path: the same server and key as backfill.py
from backfill import API_KEY, start_server

from budget_pipeline.ingest import page_staging
from budget_pipeline.ingest.client import AnalyticsClient
from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.tables import RAW_USAGE


class CursorOnlySink:
    """Reads the next cursor the way RawPageSink does (from the page's tail, else one DuckDB
    parse) and keeps nothing."""

    def __init__(self):
        self._local = threading.local()

    def take(self, content: bytes, *, day, page, seen_cursors):
        if not hasattr(self._local, "cursor"):
            self._local.cursor = duckdb.connect()
        has_more, next_page = page_staging.page_tail(content) or page_staging.parsed_header(
            self._local.cursor, content
        )
        return 0, json.loads(next_page) if has_more == "true" else None


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=5000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32])
    args = parser.parse_args()
    days = [dt.date(2026, 7, 1) + dt.timedelta(days=k) for k in range(args.days)]
    server, base_url = start_server(args.seats, args.latency)
    results = []
    try:
        with (
            tempfile.TemporaryDirectory() as work,
            warehouse.connect(str(Path(work) / "stage.duckdb")) as connection,
        ):
            staging = warehouse.staging_table(RAW_USAGE)
            for concurrency in [max(args.concurrency), *args.concurrency]:
                connection.execute(RAW_USAGE.create_statement(staging, replace=True))
                with AnalyticsClient(base_url, API_KEY, max_concurrent_days=concurrency) as client:
                    started, cpu = time.perf_counter(), cpu_seconds()
                    for _ in client.load_days(days, CursorOnlySink()):
                        pass
                    fetch = (time.perf_counter() - started, cpu_seconds() - cpu)
                    started, cpu = time.perf_counter(), cpu_seconds()
                    with page_staging.raw_page_sink(connection, staging, concurrency) as sink:
                        for _ in client.load_days(days, sink):
                            pass
                        records = sink.flush()
                    stage = (time.perf_counter() - started, cpu_seconds() - cpu)
                results.append(
                    {
                        "concurrent_days": concurrency,
                        "records": records,
                        "fetch_only_s": round(fetch[0], 2),
                        "fetch_only_cpu_s": round(fetch[1], 2),
                        "fetch_and_stage_s": round(stage[0], 2),
                        "fetch_and_stage_cpu_s": round(stage[1], 2),
                    }
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    # The first round warmed the server up: not reported.
    print(json.dumps(results[1:], indent=2))


if __name__ == "__main__":
    main()
