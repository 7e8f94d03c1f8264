"""Backfill benchmark: the pipeline against the naive page-after-page download and against
Dagster's own floor.

Starts the project's loopback API server (in its own process) with a synthetic organisation of
N seats and a fixed latency per page, lets it encode every page of the range once (a warm-up
pass, not timed: a real API's work happens on its own machines, not ours), then runs each of
these `--repeat` times, interleaved (a, b, c, a, b, c, ...):

  (a) bare:     every page of the range downloaded one after another with httpx;
  (b) backfill: `dagster asset materialize ... --select 'group:budget' --partition-range A...B`,
                each repeat into a fresh DuckDB file and DAGSTER_HOME, with the peak RSS of
                that process;
  (c) floor:    the same range through the do-nothing daily assets of `floor_definitions.py`
                (the same graph and steps: Dagster's own cost), each repeat in a fresh
                DAGSTER_HOME.

With `--baseline DIR` (a checkout of an earlier commit, e.g. `git worktree add DIR <commit>`),
also, interleaved likewise, (b) and (b0) swapping places every repeat (a, b, c, b0, a, b0, c, b):

  (b0) baseline: (b) with the pipeline's code and dagster.yaml taken from DIR, so that a change
                 is measured against the release before it in the same run, rows and total
                 cost included;
  (c0) its floor: DIR's floor_definitions.py and dagster.yaml, so that b − b0 splits into what
                 Dagster's bookkeeping of the changed graph and instance costs (c − c0) and
                 the pipeline's own work.

With `--source enterprise`, the organisation is a Claude Enterprise one: the server serves its
members' activity (/analytics/users), tokens (/analytics/usage) and a seat-based plan's bill
(/analytics/cost), (a) downloads the first two page after page, and (b) runs the pipeline with
the analytics key (BUDGET_PIPELINE_SOURCE=enterprise).

With `--daily`, on the warehouse and DAGSTER_HOME of the best (b), interleaved likewise:

  (a3) bare:  the last 3 days of the range downloaded page after page;
  (d) daily:  the pipeline's 3-day run, like the schedule's;
  (e) floor:  the floor's 3-day run, in the DAGSTER_HOME of the best (c).

Prints the best (minimum) time of each, the ratios b/a and (b-c)/a, the peak RSS of (b) and (d)
(the maximum over their repeats), the rows of every table of (b)'s warehouse with the total
cost_usd of priced_usage (to check that a change leaves the results alone), a per-step profile
of the best (b) against the best (c) (and of (d) against (e)) read from their event logs, and
the rows for the table of docs/performance.md. Compare ratios measured in one run: the machines
here are shared and noisy.

    .venv/bin/python benchmarks/backfill.py --seats 1000 --days 90
    .venv/bin/python benchmarks/backfill.py --seats 200 --days 5 --repeat 2 --daily
    .venv/bin/python benchmarks/backfill.py --seats 1000 --days 90 --baseline /tmp/before
    .venv/bin/python benchmarks/backfill.py --seats 5000 --days 90 --source enterprise
"""

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx

from budget_pipeline.demo.organisation import SyntheticOrganisation
from budget_pipeline.ingest.enterprise import TOKENS_ENDPOINT, USERS_ENDPOINT
from budget_pipeline.warehouse.tables import PRICED_USAGE, TABLES

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
API_KEY = "sk-ant-admin-benchmark"
PIPELINE = "budget_pipeline.definitions"
FLOOR = "benchmarks.floor_definitions"
DAILY_DAYS = 3
DEFAULTS = {"latency": 0.15, "end": dt.date(2026, 9, 30), "repeat": 2, "source": "claude_code"}
ENTERPRISE = "enterprise"


def start_server(
    seats: int, latency: float, source: str = DEFAULTS["source"]
) -> tuple[subprocess.Popen, str]:
    seat_plan = ["--seat-plan"] if source == ENTERPRISE else []
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
            *seat_plan,
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


def bare_enterprise_download(base_url: str, days: list[dt.date]) -> tuple[float, int, int]:
    """The same loop over the Enterprise source's two daily reads: each day's member pages, then
    its token pages. Records are the rows of both."""
    records = pages = 0
    started = time.perf_counter()
    headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    with httpx.Client(headers=headers, timeout=60) as client:
        for day in days:
            for endpoint in (USERS_ENDPOINT, TOKENS_ENDPOINT):
                cursor = None
                while True:
                    params = endpoint.day_query(day, 1000) + ([("page", cursor)] if cursor else [])
                    body = client.get(
                        base_url + endpoint.path, params=params, headers=endpoint.headers
                    ).json()
                    pages += 1
                    records += len(body["data"])
                    cursor = body["next_page"]
                    if not cursor:
                        break
    return time.perf_counter() - started, records, pages


def warm_bill(base_url: str, days: list[dt.date]) -> int:
    """Every page of the range's bill once, so the server keeps it encoded like the usage."""
    from budget_pipeline.ingest.cost import COST_BETA, cost_query

    pages = 0
    headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": COST_BETA}
    with httpx.Client(headers=headers, timeout=60) as client:
        for day in days:
            cursor = None
            while True:
                params = cost_query(day, 1000) + ([("page", cursor)] if cursor else [])
                body = client.get(f"{base_url}/v1/organizations/analytics/cost", params=params)
                pages += 1
                cursor = body.json()["next_page"]
                if not cursor:
                    break
    return pages


@dataclass
class Home:
    """A DAGSTER_HOME with its own DuckDB file; `runs` counts the runs started in it."""

    name: str
    path: Path
    warehouse: Path
    environment: dict[str, str]
    project: Path = PROJECT
    runs: int = 0


@dataclass
class Materialization:
    """One `dagster asset materialize` process: the `index`-th run of its DAGSTER_HOME."""

    home: Home
    index: int
    seconds: float
    rss_mib: float
    started_at: float
    ended_at: float


@dataclass
class Series:
    """The repeats of one measurement; the best is the fastest."""

    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds)


def materialize(
    module: str, home: Home, start: dt.date, end: dt.date, selection: str = "group:budget"
) -> Materialization:
    """Wall time and peak RSS (MiB) of one `dagster asset materialize` process."""
    command = [
        str(BIN / "dagster"),
        "asset",
        "materialize",
        "-m",
        module,
        "--select",
        selection,
        "--partition-range",
        f"{start.isoformat()}...{end.isoformat()}",
    ]
    log = home.path.parent / f"{home.name}-{home.runs}.log"
    started_at, started = time.time(), time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            env=home.environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=home.project,
        )
        _, status, usage = os.wait4(process.pid, 0)
    elapsed, ended_at = time.perf_counter() - started, time.time()
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code != 0:
        raise RuntimeError(f"{module} failed (exit {exit_code}); see {log}")
    home.runs += 1
    return Materialization(
        home, home.runs - 1, elapsed, usage.ru_maxrss / 1024, started_at, ended_at
    )


def faster(best: Materialization | None, run: Materialization) -> Materialization:
    """The faster of the best run so far (None before the first) and `run`."""
    return run if best is None or run.seconds < best.seconds else best


def warehouse_rows(path: Path) -> tuple[dict[str, int], float]:
    """Rows of every table and the total cost_usd of priced_usage, rounded to cents (with its
    list_price_cost_usd where the table has it: `cost_usd/list_price_cost_usd`)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        # A baseline written before a table existed has none of its rows.
        present = {
            name
            for (name,) in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'budget'"
            ).fetchall()
        }
        rows = {
            name: connection.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
            if name in present
            else 0
            for name, table in TABLES.items()
        }
        [(cost,)] = connection.execute(
            f"SELECT coalesce(sum(cost_usd), 0) FROM {PRICED_USAGE.qualified_name}"
        ).fetchall()
        columns = {
            name
            for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'budget' AND table_name = 'priced_usage'"
            ).fetchall()
        }
        if "list_price_cost_usd" in columns:
            [(list_cost,)] = connection.execute(
                f"SELECT coalesce(sum(list_price_cost_usd), 0) FROM {PRICED_USAGE.qualified_name}"
            ).fetchall()
            rows["list_price_cost_usd_cents"] = round(list_cost * 100)
    return rows, round(cost, 2)


def rows_line(rows: dict[str, int], cost: float) -> str:
    counts = ", ".join(f"{name}={count}" for name, count in rows.items() if name in TABLES)
    line = f"rows: {counts}\npriced_usage cost_usd total: {cost:.2f}"
    if "list_price_cost_usd_cents" in rows:
        line += f", list_price_cost_usd total: {rows['list_price_cost_usd_cents'] / 100:.2f}"
    return line


def make_home(
    folder: Path,
    name: str,
    config: Path,
    start: dt.date,
    *,
    project: Path = PROJECT,
    base_url: str | None = None,
    source: str = DEFAULTS["source"],
) -> Home:
    """A fresh DAGSTER_HOME `folder/name` whose runs use the warehouse `folder/name.duckdb`, the
    configuration files of `config` and the code of `project`, for a range starting on `start`."""
    home = folder / name
    home.mkdir()
    # The instance of that code's release too: a baseline runs on the storage its users had.
    shutil.copy(project / "dagster.yaml", home / "dagster.yaml")
    warehouse = folder / f"{name}.duckdb"
    key = (
        {"ANTHROPIC_ANALYTICS_API_KEY": API_KEY, "BUDGET_PIPELINE_SOURCE": ENTERPRISE}
        if source == ENTERPRISE
        else {"ANTHROPIC_ADMIN_API_KEY": API_KEY}
    )
    environment = {
        **{
            name: value
            for name, value in os.environ.items()
            if name
            not in (
                "ANTHROPIC_ADMIN_API_KEY",
                "ANTHROPIC_ANALYTICS_API_KEY",
                "BUDGET_PIPELINE_SOURCE",
            )
        },
        "DAGSTER_HOME": str(home),
        **key,
        **({"ANTHROPIC_BASE_URL": base_url} if base_url else {}),
        "BUDGET_PIPELINE_CONFIG_DIR": str(config),
        "BUDGET_PIPELINE_DUCKDB": str(warehouse),
        "BUDGET_PIPELINE_START_DATE": (start - dt.timedelta(days=30)).isoformat(),
        "PYTHONPATH": str(project),
    }
    return Home(name, home, warehouse, environment, project)


def remove_warehouse(home: Home) -> None:
    for path in home.warehouse.parent.glob(f"{home.warehouse.name}*"):
        path.unlink()


# Profile rows that are not steps.
STARTUP = "start-up (process start → first event: imports, definitions, run created)"
PLANNING = "planning (first event → first STEP_START)"
PLANNED = "↳ of which planned events (first event → RUN_START)"
BETWEEN = "between steps"
FINISHING = "last STEP_SUCCESS → RUN_SUCCESS"
EXIT = "exit (RUN_SUCCESS → process end)"
RUN = "run total (RUN_START → RUN_SUCCESS)"
WALL = "process (wall time)"
EVENTS = "events in the run's log"


def profile(run: Materialization) -> dict[str, float]:
    """Seconds per part of one run, from its event log (step keys are the asset names)."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(run.home.path)) as instance:
        dagster_run = instance.get_runs(ascending=True)[run.index]
        events = instance.all_logs(dagster_run.run_id)
    first = events[0].timestamp
    run_start = run_end = None
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    last_step_end = first
    for event in events:
        kind = event.dagster_event_type
        if kind == DagsterEventType.RUN_START:
            run_start = event.timestamp
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            run_end = event.timestamp
        elif kind == DagsterEventType.STEP_START:
            starts[event.step_key] = event.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            steps[event.step_key] = event.timestamp - starts[event.step_key]
            last_step_end = max(last_step_end, event.timestamp)
    first_step = min(starts.values())
    return {
        STARTUP: first - run.started_at,
        PLANNING: first_step - first,
        PLANNED: run_start - first,
        **dict(sorted(steps.items(), key=lambda item: starts[item[0]])),
        BETWEEN: last_step_end - first_step - sum(steps.values()),
        FINISHING: run_end - last_step_end,
        EXIT: run.ended_at - run_end,
        RUN: run_end - run_start,
        WALL: run.seconds,
        EVENTS: len(events),
    }


def profile_table(
    title: str,
    pipeline: Materialization,
    floor: Materialization,
    columns: tuple[str, str] = ("pipeline", "floor"),
) -> str:
    left, right = profile(pipeline), profile(floor)
    names = [*left, *(name for name in right if name not in left)]
    lines = [
        f"| {title} | {columns[0]} | {columns[1]} | difference |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in names:
        if name == EVENTS:
            cells = [f"{int(side[name]):,}" if name in side else "—" for side in (left, right)]
            difference = f"{int(left[name] - right[name]):,}"
        else:
            cells = [f"{side[name]:.2f} s" if name in side else "—" for side in (left, right)]
            difference = (
                f"{left[name] - right[name]:+.2f} s" if name in left and name in right else "—"
            )
        label = name if " " in name else f"step `{name}`"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {difference} |")
    return "\n".join(lines)


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def series_line(series: Series, extra: str = "") -> str:
    repeats = " / ".join(f"{value:.2f}" for value in series.seconds)
    return f"{series.label:<14} best {seconds(series.best):>9}   (repeats: {repeats} s){extra}"


def command_of(args: argparse.Namespace) -> str:
    command = f"backfill.py --seats {args.seats} --days {args.days}"
    for option, default in DEFAULTS.items():
        if getattr(args, option) != default:
            command += f" --{option} {getattr(args, option)}"
    return command + (" --daily" if args.daily else "")


def markdown_row(
    label: str, records: int, pages: int, a: Series, b: Series, c: Series, rss: float
) -> str:
    return (
        f"| {label} | {records:,} / {pages:,} | {seconds(a.best)} | {seconds(b.best)} "
        f"| {seconds(c.best)} | {b.best / a.best:.2f} | {(b.best - c.best) / a.best:.2f} "
        f"| {rss:.0f} MiB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--latency", type=float, default=DEFAULTS["latency"], help="seconds per page"
    )
    parser.add_argument(
        "--end", type=dt.date.fromisoformat, default=DEFAULTS["end"], help="last day of the range"
    )
    parser.add_argument(
        "--repeat", type=int, default=DEFAULTS["repeat"], help="runs of each measurement"
    )
    parser.add_argument(
        "--daily", action="store_true", help=f"also time a {DAILY_DAYS}-day run afterwards"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--source",
        choices=("claude_code", ENTERPRISE),
        default=DEFAULTS["source"],
        help="the organisation's API: the Console's Claude Code Analytics API or Enterprise's",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an earlier commit: also time its pipeline, interleaved",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.daily and args.days < DAILY_DAYS:
        parser.error(f"--daily needs --days {DAILY_DAYS} or more")

    start = args.end - dt.timedelta(days=args.days - 1)
    days = [start + dt.timedelta(days=k) for k in range(args.days)]
    work = Path(tempfile.mkdtemp(prefix="budget-benchmark-"))
    keep = args.keep
    organisation = SyntheticOrganisation(seats=args.seats)
    organisation.write_config(work / "config")
    server, base_url = start_server(args.seats, args.latency, args.source)
    download = bare_enterprise_download if args.source == ENTERPRISE else bare_download

    def new_home(name: str, project: Path = PROJECT) -> Home:
        return make_home(
            work,
            name,
            work / "config",
            start,
            project=project,
            base_url=base_url,
            source=args.source,
        )

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        # Warm-up, not timed: the server encodes every page once and keeps it, so that (a) and
        # (b) both meet an API whose own work happens elsewhere (only the latency is ours).
        warm_up_seconds, records, pages = download(base_url, days)
        progress(f"the bill: {warm_bill(base_url, days):,} pages")
        progress(f"{command_of(args)}: {records:,} records / {pages:,} pages, work folder {work}")

        bare, backfill, floor = Series("(a) bare"), Series("(b) backfill"), Series("(c) floor")
        baseline = Series("(b0) baseline")
        baseline_floor = Series("(c0) floor0")
        best_baseline: Materialization | None = None
        baseline_counts: list[tuple[dict[str, int], float]] = []
        best_backfill: Materialization | None = None
        best_floor: Materialization | None = None
        backfill_rss = 0.0
        counts: list[tuple[dict[str, int], float]] = []

        def run_backfill(repeat: int) -> None:
            nonlocal best_backfill, backfill_rss
            run = materialize(PIPELINE, new_home(f"backfill-{repeat}"), start, args.end)
            backfill.seconds.append(run.seconds)
            backfill_rss = max(backfill_rss, run.rss_mib)
            counts.append(warehouse_rows(run.home.warehouse))
            previous, best_backfill = best_backfill, faster(best_backfill, run)
            worse = previous if best_backfill is run else run
            if worse is not None and not keep:
                remove_warehouse(worse.home)  # only the best run's warehouse is used again

        def run_baseline(repeat: int) -> None:
            nonlocal best_baseline
            run = materialize(
                PIPELINE, new_home(f"baseline-{repeat}", args.baseline), start, args.end
            )
            baseline.seconds.append(run.seconds)
            baseline_counts.append(warehouse_rows(run.home.warehouse))
            best_baseline = faster(best_baseline, run)
            if not keep:
                remove_warehouse(run.home)  # its rows are counted; nothing reads it again

        for repeat in range(args.repeat):
            bare.seconds.append(download(base_url, days)[0])
            # (b) and (b0) swap places every repeat: whichever ran straight after the bare
            # download started up 0.3-0.8 s slower, in each of four runs (docs/performance.md).
            first, last = run_backfill, run_baseline if args.baseline else None
            if args.baseline and repeat % 2 == 1:
                first, last = last, first
            first(repeat)
            run = materialize(FLOOR, new_home(f"floor-{repeat}"), start, args.end)
            floor.seconds.append(run.seconds)
            best_floor = faster(best_floor, run)
            if last is not None:
                last(repeat)
                # The baseline's own floor: what Dagster's bookkeeping of its graph costs.
                run = materialize(
                    FLOOR, new_home(f"floor0-{repeat}", args.baseline), start, args.end
                )
                baseline_floor.seconds.append(run.seconds)
            progress(
                f"repeat {repeat + 1}/{args.repeat}: bare {bare.seconds[-1]:.2f} s, "
                f"backfill {backfill.seconds[-1]:.2f} s, floor {floor.seconds[-1]:.2f} s"
                + (
                    f", baseline {baseline.seconds[-1]:.2f} s, its floor "
                    f"{baseline_floor.seconds[-1]:.2f} s"
                    if args.baseline
                    else ""
                )
            )

        if args.daily:
            daily_days = days[-DAILY_DAYS:]
            daily_start = daily_days[0]
            _, daily_records, daily_pages = download(base_url, daily_days)
            bare3, daily, daily_floor = (
                Series(f"(a3) bare {DAILY_DAYS}d"),
                Series(f"(d) daily {DAILY_DAYS}d"),
                Series(f"(e) floor {DAILY_DAYS}d"),
            )
            best_daily: Materialization | None = None
            best_daily_floor: Materialization | None = None
            daily_rss = 0.0
            for repeat in range(args.repeat):
                bare3.seconds.append(download(base_url, daily_days)[0])
                run = materialize(PIPELINE, best_backfill.home, daily_start, args.end)
                daily.seconds.append(run.seconds)
                daily_rss = max(daily_rss, run.rss_mib)
                best_daily = faster(best_daily, run)
                run = materialize(FLOOR, best_floor.home, daily_start, args.end)
                daily_floor.seconds.append(run.seconds)
                best_daily_floor = faster(best_daily_floor, run)
                progress(
                    f"daily repeat {repeat + 1}/{args.repeat}: bare {bare3.seconds[-1]:.2f} s, "
                    f"daily {daily.seconds[-1]:.2f} s, floor {daily_floor.seconds[-1]:.2f} s"
                )
            counts_after_daily = warehouse_rows(best_backfill.home.warehouse)

        print(f"# {command_of(args)}")
        print(
            f"range {start}...{args.end}: {records:,} records / {pages:,} pages, "
            f"{args.latency} s a page; server warm-up (untimed) {warm_up_seconds:.2f} s"
        )
        print()
        print(series_line(bare))
        print(series_line(backfill, f", peak RSS {backfill_rss:.0f} MiB (max of the repeats)"))
        print(series_line(floor))
        print(
            f"b/a = {backfill.best / bare.best:.2f}, "
            f"(b−c)/a = {(backfill.best - floor.best) / bare.best:.2f}, "
            f"b−c = {backfill.best - floor.best:.2f} s"
        )
        if args.baseline:
            print(series_line(baseline, f", code of {args.baseline}"))
            print(
                f"b0/a = {baseline.best / bare.best:.2f}, "
                f"(b0−c)/a = {(baseline.best - floor.best) / bare.best:.2f}, "
                f"b0−c = {baseline.best - floor.best:.2f} s"
            )
            print(
                series_line(
                    baseline_floor, f", {args.baseline}'s floor_definitions.py and dagster.yaml"
                )
            )
            dagster_part = floor.best - baseline_floor.best
            own_part = (backfill.best - floor.best) - (baseline.best - baseline_floor.best)
            print(
                f"b − b0 = {backfill.best - baseline.best:+.2f} s = Dagster's bookkeeping of the "
                f"graph's and instance's change (c − c0) {dagster_part:+.2f} s + the pipeline's "
                f"own work ((b − c) − (b0 − c0)) {own_part:+.2f} s"
            )
        print()
        rows, cost = counts[backfill.seconds.index(backfill.best)]  # the repeat of best_backfill
        print(rows_line(rows, cost))
        if args.source != ENTERPRISE and rows["raw_usage"] != records:
            print(f"WARNING: raw_usage has {rows['raw_usage']:,} rows, the API {records:,} records")
        if args.baseline:
            same = all(other == (rows, cost) for other in baseline_counts)
            print(
                "rows and total cost of (b0): the same"
                if same
                else f"WARNING: (b0) wrote {rows_line(*baseline_counts[0])}"
            )
        if any(other != counts[0] for other in counts):
            print("WARNING: the repeats of (b) wrote different rows:")
            for repeat, (other_rows, other_cost) in enumerate(counts):
                print(f"  repeat {repeat + 1}: {rows_line(other_rows, other_cost)}")
        if args.daily:
            print()
            print(series_line(bare3))
            print(series_line(daily, f", peak RSS {daily_rss:.0f} MiB (max of the repeats)"))
            print(series_line(daily_floor))
            print(
                f"d−e = {daily.best - daily_floor.best:.2f} s, "
                f"d/a3 = {daily.best / bare3.best:.2f}, "
                f"(d−e)/a3 = {(daily.best - daily_floor.best) / bare3.best:.2f}"
            )
            if counts_after_daily == (rows, cost):
                print("rows after the daily runs: unchanged")
            else:
                print("WARNING: the daily runs changed the warehouse:")
                print(rows_line(*counts_after_daily))
        print()
        print(profile_table(f"backfill, best of {args.repeat}", best_backfill, best_floor))
        if args.baseline:
            print()
            print(
                profile_table(
                    f"backfill against baseline, best of {args.repeat}",
                    best_backfill,
                    best_baseline,
                    ("pipeline", "baseline"),
                )
            )
        if args.daily:
            print()
            print(profile_table(f"daily, best of {args.repeat}", best_daily, best_daily_floor))
        print()
        print(
            "| command | records / pages | bare (a) | backfill (b) | floor (c) | b/a | (b−c)/a "
            "| peak RSS (b) |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        print(
            markdown_row(
                f"`{command_of(args)}`", records, pages, bare, backfill, floor, backfill_rss
            )
        )
        if args.daily:
            print(
                markdown_row(
                    f"its {DAILY_DAYS}-day daily run (bare, daily, floor of those days)",
                    daily_records,
                    daily_pages,
                    bare3,
                    daily,
                    daily_floor,
                    daily_rss,
                )
            )
    except BaseException:
        keep = True
        raise
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
