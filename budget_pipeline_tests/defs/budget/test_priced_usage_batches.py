"""priced_usage prices a bounded number of records at a time: however the range is cut into
batches, the table and each day's numbers are the same."""

import threading

import duckdb
import pandas as pd

from budget_pipeline.defs.budget import assets
from budget_pipeline.ingest.records import model_usage

START, END = "2026-03-02", "2026-03-11"


def priced(pipeline) -> pd.DataFrame:
    frame = pipeline.table("priced_usage")
    return frame.sort_values(["usage_date", "actor", "model"]).reset_index(drop=True)


def test_many_small_batches_write_what_one_batch_writes(pipeline, monkeypatch):
    assert pipeline.materialize(START, END, selection="key:raw_usage or key:priced_usage").success
    one_batch = priced(pipeline)
    records_per_day = len(pipeline.table("raw_usage")) / 10
    assert records_per_day > 10

    # About three days per batch, and the batches' edges fall inside no day.
    monkeypatch.setattr(assets, "PRICE_BATCH_RECORDS", int(records_per_day * 3))
    batches = []
    monkeypatch.setattr(
        assets, "model_usage", lambda *args: batches.append(args[1:]) or model_usage(*args)
    )
    result = pipeline.materialize(START, END, selection="key:priced_usage")

    assert result.success
    assert len(batches) >= 3
    pd.testing.assert_frame_equal(priced(pipeline), one_batch)
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == assets.priced_usage.key and e.partition == END
    ]
    metadata = event.materialization.metadata
    assert metadata["range_row_count"].value == len(one_batch)
    assert metadata["range_cost_usd"].value == round(one_batch["cost_usd"].sum(), 2)


def test_a_batch_that_cannot_be_read_fails_the_run_and_leaves_the_table_as_it_was(
    pipeline, monkeypatch
):
    assert pipeline.materialize(START, END, selection="key:raw_usage or key:priced_usage").success
    before = priced(pipeline)
    records_per_day = len(pipeline.table("raw_usage")) / 10
    monkeypatch.setattr(assets, "PRICE_BATCH_RECORDS", int(records_per_day * 3))
    calls = []

    def second_batch_breaks(*args):
        calls.append(args[1:])
        if len(calls) == 2:
            raise duckdb.IOException("disk went away while reading the second batch")
        return model_usage(*args)

    monkeypatch.setattr(assets, "model_usage", second_batch_breaks)
    result = pipeline.materialize(START, END, selection="key:priced_usage", raise_on_error=False)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "disk went away while reading the second batch" in str(failure.step_failure_data.error)
    # The first batch was written to the staging table only: nothing of it was swapped in.
    pd.testing.assert_frame_equal(priced(pipeline), before)
    # The reader stopped with the step: no batch after the broken one was asked for.
    assert len(calls) == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("budget-read-ahead")]
