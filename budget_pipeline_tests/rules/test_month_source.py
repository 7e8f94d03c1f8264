"""month_source: the report speaks for the source its month's rows were read with."""

import pandas as pd

from budget_pipeline.rules.month_source import month_source


def raw(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "usage_date": pd.to_datetime([day for day, _ in rows]),
            "source": [source for _, source in rows],
        }
    ).astype({"source": "object"})


def test_the_rows_source_wins_over_the_runs():
    enterprise = raw(("2026-03-01", "enterprise"), ("2026-03-01", "enterprise"))
    read = month_source(enterprise, run_is_enterprise=False)
    assert read.source == "enterprise" and read.is_enterprise and read.from_rows
    assert read.days == {"enterprise": 1} and not read.mixed
    console = raw(("2026-03-01", "claude_code"), ("2026-03-02", "claude_code"))
    read = month_source(console, run_is_enterprise=True)
    assert read.source == "claude_code" and not read.is_enterprise
    assert read.days == {"claude_code": 2}


def test_a_month_without_rows_takes_the_runs_source():
    empty = raw()
    assert month_source(empty, run_is_enterprise=True).source == "enterprise"
    read = month_source(empty, run_is_enterprise=False)
    assert read.source == "claude_code" and not read.from_rows and read.days == {}


def test_a_month_that_changed_source_speaks_for_its_newest_day():
    changed = raw(
        ("2026-03-01", "claude_code"),
        ("2026-03-02", "claude_code"),
        ("2026-03-20", "enterprise"),
        ("2026-03-21", "enterprise"),
        ("2026-03-21", "enterprise"),
    )
    read = month_source(changed, run_is_enterprise=False)
    assert read.source == "enterprise" and read.mixed
    assert read.days == {"claude_code": 2, "enterprise": 2}
    # the same days, loaded the other way round (an organisation that left Enterprise)
    back = changed.assign(usage_date=changed["usage_date"].iloc[::-1].to_numpy())
    assert month_source(back, run_is_enterprise=True).source == "claude_code"
