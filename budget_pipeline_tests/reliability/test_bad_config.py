"""A bad configuration file stops the run at its first step, with `file, line N: problem`, before
anything is fetched or written (docs/rules.md). Files from Excel are accepted."""

import pytest

from budget_pipeline_tests.reliability.conftest import (
    assert_tables_equal,
    read_tables,
    step_failures,
)

START, END = "2026-03-02", "2026-03-04"


def append_line(path, line: str) -> int:
    """Append a row to a CSV file; returns its line number."""
    text = path.read_text()
    path.write_text(text + line + "\n")
    return len(text.splitlines()) + 1


def first_ledger_row(config_dir) -> tuple[str, str]:
    actor, workstream = (
        config_dir.joinpath("workstreams.csv").read_text().splitlines()[1].split(",")
    )
    return actor, workstream


@pytest.mark.parametrize("problem", ["two workstreams", "missing column"])
def test_a_bad_ledger_stops_the_run_before_anything_is_written(pipeline, problem):
    ledger = pipeline.config_dir / "workstreams.csv"
    if problem == "two workstreams":
        actor, workstream = first_ledger_row(pipeline.config_dir)
        line = append_line(ledger, f"{actor},not-{workstream}")
        expected = f"{ledger}, line {line}: actor {actor} is mapped to not-{workstream} here"
    else:
        ledger.write_text(ledger.read_text().replace("workstream", "team", 1))
        expected = f"{ledger}, line 1: missing column workstream"

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = step_failures(result)
    assert list(failures) == ["raw_usage"]
    assert expected in failures["raw_usage"]
    assert pipeline.server.usage_requests() == []
    for name, table in read_tables(pipeline.duckdb_file).items():
        assert table.empty, name


def test_a_duplicate_seat_stops_the_run_before_anything_is_written(pipeline):
    seats = pipeline.config_dir / "seats.csv"
    email = seats.read_text().splitlines()[1].split(",")[0]
    line = append_line(seats, f"{email},99,")

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = step_failures(result)
    assert list(failures) == ["raw_usage"]
    assert (
        f"{seats}, line {line}: seat {email} is listed twice (first on line 2)"
        in (failures["raw_usage"])
    )
    assert pipeline.server.usage_requests() == []
    for name, table in read_tables(pipeline.duckdb_file).items():
        assert table.empty, name


def test_config_files_saved_by_excel_give_the_clean_tables(pipeline, reference):
    for name in ("workstreams.csv", "prices.csv", "seats.csv", "budgets.csv"):
        path = pipeline.config_dir / name
        path.write_bytes(("\ufeff" + path.read_text().replace("\n", "\r\n")).encode())

    assert pipeline.materialize(START, END).success

    assert_tables_equal(read_tables(pipeline.duckdb_file), reference.days(START, END))
