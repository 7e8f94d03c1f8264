import pandas as pd

from budget_pipeline.warehouse.batching import day_batches

DAYS = pd.date_range("2026-03-01", periods=5, freq="D")


def _sizes(batches):
    return [[day.day for day in batch] for batch in batches]


def test_days_are_grouped_up_to_the_row_limit():
    rows = dict(zip(DAYS, [40, 40, 40, 10, 60], strict=True))
    assert _sizes(day_batches(DAYS, rows, 100)) == [[1, 2], [3, 4], [5]]


def test_a_day_larger_than_the_limit_is_a_batch_of_its_own_never_split():
    rows = dict(zip(DAYS, [10, 500, 10, 10, 10], strict=True))
    assert _sizes(day_batches(DAYS, rows, 100)) == [[1], [2], [3, 4, 5]]


def test_days_without_rows_join_the_batch_they_fall_in():
    rows = {DAYS[0]: 60, DAYS[4]: 60}
    assert _sizes(day_batches(DAYS, rows, 100)) == [[1, 2, 3, 4], [5]]


def test_every_day_is_in_exactly_one_batch_in_order():
    days = pd.date_range("2026-01-01", periods=365, freq="D")
    rows = {day: (day.dayofyear * 37) % 1000 for day in days}
    batches = day_batches(days, rows, 2500)
    assert list(pd.DatetimeIndex([d for batch in batches for d in batch])) == list(days)
    assert all(sum(rows[d] for d in batch) <= 2500 for batch in batches)


def test_no_days_no_batches():
    assert day_batches(pd.DatetimeIndex([]), {}, 100) == []
