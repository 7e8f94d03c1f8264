"""The weekly idle-seat digest and the ledger follow-up, after real materialisations.

The test organisation is changed through the loopback API itself: dev005 stops using Claude Code
on 2026-03-29 (newly idle by 2026-04-12), dev010 only starts on 2026-04-06 (idle on 2026-04-05,
active again a week later), and the ledger misses the whole `mobile` team, so Unassigned runs
above 15 % and the follow-up has names to list.
"""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pytest

from budget_pipeline.defs.budget import checks
from budget_pipeline.defs.budget.assets import budget_assets
from budget_pipeline.defs.config_files.assets import config_sources
from budget_pipeline.defs.hygiene.assets import digest_assets
from budget_pipeline.defs.hygiene.jobs import idle_seat_digest_job
from budget_pipeline.defs.hygiene.schedules import idle_seat_digest_schedule
from budget_pipeline.defs.notifier import AlertNotifier
from budget_pipeline.notify import seat_digest as digest
from budget_pipeline_tests.conftest import TEST_ORGANISATION, days

START, AS_OF, LAST_WEEK = "2026-03-23", dt.date(2026, 4, 12), dt.date(2026, 4, 5)
GONE_QUIET, STARTED_LATE = "dev005@example.com", "dev010@example.com"
UI = "http://127.0.0.1:3000"


@pytest.fixture
def loaded(pipeline):
    """21 days of the changed organisation: idle_seats has verdicts as of both Sundays."""
    for day in days(START, AS_OF.isoformat()):
        absent = {GONE_QUIET} if day >= dt.date(2026, 3, 29) else {STARTED_LATE}
        if dt.date(2026, 3, 29) <= day < dt.date(2026, 4, 6):
            absent = {GONE_QUIET, STARTED_LATE}
        records = [
            record
            for record in TEST_ORGANISATION.records_for(day)
            if record["actor"].get("email_address") not in absent
        ]
        pipeline.server.set_records(day, records)
    ledger = pipeline.config_dir / "workstreams.csv"
    kept = [line for line in ledger.read_text().splitlines() if not line.endswith(",mobile")]
    ledger.write_text("\n".join(kept) + "\n")
    # A budget may only name a ledger workstream: mobile's goes with it.
    budgets = pipeline.config_dir / "budgets.csv"
    kept = [line for line in budgets.read_text().splitlines() if not line.startswith("mobile,")]
    budgets.write_text("\n".join(kept) + "\n")
    result = pipeline.materialize(START, AS_OF.isoformat())
    assert result.success
    return result


def run_digest(pipeline, monday: str, receiver=None, partition_key=None, expect_success=True):
    """What the Monday schedule would launch, executed in process against the test instance;
    with expect_success=False, the failed run's result."""
    notifier = AlertNotifier(
        webhook_url=receiver.url if receiver else None, webserver_url=UI, backoff_seconds=0.01
    )
    defs = dg.Definitions(
        assets=[*config_sources, *budget_assets, *digest_assets],
        jobs=[idle_seat_digest_job],
        schedules=[idle_seat_digest_schedule],
        resources={**pipeline.resources(), "alert_notifier": notifier},
        executor=dg.in_process_executor,
    )
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime.fromisoformat(f"{monday}T07:00:00+00:00"),
        repository_def=defs.get_repository_def(),
    )
    [request] = idle_seat_digest_schedule.evaluate_tick(context).run_requests
    job = defs.resolve_job_def(idle_seat_digest_job.name)
    result = job.execute_in_process(
        instance=pipeline.instance,
        partition_key=partition_key or request.partition_key,
        raise_on_error=expect_success,
    )
    if not expect_success:
        assert not result.success
        return request, result
    assert result.success
    [materialization] = result.asset_materializations_for_node("idle_seat_digest")
    return request, {key: value.value for key, value in materialization.metadata.items()}


def logged_messages(pipeline, run_id: str) -> str:
    return "\n".join(record.user_message for record in pipeline.instance.all_logs(run_id))


def unassigned_spend(pipeline, start: str, end: str) -> pd.DataFrame:
    """The expected ledger to-do, computed here from the tables rather than by the code under
    test: spend of actors outside the edited ledger, largest first."""
    ledger = pd.read_csv(pipeline.config_dir / "workstreams.csv")
    priced = pipeline.table("priced_usage")
    window = priced.loc[priced["usage_date"].between(start, end)]
    window = window.loc[~window["actor"].isin(ledger["actor"])]
    spend = window.groupby("actor")["cost_usd"].sum()
    return spend.sort_values(ascending=False).head(10)


def test_the_weekly_digest_lists_seats_changes_and_the_ledger_once_per_week(
    pipeline, loaded, receiver
):
    # Week 14, without a webhook: a log line, nothing posted; no verdict a week before it.
    request, metadata = run_digest(pipeline, "2026-04-06")
    assert request.run_key == "2026-W14" and request.partition_key == "2026-04-05"
    assert metadata["sent"] is True and receiver.texts == []
    [run] = pipeline.instance.get_run_records(
        dg.RunsFilter(tags={"dagster/partition": "2026-04-05"})
    )
    logged = logged_messages(pipeline, run.dagster_run.run_id)
    assert "logged only" in logged and "Weekly seat digest 2026-W14" in logged
    assert "no comparison: there is no idle-seat verdict as of 2026-03-29" in logged

    # Week 15, with the webhook: exactly one post.
    request, metadata = run_digest(pipeline, "2026-04-13", receiver)
    assert request.run_key == "2026-W15" and request.partition_key == "2026-04-12"
    assert len(receiver.texts) == 1
    text = receiver.texts[0]
    seats = pipeline.table("idle_seats")
    now = seats.loc[seats["as_of"].dt.date == AS_OF]
    before = seats.loc[seats["as_of"].dt.date == LAST_WEEK]
    assert set(now["email"]) == {
        GONE_QUIET,
        "idle.person@example.com",
        "new.hire@example.com",
        "reviewer@example.com",
    }
    assert STARTED_LATE in set(before["email"]) and GONE_QUIET not in set(before["email"])
    total = now["monthly_cost_usd"].sum()
    assert f"4 seat(s) listed, ${total:,.2f}/month" in text
    assert metadata["listed_monthly_cost_usd"] == round(total, 2)
    assert digest.NOT_FOR_REVIEWS in text

    quiet = now.set_index("email").loc[GONE_QUIET]
    raw = pipeline.table("raw_usage")
    last_seen = raw.loc[raw["actor"] == GONE_QUIET, "usage_date"].max()
    assert last_seen < pd.Timestamp("2026-03-29")
    assert (
        f"• {GONE_QUIET} (data-eng): 0 sessions, 0 lines added, "
        f"${quiet['monthly_cost_usd']:,.2f}/month, last active {last_seen:%Y-%m-%d}" in text
    )
    reviewer = now.set_index("email").loc["reviewer@example.com"]
    assert (
        f"• reviewer@example.com (search): {reviewer['sessions']} sessions, "
        f"{reviewer['lines_added']} lines added, $150.00/month, "
        f"last active {reviewer['last_active']:%Y-%m-%d}. Note: Review-only role" in text
    )
    # Never-seen seats are a question about the sign-in, in their own section, not "idle".
    never_seen = text.split("Never reported by the API (a question, not a saving):")[1]
    never_seen = never_seen.split("\n\n")[0]
    assert (
        f"• new.hire@example.com (Unassigned): 0 sessions, 0 lines added, $150.00/month, "
        f"{digest.NEVER_SEEN_QUESTION}" in never_seen
    )
    assert "idle.person@example.com (Unassigned)" in never_seen  # mobile is not in the ledger
    assert "Parental leave until March" in never_seen
    idle_section = text.split(digest.SECTION_TITLES[digest.COMPLETELY_IDLE])[1].split("\n\n")[0]
    assert "new.hire" not in idle_section and "idle.person" not in idle_section

    assert "Since last week's list (as of 2026-04-05):" in text
    assert f"• newly listed: {GONE_QUIET} (completely idle)" in text
    assert f"• active again: {STARTED_LATE} (was completely idle)" in text

    expected = unassigned_spend(pipeline, "2026-03-30", "2026-04-12")
    # the eight developers of the mobile team, then the contractor who was never in the ledger
    assert list(expected.index[-1:]) == ["contractor@partner.example"] and len(expected) == 9
    paste = "\n".join(f"{actor}," for actor in expected.index)
    assert f"```\n{paste}\n```" in text
    for actor, cost in expected.items():
        assert f"• {actor} ${cost:,.2f}" in text
    assert f"{UI}/assets/idle_seats?partition=2026-04-12" in text

    # Never twice for the same week: not on a re-run, nor for another day of that week.
    _, again = run_digest(pipeline, "2026-04-13", receiver)
    _, friday = run_digest(pipeline, "2026-04-13", receiver, partition_key="2026-04-10")
    assert again["sent"] is False and friday["sent"] is False
    assert len(receiver.texts) == 1


def test_the_unassigned_warning_names_two_weeks_of_spend_as_ledger_lines(pipeline, loaded):
    [evaluation] = [
        e for e in loaded.get_asset_check_evaluations() if e.check_name == checks.UNASSIGNED_SHARE
    ]
    assert not evaluation.passed
    spend = pipeline.table("daily_spend")
    last_over = spend.loc[spend["unassigned_share"] > 0.15, "usage_date"].max()
    first = last_over - pd.Timedelta(days=13)
    expected = unassigned_spend(pipeline, first, last_over)
    assert len(expected) == 9  # the mobile team and the contractor
    lines = evaluation.metadata["workstreams_csv_lines"].value
    assert "```\n" + "\n".join(f"{actor}," for actor in expected.index) + "\n```" in lines
    named = ", ".join(f"{actor} (${cost:,.2f})" for actor, cost in expected.items())
    assert evaluation.description.endswith(f"(spend over 14 days): {named}")


def test_an_undelivered_digest_fails_its_run_and_a_rerun_sends_it_once(pipeline, loaded, receiver):
    receiver.statuses = [500, 500, 500]  # every attempt of the notifier fails
    _, failed = run_digest(pipeline, "2026-04-13", receiver, expect_success=False)
    assert receiver.texts == [] and len(receiver.attempts) == 3
    [failure] = [
        event
        for event in failed.all_events
        if event.is_step_failure and event.step_key == "idle_seat_digest"
    ]
    description = failure.step_failure_data.user_failure_data.description
    assert "idle-seat digest of 2026-W15 was not delivered" in description
    assert "Re-run job idle_seat_digest_job for partition 2026-04-12" in description
    assert failed.asset_materializations_for_node("idle_seat_digest") == []  # nothing "sent"

    # the webhook is back: the manual re-run of the same partition delivers it
    _, metadata = run_digest(pipeline, "2026-04-13", receiver)
    assert metadata["sent"] is True
    assert len(receiver.texts) == 1 and "Weekly seat digest 2026-W15" in receiver.texts[0]

    _, again = run_digest(pipeline, "2026-04-13", receiver)
    assert again["sent"] is False and len(receiver.texts) == 1


def test_the_digest_names_the_budgets_at_risk_from_the_latest_forecast_of_its_month(
    pipeline, loaded
):
    # The forecast stops on the 10th: the digest as of the 12th reads that day's rows.
    with duckdb.connect(str(pipeline.duckdb_file)) as connection:
        connection.execute("DELETE FROM budget.budget_forecast WHERE as_of > DATE '2026-04-10'")
    rows = pipeline.table("budget_forecast")
    rows = rows.loc[rows["as_of"].dt.date == dt.date(2026, 4, 10)].set_index("workstream")
    risky = rows.loc[rows["status"].isin(["over budget", "forecast over budget"])]
    assert not risky.empty and "on track" in set(rows["status"])

    _, metadata = run_digest(pipeline, "2026-04-13")
    text = metadata["digest"]
    section = text.split("Budgets at risk this month ")[1].split("\n\n")[0].splitlines()
    assert section[0] == "(April 2026, forecast as of 2026-04-10, 20 days left):"
    assert len(section) == 1 + len(risky) and metadata["budgets_at_risk"] == len(risky)
    for workstream, row in risky.iterrows():
        name = "the organisation (TOTAL, seats included)" if workstream == "TOTAL" else workstream
        expected = (
            f"• {name}: {row.status} — spent ${row.spent_to_date_usd:,.2f}, "
            f"forecast ${row.forecast_usd:,.2f}, budget ${row.budget_usd:,.2f} "
            f"({row.forecast_vs_budget:.0%} of it)"
        )
        assert expected in section[1:], (expected, section)


def test_the_digest_words_its_seats_for_the_source_of_its_rows_not_the_setting(
    pipeline, loaded, monkeypatch
):
    never_seen = "• new.hire@example.com (Unassigned): 0 sessions, 0 lines added, $150.00/month, "
    # Console rows, a setting that says Enterprise: a seat the API never reported is a question
    # about how the person signs in, not a seat nobody uses.
    monkeypatch.setenv("BUDGET_PIPELINE_SOURCE", "demo-enterprise")
    _, metadata = run_digest(pipeline, "2026-04-13")
    text = metadata["digest"]
    assert "Never reported by the API (a question, not a saving):" in text
    assert never_seen + digest.NEVER_SEEN_QUESTION in text
    assert digest.NEVER_ACTIVE not in text

    # The same seats as Enterprise rows, a setting that says Console: a source that reports
    # every member, so a seat never seen was never used on any Claude surface.
    with duckdb.connect(str(pipeline.duckdb_file)) as connection:
        connection.execute("UPDATE budget.raw_usage SET source = 'enterprise'")
    monkeypatch.setenv("BUDGET_PIPELINE_SOURCE", "demo")
    _, metadata = run_digest(pipeline, "2026-04-06")
    text = metadata["digest"]
    assert "Never reported by the API" not in text
    idle_section = text.split(digest.SECTION_TITLES[digest.COMPLETELY_IDLE])[1].split("\n\n")[0]
    assert never_seen + digest.NEVER_ACTIVE in idle_section
