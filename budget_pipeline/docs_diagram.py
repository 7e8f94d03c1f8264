"""The README's lineage diagram, drawn from the loaded definitions so that it cannot drift.

`python -m budget_pipeline.docs_diagram` prints the Mermaid flowchart of the asset graph (one
subgraph per asset group, an arrow per dependency); `--write` puts it in place of the README's
```mermaid block. A test fails when the README's block differs from this rendering.
"""

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import dagster as dg

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "python -m budget_pipeline.docs_diagram --write"
BLOCK_START, BLOCK_END = "```mermaid\n", "\n```"

PARTITIONING = {
    "DailyPartitionsDefinition": "daily",
    "WeeklyPartitionsDefinition": "weekly",
    "MonthlyPartitionsDefinition": "monthly",
}


def _depths(parents: dict[str, set[str]]) -> dict[str, int]:
    """Each asset's longest path from a source: the order the flowchart reads in."""
    depths: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in depths:
            depths[name] = 1 + max((depth(parent) for parent in parents[name]), default=-1)
        return depths[name]

    for name in parents:
        depth(name)
    return depths


def _group_label(group: str, kinds: set[str]) -> str:
    return f"{group}: {', '.join(sorted(kinds))}" if kinds else group


def lineage_flowchart(definitions: dg.Definitions) -> str:
    """The asset graph as a Mermaid flowchart: groups as subgraphs, assets in dependency order."""
    graph = definitions.resolve_asset_graph()
    parents: dict[str, set[str]] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        parents[name] = {parent.to_user_string() for parent in node.parent_keys}
        groups[node.group_name].append(name)
        if node.is_observable and not node.is_materializable:
            kinds[node.group_name].add("observable")
        elif node.partitions_def is not None:
            kind = type(node.partitions_def).__name__
            kinds[node.group_name].add(PARTITIONING.get(kind, "partitioned"))
    depths = _depths(parents)
    order = sorted(parents, key=lambda name: (depths[name], name))
    children: dict[str, list[str]] = defaultdict(list)
    for name in order:
        for parent in parents[name]:
            children[parent].append(name)

    group_of = {name: group for group, names in groups.items() for name in names}

    def inner_edges(name: str) -> str | None:
        targets = [child for child in children[name] if group_of[child] == group_of[name]]
        return f"{name} --> {' & '.join(targets)}" if targets else None

    # An edge within a group is drawn inside its subgraph, which places both ends there; an
    # asset without one is named on its own.
    lines = ["flowchart LR", f"  %% {REGENERATE}"]
    for group in sorted(groups, key=lambda g: (min(depths[n] for n in groups[g]), g)):
        members = sorted(groups[group], key=order.index)
        inner = [inner_edges(name) for name in members]
        linked = {name for name, line in zip(members, inner, strict=True) if line}
        linked |= {child for name in linked for child in children[name] if child in members}
        lines.append(f'  subgraph {group}["{_group_label(group, kinds[group])}"]')
        lines += [f"    {name}" for name in members if name not in linked]
        lines += [f"    {line}" for line in inner if line]
        lines.append("  end")
    # Between groups, an arrow per asset from all its parents elsewhere: `a & b --> c`.
    for name in order:
        outside = [
            p for p in sorted(parents[name], key=order.index) if group_of[p] != group_of[name]
        ]
        if outside:
            lines.append(f"  {' & '.join(outside)} --> {name}")
    return "\n".join(lines)


def readme_flowchart(text: str) -> str:
    """The body of the README's ```mermaid block."""
    start = text.index(BLOCK_START) + len(BLOCK_START)
    return text[start : text.index(BLOCK_END, start)]


def with_flowchart(text: str, flowchart: str) -> str:
    start = text.index(BLOCK_START) + len(BLOCK_START)
    return text[:start] + flowchart + text[text.index(BLOCK_END, start) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite the block in {README.name}")
    args = parser.parse_args(argv)
    from budget_pipeline.definitions import defs

    flowchart = lineage_flowchart(defs())
    if args.write:
        README.write_text(with_flowchart(README.read_text(encoding="utf-8"), flowchart), "utf-8")
    else:
        sys.stdout.write(flowchart + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
