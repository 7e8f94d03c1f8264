"""A calendar month of UTC days, the grain of the budget report."""

from dataclasses import dataclass

import pandas as pd

KEY_FORMAT = "%Y-%m"


@dataclass(frozen=True)
class Month:
    start: pd.Timestamp

    @classmethod
    def from_key(cls, key: str) -> "Month":
        """`2026-03` (the monthly partition key) or any day inside the month."""
        return cls(pd.Timestamp(key).to_period("M").to_timestamp())

    @property
    def key(self) -> str:
        return self.start.strftime(KEY_FORMAT)

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")

    @property
    def end(self) -> pd.Timestamp:
        """The last day of the month (inclusive)."""
        return self.next_start - pd.Timedelta(days=1)

    @property
    def next_start(self) -> pd.Timestamp:
        return self.start + pd.offsets.MonthBegin(1)

    @property
    def days(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end)

    @property
    def previous(self) -> "Month":
        return Month(self.start - pd.offsets.MonthBegin(1))
