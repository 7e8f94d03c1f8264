"""Which days are processed together, so that a batch's size follows its rows, not its days; and
how the next batch is read while the current one is worked on."""

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pandas as pd

T = TypeVar("T")
_EXHAUSTED = object()


def day_batches(
    days: pd.DatetimeIndex, rows_per_day: dict[pd.Timestamp, int], max_rows: int
) -> list[pd.DatetimeIndex]:
    """Consecutive runs of `days` holding at most `max_rows` rows each (by `rows_per_day`; a day
    not in it has none). A day is never split: a day larger than `max_rows` is a batch alone.

    Batching by days alone made memory grow with the organisation: a month of 20,000 seats is
    four times a month of 5,000.
    """
    batches: list[pd.DatetimeIndex] = []
    start, in_batch = 0, 0
    for position, day in enumerate(days):
        rows = rows_per_day.get(day, 0)
        if position > start and in_batch + rows > max_rows:
            batches.append(days[start:position])
            start, in_batch = position, 0
        in_batch += rows
    if len(days) > start:
        batches.append(days[start:])
    return batches


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """The items of `items`, each next one produced in a background thread while the caller
    works on the current one.

    For batches read by DuckDB (which runs without the GIL) and worked on in pandas (which holds
    it): the reading then overlaps the work instead of adding to it. At most two items exist at
    once. An error producing an item is raised where the caller asks for that item; a caller that
    stops early waits for the item in progress, so nothing is left reading once this ends. The
    items must be produced on a DuckDB cursor of their own: the caller keeps using its
    connection meanwhile.
    """
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="budget-read-ahead") as worker:
        following = worker.submit(next, iterator, _EXHAUSTED)
        while (item := following.result()) is not _EXHAUSTED:
            following = worker.submit(next, iterator, _EXHAUSTED)
            yield item
