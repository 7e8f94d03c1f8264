"""`dagster dev` on the Enterprise source, driven through GraphQL as the UI drives it, and
`dg check defs` on every source.

`dg` and the UI show the same asset graph as on the Console source, the `analytics_api` resource
shows the source and its lag (and only the name of the key's variable), and a backfill launched
from the UI over days the Claude Enterprise Analytics API serves writes the organisation's usage
and bill.
"""

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from budget_pipeline.demo.server import UsageApiServer
from budget_pipeline_tests.commands import (
    BIN,
    new_dagster_home,
    start_dev,
    stop_process_group,
    without_project_settings,
)
from budget_pipeline_tests.conftest import TEST_API_KEY, TEST_ORGANISATION
from budget_pipeline_tests.test_dagster_dev import (
    BACKFILL_STATUS,
    BUDGET_ASSETS,
    DAGSTER,
    REPO,
    RUN_TIMEOUT,
    Webserver,
    free_port,
    launch_ui_backfill,
)

ANALYTICS_KEY = "sk-ant-analytics-UI-TEST-5d1b07"
# Not the default of three: the UI must show the lag this deployment set.
LAG_DAYS = 2

# What the UI shows: the whole graph (every group) and the resources' configuration.
UI_VIEW = """
{
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        assetNodes {
          assetKey { path }
          groupName
          dependencyKeys { path }
          partitionDefinition { type }
          assetChecksOrError { ... on AssetChecks { checks { name } } }
        }
      }
    }
  }
  allTopLevelResourceDetailsOrError(repositorySelector: {
      repositoryName: "__repository__", repositoryLocationName: "budget_pipeline"}) {
    ... on ResourceDetailsList {
      results { name configuredValues { key value type } }
    }
  }
}
"""


RUN_AS_SHOWN = """
query($id: ID!) { runOrError(runId: $id) { ... on Run { runConfigYaml tags { key value } } } }
"""


def served_days() -> list[str]:
    """Three days up to the newest one the API serves: today less the lag (UTC)."""
    newest = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=LAG_DAYS)
    return [str(newest - dt.timedelta(days=back)) for back in (2, 1, 0)]


def graph_of(data: dict) -> list[dict]:
    [repository] = data["repositoriesOrError"]["nodes"]
    return sorted(repository["assetNodes"], key=lambda node: node["assetKey"]["path"])


def analytics_api_shown(view: dict) -> dict[str, tuple[str, str]]:
    resources = view["allTopLevelResourceDetailsOrError"]["results"]
    [analytics_api] = [r for r in resources if r["name"] == "analytics_api"]
    return {v["key"]: (v["type"], v["value"]) for v in analytics_api["configuredValues"]}


def console_view(tmp_path) -> dict:
    """What the UI shows on the Console source: the same GraphQL query, answered by
    `dagster-graphql`, without a webserver."""
    output = tmp_path / "console_view.json"
    environment = without_project_settings() | {
        "ANTHROPIC_ADMIN_API_KEY": TEST_API_KEY,
        "BUDGET_PIPELINE_SOURCE": "claude_code",
    }
    completed = subprocess.run(
        [
            # From the repository root without -w or -m: the project loads as `dagster dev`
            # loads it, under the same location name.
            *(str(BIN / "dagster-graphql"), "--ephemeral-instance", "-t", UI_VIEW, "-o", output),
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(output.read_text())
    assert "errors" not in answer, answer["errors"]
    assert TEST_API_KEY not in output.read_text()
    return answer["data"]


SOURCE_KEYS = {
    "claude_code": {"ANTHROPIC_ADMIN_API_KEY": TEST_API_KEY},
    "enterprise": {"ANTHROPIC_ANALYTICS_API_KEY": ANALYTICS_KEY},
    "demo": {},
    "demo-enterprise": {},
}


def dg_command(source: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    environment = without_project_settings() | {
        "DAGSTER_HOME": str(new_dagster_home(tmp_path)),
        "BUDGET_PIPELINE_SOURCE": source,
        **SOURCE_KEYS[source],
    }
    return subprocess.run(
        [str(BIN / "dg"), *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def definitions_outline(listing: dict) -> dict:
    """What `dg list defs` shows of the graph and its automation, descriptions aside."""
    return {
        "assets": sorted(
            (a["asset_key"], a["group_name"], tuple(a["dependency_keys"]))
            for a in listing["assets"]
        ),
        **{
            kind: sorted(str(item.get("key") or item["name"]) for item in listing[kind])
            for kind in ("asset_checks", "jobs", "resources", "sensors")
        },
        "schedules": sorted((s["name"], s["cron_schedule"]) for s in listing["schedules"]),
    }


def test_dg_check_defs_passes_and_shows_one_graph_on_every_source(tmp_path):
    outlines = {}
    for source in SOURCE_KEYS:
        checked = dg_command(source, tmp_path, "check", "defs")
        assert checked.returncode == 0, (source, checked.stderr[-3000:])
        assert "All definitions loaded successfully." in checked.stdout + checked.stderr
        listed = dg_command(source, tmp_path, "list", "defs", "--json")
        assert listed.returncode == 0, (source, listed.stderr[-3000:])
        outlines[source] = definitions_outline(json.loads(listed.stdout))
    console = outlines.pop("claude_code")
    assert set(BUDGET_ASSETS) <= {key for key, _, _ in console["assets"]}
    for source, outline in outlines.items():
        assert outline == console, source


@pytest.fixture
def enterprise_api_server():
    # The real clock: the UI's partitions and the API's lag agree on what "today" is.
    with UsageApiServer(
        TEST_ORGANISATION, api_key=ANALYTICS_KEY, enterprise_lag_days=LAG_DAYS, seat_plan=True
    ) as server:
        yield server


@pytest.fixture
def enterprise_dagster_dev(tmp_path, enterprise_api_server):
    home = new_dagster_home(tmp_path)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    TEST_ORGANISATION.write_config(config_dir)
    duckdb_file = tmp_path / "data" / "warehouse.duckdb"
    env = without_project_settings() | {
        "DAGSTER_HOME": str(home),
        "BUDGET_PIPELINE_SOURCE": "enterprise",
        "BUDGET_PIPELINE_ENTERPRISE_LAG_DAYS": str(LAG_DAYS),
        "BUDGET_PIPELINE_DUCKDB": str(duckdb_file),
        "BUDGET_PIPELINE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_BASE_URL": enterprise_api_server.base_url,
        "ANTHROPIC_ANALYTICS_API_KEY": ANALYTICS_KEY,
    }
    port = free_port()
    log = tmp_path / "dagster_dev.log"
    process = start_dev(DAGSTER, port, REPO, env, log)
    try:
        webserver = Webserver(port)
        webserver.wait_until_loaded(process, log)
        yield webserver, duckdb_file, home, log
    finally:
        stop_process_group(process)


def wait_for_backfill(webserver: Webserver, launched: dict, log: Path) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        backfill = webserver.query(BACKFILL_STATUS, id=launched["backfillId"])
        backfill = backfill["partitionBackfillOrError"]
        if backfill["status"] != "REQUESTED" and all(
            run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in backfill["runs"]
        ):
            return backfill
        assert time.monotonic() < deadline, f"backfill still {backfill}:\n{log.read_text()[-3000:]}"
        time.sleep(2)


def test_a_ui_backfill_on_the_enterprise_source(
    enterprise_dagster_dev, enterprise_api_server, tmp_path
):
    webserver, duckdb_file, home, log = enterprise_dagster_dev

    # One asset graph whatever the source: the same assets, groups, lineage, partitions, checks.
    view, console = webserver.query(UI_VIEW), console_view(tmp_path)
    graph = graph_of(view)
    assert {"/".join(n["assetKey"]["path"]) for n in graph} >= set(BUDGET_ASSETS)
    assert graph == graph_of(console)

    # The resource's config shows the source and its lag; the key only by its variable's name.
    shown = analytics_api_shown(view)
    assert shown["source"] == ("VALUE", '"enterprise"'), shown
    assert shown["enterprise_lag_days"] == ("VALUE", str(LAG_DAYS)), shown
    assert shown["analytics_api_key"] == ("ENV_VAR", "ANTHROPIC_ANALYTICS_API_KEY"), shown
    assert ANALYTICS_KEY not in json.dumps(view)
    shown = analytics_api_shown(console)
    assert shown["source"] == ("VALUE", '"claude_code"'), shown
    assert shown["api_key"] == ("ENV_VAR", "ANTHROPIC_ADMIN_API_KEY"), shown

    days = served_days()
    backfill = wait_for_backfill(webserver, launch_ui_backfill(webserver, days), log)
    assert backfill["status"] == "COMPLETED_SUCCESS", log.read_text()[-3000:]
    [run] = backfill["runs"]
    assert run["status"] == "SUCCESS"
    assert ANALYTICS_KEY not in log.read_text()
    shown_run = webserver.query(RUN_AS_SHOWN, id=run["runId"])["runOrError"]
    assert shown_run["runConfigYaml"] and ANALYTICS_KEY not in json.dumps(shown_run)

    with duckdb.connect(str(duckdb_file), read_only=True) as connection:
        [(sources, raw_days)] = connection.execute(
            "SELECT list(DISTINCT source), "
            "list(DISTINCT usage_date::VARCHAR ORDER BY usage_date::VARCHAR) FROM budget.raw_usage"
        ).fetchall()
        [(price_sources,)] = connection.execute(
            "SELECT list(DISTINCT price_source) FROM budget.priced_usage"
        ).fetchall()
        [(billed, covered)] = connection.execute(
            "SELECT count(*) FILTER (amount_usd > 0), count(*) FILTER (amount_usd = 0) "
            "FROM budget.billed_cost"
        ).fetchall()
        # each actor x model x day: priced and billed side by side, whichever side has it
        [(compared, differing)] = connection.execute(
            """
            SELECT count(*),
                   count(*) FILTER (abs(coalesce(priced.cost_usd, -1)
                                        - coalesce(billed.amount_usd, 0)) > 0.005)
            FROM budget.priced_usage AS priced
            FULL JOIN budget.billed_cost AS billed USING (usage_date, actor, actor_type, model)
            """
        ).fetchall()
    assert sources == ["enterprise"]
    assert raw_days == days
    # A seat-based plan: most usage is covered by the seats, heavy users are billed beyond.
    assert billed > 0 and covered > 0
    # cost_usd is what the bill charges (0 where the seat covers it), row for row
    assert price_sources == ["billed"]
    assert compared == billed + covered and differing == 0

    # Yesterday is a partition the UI offers, but the API does not serve it yet: a range reaching
    # it fails naming it and the newest day served, asks for it once, and writes nothing.
    yesterday = str(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    backfill = wait_for_backfill(
        webserver, launch_ui_backfill(webserver, [days[-1], yesterday]), log
    )
    [run] = backfill["runs"]
    assert run["status"] == "FAILURE", backfill
    with dg.DagsterInstance.from_config(str(home)) as instance:
        events = [
            entry.dagster_event
            for entry in instance.all_logs(run["runId"])
            if entry.dagster_event is not None
        ]
    [failure, *_] = [e.step_failure_data.error.message for e in events if e.is_step_failure]
    assert f"{yesterday}: the Claude Enterprise Analytics API does not serve this day" in failure
    assert f"latest available date is {days[-1]}" in failure
    assert not [e for e in events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]
    asked = [r for r in enterprise_api_server.users_requests() if r.query.get("date") == yesterday]
    assert len(asked) == 1
    with duckdb.connect(str(duckdb_file), read_only=True) as connection:
        [(written,)] = connection.execute(
            "SELECT count(*) FROM budget.raw_usage WHERE usage_date = ?", [yesterday]
        ).fetchall()
    assert written == 0
