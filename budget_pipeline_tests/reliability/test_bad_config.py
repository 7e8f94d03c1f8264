"""A bad configuration file stops the run at its first step, with `file, line N: problem`, before
anything is fetched or written (docs/rules.md). Files from Excel, and
emails typed in another case than the API's, are accepted."""

import pandas as pd
import pytest

from budget_pipeline_tests.reliability.conftest import (
    REFERENCE_END,
    assert_tables_equal,
    read_tables,
    rows_of_days,
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


@pytest.mark.parametrize(
    "problem",
    ["two workstreams", "missing column", "quote left open", "TOTAL", "one email in two cases"],
)
def test_a_bad_ledger_stops_the_run_before_anything_is_written(pipeline, problem):
    ledger = pipeline.config_dir / "workstreams.csv"
    actor, workstream = first_ledger_row(pipeline.config_dir)
    if problem == "two workstreams":
        line = append_line(ledger, f"{actor},not-{workstream}")
        expected = f"{ledger}, line {line}: actor {actor} is mapped to not-{workstream} here"
    elif problem == "missing column":
        ledger.write_text(ledger.read_text().replace("workstream", "team", 1))
        expected = f"{ledger}, line 1: missing column workstream"
    elif problem == "quote left open":
        # Before, every row after the quote became part of one actor's name, silently.
        rows = ledger.read_text().splitlines()
        rows[2] = '"' + rows[2]
        ledger.write_text("\n".join(rows) + "\n")
        expected = f"{ledger}, line 3: a quote opened on this line is never closed"
    elif problem == "TOTAL":
        line = append_line(ledger, "ci-new-key,TOTAL")
        expected = f"{ledger}, line {line}: workstream TOTAL is reserved"
    else:
        line = append_line(ledger, f"{actor.upper()},{workstream}")
        expected = (
            f"{ledger}, line {line}: actor {actor.upper()} is listed twice (first on line 2 as "
            f"{actor}); emails match whatever their case"
        )

    assert_stopped_before_anything_is_written(pipeline, expected)


def assert_stopped_before_anything_is_written(pipeline, expected: str) -> None:
    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = step_failures(result)
    assert list(failures) == ["raw_layer"]
    assert expected in failures["raw_layer"]
    assert pipeline.server.usage_requests() == []
    for name, table in read_tables(pipeline.duckdb_file).items():
        assert table.empty, name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("seats.csv", "quote left open"),
        ("seats.csv", "note of 128 KiB"),
        ("seats.csv", "one email in two cases"),
        ("prices.csv", "digits other than 0-9"),
        ("budgets.csv", "month out of range"),
        ("budgets.csv", "digits other than 0-9"),
    ],
)
def test_a_badly_written_file_stops_the_run_before_anything_is_written(pipeline, name, problem):
    path = pipeline.config_dir / name
    rows = path.read_text().splitlines()
    if problem == "quote left open":
        # Before, the seats after line 3 were read as one note: fewer seats, no error.
        email, cost = rows[2].split(",")[:2]
        rows[2] = f'{email},{cost},"On leave'
        expected = f"{path}, line 3: a quote opened on this line is never closed"
    elif problem == "note of 128 KiB":
        rows[3] = rows[3].split(",")[0] + ",150," + "x" * 128 * 1024
        expected = f"{path}, line 4: a value of 131,072 characters; at most 1,000 are allowed"
    elif problem == "one email in two cases":
        email = rows[1].split(",")[0]
        rows.append(f"{email.upper()},99,")
        expected = f"{path}, line {len(rows)}: seat {email.upper()} is listed twice"
    elif problem == "month out of range":
        workstream = rows[1].split(",")[0]
        rows.append(f"{workstream},3026-12,100")
        expected = f"{path}, line {len(rows)}: month is '3026-12'; expected a month from 2000-01"
    elif name == "prices.csv":
        model, *prices = rows[1].split(",")
        rows[1] = ",".join([model, "\u0663", *prices[1:]])
        expected = (
            f"{path}, line 2: input_per_mtok is '\u0663', not a number written with the digits"
        )
    else:
        workstream = rows[1].split(",")[0]
        rows.append(f"{workstream},2026-11,\u0661\u0660\u0660")
        expected = f"{path}, line {len(rows)}: budget_usd is '\u0661\u0660\u0660', not a number"
    path.write_text("\n".join(rows) + "\n")

    assert_stopped_before_anything_is_written(pipeline, expected)


def test_a_duplicate_seat_stops_the_run_before_anything_is_written(pipeline):
    seats = pipeline.config_dir / "seats.csv"
    email = seats.read_text().splitlines()[1].split(",")[0]
    line = append_line(seats, f"{email},99,")

    result = pipeline.materialize(START, END, raise_on_error=False)

    assert not result.success
    failures = step_failures(result)
    assert list(failures) == ["raw_layer"]
    assert (
        f"{seats}, line {line}: seat {email} is listed twice (first on line 2)"
        in (failures["raw_layer"])
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


def test_emails_typed_in_another_case_match_the_apis(pipeline, reference):
    # The API spells every email in lower case; the files now spell them otherwise.
    def retyped(actor: str) -> str:
        if "@" not in actor:
            return actor  # an API key name matches only as written
        local, domain = actor.split("@")
        return f"{local.capitalize()}@{domain.upper()}"

    for name in ("workstreams.csv", "seats.csv"):
        path = pipeline.config_dir / name
        rows = [row.split(",", 1) for row in path.read_text().splitlines()]
        path.write_text(
            "\n".join([",".join(rows[0])] + [f"{retyped(a)},{rest}" for a, rest in rows[1:]]) + "\n"
        )
    end = "2026-03-15"  # the first as-of day whose 14-day window is loaded

    assert pipeline.materialize(START, end).success

    # Spend goes to the person's workstream: the days also in the reference run equal it.
    tables = rows_of_days(read_tables(pipeline.duckdb_file), START, REFERENCE_END)
    for name in ("priced_usage", "workstream_cost", "daily_spend"):
        pd.testing.assert_frame_equal(
            tables[name], reference.days(START, REFERENCE_END)[name], check_dtype=False
        )
    # A seat whose records are spelt otherwise is not idle: each listed seat has exactly the
    # sessions and lines of the records of its email, in any case, and keeps the file's spelling.
    usage = pipeline.table("raw_usage")
    window = usage.loc[pd.to_datetime(usage["usage_date"]).between(START, end)]
    per_person = window.groupby("actor")[["num_sessions", "lines_added"]].sum()
    idle = pipeline.table("idle_seats")
    assert set(idle["as_of"]) == {pd.Timestamp(end)}
    assert len(idle) < 40  # before, all 40 seats read "completely idle"
    for seat in idle.itertuples():
        assert seat.email == retyped(seat.email.lower())
        person = per_person.reindex([seat.email.lower()], fill_value=0).iloc[0]
        assert (seat.sessions, seat.lines_added) == tuple(person), seat.email
    busiest = per_person["num_sessions"].idxmax()
    assert per_person.loc[busiest, "lines_added"] >= 20
    assert retyped(busiest) not in set(idle["email"])
