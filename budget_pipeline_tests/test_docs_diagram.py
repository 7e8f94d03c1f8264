"""The README's lineage diagram is the one the definitions draw: adding or rewiring an asset
without regenerating it fails here."""

import re

import pytest

from budget_pipeline.definitions import defs as load_definitions
from budget_pipeline.docs_diagram import (
    README,
    REGENERATE,
    lineage_flowchart,
    readme_flowchart,
    with_flowchart,
)


@pytest.fixture(scope="module")
def definitions():
    return load_definitions()


def drawn(flowchart: str) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    """The arrows (parent, child) and the assets of each subgraph, read back from the text."""
    arrows, groups, group = set(), {}, None
    for line in flowchart.splitlines()[1:]:
        line = line.strip()
        if line.startswith("%%"):
            continue
        if match := re.fullmatch(r'subgraph (\w+)\[".*"\]', line):
            group = match.group(1)
            groups[group] = set()
            continue
        if line == "end":
            group = None
            continue
        left, _, right = line.partition(" --> ")
        names = [*left.split(" & "), *(right.split(" & ") if right else [])]
        arrows |= {(p, c) for p in left.split(" & ") for c in right.split(" & ") if right}
        if group:
            groups[group] |= set(names)
    return arrows, groups


def test_the_readme_diagram_is_the_one_the_definitions_draw(definitions):
    assert readme_flowchart(README.read_text(encoding="utf-8")) == lineage_flowchart(definitions), (
        f"the README's lineage diagram is stale: run `.venv/bin/{REGENERATE}`"
    )


def test_the_diagram_has_every_dependency_and_every_asset_in_its_group(definitions):
    graph = definitions.resolve_asset_graph()
    arrows, groups = drawn(lineage_flowchart(definitions))
    expected_arrows, expected_groups = set(), {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        expected_groups.setdefault(node.group_name, set()).add(name)
        expected_arrows |= {(parent.to_user_string(), name) for parent in node.parent_keys}
    assert arrows == expected_arrows
    assert groups == expected_groups
    # what the hand-drawn diagram had missed
    assert {
        ("budget_forecast", "idle_seat_digest"),
        ("budget_forecast", "budget_report"),
        ("prices_csv", "budget_report"),
        ("seats_csv", "budget_report"),
        ("workstreams_csv", "budget_report"),
    } <= arrows


def test_writing_replaces_only_the_mermaid_block(definitions):
    text = "intro\n\n```mermaid\nflowchart LR\n  a --> b\n```\n\n```bash\nls\n```\n"
    flowchart = lineage_flowchart(definitions)
    written = with_flowchart(text, flowchart)
    assert readme_flowchart(written) == flowchart
    assert written.startswith("intro\n\n```mermaid\n")
    assert written.endswith("\n```\n\n```bash\nls\n```\n")
