"""Backfill benchmark (issue 5): the pipeline against the naive page-after-page download.

Starts the project's loopback API server (in its own process) with a synthetic organisation of
N seats and a fixed latency per page, lets it encode every page of the range once (a warm-up
pass, not timed: a real API's work happens on its own machines, not ours), then times, in one
run of this script:

  (a) bare:     every page of the range downloaded one after another with httpx;
  (b) backfill: `dagster asset materialize ... --select 'group:budget' --partition-range A...B`
                into a fresh DuckDB file and DAGSTER_HOME (peak RSS of that process too);
  (c) floor:    the same range through five daily assets that do nothing (Dagster's own cost);
  (d) daily:    optionally, a 3-day scheduled-style run on the warehouse (b) just filled.

and prints records, pages, the times and the ratios b/a and (b-c)/a. Ratios measured in one run
are what to compare: the machines here are shared and noisy.

    .venv/bin/python benchmarks/backfill.py --seats 1000 --days 90
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from budget_pipeline.demo.organisation import SyntheticOrganisation

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
API_KEY = "sk-ant-admin-benchmark"


def start_server(seats: int, latency: float) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "budget_pipeline.demo.server",
            "--seats",
            str(seats),
            "--latency",
            str(latency),
            "--api-key",
            API_KEY,
            "--cache-pages",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url = server.stdout.readline().strip()
    return server, base_url


def bare_download(base_url: str, days: list[dt.date]) -> tuple[float, int, int]:
    """The loop most people write first: one page after another."""
    records = pages = 0
    started = time.perf_counter()
    with httpx.Client(
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}, timeout=60
    ) as client:
        for day in days:
            cursor = None
            while True:
                params = {"starting_at": day.isoformat(), "limit": 1000}
                if cursor:
                    params["page"] = cursor
                body = client.get(
                    f"{base_url}/v1/organizations/usage_report/claude_code", params=params
                ).json()
                pages += 1
                records += len(body["data"])
                cursor = body["next_page"]
                if not body["has_more"]:
                    break
    return time.perf_counter() - started, records, pages


def timed_materialize(
    module: str, start: dt.date, end: dt.date, environment: dict[str, str], log: Path
) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one `dagster asset materialize` process."""
    command = [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        module,
        "--select",
        "group:budget",
        "--partition-range",
        f"{start.isoformat()}...{end.isoformat()}",
    ]
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=environment, stdout=output, stderr=subprocess.STDOUT, cwd=PROJECT
        )
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{module} failed (exit {process.returncode}); see {log}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per page")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 9, 30))
    parser.add_argument("--daily", action="store_true", help="also time a 3-day run afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    start = args.end - dt.timedelta(days=args.days - 1)
    days = [start + dt.timedelta(days=k) for k in range(args.days)]
    work = Path(tempfile.mkdtemp(prefix="budget-benchmark-"))
    organisation = SyntheticOrganisation(seats=args.seats)
    organisation.write_config(work / "config")
    server, base_url = start_server(args.seats, args.latency)
    try:
        # Warm-up, not timed: the server encodes every page once and keeps it, so that (a) and
        # (b) both meet an API whose own work happens elsewhere (only the latency is ours).
        warm_up_seconds, _, _ = bare_download(base_url, days)
        bare_seconds, records, pages = bare_download(base_url, days)

        def environment(name: str) -> dict[str, str]:
            home = work / name
            home.mkdir()
            shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
            return {
                **os.environ,
                "DAGSTER_HOME": str(home),
                "ANTHROPIC_ADMIN_API_KEY": API_KEY,
                "ANTHROPIC_BASE_URL": base_url,
                "BUDGET_PIPELINE_CONFIG_DIR": str(work / "config"),
                "BUDGET_PIPELINE_DUCKDB": str(work / f"{name}.duckdb"),
                "BUDGET_PIPELINE_START_DATE": (start - dt.timedelta(days=30)).isoformat(),
                "PYTHONPATH": str(PROJECT),
            }

        backfill_env = environment("backfill")
        backfill_seconds, backfill_rss = timed_materialize(
            "budget_pipeline.definitions", start, args.end, backfill_env, work / "backfill.log"
        )
        floor_seconds, floor_rss = timed_materialize(
            "benchmarks.floor_definitions",
            start,
            args.end,
            environment("floor"),
            work / "floor.log",
        )
        result = {
            "seats": args.seats,
            "days": args.days,
            "latency_s": args.latency,
            "records": records,
            "pages": pages,
            "server_warm_up_s": round(warm_up_seconds, 2),
            "bare_s": round(bare_seconds, 2),
            "backfill_s": round(backfill_seconds, 2),
            "floor_s": round(floor_seconds, 2),
            "backfill_over_bare": round(backfill_seconds / bare_seconds, 3),
            "backfill_minus_floor_over_bare": round(
                (backfill_seconds - floor_seconds) / bare_seconds, 3
            ),
            "backfill_peak_rss_mib": round(backfill_rss),
            "floor_peak_rss_mib": round(floor_rss),
        }
        if args.daily:
            daily_seconds, daily_rss = timed_materialize(
                "budget_pipeline.definitions",
                args.end - dt.timedelta(days=2),
                args.end,
                backfill_env,
                work / "daily.log",
            )
            result |= {
                "daily_3_days_s": round(daily_seconds, 2),
                "daily_peak_rss_mib": round(daily_rss),
            }
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
