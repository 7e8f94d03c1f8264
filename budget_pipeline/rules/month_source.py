"""Which source a month's rows were read with (docs/report.md, "Which source the report speaks
for"). The report words its figures for that source: on the Enterprise source token spend is the
bill, on the Console source a list-price estimate. Taken from the rows themselves, not from a
setting, so a report cannot describe its data as another source's. Pure."""

from dataclasses import dataclass

import pandas as pd

from budget_pipeline.warehouse.tables import CLAUDE_CODE_SOURCE, ENTERPRISE_SOURCE


@dataclass(frozen=True)
class MonthSource:
    source: str  # claude_code or enterprise
    from_rows: bool  # False: the month has no raw_usage row; the run's source was taken
    days: dict[str, int]  # days with raw_usage rows, per source

    @property
    def is_enterprise(self) -> bool:
        return self.source == ENTERPRISE_SOURCE

    @property
    def mixed(self) -> bool:
        """The organisation changed source within the month: the report speaks for the newer."""
        return len(self.days) > 1


def month_source(raw_usage: pd.DataFrame, run_is_enterprise: bool) -> MonthSource:
    """`raw_usage`: the month's rows (usage_date, source). The source of its newest day with rows
    — the one the organisation is read with now, should it have changed within the month — else
    the run's (`run_is_enterprise`)."""
    rows = raw_usage.loc[raw_usage["source"].notna(), ["usage_date", "source"]]
    days = rows.drop_duplicates().groupby("source")["usage_date"].nunique()
    if rows.empty:
        run_source = ENTERPRISE_SOURCE if run_is_enterprise else CLAUDE_CODE_SOURCE
        return MonthSource(source=run_source, from_rows=False, days={})
    newest = rows.loc[rows["usage_date"] == rows["usage_date"].max(), "source"]
    # A day is read whole with one source; should a day hold both, the bill-bearing one wins.
    source = ENTERPRISE_SOURCE if (newest == ENTERPRISE_SOURCE).any() else CLAUDE_CODE_SOURCE
    return MonthSource(
        source=source,
        from_rows=True,
        days={name: int(count) for name, count in days.sort_index().items()},
    )
