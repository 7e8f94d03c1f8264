"""What `budget-pipeline` shows of a Dagster run: one line per finished step and the fetch
progress, read from the lines `dagster asset materialize` prints; the rest goes to a log file."""

import re
from dataclasses import dataclass, field

# `<time> - dagster - <LEVEL> - <job> - <run id> - [<pid> - ]<step> - <EVENT or message>`
_RUN_ID = re.compile(r" - ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) - ")
_STEP_EVENT = re.compile(r" - (\w+) - (STEP_SUCCESS|STEP_FAILURE|STEP_START) - ")
# The usage fetch's own progress lines ("fetched 30 of 90 days ...", "fetched and staged ..."),
# logged by raw_layer, the step that fetches raw_usage (and billed_cost beside it).
_FETCHED = re.compile(r" - raw_layer - (fetched .*)$")
# The first line of a failure's error, when it cannot be read from the instance.
_FAILURE_TEXT = re.compile(r"^(?:dagster\.\S*Failure|\w*Error|\w*Exception): (.+)$")


@dataclass
class RunProgress:
    """Follows one run's output line by line; `update` returns what to show, if anything."""

    run_id: str | None = None
    steps_done: list[str] = field(default_factory=list)
    failed_step: str | None = None
    failure_text: str | None = None

    def update(self, line: str) -> str | None:
        line = line.rstrip("\n")
        if self.run_id is None and (match := _RUN_ID.search(line)):
            self.run_id = match.group(1)
            return f"run {self.run_id} started"
        if match := _STEP_EVENT.search(line):
            step, event = match.groups()
            if event == "STEP_SUCCESS":
                self.steps_done.append(step)
                # No columns: a step's name can be any length (a check's step is named after
                # its asset and itself), and a padded column breaks on the first long one.
                done = len(self.steps_done)
                return f"  ✓ {step} ({done} step{'s' if done > 1 else ''} done)"
            if event == "STEP_FAILURE":
                self.failed_step = step
                return f"  {step} failed"
            return None
        if match := _FETCHED.search(line):
            return f"  raw_usage: {match.group(1)}"
        if (
            self.failed_step
            and self.failure_text is None
            and (match := _FAILURE_TEXT.match(line.strip()))
        ):
            self.failure_text = match.group(1)
        return None
