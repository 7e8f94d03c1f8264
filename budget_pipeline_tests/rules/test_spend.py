import pandas as pd
import pytest

from budget_pipeline.rules.spend import AlertThresholds, spend_with_alert

D = pd.Timestamp("2026-06-15")


def spend_for(today: float, history: list[float | None]) -> pd.Series:
    """history[0] is D-7 … history[6] is D-1; None = never loaded."""
    days = pd.date_range(D - pd.Timedelta(days=7), periods=7)
    totals = {day: value for day, value in zip(days, history, strict=True) if value is not None}
    totals[D] = today
    frame = spend_with_alert(pd.Series(totals), pd.DatetimeIndex([D]), pd.Series(dtype=float))
    return frame.iloc[0]


def test_fires_when_all_three_conditions_hold():
    row = spend_for(160.0, [100.0] * 7)
    assert row["same_weekday_last_week_usd"] == 100.0
    assert row["ma7_usd"] == 100.0
    assert row["alert"] is True or bool(row["alert"]) is True


@pytest.mark.parametrize(
    ("today", "history", "why"),
    [
        (159.0, [100.0] * 7, "1.59× last week is under 1.6"),
        (160.0, [100.0] + [120.0] * 6, "160 / mean 117.1 = 1.37 is under 1.5"),
        (49.0, [10.0] * 7, "under the $50 floor despite 4.9×"),
        (200.0, [0.0] + [100.0] * 6, "same weekday last week is 0"),
    ],
)
def test_stays_quiet_when_any_condition_fails(today, history, why):
    assert bool(spend_for(today, history)["alert"]) is False, why


def test_a_loaded_day_without_usage_counts_as_zero():
    row = spend_for(100.0, [50.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert row["ma7_usd"] == pytest.approx(50.0 / 7)
    assert bool(row["alert"]) is True


def test_no_verdict_without_seven_loaded_days():
    row = spend_for(500.0, [100.0, 100.0, None, 100.0, 100.0, 100.0, 100.0])
    assert pd.isna(row["alert"])
    assert pd.isna(row["ma7_usd"])
    assert pd.isna(row["same_weekday_last_week_usd"])


def test_thresholds_are_configurable():
    totals = pd.Series({d: 100.0 for d in pd.date_range(D - pd.Timedelta(days=7), D)})
    totals[D] = 130.0
    strict = spend_with_alert(totals, pd.DatetimeIndex([D]), pd.Series(dtype=float))
    relaxed = spend_with_alert(
        totals,
        pd.DatetimeIndex([D]),
        pd.Series(dtype=float),
        AlertThresholds(floor_usd=10, same_weekday_ratio=1.2, ma7_ratio=1.2),
    )
    assert not bool(strict.loc[0, "alert"])
    assert bool(relaxed.loc[0, "alert"])
