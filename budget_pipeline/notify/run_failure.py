"""What a run-failure notification says, and the failure sensor's memory. No Dagster here."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class FailureCursor:
    """The run-failure sensor's memory, kept by Dagster across ticks and daemon restarts.

    `after_storage_id` is the last run-failure event read; `pending` holds, oldest first, the
    failed runs whose notification is not delivered yet (the webhook failed, or the tick's
    delivery time ran out). A run leaves `pending` only once delivered, so it is never lost and
    never sent twice.
    """

    after_storage_id: int
    pending: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> "FailureCursor":
        data = json.loads(text)
        return cls(after_storage_id=data["after_storage_id"], pending=list(data["pending"]))

    def to_json(self) -> str:
        return json.dumps({"after_storage_id": self.after_storage_id, "pending": self.pending})


def partition_label(tags: Mapping[str, str]) -> str | None:
    """The partition or partition range a run covered, from its tags."""
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}…{end}"
    return tags.get("dagster/partition")


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return "(no error message)"


def run_failure_message(
    job_name: str,
    run_id: str,
    partitions: str | None,
    step_key: str | None,
    error: str | None,
    run_link: str | None = None,
) -> str:
    lines = [
        f":x: budget_pipeline run failed: job {job_name}"
        + (f", partitions {partitions}" if partitions else ""),
        f"• step: {step_key or '(before any step)'}",
        f"• error: {first_line(error)}",
        run_link or f"run id {run_id}",
    ]
    return "\n".join(lines)
