"""Text columns of the contracts: judged in one pass, failures still named value by value."""

import pandas as pd

from budget_pipeline.warehouse.contracts import failure_cases


def workstream_cost(workstreams: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "usage_date": pd.to_datetime(["2026-03-02"] * len(workstreams)),
            "workstream": pd.Series(workstreams, dtype="object"),
            "cost_usd": [1.0] * len(workstreams),
            "share": [1 / len(workstreams)] * len(workstreams),
            "actors": [1] * len(workstreams),
        }
    )


def test_text_columns_of_strings_pass():
    assert failure_cases("workstream_cost", workstream_cost(["mobile", "search"])).empty


def test_a_value_that_is_not_text_is_named_with_its_row():
    cases = failure_cases("workstream_cost", workstream_cost(["mobile", 7, b"bytes", "search"]))
    wrong_type = cases.loc[cases["check"] == "dtype('str')"]
    assert wrong_type[["column", "failure_case", "index"]].values.tolist() == [
        ["workstream", "7", "1"],
        ["workstream", "bytes", "2"],
    ]


def test_a_missing_value_in_a_required_text_column_fails():
    cases = failure_cases("workstream_cost", workstream_cost(["mobile", None]))
    assert cases["column"].tolist() == ["workstream"]
    assert "not_nullable" in cases["check"].iloc[0]


def test_an_empty_text_where_one_is_required_is_named_with_its_row():
    cases = failure_cases("workstream_cost", workstream_cost(["mobile", "", "search"]))
    assert cases[["column", "check", "failure_case", "index"]].values.tolist() == [
        ["workstream", "non_empty", "", "1"]
    ]
