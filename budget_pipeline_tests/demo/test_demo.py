"""The synthetic organisation and the loopback API server."""

import csv
import datetime
import io
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import pandas as pd
import pytest

from budget_pipeline.demo.organisation import (
    DEMO_ORGANISATION,
    UNPRICED_MODEL,
    WORKSTREAMS,
    SyntheticOrganisation,
    is_spike_day,
)
from budget_pipeline.demo.server import USAGE_PATH, UsageApiServer, encode_cursor
from budget_pipeline.rules.attribution import UNASSIGNED
from budget_pipeline.rules.config_files import load_budgets
from budget_pipeline.rules.forecast import (
    FORECAST_OVER_BUDGET,
    ON_TRACK,
    OVER_BUDGET,
    TOTAL,
    forecast_rows,
)

ORG = SyntheticOrganisation(seats=40)
START = datetime.date(2026, 1, 5)  # a Monday
DAYS = [START + datetime.timedelta(days=i) for i in range(127)]
RECORD_KEYS = {
    "date",
    "actor",
    "organization_id",
    "customer_type",
    "subscription_type",
    "terminal_type",
    "core_metrics",
    "tool_actions",
    "model_breakdown",
}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


PRICES = {
    row["model"]: tuple(
        float(row[c])
        for c in (
            "input_per_mtok",
            "output_per_mtok",
            "cache_write_per_mtok",
            "cache_read_per_mtok",
        )
    )
    for row in _rows(ORG.prices_csv())
}


def _price(model: str) -> tuple[float, ...] | None:
    # Exact match, else the longest row that is a prefix followed by '-'.
    if model in PRICES:
        return PRICES[model]
    candidates = [m for m in PRICES if model.startswith(m + "-")]
    return PRICES[max(candidates, key=len)] if candidates else None


def _cost(entry: dict) -> float | None:
    rates = _price(entry["model"])
    if rates is None:
        return None
    t = entry["tokens"]
    p_in, p_out, p_write, p_read = rates
    return (
        t["input"] * p_in
        + t["output"] * p_out
        + t["cache_creation"] * p_write
        + t["cache_read"] * p_read
    ) / 1e6


def _record_cost(record: dict) -> float:
    # The pipeline falls back to the API estimate for unpriced models.
    total = 0.0
    for entry in record.get("model_breakdown", []):
        cost = _cost(entry)
        total += entry["estimated_cost"]["amount"] / 100 if cost is None else cost
    return total


def _actor(record: dict) -> str:
    actor = record["actor"]
    return actor.get("email_address") or actor["api_key_name"]


@pytest.fixture(scope="module")
def history() -> dict[datetime.date, list[dict]]:
    return {day: ORG.records_for(day) for day in DAYS}


# -- the organisation ----------------------------------------------------------------------------


def test_records_are_deterministic_across_instances():
    other = SyntheticOrganisation(seats=40)
    for day in DAYS[:10]:
        assert ORG.records_for(day) == other.records_for(day)
    assert SyntheticOrganisation(seats=40, seed=8).records_for(START) != ORG.records_for(START)


def test_records_are_deterministic_across_processes():
    code = (
        "import datetime, json; from budget_pipeline.demo.organisation import DEMO_ORGANISATION;"
        "print(json.dumps(DEMO_ORGANISATION.records_for(datetime.date(2026, 1, 7))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == DEMO_ORGANISATION.records_for(datetime.date(2026, 1, 7))


def test_an_actor_day_does_not_depend_on_the_seat_count():
    small = {_actor(r): r for r in SyntheticOrganisation(seats=10).records_for(START)}
    large = {_actor(r): r for r in SyntheticOrganisation(seats=60).records_for(START)}
    for actor, record in small.items():
        assert large[actor] == record


def test_records_have_the_spec_shape(history):
    for day, records in history.items():
        assert [_actor(r) for r in records] == sorted(_actor(r) for r in records)
        assert len({_actor(r) for r in records}) == len(records)
        for record in records:
            assert set(record) == RECORD_KEYS
            assert record["date"] == f"{day.isoformat()}T00:00:00Z"
            assert record["customer_type"] == "api"
            assert record["subscription_type"] == "enterprise"
            for entry in record["model_breakdown"]:
                assert set(entry["tokens"]) == {"input", "output", "cache_read", "cache_creation"}
                assert entry["estimated_cost"]["currency"] == "USD"
                assert isinstance(entry["estimated_cost"]["amount"], int)
    terminals = {r["terminal_type"] for records in history.values() for r in records}
    assert {"vscode", "iterm.app", "jetbrains"} <= terminals
    assert len({r["organization_id"] for rs in history.values() for r in rs}) == 1


def test_developers_work_weekdays_with_realistic_cost(history):
    weekday_costs, weekday_active, weekend_active = [], [], []
    models = set()
    mixed_days = 0
    for day, records in history.items():
        devs = [r for r in records if _actor(r).startswith("dev")]
        (weekday_active if day.weekday() < 5 else weekend_active).append(len(devs) / 40)
        for r in devs:
            models |= {e["model"] for e in r["model_breakdown"]}
            mixed_days += len({e["model"] for e in r["model_breakdown"]}) > 1
            if day.weekday() < 5 and not is_spike_day(day):
                weekday_costs.append(_record_cost(r))
    assert 0.85 <= sum(weekday_active) / len(weekday_active) <= 0.97
    assert 0.08 <= sum(weekend_active) / len(weekend_active) <= 0.25
    weekday_costs.sort()
    assert 3 <= weekday_costs[len(weekday_costs) // 2] <= 20
    assert weekday_costs[len(weekday_costs) // 10] >= 2
    assert weekday_costs[len(weekday_costs) * 9 // 10] <= 25
    assert {"claude-sonnet-4-6", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"} <= models
    assert mixed_days > 100


def test_api_estimate_tracks_the_price_table(history):
    for records in history.values():
        for record in records:
            for entry in record["model_breakdown"]:
                cost = _cost(entry)
                if cost is None:
                    continue
                estimate = entry["estimated_cost"]["amount"] / 100
                assert abs(estimate - cost) <= 0.03 * cost + 0.005


def test_contractor_is_unassigned_and_a_small_share(history):
    ledger = {row["actor"] for row in _rows(ORG.workstreams_csv())}
    seats = {row["email"] for row in _rows(ORG.seats_csv())}
    assert "contractor@partner.example" not in ledger | seats
    active = 0
    for day, records in history.items():
        total = sum(_record_cost(r) for r in records)
        contractor = sum(
            _record_cost(r) for r in records if _actor(r) == "contractor@partner.example"
        )
        if day.weekday() < 5:
            active += contractor > 0
        else:
            assert contractor == 0
        assert contractor < 0.15 * total
    assert active >= 0.6 * sum(d.weekday() < 5 for d in history)


def test_ci_bot_is_an_api_actor_every_day(history):
    for records in history.values():
        [bot] = [r for r in records if r["actor"].get("api_key_name") == "ci-review-bot"]
        assert bot["actor"] == {"type": "api_actor", "api_key_name": "ci-review-bot"}
        assert 0 < _record_cost(bot) < 5
    ledger = {row["actor"]: row["workstream"] for row in _rows(ORG.workstreams_csv())}
    assert ledger["ci-review-bot"] == "platform"
    assert "ci-review-bot" not in {row["email"] for row in _rows(ORG.seats_csv())}


def test_idle_seat_and_new_hire_never_appear(history):
    seen = {_actor(r) for records in history.values() for r in records}
    assert "idle.person@example.com" not in seen
    assert "new.hire@example.com" not in seen
    seats = {row["email"]: row for row in _rows(ORG.seats_csv())}
    ledger = {row["actor"]: row["workstream"] for row in _rows(ORG.workstreams_csv())}
    assert seats["idle.person@example.com"]["note"] == "Parental leave until March"
    assert ledger["idle.person@example.com"] == "mobile"
    assert seats["new.hire@example.com"]["note"] == ""
    assert "new.hire@example.com" not in ledger


def test_reviewer_is_barely_active_in_every_window(history):
    seats = {row["email"]: row for row in _rows(ORG.seats_csv())}
    ledger = {row["actor"]: row["workstream"] for row in _rows(ORG.workstreams_csv())}
    assert seats["reviewer@example.com"]["note"] == "Review-only role"
    assert ledger["reviewer@example.com"] == "search"
    lines: dict[datetime.date, int] = {}
    for day, records in history.items():
        mine = [r for r in records if _actor(r) == "reviewer@example.com"]
        if day.weekday() in (0, 3):
            [record] = mine
            assert record["core_metrics"]["num_sessions"] == 1
            assert 0 <= record["core_metrics"]["lines_of_code"]["added"] <= 5
            lines[day] = record["core_metrics"]["lines_of_code"]["added"]
        else:
            assert mine == []
    for end in DAYS[13:]:
        window = [end - datetime.timedelta(days=i) for i in range(14)]
        assert sum(lines.get(d, 0) for d in window) < 20
        assert sum(d in lines for d in window) > 0


def test_dev003_sometimes_uses_an_unpriced_model(history):
    users = {
        (day, _actor(r))
        for day, records in history.items()
        for r in records
        if any(e["model"] == UNPRICED_MODEL for e in r["model_breakdown"])
    }
    assert {actor for _, actor in users} == {"dev003@example.com"}
    days_with = sorted(day for day, _ in users)
    assert 10 <= len(days_with) < len(history)
    assert _price(UNPRICED_MODEL) is None
    for day in days_with:
        [record] = [r for r in history[day] if _actor(r) == "dev003@example.com"]
        assert len(record["model_breakdown"]) >= 2
        entry = next(e for e in record["model_breakdown"] if e["model"] == UNPRICED_MODEL)
        assert entry["estimated_cost"]["amount"] > 0


def test_only_spike_days_fire_the_combined_alert(history):
    totals = {day: sum(_record_cost(r) for r in records) for day, records in history.items()}
    fired, spikes = [], []
    for day in DAYS[7:]:
        today = totals[day]
        last_week = totals[day - datetime.timedelta(days=7)]
        ma7 = sum(totals[day - datetime.timedelta(days=i)] for i in range(1, 8)) / 7
        if today >= 50 and last_week > 0 and today >= 1.6 * last_week and today >= 1.5 * ma7:
            fired.append(day)
        if is_spike_day(day):
            spikes.append(day)
    assert len(DAYS[7:]) >= 120
    assert len(spikes) >= 5
    assert all(day.weekday() == 2 for day in spikes)
    assert fired == spikes


def test_spike_is_driven_by_the_search_workstream(history):
    ledger = {row["actor"]: row["workstream"] for row in _rows(ORG.workstreams_csv())}
    spike = next(day for day in DAYS if is_spike_day(day))
    week_before = spike - datetime.timedelta(days=7)

    def by_workstream(day: datetime.date) -> dict[str, float]:
        costs: dict[str, float] = defaultdict(float)
        for r in history[day]:
            costs[ledger.get(_actor(r), "Unassigned")] += _record_cost(r)
        return costs

    now, before = by_workstream(spike), by_workstream(week_before)
    assert now["search"] >= 4 * before["search"]
    for other in ("payments", "platform", "mobile", "data-eng"):
        assert now[other] < 1.6 * before[other]


# -- configuration files -------------------------------------------------------------------------


def test_config_files_parse(tmp_path):
    ORG.write_config(tmp_path / "config")
    ledger = _rows((tmp_path / "config" / "workstreams.csv").read_text())
    prices = _rows((tmp_path / "config" / "prices.csv").read_text())
    seats = _rows((tmp_path / "config" / "seats.csv").read_text())

    assert list(ledger[0]) == ["actor", "workstream"]
    assert len({row["actor"] for row in ledger}) == len(ledger)
    assert {row["workstream"] for row in ledger} == {
        "payments",
        "search",
        "platform",
        "mobile",
        "data-eng",
    }
    assert [row["model"] for row in prices] == [
        "claude-opus-4-1",
        "claude-opus-4",
        "claude-opus-4-5",
        "claude-sonnet-4-6",
        "claude-sonnet-4",
        "claude-haiku-4-5",
    ]
    assert all(float(v) >= 0 for row in prices for k, v in row.items() if k != "model")
    assert _price("claude-opus-4-20250514") == (15, 75, 18.75, 1.5)
    assert _price("claude-haiku-4-5-20251001") == (1, 5, 1.25, 0.1)
    assert list(seats[0]) == ["email", "monthly_cost_usd", "note"]
    assert len({row["email"] for row in seats}) == len(seats) == 43
    costs = {int(row["monthly_cost_usd"]) for row in seats}
    assert costs == {100, 150, 200}
    devs = [f"dev{i:03d}@example.com" for i in range(1, 41)]
    assert set(devs) <= {row["email"] for row in seats}
    assert set(devs) <= {row["actor"] for row in ledger}


def test_the_committed_config_folder_is_the_demo_organisations(tmp_path):
    DEMO_ORGANISATION.write_config(tmp_path)
    committed = Path(__file__).resolve().parents[2] / "config"
    for name in ("workstreams.csv", "prices.csv", "seats.csv", "budgets.csv"):
        assert (committed / name).read_text() == (tmp_path / name).read_text(), name


def test_the_demo_budgets_show_every_status_in_the_middle_of_a_month(tmp_path, history):
    ORG.write_config(tmp_path)
    budgets = load_budgets(tmp_path / "budgets.csv", WORKSTREAMS)
    ledger = dict(ORG.ledger())
    daily_cost = pd.DataFrame(
        [
            (pd.Timestamp(day), ledger.get(_actor(record), UNASSIGNED), _record_cost(record))
            for day, records in history.items()
            for record in records
        ],
        columns=["usage_date", "workstream", "cost_usd"],
    )
    seats = sum(cost for _, cost, _ in ORG.seat_rows())
    mid_months = [pd.Timestamp(f"2026-{month:02d}-15") for month in (2, 3, 4)]
    rows, skipped = forecast_rows(
        mid_months,
        daily_cost,
        pd.DatetimeIndex(DAYS),
        pd.Timestamp(START),
        WORKSTREAMS,
        seats,
        budgets,
    )
    assert skipped == {}
    for _, month in rows.groupby("as_of"):
        status = dict(zip(month["workstream"], month["status"], strict=True))
        assert status == {
            "mobile": OVER_BUDGET,
            "payments": FORECAST_OVER_BUDGET,
            "search": ON_TRACK,
            "platform": ON_TRACK,
            "data-eng": ON_TRACK,
            UNASSIGNED: None,
            TOTAL: ON_TRACK,
        }


# -- the server ----------------------------------------------------------------------------------

KEY = "sk-ant-admin-demo"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def server():
    with UsageApiServer(ORG) as running:
        yield running


def _get(server: UsageApiServer, params: dict | None = None, headers=HEADERS, path=USAGE_PATH):
    return httpx.get(server.base_url + path, params=params, headers=headers, timeout=5)


def test_server_default_limit_and_cursor_walk(server):
    day = datetime.date(2026, 1, 6)
    first = _get(server, {"starting_at": day.isoformat()})
    assert first.status_code == 200
    body = first.json()
    assert len(body["data"]) == 20 and body["has_more"] is True
    assert body["next_page"].startswith("page_")
    second = _get(
        server, {"starting_at": day.isoformat(), "page": body["next_page"], "limit": 1000}
    ).json()
    assert second["has_more"] is False and second["next_page"] is None
    assert body["data"] + second["data"] == ORG.records_for(day)


@pytest.mark.parametrize(
    ("params", "headers", "status", "error_type"),
    [
        (
            {"starting_at": "2026-01-06"},
            {"anthropic-version": "2023-06-01"},
            401,
            "authentication_error",
        ),
        (
            {"starting_at": "2026-01-06"},
            {**HEADERS, "x-api-key": "nope"},
            401,
            "authentication_error",
        ),
        ({"starting_at": "2026-01-06"}, {"x-api-key": KEY}, 400, "invalid_request_error"),
        ({"starting_at": "yesterday"}, HEADERS, 400, "invalid_request_error"),
        ({}, HEADERS, 400, "invalid_request_error"),
        ({"starting_at": "2026-01-06", "limit": 0}, HEADERS, 400, "invalid_request_error"),
        ({"starting_at": "2026-01-06", "limit": 1001}, HEADERS, 400, "invalid_request_error"),
        ({"starting_at": "2026-01-06", "page": "garbage"}, HEADERS, 400, "invalid_request_error"),
        ({"starting_at": "2026-01-06", "page": "page_!!"}, HEADERS, 400, "invalid_request_error"),
        (
            {"starting_at": "2026-01-06", "page": encode_cursor(datetime.date(2026, 1, 7), 20, 1)},
            HEADERS,
            400,
            "invalid_request_error",
        ),
    ],
)
def test_server_rejects_bad_requests_like_the_api(server, params, headers, status, error_type):
    response = _get(server, params, headers)
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]


def test_server_unknown_path_is_not_found(server):
    response = _get(server, {"starting_at": "2026-01-06"}, path="/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_server_overrides_and_records_requests():
    day = datetime.date(2026, 1, 6)
    with UsageApiServer(ORG, api_key="k") as server:
        server.set_records(day, [])
        response = httpx.get(
            server.base_url + USAGE_PATH,
            params={"starting_at": day.isoformat()},
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        )
        assert response.json() == {"data": [], "has_more": False, "next_page": None}
        [request] = server.requests
        assert request.status == 200 and request.headers["x-api-key"] == "<redacted>"
        assert request.query == {"starting_at": "2026-01-06"}
    assert "not started" in repr(server)


def test_server_runs_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "budget_pipeline.demo.server", "--seats", "5", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.get(
            base_url + USAGE_PATH,
            params={"starting_at": "2026-01-06", "limit": 1000},
            headers=HEADERS,
            timeout=5,
        )
        assert response.json()["data"] == SyntheticOrganisation(seats=5).records_for(
            datetime.date(2026, 1, 6)
        )
    finally:
        process.terminate()
        process.wait(timeout=5)
