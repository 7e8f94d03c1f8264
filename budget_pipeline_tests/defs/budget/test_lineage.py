"""Real materialisations of the five assets: loopback API server → Dagster → DuckDB file."""

import csv
import datetime as dt
from collections import defaultdict

import dagster as dg
import pandas as pd
import pytest

from budget_pipeline.demo.server import Fault
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION, days

START, END = "2026-03-02", "2026-04-15"  # 45 days, inside the partitions (first day 2026-01-01)


def hand_priced_totals(config_dir, day_list) -> dict[dt.date, float]:
    """The pricing rules recomputed independently from the organisation's records and prices.csv."""
    with open(config_dir / "prices.csv", newline="") as handle:
        prices = {row["model"]: row for row in csv.DictReader(handle)}
    totals: dict[dt.date, float] = defaultdict(float)
    for day in day_list:
        for record in TEST_ORGANISATION.records_for(day):
            for entry in record.get("model_breakdown") or []:
                model = entry["model"]
                rows = [m for m in prices if model == m or model.startswith(m + "-")]
                tokens = entry["tokens"]
                if rows:
                    price = prices[max(rows, key=len)]
                    totals[day] += (
                        tokens["input"] * float(price["input_per_mtok"])
                        + tokens["output"] * float(price["output_per_mtok"])
                        + tokens["cache_creation"] * float(price["cache_write_per_mtok"])
                        + tokens["cache_read"] * float(price["cache_read_per_mtok"])
                    ) / 1e6
                else:
                    totals[day] += entry["estimated_cost"]["amount"] / 100
    return totals


def spend_by_day(pipeline) -> pd.DataFrame:
    spend = pipeline.table("daily_spend").sort_values("usage_date")
    spend["usage_date"] = pd.to_datetime(spend["usage_date"]).dt.date
    return spend.set_index("usage_date")


def test_backfill_of_45_days_gives_tables_a_reader_can_recompute(pipeline):
    result = pipeline.materialize(START, END)
    assert result.success

    raw = pipeline.table("raw_usage")
    expected_records = sum(len(TEST_ORGANISATION.records_for(d)) for d in days(START, END))
    assert len(raw) == expected_records
    # every page of every day was fetched: page_limit 15 means several pages per day
    pages = [r for r in pipeline.server.requests if "page" in r.query]
    assert len(pages) > 45

    spend = spend_by_day(pipeline)
    assert list(spend.index) == days(START, END)
    hand = hand_priced_totals(pipeline.config_dir, days(START, END))
    for day in days(START, END):
        assert spend.loc[day, "cost_usd"] == pytest.approx(hand[day], rel=1e-12)

    # workstream costs add up to the day total and their shares to 1
    cost = pipeline.table("workstream_cost")
    per_day = cost.groupby(pd.to_datetime(cost["usage_date"]).dt.date)
    for day, group in per_day:
        assert group["cost_usd"].sum() == pytest.approx(spend.loc[day, "cost_usd"])
        assert group["share"].sum() == pytest.approx(1.0)
    assert "Unassigned" in set(cost["workstream"])

    # baselines from the 7 days before (the first 7 days of the range have none)
    assert spend.iloc[:7]["alert"].isna().all()
    day = dt.date(2026, 3, 20)
    history = [spend.loc[day - dt.timedelta(days=k), "cost_usd"] for k in range(7, 0, -1)]
    assert spend.loc[day, "same_weekday_last_week_usd"] == pytest.approx(history[0])
    assert spend.loc[day, "ma7_usd"] == pytest.approx(sum(history) / 7)
    # the organisation's spike days (ordinal % 21 == 10) fire, and only they
    alert_days = set(spend.index[spend["alert"].fillna(False).astype(bool)])
    spike_days = {d for d in days(START, END)[7:] if d.toordinal() % 21 == 10}
    assert alert_days == spike_days and spike_days

    idle = pipeline.table("idle_seats")
    as_of = pd.to_datetime(idle["as_of"]).dt.date
    # no verdict until 14 days are loaded: the first as-of day is the range's 14th day
    assert as_of.min() == dt.date(2026, 3, 15)
    last = idle.loc[as_of == dt.date(2026, 4, 15)].set_index("email")
    assert last.loc["idle.person@example.com", "status"] == "completely idle"
    assert last.loc["idle.person@example.com", "reason"] == "Parental leave until March"
    assert pd.isna(last.loc["new.hire@example.com", "last_active"])
    assert last.loc["reviewer@example.com", "status"] == "barely active"
    assert "contractor@partner.example" not in last.index  # usage without a seat

    checks = {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
    }
    for name in (
        "raw_usage_matches_schema",
        "priced_usage_matches_schema",
        "workstream_cost_matches_schema",
        "daily_spend_matches_schema",
        "idle_seats_matches_schema",
    ):
        assert checks[name].passed, name
    unpriced = checks["priced_usage_models_are_priced"]
    assert not unpriced.passed
    assert unpriced.severity == dg.AssetCheckSeverity.WARN
    assert "claude-nova-preview" in unpriced.metadata["unpriced_models"].value
    assert checks["priced_usage_close_to_api_estimate"].passed
    # Not billed row by row: cost_usd is the estimate, and the check says so.
    billed = checks["priced_usage_cost_is_billed"]
    assert billed.passed and billed.description.startswith("cost_usd is the list-price estimate")


def test_single_day_rerun_in_a_backfilled_range_gives_the_same_verdict(pipeline):
    pipeline.materialize(START, END)
    before = spend_by_day(pipeline)
    rows_before = {name: len(pipeline.table(name)) for name in ("raw_usage", "idle_seats")}
    spike = next(d for d in days("2026-03-10", END) if d.toordinal() % 21 == 10)

    for day in (spike, dt.date(2026, 3, 25)):
        assert pipeline.materialize(day.isoformat()).success

    after = spend_by_day(pipeline)
    pd.testing.assert_frame_equal(before, after)
    assert bool(after.loc[spike, "alert"]) is True
    # re-materialising replaces the day's rows, never duplicates them
    assert {name: len(pipeline.table(name)) for name in rows_before} == rows_before


def test_a_day_without_usage_is_a_valid_day(pipeline):
    holiday = dt.date(2026, 3, 20)
    pipeline.server.set_records(holiday, [])
    assert pipeline.materialize("2026-03-10", "2026-03-31").success

    raw = pipeline.table("raw_usage")
    assert (pd.to_datetime(raw["usage_date"]).dt.date == holiday).sum() == 0
    spend = spend_by_day(pipeline)
    assert spend.loc[holiday, "cost_usd"] == 0.0
    assert pd.isna(spend.loc[holiday, "unassigned_share"])
    # the holiday counts as 0 in later baselines instead of removing them
    assert spend.loc[holiday + dt.timedelta(days=7), "same_weekday_last_week_usd"] == 0.0
    assert not pd.isna(spend.loc[holiday + dt.timedelta(days=3), "ma7_usd"])


def test_a_range_of_holidays_only_still_creates_every_table(pipeline):
    for day in days("2026-03-01", "2026-03-02"):
        pipeline.server.set_records(day, [])
    assert pipeline.materialize("2026-03-01", "2026-03-02").success
    assert len(pipeline.table("raw_usage")) == 0
    assert list(spend_by_day(pipeline)["cost_usd"]) == [0.0, 0.0]
    assert pipeline.table("idle_seats").empty


def test_pagination_429_and_500_recover_to_the_same_tables(pipeline, tmp_path):
    pipeline.materialize("2026-03-02", "2026-03-04")
    clean = pipeline.table("priced_usage").sort_values(["usage_date", "actor", "model"])

    pipeline.server.add_fault(
        Fault(status=429, headers={"retry-after": "1"}, day=dt.date(2026, 3, 3), page_index=1)
    )
    pipeline.server.add_fault(Fault(status=500, day=dt.date(2026, 3, 4), page_index=0))
    assert pipeline.materialize("2026-03-02", "2026-03-04").success
    again = pipeline.table("priced_usage").sort_values(["usage_date", "actor", "model"])
    pd.testing.assert_frame_equal(clean.reset_index(drop=True), again.reset_index(drop=True))
    statuses = [r.status for r in pipeline.server.requests]
    assert 429 in statuses and 500 in statuses
    assert not pipeline.server.pending_faults()


def test_a_401_fails_at_once_and_writes_nothing(pipeline):
    pipeline.server.add_fault(
        Fault(status=401, message="invalid x-api-key", day=dt.date(2026, 3, 3), times=5)
    )
    result = pipeline.materialize("2026-03-02", "2026-03-04", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "401" in message and "invalid x-api-key" in message and "2026-03-03" in message
    assert TEST_API_KEY not in message
    # never retried
    assert [r.status for r in pipeline.server.requests].count(401) == 1
    for table in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend", "idle_seats"):
        assert pipeline.table(table).empty, table


def test_a_bad_price_table_names_file_and_line_and_writes_nothing_downstream(pipeline):
    prices = pipeline.config_dir / "prices.csv"
    lines = prices.read_text().splitlines()
    lines[2] = lines[2].split(",")[0] + ",3,-15,3.75,0.30"
    prices.write_text("\n".join(lines) + "\n")

    result = pipeline.materialize("2026-03-02", "2026-03-03", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    # every config file is judged before anything is fetched: the run stops at its first step
    assert failure.step_key == "raw_layer"
    message = failure.step_failure_data.error.message
    assert f"{prices}, line 3: output_per_mtok is -15, must not be negative" in message
    assert pipeline.server.usage_requests() == []
    for table in ("raw_usage", "priced_usage", "workstream_cost", "daily_spend", "idle_seats"):
        assert pipeline.table(table).empty, table


def test_thresholds_come_from_run_config(pipeline):
    # One resource holds every threshold; fields left out keep their defaults.
    config = {
        "resources": {
            "thresholds": {
                "config": {
                    "alert_floor_usd": 1e9,
                    "idle_window_days": 7,
                    "idle_min_lines": 1_000_000,
                }
            }
        }
    }
    assert pipeline.materialize(START, "2026-03-31", run_config=config).success
    spend = spend_by_day(pipeline)
    assert not spend["alert"].fillna(False).astype(bool).any()
    idle = pipeline.table("idle_seats")
    # a 7-day window gives verdicts from the range's 7th day; every seat is "barely active"
    assert pd.to_datetime(idle["as_of"]).dt.date.min() == dt.date(2026, 3, 8)
    assert (idle["status"] == "barely active").sum() > 30


def test_materialisations_carry_per_day_metadata(pipeline):
    result = pipeline.materialize("2026-03-02", "2026-03-10")
    by_partition = {
        (m.asset_key.path[-1], m.partition): m.metadata
        for m in result.asset_materializations_for_node("daily_spend")
    }
    spend = spend_by_day(pipeline)
    day_metadata = by_partition[("daily_spend", "2026-03-10")]
    assert day_metadata["cost_usd"].value == pytest.approx(
        round(spend.loc[dt.date(2026, 3, 10), "cost_usd"], 2)
    )
    assert day_metadata["dagster/row_count"].value == 1  # the day's own row, not the range's
    # the run's summary sits on the last day only: 90 copies of a preview made events 3x larger
    assert day_metadata["range"].value == "2026-03-02 … 2026-03-10 (9 days)"
    assert day_metadata["range_cost_usd"].value == pytest.approx(round(spend["cost_usd"].sum(), 2))
    assert "preview" in day_metadata
    assert "preview" not in by_partition[("daily_spend", "2026-03-09")]
    # a day without enough history says so rather than showing a zero baseline
    assert "ma7_usd" not in by_partition[("daily_spend", "2026-03-02")]
    raw = pipeline.table("raw_usage")
    raw_day_count = int((pd.to_datetime(raw["usage_date"]) == "2026-03-04").sum())
    [raw_day] = [
        m.metadata
        for m in result.asset_materializations_for_node("raw_layer")
        if m.asset_key == dg.AssetKey("raw_usage") and m.partition == "2026-03-04"
    ]
    assert raw_day["dagster/row_count"].value == raw_day_count > 0


def test_a_frame_that_breaks_its_contract_fails_its_blocking_check_and_is_not_written(
    pipeline, monkeypatch
):
    assert pipeline.materialize("2026-03-02", "2026-03-03").success
    before = pipeline.table("workstream_cost")

    from budget_pipeline.defs.budget import assets

    honest = assets.cost_per_workstream

    def negative_costs(priced, ledger):
        frame = honest(priced, ledger)
        frame.loc[0, "cost_usd"] = -1.0
        return frame

    monkeypatch.setattr(assets, "cost_per_workstream", negative_costs)
    result = pipeline.materialize("2026-03-02", "2026-03-03", raise_on_error=False)
    assert not result.success
    evaluation = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "workstream_cost_matches_schema"
    )
    assert not evaluation.passed
    assert evaluation.metadata["failure_cases"].value == 1
    assert "cost_usd" in evaluation.metadata["failures"].value
    # the bad frame never reached the warehouse
    pd.testing.assert_frame_equal(pipeline.table("workstream_cost"), before)
    materialized = {m.asset_key.path[-1] for m in result.get_asset_materialization_events()}
    assert "workstream_cost" not in materialized
