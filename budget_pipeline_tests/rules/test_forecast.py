"""Budgets and the month-end forecast, checked against sums worked out by hand.

June 2026 starts on a Monday and has 30 days. Its days after Friday the 5th, the 6th … 30th,
are 4 Saturdays, 4 Sundays, 4 Mondays, 4 Tuesdays, 3 Wednesdays, 3 Thursdays and 3 Fridays.
"""

import math

import numpy as np
import pandas as pd
import pytest

from budget_pipeline.rules.forecast import (
    FORECAST_COLUMNS,
    FORECAST_OVER_BUDGET,
    ON_TRACK,
    OVER_BUDGET,
    budget_for,
    forecast_accuracy,
    forecast_rows,
)

JUNE_1 = pd.Timestamp("2026-06-01")
WORKSTREAMS = ["search", "payments"]
NO_BUDGETS = pd.DataFrame(
    {
        "workstream": pd.Series(dtype="object"),
        "month": pd.Series(dtype="datetime64[ns]"),
        "budget_usd": pd.Series(dtype="float64"),
    }
)


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def days(first: str, last: str) -> pd.DatetimeIndex:
    return pd.date_range(first, last)


def costs(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [(day(d), ws, c) for d, ws, c in rows], columns=["usage_date", "workstream", "cost_usd"]
    )


def budgets(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "workstream": [ws for ws, _, _ in rows],
            "month": pd.to_datetime([m or None for _, m, _ in rows]).astype("datetime64[ns]"),
            "budget_usd": [float(b) for _, _, b in rows],
        }
    )


# Monday 1 … Friday 5 June: search spends 10, 20, 30, 40, 50; Unassigned 1 on the Monday;
# payments nothing. A Monday-to-Friday window has no Saturday or Sunday.
FIRST_WEEK = costs(
    ("2026-06-01", "search", 10),
    ("2026-06-02", "search", 20),
    ("2026-06-03", "search", 30),
    ("2026-06-04", "search", 40),
    ("2026-06-05", "search", 50),
    ("2026-06-01", "Unassigned", 1),
)


def first_week_forecast(budget_rows=NO_BUDGETS, seats: float = 300.0):
    return forecast_rows(
        [day("2026-06-05")],
        FIRST_WEEK,
        days("2026-06-01", "2026-06-05"),
        JUNE_1,
        WORKSTREAMS,
        seats,
        budget_rows,
    )


def by_workstream(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.set_index("workstream")


def test_a_weekday_missing_from_the_window_is_forecast_at_the_mean_of_all_its_days():
    rows, skipped = first_week_forecast()
    assert skipped == {}
    search = by_workstream(rows).loc["search"]
    assert search["spent_to_date_usd"] == 150  # 10+20+30+40+50
    # Mon..Fri rates are the day itself; Sat and Sun take 150/5 = 30.
    # To come: Sat 4*30 + Sun 4*30 + Mon 4*10 + Tue 4*20 + Wed 3*30 + Thu 3*40 + Fri 3*50
    #        = 120 + 120 + 40 + 80 + 90 + 120 + 150 = 720
    assert search["forecast_usd"] == pytest.approx(150 + 720)


def test_a_loaded_day_without_spend_counts_as_zero_in_its_weekday_rate():
    unassigned = by_workstream(first_week_forecast().rows).loc["Unassigned"]
    assert unassigned["spent_to_date_usd"] == 1
    # Rates: Mon 1, Tue..Fri 0 (loaded, nothing spent), Sat and Sun 1/5 = 0.2.
    # To come: Sat 4*0.2 + Sun 4*0.2 + Mon 4*1 = 5.6
    assert unassigned["forecast_usd"] == pytest.approx(1 + 5.6)


def test_every_ledger_workstream_unassigned_and_total_get_a_row_even_without_spend():
    rows = first_week_forecast().rows
    assert list(rows.columns) == list(FORECAST_COLUMNS)
    assert list(rows["workstream"]) == ["payments", "search", "Unassigned", "TOTAL"]
    payments = by_workstream(rows).loc["payments"]
    assert (payments["spent_to_date_usd"], payments["forecast_usd"]) == (0, 0)
    assert (rows["as_of"] == day("2026-06-05")).all()
    assert (rows["month"] == JUNE_1).all()
    assert str(rows["as_of"].dtype) == str(rows["month"].dtype) == "datetime64[ns]"


def test_total_counts_every_seat_in_full_from_day_one_and_extrapolates_only_tokens():
    total = by_workstream(first_week_forecast(seats=300.0).rows).loc["TOTAL"]
    # Tokens: Mon 10+1, Tue 20, Wed 30, Thu 40, Fri 50 = 151; seats 300 from the 1st.
    assert total["spent_to_date_usd"] == pytest.approx(151 + 300)
    # Token rates: Mon 11, Tue 20, Wed 30, Thu 40, Fri 50, Sat and Sun 151/5 = 30.2.
    # To come: 4*30.2 + 4*30.2 + 4*11 + 4*20 + 3*30 + 3*40 + 3*50 = 725.6 (no seats again)
    assert total["forecast_usd"] == pytest.approx(451 + 725.6)


def test_total_includes_cost_of_a_workstream_the_ledger_no_longer_names():
    rows = forecast_rows(
        [day("2026-06-30")],
        costs(("2026-06-10", "search", 5), ("2026-06-11", "retired-team", 7)),
        days("2026-06-01", "2026-06-30"),
        JUNE_1,
        WORKSTREAMS,
        0.0,
        NO_BUDGETS,
    ).rows
    assert "retired-team" not in set(rows["workstream"])
    assert by_workstream(rows).loc["TOTAL", "spent_to_date_usd"] == 12


def test_the_window_skips_days_not_loaded_or_before_the_first_partition_day():
    # As of Tuesday 2 June, first partition day Wednesday 20 May. The window 6 May … 2 June keeps
    # the loaded days from 20 May on, without Wednesday 27 May (never loaded).
    loaded = days("2026-05-10", "2026-06-02").drop(day("2026-05-27"))
    daily = costs(
        ("2026-05-19", "search", 100),  # a Tuesday loaded before the first partition day
        ("2026-05-20", "search", 6),  # Wednesday
        ("2026-05-26", "search", 8),  # Tuesday
        ("2026-06-01", "search", 2),  # Monday
        ("2026-06-02", "search", 4),  # Tuesday
    )
    rows = forecast_rows(
        [day("2026-06-02")], daily, loaded, day("2026-05-20"), WORKSTREAMS, 0.0, NO_BUDGETS
    ).rows
    search = by_workstream(rows).loc["search"]
    assert search["spent_to_date_usd"] == 6  # 2 + 4: May is another month
    # Rates: Mon (25 May, 1 Jun) (0+2)/2 = 1; Tue (26 May, 2 Jun) (8+4)/2 = 6;
    # Wed (20 May only) 6; Thu, Fri, Sat, Sun 0. 3 … 30 June: 4 of each weekday.
    # To come: 4*1 + 4*6 + 4*6 = 52
    assert search["forecast_usd"] == pytest.approx(6 + 52)


def test_on_the_first_day_of_the_month_every_weekday_takes_that_one_day():
    rows = forecast_rows(
        [JUNE_1],
        costs(("2026-06-01", "search", 7)),
        [JUNE_1],
        JUNE_1,
        WORKSTREAMS,
        0.0,
        NO_BUDGETS,
    ).rows
    search = by_workstream(rows).loc["search"]
    # 29 days to come, each at 7/1 = 7: 7 + 203
    assert (search["spent_to_date_usd"], search["forecast_usd"]) == (7, 210)


def test_on_the_last_day_of_the_month_the_forecast_is_what_was_spent():
    june = days("2026-06-01", "2026-06-30")
    daily = costs(*[(str(d.date()), "search", 5.0) for d in june])
    rows = forecast_rows(
        [day("2026-06-30")], daily, june, JUNE_1, WORKSTREAMS, 100.0, NO_BUDGETS
    ).rows
    search, total = by_workstream(rows).loc["search"], by_workstream(rows).loc["TOTAL"]
    assert search["spent_to_date_usd"] == search["forecast_usd"] == 150  # 30 * 5
    assert total["spent_to_date_usd"] == total["forecast_usd"] == 250  # 150 + seats 100


def test_a_month_that_began_before_the_first_partition_day_has_no_rows_and_says_why():
    rows, skipped = forecast_rows(
        [day("2026-06-20"), day("2026-07-01")],
        costs(("2026-06-15", "search", 5), ("2026-07-01", "search", 3)),
        days("2026-06-10", "2026-07-01"),
        day("2026-06-10"),
        WORKSTREAMS,
        0.0,
        NO_BUDGETS,
    )
    assert set(rows["as_of"]) == {day("2026-07-01")}
    assert skipped == {
        day("2026-06-20"): "the month began on 2026-06-01, before the first partition day "
        "2026-06-10: its spend so far is unknown"
    }


def test_a_day_missing_from_the_month_so_far_stops_the_forecast_until_it_is_loaded():
    loaded = days("2026-06-01", "2026-06-10").drop(day("2026-06-04"))
    rows, skipped = forecast_rows(
        [day("2026-06-03"), day("2026-06-10")],
        costs(("2026-06-02", "search", 5)),
        loaded,
        JUNE_1,
        WORKSTREAMS,
        0.0,
        NO_BUDGETS,
    )
    # the gap lies after the 3rd, so the 3rd's month so far is complete
    assert set(rows["as_of"]) == {day("2026-06-03")}
    assert skipped == {
        day("2026-06-10"): "1 day(s) of the month so far not loaded (2026-06-04): "
        "its spend so far is incomplete"
    }


def test_nothing_to_forecast_is_an_empty_frame_with_the_table_columns():
    rows, skipped = forecast_rows(
        [day("2026-06-10")], costs(), [], JUNE_1, WORKSTREAMS, 0.0, NO_BUDGETS
    )
    assert rows.empty and list(rows.columns) == list(FORECAST_COLUMNS)
    assert "10 day(s) of the month so far not loaded" in skipped[day("2026-06-10")]


def test_a_month_of_its_own_overrides_the_default_budget():
    table = budgets(("search", "", 1000), ("search", "2026-06", 400), ("TOTAL", "2026-07", 9))
    assert budget_for(table, "search", day("2026-06-17")) == 400
    assert budget_for(table, "search", day("2026-07-01")) == 1000
    assert budget_for(table, "TOTAL", day("2026-07-31")) == 9
    assert budget_for(table, "TOTAL", day("2026-06-30")) is None
    assert budget_for(table, "payments", day("2026-06-30")) is None
    rows = by_workstream(first_week_forecast(table).rows)
    assert rows.loc["search", "budget_usd"] == 400
    assert math.isnan(rows.loc["payments", "budget_usd"])


# search on 5 June: spent 150, forecast 870 (see the first test).
@pytest.mark.parametrize(
    ("budget", "status", "ratio"),
    [
        (100, OVER_BUDGET, 8.7),  # spent 150 > 100
        (150, FORECAST_OVER_BUDGET, 5.8),  # spent 150 is not over 150; forecast 870 is
        (500, FORECAST_OVER_BUDGET, 1.74),
        (870, ON_TRACK, 1.0),  # a forecast equal to the budget is within it
        (1000, ON_TRACK, 0.87),
    ],
)
def test_status_says_over_heading_over_or_on_track(budget, status, ratio):
    search = by_workstream(first_week_forecast(budgets(("search", "", budget))).rows).loc["search"]
    assert search["status"] == status
    assert search["forecast_vs_budget"] == pytest.approx(ratio)


def test_without_a_budget_status_and_ratio_are_null():
    search = by_workstream(first_week_forecast().rows).loc["search"]
    assert search["status"] is None
    assert math.isnan(search["budget_usd"]) and math.isnan(search["forecast_vs_budget"])


def test_a_budget_of_zero_is_over_once_anything_is_spent_and_on_track_while_nothing_is():
    table = budgets(("search", "", 0), ("payments", "", 0))
    rows = by_workstream(first_week_forecast(table).rows)
    assert rows.loc["search", "status"] == OVER_BUDGET
    # payments spent nothing and is forecast nothing: within a budget of 0
    assert rows.loc["payments", "status"] == ON_TRACK
    assert rows[["forecast_vs_budget"]].loc[["search", "payments"]].isna().all().all()


def test_accuracy_compares_days_7_14_and_21_with_what_the_month_cost():
    # search spends 10 a day from 1 to 14 June, then 20 a day: the month costs 140 + 16*20 = 460.
    june = days("2026-06-01", "2026-06-30")
    daily = costs(*[(str(d.date()), "search", 10.0 if d.day <= 14 else 20.0) for d in june])
    loaded = days("2026-06-01", "2026-07-03")  # July is not complete: no accuracy for it
    accuracy = forecast_accuracy(daily, loaded, JUNE_1, WORKSTREAMS, 100.0)
    # Day 7: spent 70, every weekday rate 10, 23 days to come: 300.
    # Day 14: spent 140, rates 10, 16 days to come: 300.
    # Day 21: spent 280, each weekday (10+10+20)/3 = 40/3, 9 days to come: 120, so 400.
    # search: (160 + 160 + 60) / 460 / 3. TOTAL adds seats 100 to every figure:
    # actual 560, forecasts 400, 400, 500: (160 + 160 + 60) / 560 / 3.
    # payments and Unassigned spent nothing: no percentage of 0.
    assert accuracy.to_dict("records") == [
        {
            "month": JUNE_1,
            "workstream": "search",
            "actual_usd": 460.0,
            "mape": pytest.approx(380 / 1380),
            "forecasts": 3,
        },
        {
            "month": JUNE_1,
            "workstream": "TOTAL",
            "actual_usd": 560.0,
            "mape": pytest.approx(380 / 1680),
            "forecasts": 3,
        },
    ]


def test_accuracy_needs_the_whole_month_on_or_after_the_first_partition_day():
    june = days("2026-06-01", "2026-06-30")
    daily = costs(*[(str(d.date()), "search", 1.0) for d in june])
    assert forecast_accuracy(daily, june, day("2026-06-02"), WORKSTREAMS, 0.0).empty
    assert forecast_accuracy(daily, june.drop(day("2026-06-30")), JUNE_1, WORKSTREAMS, 0.0).empty


def reference_forecast(as_of, daily_cost, loaded, first_day, workstreams, seats):
    """The rule for one as-of day written the plain pandas way, a frame per step: the month so
    far summed per workstream, and each remaining day's weekday mean over the usable days of
    the last 28 (the mean of all of them for a weekday without one)."""
    columns = [*sorted(set(workstreams) - {"Unassigned", "TOTAL"}), "Unassigned", "TOTAL"]
    span = pd.date_range(min(as_of.replace(day=1), as_of - pd.Timedelta(days=27)), as_of)
    pivot = daily_cost.pivot_table(
        index="usage_date", columns="workstream", values="cost_usd", aggfunc="sum"
    ).reindex(index=span, fill_value=0.0)
    matrix = pivot.reindex(columns=columns).fillna(0.0)
    matrix["TOTAL"] = pivot.sum(axis=1)
    spent = matrix.loc[as_of.replace(day=1) :].sum()
    spent["TOTAL"] += seats
    window = matrix.loc[
        span.isin(loaded) & (span >= first_day) & (span > as_of - pd.Timedelta(days=28))
    ]
    remaining = pd.date_range(as_of + pd.Timedelta(days=1), as_of + pd.offsets.MonthEnd(0))
    rates = window.groupby(window.index.weekday).mean().reindex(range(7)).fillna(window.mean())
    days_left = pd.Series(remaining.weekday).value_counts().reindex(range(7), fill_value=0)
    return spent, spent + rates.mul(days_left, axis=0).sum()


def random_costs(seed: int, span: pd.DatetimeIndex) -> pd.DataFrame:
    """Costs of very different sizes on most days, so that a different order or way of adding
    them changes the last digits."""
    rng = np.random.default_rng(seed)
    rows = [
        (d, ws, float(rng.random() * 10.0 ** rng.integers(-2, 5)))
        for d in span
        for ws in ["search", "payments", "mobile", "Unassigned", "retired"]
        if rng.random() < 0.85
    ]
    return pd.DataFrame(rows, columns=["usage_date", "workstream", "cost_usd"])


@pytest.mark.parametrize("seed", range(4))
def test_every_figure_is_the_rule_worked_out_one_day_at_a_time_to_the_last_bit(seed):
    span = days("2026-05-01", "2026-08-31")
    daily_cost = random_costs(seed, span)
    rng = np.random.default_rng(seed)
    loaded = span[rng.random(len(span)) > (0 if seed % 2 else 0.03)]
    first_day = span[2]
    as_of_days = span[40:]
    workstreams = [*WORKSTREAMS, "mobile"]
    forecast = forecast_rows(
        as_of_days, daily_cost, loaded, first_day, workstreams, 300.0, NO_BUDGETS
    )
    assert len(forecast.rows) + 5 * len(forecast.skipped) == 5 * len(as_of_days)
    for as_of, rows in forecast.rows.groupby("as_of"):
        spent, forecast_usd = reference_forecast(
            as_of, daily_cost, loaded, first_day, workstreams, 300.0
        )
        rows = rows.set_index("workstream")
        assert rows["spent_to_date_usd"].to_dict() == spent.to_dict(), as_of
        assert rows["forecast_usd"].to_dict() == forecast_usd.to_dict(), as_of


def test_a_day_is_forecast_the_same_to_the_last_bit_in_a_long_range_as_on_its_own():
    span = days("2026-05-01", "2026-08-31")
    daily_cost = random_costs(7, span)
    together = forecast_rows(
        span[30:], daily_cost, span, span[0], WORKSTREAMS, 300.0, NO_BUDGETS
    ).rows
    alone = pd.concat(
        forecast_rows([as_of], daily_cost, span, span[0], WORKSTREAMS, 300.0, NO_BUDGETS).rows
        for as_of in span[30:]
    )
    pd.testing.assert_frame_equal(together, alone.reset_index(drop=True), check_exact=True)
