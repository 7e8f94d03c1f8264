"""Which days are processed together, so that a batch's size follows its rows, not its days."""

import pandas as pd


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
