import threading
import time

import pandas as pd
import pytest

from budget_pipeline.warehouse.batching import day_batches, read_ahead

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


def test_read_ahead_gives_every_item_in_order():
    assert list(read_ahead(iter(range(5)))) == [0, 1, 2, 3, 4]
    assert list(read_ahead([])) == []


def test_read_ahead_produces_the_next_item_while_the_caller_works_on_this_one():
    second_started = threading.Event()

    def items():
        yield 1
        second_started.set()
        yield 2

    ahead = read_ahead(items())
    assert next(ahead) == 1
    # Plain iteration would not start the second item until asked: this wait would time out.
    assert second_started.wait(timeout=10)
    assert list(ahead) == [2]


def test_read_ahead_raises_an_items_error_where_that_item_is_asked_for():
    def items():
        yield "first batch"
        raise RuntimeError("the second batch cannot be read")

    ahead = read_ahead(items())
    assert next(ahead) == "first batch"
    with pytest.raises(RuntimeError, match="second batch"):
        next(ahead)


def test_a_caller_stopping_early_waits_for_the_item_in_progress_and_reads_no_more():
    produced = []

    def items():
        for number in range(10):
            time.sleep(0.05)
            produced.append(number)
            yield number

    ahead = read_ahead(items())
    assert next(ahead) == 0
    ahead.close()
    # The item in progress when the caller stopped was finished, none was started after it.
    assert produced == [0, 1]
    assert not [t for t in threading.enumerate() if t.name.startswith("budget-read-ahead")]
