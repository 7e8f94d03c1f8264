"""Re-pricing history after a config change (docs/operations.md), against real materialisations.

The stale status is asked from Dagster's own resolver, the one the UI's asset graph uses; the
re-price is the documented selection `group:budget and not tag:fetches=api` over the range.
"""

import pandas as pd

from budget_pipeline.dagster_internals import StaleStatus, get_stale_status_resolver, observe
from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline_tests.conftest import days

START, END = "2026-03-02", "2026-03-10"
DOWNSTREAM = ("priced_usage", "workstream_cost", "daily_spend")
REPRICE = "group:budget and not tag:fetches=api"


def observe_config(pipeline) -> None:
    """What the UI's "Observe sources" button (or the config-file sensor) does."""
    assert observe(
        config_sources, instance=pipeline.instance, resources=pipeline.resources()
    ).success


def statuses(pipeline, partition: str) -> dict[str, StaleStatus]:
    resolver = get_stale_status_resolver(pipeline.instance, [*config_sources, *budget_assets])
    return {
        key.to_user_string(): resolver.get_status(key, partition)
        for asset in budget_assets
        for key in asset.keys
    }


def by_day(frame: pd.DataFrame, column: str = "cost_usd") -> pd.Series:
    return frame.groupby("usage_date")[column].sum()


def test_a_price_change_marks_history_stale_and_the_documented_reprice_skips_the_api(pipeline):
    observe_config(pipeline)
    assert pipeline.materialize(START, END).success
    assert set(statuses(pipeline, "2026-03-05").values()) == {StaleStatus.FRESH}
    before = {name: pipeline.table(name) for name in ("raw_usage", *DOWNSTREAM)}

    # Sonnet doubles in price: every row priced through the claude-sonnet-4-6 row changes.
    prices = pipeline.config_dir / "prices.csv"
    prices.write_text(
        prices.read_text().replace(
            "claude-sonnet-4-6,3,15,3.75,0.3", "claude-sonnet-4-6,6,30,7.5,0.6"
        )
    )
    observe_config(pipeline)
    # Dagster marks the direct dependants of a changed source stale (it does not propagate
    # staleness further down); the re-price recomputes everything below raw_usage anyway.
    for day in (START, "2026-03-05", END):
        status = statuses(pipeline, day)
        assert status.pop("priced_usage") is StaleStatus.STALE, day
        assert set(status.values()) == {StaleStatus.FRESH}, day

    requests = len(pipeline.server.requests)
    assert pipeline.materialize(START, END, selection=REPRICE).success
    assert len(pipeline.server.requests) == requests  # neither usage nor bill fetched again
    after = {name: pipeline.table(name) for name in ("raw_usage", *DOWNSTREAM)}

    pd.testing.assert_frame_equal(
        before["raw_usage"].sort_values(["usage_date", "actor"], ignore_index=True),
        after["raw_usage"].sort_values(["usage_date", "actor"], ignore_index=True),
    )
    sonnet = after["priced_usage"]["price_model"] == "claude-sonnet-4-6"
    old_sonnet = before["priced_usage"]["price_model"] == "claude-sonnet-4-6"
    assert (
        by_day(after["priced_usage"].loc[sonnet])
        .round(6)
        .equals((2 * by_day(before["priced_usage"].loc[old_sonnet])).round(6))
    )
    for name in DOWNSTREAM:
        old, new = by_day(before[name]), by_day(after[name])
        assert list(new.index) == [pd.Timestamp(d) for d in days(START, END)], name
        assert (new > old).all(), name  # every day of the history was re-priced
    spend_new = after["daily_spend"].set_index("usage_date")["cost_usd"]
    assert spend_new.round(6).equals(by_day(after["priced_usage"]).round(6))
    assert set(statuses(pipeline, "2026-03-05").values()) == {StaleStatus.FRESH}


def test_a_roster_change_stales_idle_seats_and_a_ledger_change_the_attribution(pipeline):
    observe_config(pipeline)
    assert pipeline.materialize(START, END).success
    seats = pipeline.config_dir / "seats.csv"
    seats.write_text(seats.read_text() + "late.joiner@example.com,150,Joined in March\n")
    observe_config(pipeline)
    status = statuses(pipeline, END)
    assert status.pop("idle_seats") is StaleStatus.STALE
    # the organisation's TOTAL counts every seat: its forecast is stale too
    assert status.pop("budget_forecast") is StaleStatus.STALE
    assert set(status.values()) == {StaleStatus.FRESH}

    ledger = pipeline.config_dir / "workstreams.csv"
    ledger.write_text(ledger.read_text() + "contractor@partner.example,payments\n")
    observe_config(pipeline)
    status = statuses(pipeline, END)
    assert {name for name, value in status.items() if value is StaleStatus.STALE} == {
        "workstream_cost",
        "daily_spend",
        "idle_seats",
        "budget_forecast",
    }
