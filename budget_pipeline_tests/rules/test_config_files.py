"""The configuration files: every problem names the file, the line and what is
wrong; files saved by Excel (BOM, CRLF) are read like any other."""

import pandas as pd
import pytest

from budget_pipeline.rules.config_files import (
    MAX_VALUE_CHARACTERS,
    ConfigFileError,
    load_budgets,
    load_budgets_if_present,
    load_ledger,
    load_prices,
    load_seats,
)

LEDGER_WORKSTREAMS = ("search", "platform")
LOADERS = {
    "workstreams.csv": load_ledger,
    "prices.csv": load_prices,
    "seats.csv": load_seats,
    "budgets.csv": lambda path: load_budgets(path, LEDGER_WORKSTREAMS),
}
BUDGETS_HEADER = "workstream,month,budget_usd\n"
SEATS_HEADER = "email,monthly_cost_usd,note\n"
PRICES_HEADER = "model,input_per_mtok,output_per_mtok,cache_write_per_mtok,cache_read_per_mtok\n"
GOOD = {
    "workstreams.csv": "actor,workstream\na@example.com,search\nci-bot,platform\n",
    "prices.csv": PRICES_HEADER
    + "claude-sonnet-4-6,3,15,3.75,0.30\nclaude-haiku-4-5,1,5,1.25,0.1\n",
    "seats.csv": "email,monthly_cost_usd,note\na@example.com,150,\nb@example.com,150,"
    '"On leave, back in May"\n',
    "budgets.csv": BUDGETS_HEADER + "search,,1000\nTOTAL,2026-06,5000\n",
}


def load(tmp_path, name: str, text: str | bytes) -> pd.DataFrame:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, newline="")
    else:
        path.write_bytes(text)
    return LOADERS[name](path)


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        (
            "workstreams.csv",
            "actor,team\na@example.com,search\n",
            1,
            "missing column workstream (header is: actor,team)",
        ),
        (
            "prices.csv",
            "model,input_per_mtok,output_per_mtok,cache_read_per_mtok\nm,1,2,3\n",
            1,
            "missing column cache_write_per_mtok",
        ),
        (
            "seats.csv",
            "email,note\na@example.com,\n",
            1,
            "missing column monthly_cost_usd",
        ),
        (
            "prices.csv",
            PRICES_HEADER + "claude-sonnet-4-6,3,15,3.75,0.30\nclaude-opus-4,15,7 5,18.75,1.5\n",
            3,
            "output_per_mtok is '7 5', not a number",
        ),
        (
            "prices.csv",
            PRICES_HEADER + "claude-opus-4,15,75,18.75,-1.5\n",
            2,
            "cache_read_per_mtok is -1.5, must not be negative",
        ),
        (
            "prices.csv",
            PRICES_HEADER + "claude-opus-4,nan,75,18.75,1.5\n",
            2,
            "input_per_mtok is 'nan', not a finite number",
        ),
        (
            "prices.csv",
            PRICES_HEADER + "claude-opus-4,15,75,18.75,1.5\nclaude-opus-4,15,75,18.75,1.5\n",
            3,
            "model claude-opus-4 is listed twice (first on line 2)",
        ),
        ("prices.csv", PRICES_HEADER, None, "no prices: the file has a header but no rows"),
        (
            "seats.csv",
            "email,monthly_cost_usd,note\na@example.com,$150,\n",
            2,
            "monthly_cost_usd is '$150', not a number",
        ),
        (
            "seats.csv",
            "email,monthly_cost_usd,note\na@example.com,-150,\n",
            2,
            "monthly_cost_usd is -150, must not be negative",
        ),
        (
            "workstreams.csv",
            "actor,workstream\na@example.com,search\nb@example.com,mobile\na@example.com,payments\n",
            4,
            "actor a@example.com is mapped to payments here and to search on line 2; "
            "an actor has one primary workstream",
        ),
        (
            "seats.csv",
            "email,monthly_cost_usd,note\na@example.com,150,\n\nb@example.com,150,\n"
            "a@example.com,150,\n",
            # the blank line counts: line numbers are what an editor shows
            5,
            "seat a@example.com is listed twice (first on line 2)",
        ),
        ("workstreams.csv", "actor,workstream\n,search\n", 2, "actor is empty"),
        (
            "workstreams.csv",
            "actor,workstream\na@example.com,search,extra\n",
            2,
            "3 fields but the header has 2",
        ),
        ("workstreams.csv", "", 1, "file is empty; expected a header: actor,workstream"),
        ("prices.csv", "\r\n  \r\n", 1, "file is empty"),
        ("seats.csv", "\ufeff", 1, "file is empty"),
        ("seats.csv", b"email,monthly_cost_usd,note\n\xe9@x,1,\n", None, "not UTF-8 text"),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,,1000\nserach,2026-06,500\n",
            # a typo would otherwise be a budget that never matches any spend
            3,
            "workstream serach is not in workstreams.csv (known: TOTAL, Unassigned, platform, "
            "search)",
        ),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,2026-06,1000\nplatform,2026-06,800\nsearch,2026-06,1200\n",
            4,
            "workstream search has two budgets for month 2026-06 (first on line 2)",
        ),
        (
            "budgets.csv",
            BUDGETS_HEADER + "TOTAL,,5000\nTOTAL,,6000\n",
            3,
            "workstream TOTAL has two budgets for the default (empty) month (first on line 2)",
        ),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,2026-6,1000\n",
            2,
            "month is '2026-6'; expected YYYY-MM, or empty for every month",
        ),
        ("budgets.csv", BUDGETS_HEADER + "search,2026-13,1000\n", 2, "month is '2026-13'"),
        ("budgets.csv", BUDGETS_HEADER + "search,June 2026,1000\n", 2, "month is 'June 2026'"),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,2026-06,-100\n",
            2,
            "budget_usd is -100, must not be negative",
        ),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,2026-06,$1000\n",
            2,
            "budget_usd is '$1000', not a number",
        ),
        ("budgets.csv", BUDGETS_HEADER + "search,2026-06,\n", 2, "budget_usd is '', not a number"),
        ("budgets.csv", BUDGETS_HEADER + ",2026-06,100\n", 2, "workstream is empty"),
        (
            "budgets.csv",
            "workstream,budget_usd\nsearch,1000\n",
            1,
            "missing column month (header is: workstream,budget_usd)",
        ),
        (
            "budgets.csv",
            "",
            1,
            "file is empty; expected a header: workstream,month,budget_usd",
        ),
        # A quote left open made one note of every row after it: 2 of 5 seats, no error.
        (
            "seats.csv",
            SEATS_HEADER + 'a@example.com,150,\nb@example.com,150,"On leave\n'
            "c@example.com,150,\nd@example.com,150,\ne@example.com,150,\n",
            3,
            "a quote opened on this line is never closed: the value runs to the end of the file",
        ),
        (
            "workstreams.csv",
            'actor,workstream\na@example.com,search\n"b@example.com,platform\n'
            "c@example.com,search\n",
            3,
            "a quote opened on this line is never closed",
        ),
        (
            "seats.csv",
            SEATS_HEADER + 'a@example.com,150,\nb@example.com,150,"On leave',
            3,
            "a quote opened on this line is never closed",
        ),
        ("seats.csv", '"' + SEATS_HEADER + "a@example.com,150,\\n", 1, "never closed"),
        (
            "seats.csv",
            SEATS_HEADER + 'a@example.com,150,"On leave\nuntil May"\nb@example.com,150,\n',
            2,
            "a quoted value runs over a line break (to line 3); values are one line: is a quote "
            "left open?",
        ),
        (
            "workstreams.csv",
            'actor,workstream\n"a@example.com\r\nb@example.com",search\n',
            2,
            "a quoted value runs over a line break",
        ),
        (
            "seats.csv",
            SEATS_HEADER + 'a@example.com,150,"On leave" until May\n',
            2,
            "text after a closing quote; a quoted value ends at a comma or at the end of the line",
        ),
        (
            "seats.csv",
            SEATS_HEADER + "a@example.com,150,\nb@example.com,150," + "x" * 128 * 1024 + "\n",
            3,
            "a value of 131,072 characters; at most 1,000 are allowed (is a quote left open?)",
        ),
        (
            # past the csv module's own limit, which would fail with a bare traceback
            "seats.csv",
            SEATS_HEADER + "a@example.com,150,\nb@example.com,150," + "x" * 200 * 1024 + "\n",
            3,
            "a value of more than 131,072 characters; at most 1,000 are allowed",
        ),
        (
            "seats.csv",
            SEATS_HEADER + "a@example.com,150," + "x" * 1001 + "\n",
            2,
            "a value of 1,001 characters; at most 1,000 are allowed",
        ),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,2026-06,100\nsearch,3026-12,100\n",
            3,
            "month is '3026-12'; expected a month from 2000-01 to 2099-12",
        ),
        ("budgets.csv", BUDGETS_HEADER + "search,0000-01,100\n", 2, "from 2000-01 to 2099-12"),
        ("budgets.csv", BUDGETS_HEADER + "search,1999-12,100\n", 2, "from 2000-01 to 2099-12"),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,\u0662\u0660\u0662\u0666-12,100\n",
            2,
            "month is '\u0662\u0660\u0662\u0666-12'; expected YYYY-MM",
        ),
        (
            "budgets.csv",
            BUDGETS_HEADER + "search,2026-12,\u0661\u0660\u0660\n",
            2,
            "budget_usd is '\u0661\u0660\u0660', not a number written with the digits 0-9",
        ),
        (
            "seats.csv",
            SEATS_HEADER + "a@example.com,\uff11\uff15\uff10,\n",
            2,
            "monthly_cost_usd is '\uff11\uff15\uff10', not a number written with the digits 0-9",
        ),
        (
            "prices.csv",
            PRICES_HEADER + "claude-opus-4,15,75,18.75,\u0661.5\n",
            2,
            "cache_read_per_mtok is '\u0661.5', not a number written with the digits 0-9",
        ),
        (
            "prices.csv",
            PRICES_HEADER + "claude-opus-4,1_5,75,18.75,1.5\n",
            2,
            "input_per_mtok is '1_5', not a number written with the digits 0-9",
        ),
        (
            "workstreams.csv",
            "actor,workstream\na@example.com,search\nci-bot,TOTAL\n",
            3,
            "workstream TOTAL is reserved: in budgets.csv it is the whole organisation",
        ),
        (
            "workstreams.csv",
            "actor,workstream\nalice@example.com,search\n Alice@Example.COM ,search\n",
            3,
            "actor Alice@Example.COM is listed twice (first on line 2 as alice@example.com); "
            "emails match whatever their case",
        ),
        (
            "workstreams.csv",
            "actor,workstream\nalice@example.com,search\nAlice@example.com,platform\n",
            3,
            "actor Alice@example.com is mapped to platform here and to search on line 2 (as "
            "alice@example.com); an actor has one primary workstream",
        ),
        (
            "seats.csv",
            SEATS_HEADER + "alice@example.com,150,\nb@example.com,150,\nALICE@example.com,90,\n",
            4,
            "seat ALICE@example.com is listed twice (first on line 2 as alice@example.com; emails "
            "match whatever their case)",
        ),
    ],
)
def test_a_bad_file_names_file_line_and_problem(tmp_path, name, text, line, problem):
    with pytest.raises(ConfigFileError) as caught:
        load(tmp_path, name, text)
    where = f"{tmp_path / name}, line {line}" if line else str(tmp_path / name)
    message = str(caught.value)
    assert message.startswith(f"{where}: ")
    assert problem in message
    assert (caught.value.path, caught.value.line) == (str(tmp_path / name), line)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigFileError, match=r"seats\.csv: file not found"):
        load_seats(tmp_path / "seats.csv")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_file_saved_with_bom_and_crlf_reads_like_the_plain_file(tmp_path, name):
    plain = load(tmp_path, name, GOOD[name])
    excel = load(tmp_path, name, ("\ufeff" + GOOD[name].replace("\n", "\r\n")).encode())
    pd.testing.assert_frame_equal(excel, plain)
    assert len(plain) == 2
    # the BOM is not glued to the first column name, nor "\r" to the last value
    assert not any(str(value).endswith("\r") for value in plain.to_numpy().ravel())


def test_values_are_parsed_and_quoted_commas_kept(tmp_path):
    seats = load(tmp_path, "seats.csv", GOOD["seats.csv"]).set_index("email")
    assert seats.loc["b@example.com", "note"] == "On leave, back in May"
    assert seats.loc["a@example.com", "monthly_cost_usd"] == 150.0
    prices = load(tmp_path, "prices.csv", GOOD["prices.csv"]).set_index("model")
    assert prices.loc["claude-sonnet-4-6", "cache_read_per_mtok"] == pytest.approx(0.30)


def test_an_actor_listed_twice_with_the_same_workstream_is_one_actor(tmp_path):
    text = "actor,workstream\na@example.com,search\na@example.com,search\n"
    ledger = load(tmp_path, "workstreams.csv", text)
    assert ledger.to_dict("records") == [{"actor": "a@example.com", "workstream": "search"}]


def test_budgets_name_a_month_or_every_month_and_accept_unassigned_and_total(tmp_path):
    text = BUDGETS_HEADER + "search,,1000\nsearch,2026-06,1500.50\nUnassigned,,0\nTOTAL,,9000\n"
    budgets = load(tmp_path, "budgets.csv", text)
    assert budgets.to_dict("records") == [
        {"workstream": "search", "month": pd.NaT, "budget_usd": 1000.0},
        {"workstream": "search", "month": pd.Timestamp("2026-06-01"), "budget_usd": 1500.5},
        {"workstream": "Unassigned", "month": pd.NaT, "budget_usd": 0.0},
        {"workstream": "TOTAL", "month": pd.NaT, "budget_usd": 9000.0},
    ]
    assert str(budgets["month"].dtype) == "datetime64[ns]"


def test_budgets_are_optional_but_a_present_file_is_checked(tmp_path):
    absent = load_budgets_if_present(tmp_path / "budgets.csv", LEDGER_WORKSTREAMS)
    assert absent.empty
    assert list(absent.columns) == ["workstream", "month", "budget_usd"]
    # only the header: a valid file that sets no budget
    (tmp_path / "budgets.csv").write_text(BUDGETS_HEADER)
    assert load_budgets_if_present(tmp_path / "budgets.csv", LEDGER_WORKSTREAMS).empty
    (tmp_path / "budgets.csv").write_text(BUDGETS_HEADER + "searhc,,100\n")
    with pytest.raises(ConfigFileError, match=r"budgets\.csv, line 2: workstream searhc"):
        load_budgets_if_present(tmp_path / "budgets.csv", LEDGER_WORKSTREAMS)


def test_a_file_edited_between_two_reads_is_read_again_and_no_reader_changes_another(tmp_path):
    path = tmp_path / "seats.csv"
    path.write_text(GOOD["seats.csv"])
    first = load_seats(path)
    first.loc[0, "monthly_cost_usd"] = 0.0  # a step changing its own copy
    assert load_seats(path).loc[0, "monthly_cost_usd"] == 150.0
    path.write_text(GOOD["seats.csv"].replace("a@example.com,150", "a@example.com,90"))
    assert load_seats(path).loc[0, "monthly_cost_usd"] == 90.0
    path.write_text(GOOD["seats.csv"].replace("a@example.com,150", "a@example.com,-1"))
    with pytest.raises(ConfigFileError, match=r"seats\.csv, line 2: monthly_cost_usd is -1"):
        load_seats(path)


def test_the_same_budgets_file_is_judged_against_each_ledger(tmp_path):
    path = tmp_path / "budgets.csv"
    path.write_text(BUDGETS_HEADER + "search,,100\n")
    assert len(load_budgets(path, LEDGER_WORKSTREAMS)) == 1
    with pytest.raises(ConfigFileError, match=r"line 2: workstream search is not in"):
        load_budgets(path, ("platform",))


def test_api_key_names_that_differ_only_by_case_are_two_actors(tmp_path):
    text = "actor,workstream\nCI-Bot,platform\nci-bot,search\n"
    ledger = load(tmp_path, "workstreams.csv", text)
    assert ledger.to_dict("records") == [
        {"actor": "CI-Bot", "workstream": "platform"},
        {"actor": "ci-bot", "workstream": "search"},
    ]


def test_emails_keep_the_files_spelling(tmp_path):
    seats = load(tmp_path, "seats.csv", SEATS_HEADER + "Alice@Example.com,150,\n")
    assert list(seats["email"]) == ["Alice@Example.com"]


def test_a_one_line_note_of_the_longest_allowed_length_and_quotes_inside_quotes_are_read(
    tmp_path,
):
    note = "x" * MAX_VALUE_CHARACTERS
    text = SEATS_HEADER + f"a@example.com,150,{note}\n" + 'b@example.com,150,"Says ""hi"""\n'
    seats = load(tmp_path, "seats.csv", text)
    assert list(seats["note"]) == [note, 'Says "hi"']


def test_numbers_written_with_a_sign_a_point_or_an_exponent_are_read(tmp_path):
    text = BUDGETS_HEADER + "search,2000-01,+1e3\nsearch,2099-12,.5\nplatform,,12.\n"
    budgets = load(tmp_path, "budgets.csv", text)
    assert list(budgets["budget_usd"]) == [1000.0, 0.5, 12.0]
