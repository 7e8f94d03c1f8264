"""Replacing a range of days: the rows of the other days stay, whichever way the rows are moved,
and a failure before the swap leaves the table as it was."""

import datetime as dt

import pandas as pd
import pytest

from budget_pipeline.warehouse import connection as warehouse
from budget_pipeline.warehouse.tables import DAILY_SPEND, RAW_USAGE


def spend_rows(first: str, last: str, cost: float) -> pd.DataFrame:
    days = pd.date_range(first, last)
    return pd.DataFrame(
        {
            "usage_date": days.astype("datetime64[ns]"),
            "cost_usd": cost,
            "same_weekday_last_week_usd": float("nan"),
            "ma7_usd": float("nan"),
            "alert": pd.array([None] * len(days), dtype="boolean"),
            "unassigned_share": float("nan"),
        }
    )


@pytest.fixture
def connection(tmp_path):
    with warehouse.connect(str(tmp_path / "swap.duckdb")) as connection:
        yield connection


def table(connection) -> dict[str, float]:
    rows = connection.execute(
        f"SELECT usage_date, cost_usd FROM {DAILY_SPEND.qualified_name} ORDER BY usage_date"
    ).fetchall()
    return {day.isoformat(): cost for day, cost in rows}


def replace(connection, first: str, last: str, cost: float) -> None:
    with warehouse.staged_replacement(
        connection, DAILY_SPEND, dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    ) as write:
        write(spend_rows(first, last, cost))


def expected(*spans: tuple[str, str, float]) -> dict[str, float]:
    days = {}
    for first, last, cost in spans:
        days |= {day.date().isoformat(): cost for day in pd.date_range(first, last)}
    return dict(sorted(days.items()))


@pytest.mark.parametrize(
    "history, replaced",
    [
        # more days kept than replaced: the staged rows are copied into the table
        (("2026-01-01", "2026-01-31"), ("2026-01-10", "2026-01-12")),
        # more days replaced than kept: the kept rows join the staged ones, which take the
        # table's place
        (("2026-01-01", "2026-01-05"), ("2026-01-03", "2026-01-31")),
    ],
)
def test_a_replaced_range_keeps_every_other_day_either_way(connection, history, replaced):
    replace(connection, *history, 1.0)
    replace(connection, *replaced, 2.0)
    assert table(connection) == expected((*history, 1.0), (*replaced, 2.0))
    # The table is still the one every connection knows, and takes the next run's rows.
    warehouse.ensure_tables(connection)
    replace(connection, "2026-02-01", "2026-02-02", 3.0)
    assert table(connection) == expected(
        (*history, 1.0), (*replaced, 2.0), ("2026-02-01", "2026-02-02", 3.0)
    )
    assert connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '_staging%'"
    ).fetchall() == [(0,)]


def test_a_first_backfill_becomes_the_table(connection):
    replace(connection, "2026-03-01", "2026-03-31", 4.0)
    assert table(connection) == expected(("2026-03-01", "2026-03-31", 4.0))


@pytest.mark.parametrize("replaced", [("2026-01-02", "2026-01-02"), ("2026-01-02", "2026-02-28")])
def test_a_failure_before_the_swap_leaves_the_table_as_it_was(connection, replaced):
    replace(connection, "2026-01-01", "2026-01-05", 1.0)
    with (
        pytest.raises(RuntimeError, match="boom"),
        warehouse.staged_replacement(
            connection,
            DAILY_SPEND,
            dt.date.fromisoformat(replaced[0]),
            dt.date.fromisoformat(replaced[1]),
        ) as write,
    ):
        write(spend_rows(*replaced, 9.0))
        raise RuntimeError("boom")
    assert table(connection) == expected(("2026-01-01", "2026-01-05", 1.0))


def raw_rows(first: str, last: str) -> pd.DataFrame:
    days = pd.date_range(first, last).astype("datetime64[ns]")
    actors = [f"dev{k}@example.com" for k in range(50)]
    rows = [
        (
            day,
            actor,
            "user",
            None,
            None,
            k,
            k,
            0,
            0,
            0,
            f'{{"actor": "{actor}", "n": {k}}}',
            "claude_code",
            None,
        )
        for day in days
        for k, actor in enumerate(actors)
    ]
    return pd.DataFrame(rows, columns=RAW_USAGE.column_names)


def record_json_storage(connection) -> set[str]:
    connection.execute("CHECKPOINT")
    return {
        compression
        for (compression,) in connection.execute(
            "SELECT compression FROM pragma_storage_info('budget.raw_usage') "
            "WHERE column_name = 'record_json' AND segment_type = 'VARCHAR'"
        ).fetchall()
    }


@pytest.mark.parametrize(
    "replaced",
    [
        ("2026-01-02", "2026-01-02"),  # staged rows copied into the table
        ("2026-01-01", "2026-01-31"),  # the staging table takes the table's place
    ],
)
def test_raw_records_stay_stored_with_zstd_whichever_way_a_range_is_swapped_in(
    connection, replaced
):
    with warehouse.staged_replacement(
        connection, RAW_USAGE, dt.date(2026, 1, 1), dt.date(2026, 1, 5)
    ) as write:
        write(raw_rows("2026-01-01", "2026-01-05"))
    assert record_json_storage(connection) == {"ZSTD"}
    first, last = replaced
    with warehouse.staged_replacement(
        connection, RAW_USAGE, dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    ) as write:
        write(raw_rows(first, last))
    assert record_json_storage(connection) == {"ZSTD"}
    [(rows,)] = connection.execute("SELECT count(*) FROM budget.raw_usage").fetchall()
    assert rows == 50 * len(pd.date_range("2026-01-01", max(last, "2026-01-05")))
