"""Reading and validating the configuration files.

Every problem is reported as `ConfigFileError` naming the file, the line (1 = header) and what
is wrong, so that a person can fix the CSV without reading a stack trace. Files may come from
Excel: a UTF-8 BOM and CRLF line ends are accepted.
"""

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import pandas as pd

from budget_pipeline.rules.actors import actor_key
from budget_pipeline.rules.attribution import UNASSIGNED
from budget_pipeline.rules.forecast import TOTAL
from budget_pipeline.text_safety import spreadsheet_text

LEDGER_FILE = "workstreams.csv"
PRICES_FILE = "prices.csv"
SEATS_FILE = "seats.csv"
BUDGETS_FILE = "budgets.csv"

PRICE_COLUMNS = ("input_per_mtok", "output_per_mtok", "cache_write_per_mtok", "cache_read_per_mtok")
# Optional: one-hour cache writes, where a source reports them apart (the Enterprise source);
# an empty value or no column at all prices them as cache_write_per_mtok.
CACHE_WRITE_1H = "cache_write_1h_per_mtok"


class ConfigFileError(ValueError):
    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


def content_hash(path: Path) -> str:
    """Data version of a config file: changes exactly when its bytes change."""
    return hashlib.sha256(_read_bytes(path)).hexdigest()[:16]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        raise ConfigFileError(path, None, "file not found") from error


def _parsed_once(
    parse: Callable[..., pd.DataFrame], path: Path, *arguments: Hashable
) -> pd.DataFrame:
    """`parse(path, content, *arguments)` of the file's current bytes; callers get copies, so
    none can change what the next one reads."""
    return _parsed(parse, path, _read_bytes(path), *arguments).copy()


# Keyed by the exact bytes, so a changed file is always parsed again: a run's steps ask for the
# same files a dozen times, and judging a large seats.csv row by row is not free.
@lru_cache(maxsize=16)
def _parsed(parse: Callable[..., pd.DataFrame], path: Path, content: bytes, *arguments: Hashable):
    return parse(path, content, *arguments)


def _read_rows(
    path: Path, content: bytes, required: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with their line numbers, after checking the header."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigFileError(path, None, f"not UTF-8 text ({error.reason})") from error
    if not text.strip():
        raise ConfigFileError(path, 1, f"file is empty; expected a header: {','.join(required)}")
    records = _records(path, text)
    _, names = next(records)
    header = [name.strip() for name in names]
    missing = [name for name in required if name not in header]
    if missing:
        raise ConfigFileError(
            path, 1, f"missing column {', '.join(missing)} (header is: {','.join(header)})"
        )
    rows = []
    for line, values in records:
        if not values or all(not value.strip() for value in values):
            continue
        if len(values) > len(header):
            raise ConfigFileError(
                path, line, f"{len(values)} fields but the header has {len(header)}"
            )
        values = values + [""] * (len(header) - len(values))
        rows.append(
            (line, {name: value.strip() for name, value in zip(header, values, strict=True)})
        )
    return rows


# A value is one line of text: a note, an email, a key name, a number. A longer one is a quote
# left open swallowing the rows after it, or not a value at all (the csv module's own limit,
# 128 KiB, would fail with a bare traceback).
MAX_VALUE_CHARACTERS = 1_000


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record of `text` with the line it starts on (blank lines count, as an editor counts
    them). A quote left open would otherwise make one value of every row after it: a value
    holding a line break, one running to the end of the file and one over the length limit are
    refused on the line where the quote opened."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ConfigFileError(path, start, _csv_problem(str(error))) from None
        for value in values:
            if "\n" in value or "\r" in value:
                raise ConfigFileError(
                    path,
                    start,
                    f"a quoted value runs over a line break (to line {reader.line_num}); values "
                    "are one line: is a quote left open?",
                )
            if len(value) > MAX_VALUE_CHARACTERS:
                raise ConfigFileError(path, start, _too_long(f"{len(value):,}"))
        yield start, values


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message:
        return "a quote opened on this line is never closed: the value runs to the end of the file"
    if "field larger than field limit" in message:
        return _too_long(f"more than {csv.field_size_limit():,}")
    if "expected after" in message:
        return (
            "text after a closing quote; a quoted value ends at a comma or at the end of the "
            'line (a quote inside it is written "")'
        )
    return f"not readable as CSV ({message})"


def _too_long(characters: str) -> str:
    return (
        f"a value of {characters} characters; at most {MAX_VALUE_CHARACTERS:,} are allowed (is a "
        "quote left open?)"
    )


# Python's float() also reads other scripts' digits (`١٥٠`) and `1_000`: a number a person
# cannot check against the sheet. Digits 0-9, a point and an exponent are what every tool writes.
_ASCII_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _non_negative_number(path: Path, line: int, column: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigFileError(path, line, f"{column} is {value!r}, not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise ConfigFileError(path, line, f"{column} is {value!r}, not a finite number")
    if _ASCII_NUMBER.fullmatch(value) is None:
        raise ConfigFileError(
            path, line, f"{column} is {value!r}, not a number written with the digits 0-9"
        )
    if number < 0:
        raise ConfigFileError(path, line, f"{column} is {value}, must not be negative")
    return number


def _required_text(path: Path, line: int, column: str, value: str) -> str:
    if not value:
        raise ConfigFileError(path, line, f"{column} is empty")
    return value


def load_ledger(path: Path) -> pd.DataFrame:
    """workstreams.csv → one row per actor (actor, workstream).

    An actor written as `'=x` is the key `=x`: the `'` keeps a spreadsheet from running the name
    as a formula (ledger_paste_lines writes it so). Actors are told apart by `actor_key`, so two
    spellings of one email are refused; the first spelling is kept.
    """
    return _parsed_once(_parse_ledger, path)


def _parse_ledger(path: Path, content: bytes) -> pd.DataFrame:
    first_seen: dict[str, tuple[str, str, int]] = {}  # actor key → actor, workstream, line
    for line, row in _read_rows(path, content, ("actor", "workstream")):
        actor = spreadsheet_text(_required_text(path, line, "actor", row["actor"]))
        workstream = _required_text(path, line, "workstream", row["workstream"])
        if workstream == TOTAL:
            raise ConfigFileError(
                path,
                line,
                f"workstream {TOTAL} is reserved: in {BUDGETS_FILE} it is the whole "
                "organisation; give the workstream another name",
            )
        key = actor_key(actor)
        if key in first_seen:
            earlier_actor, earlier, earlier_line = first_seen[key]
            spelt = "" if earlier_actor == actor else f" (as {earlier_actor})"
            if earlier != workstream:
                raise ConfigFileError(
                    path,
                    line,
                    f"actor {actor} is mapped to {workstream} here and to {earlier} on line "
                    f"{earlier_line}{spelt}; an actor has one primary workstream",
                )
            if spelt:
                raise ConfigFileError(
                    path,
                    line,
                    f"actor {actor} is listed twice (first on line {earlier_line} as "
                    f"{earlier_actor}); emails match whatever their case",
                )
            continue
        first_seen[key] = (actor, workstream, line)
    return pd.DataFrame(
        {
            "actor": pd.Series([actor for actor, _, _ in first_seen.values()], dtype="object"),
            "workstream": pd.Series([ws for _, ws, _ in first_seen.values()], dtype="object"),
        }
    )


def load_prices(path: Path) -> pd.DataFrame:
    """prices.csv → one row per model with its four USD-per-million-token prices."""
    return _parsed_once(_parse_prices, path)


def _parse_prices(path: Path, content: bytes) -> pd.DataFrame:
    records: dict[str, dict[str, object]] = {}
    lines: dict[str, int] = {}
    for line, row in _read_rows(path, content, ("model", *PRICE_COLUMNS)):
        model = _required_text(path, line, "model", row["model"])
        if model in records:
            raise ConfigFileError(
                path, line, f"model {model} is listed twice (first on line {lines[model]})"
            )
        prices = {c: _non_negative_number(path, line, c, row[c]) for c in PRICE_COLUMNS}
        one_hour = row.get(CACHE_WRITE_1H, "")
        prices[CACHE_WRITE_1H] = (
            _non_negative_number(path, line, CACHE_WRITE_1H, one_hour)
            if one_hour
            else prices["cache_write_per_mtok"]
        )
        records[model] = {"model": model, **prices}
        lines[model] = line
    if not records:
        raise ConfigFileError(path, None, "no prices: the file has a header but no rows")
    return pd.DataFrame(list(records.values()), columns=["model", *PRICE_COLUMNS, CACHE_WRITE_1H])


def load_seats(path: Path) -> pd.DataFrame:
    """seats.csv → one row per paid seat (email, monthly_cost_usd, note), the email as the file
    spells it; two rows whose emails differ only by case are one seat listed twice."""
    return _parsed_once(_parse_seats, path)


def _parse_seats(path: Path, content: bytes) -> pd.DataFrame:
    seats: dict[str, dict[str, object]] = {}  # by actor key
    lines: dict[str, int] = {}
    for line, row in _read_rows(path, content, ("email", "monthly_cost_usd", "note")):
        email = _required_text(path, line, "email", row["email"])
        key = actor_key(email)
        if key in seats:
            earlier = seats[key]["email"]
            spelt = "" if earlier == email else f" as {earlier}; emails match whatever their case"
            raise ConfigFileError(
                path, line, f"seat {email} is listed twice (first on line {lines[key]}{spelt})"
            )
        cost = _non_negative_number(path, line, "monthly_cost_usd", row["monthly_cost_usd"])
        seats[key] = {"email": email, "monthly_cost_usd": cost, "note": row["note"]}
        lines[key] = line
    return pd.DataFrame(list(seats.values()), columns=["email", "monthly_cost_usd", "note"])


def load_budgets(path: Path, ledger_workstreams: Iterable[str]) -> pd.DataFrame:
    """budgets.csv → one row per (workstream, month) with its budget in USD.

    `month` is the first day of the month, or NaT for the row that applies to every month
    without a row of its own. A workstream must be one of `ledger_workstreams`, `Unassigned`
    or `TOTAL`: a misspelt name would otherwise never match and its budget silently vanish.
    """
    return _parsed_once(_parse_budgets, path, frozenset(ledger_workstreams))


def _parse_budgets(path: Path, content: bytes, ledger_workstreams: frozenset[str]) -> pd.DataFrame:
    known = set(ledger_workstreams) | {UNASSIGNED, TOTAL}
    budgets: dict[tuple[str, str], dict[str, object]] = {}
    lines: dict[tuple[str, str], int] = {}
    for line, row in _read_rows(path, content, ("workstream", "month", "budget_usd")):
        workstream = _required_text(path, line, "workstream", row["workstream"])
        if workstream not in known:
            raise ConfigFileError(
                path,
                line,
                f"workstream {workstream} is not in {LEDGER_FILE} (known: "
                f"{', '.join(sorted(known))})",
            )
        month = _budget_month(path, line, row["month"])
        key = (workstream, row["month"])
        if key in budgets:
            which = f"month {row['month']}" if row["month"] else "the default (empty) month"
            raise ConfigFileError(
                path,
                line,
                f"workstream {workstream} has two budgets for {which} (first on line {lines[key]})",
            )
        amount = _non_negative_number(path, line, "budget_usd", row["budget_usd"])
        budgets[key] = {"workstream": workstream, "month": month, "budget_usd": amount}
        lines[key] = line
    return _budgets_frame(list(budgets.values()))


def load_budgets_if_present(path: Path, ledger_workstreams: Iterable[str]) -> pd.DataFrame:
    """The budgets, or none when the optional file is absent: forecasts are made either way."""
    if not path.exists():
        return _budgets_frame([])
    return load_budgets(path, ledger_workstreams)


# Budgets are for months the pipeline can count: the tables hold nanosecond timestamps (years
# 1677-2262), and a year far outside this range is a typo, never a plan.
FIRST_BUDGET_YEAR, LAST_BUDGET_YEAR = 2000, 2099


def _budget_month(path: Path, line: int, value: str) -> pd.Timestamp:
    if not value:
        return pd.NaT
    # [0-9], not \d: \d also takes other scripts' digits (`٢٠٢٦-12`).
    if re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value) is None:
        raise ConfigFileError(
            path, line, f"month is {value!r}; expected YYYY-MM, or empty for every month"
        )
    if not FIRST_BUDGET_YEAR <= int(value[:4]) <= LAST_BUDGET_YEAR:
        raise ConfigFileError(
            path,
            line,
            f"month is {value!r}; expected a month from {FIRST_BUDGET_YEAR}-01 to "
            f"{LAST_BUDGET_YEAR}-12",
        )
    return pd.Timestamp(f"{value}-01")


def _budgets_frame(records: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["workstream", "month", "budget_usd"])
    return frame.astype(
        {"workstream": "object", "month": "datetime64[ns]", "budget_usd": "float64"}
    )


def judge_config_files(directory: Path) -> None:
    """Read every configuration file of `directory`; the first problem raises ConfigFileError."""
    ledger = load_ledger(directory / LEDGER_FILE)
    load_prices(directory / PRICES_FILE)
    load_seats(directory / SEATS_FILE)
    load_budgets_if_present(directory / BUDGETS_FILE, ledger["workstream"])
