"""Contract checks for one page of the Analytics API (docs/rules.md), as pure functions.

A record that breaks the contract stops the day rather than being skipped: a silently dropped
record is spend that disappears from the budget. Records that pass are returned exactly as
parsed, unknown fields included, because the raw table keeps the record as received.

Record numbers in messages are 0-based indexes into the page's `data` list; page numbers are
1-based.
"""

import datetime
import json
import re
from typing import Any, NamedTuple

from budget_pipeline.ingest.errors import BadResponseError

_CORE_COUNTS = ("num_sessions", "commits_by_claude_code", "pull_requests_by_claude_code")
_LINE_COUNTS = ("added", "removed")
# The token kinds every model entry must report (docs/rules.md, "Fetching usage").
TOKEN_KINDS = ("input", "output", "cache_read", "cache_creation")
# The warehouse stores counts as BIGINT: a larger one would be read back as NULL, then summed as 0.
MAX_COUNT = 2**63 - 1
# A date, or a date and time, in ISO 8601's extended form (ASCII digits only).
_DATE_OR_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ].+)?", re.ASCII | re.DOTALL)


class Page(NamedTuple):
    records: list[dict[str, Any]]
    next_page: str | None


def _show(value: object) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_count(value: object) -> bool:
    # bool is a subclass of int, but `true` is not a token count.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _count_problem(where: str, value: object) -> str | None:
    if not _is_count(value):
        return f"{where} is {_show(value)} (must be a non-negative integer)"
    if value > MAX_COUNT:
        return f"{where} is {value} (more than 2^63 - 1, the largest count the warehouse holds)"
    return None


def _actor_problem(actor: object) -> str | None:
    if not isinstance(actor, dict):
        return f"actor is {_show(actor)} (must be an object)"
    kind = actor.get("type")
    if kind == "user_actor":
        key = "email_address"
    elif kind == "api_actor":
        key = "api_key_name"
    else:
        return f"actor.type is {_show(kind)} (must be 'user_actor' or 'api_actor')"
    value = actor.get(key)
    if not isinstance(value, str) or not value.strip():
        return f"actor.{key} is {_show(value)} (must be a non-empty string for {kind})"
    return None


def _utc_day(value: str) -> datetime.date | None:
    """The UTC day of an ISO 8601 date or time (a time without an offset is UTC); None when
    `value` is neither."""
    if not _DATE_OR_TIME.fullmatch(value):
        return None
    if len(value) == 10:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.date()


def _date_problem(value: object, day: datetime.date) -> str | None:
    expected = day.isoformat()
    if not isinstance(value, str):
        return f"date is {_show(value)} (requested day is {expected})"
    # A record belongs to the UTC day it is dated on: one dated 23:00 at UTC-5 is the next
    # day's usage, whatever its first ten characters say.
    utc_day = _utc_day(value)
    if utc_day is None:
        return f"date is {_show(value)} (not an ISO 8601 date or time; requested day is {expected})"
    if utc_day != day:
        if value[:10] == expected:
            return (
                f"date is {_show(value)} ({utc_day.isoformat()} in UTC; requested day is "
                f"{expected})"
            )
        return f"date is {_show(value)} (requested day is {expected})"
    return None


def _core_metrics_problem(metrics: object) -> str | None:
    if not isinstance(metrics, dict):
        return f"core_metrics is {_show(metrics)} (must be an object)"
    for name in _CORE_COUNTS:
        problem = _count_problem(f"core_metrics.{name}", metrics.get(name))
        if problem:
            return problem
    lines = metrics.get("lines_of_code")
    if not isinstance(lines, dict):
        return f"core_metrics.lines_of_code is {_show(lines)} (must be an object)"
    for name in _LINE_COUNTS:
        problem = _count_problem(f"core_metrics.lines_of_code.{name}", lines.get(name))
        if problem:
            return problem
    return None


def _tool_actions_problem(actions: object) -> str | None:
    if actions is None:
        return None
    if not isinstance(actions, dict):
        return f"tool_actions is {_show(actions)} (must be an object)"
    for tool, counts in actions.items():
        if not isinstance(counts, dict):
            return f"tool_actions.{tool} is {_show(counts)} (must be an object)"
        for name in ("accepted", "rejected"):
            if name in counts:
                problem = _count_problem(f"tool_actions.{tool}.{name}", counts[name])
                if problem:
                    return problem
    return None


def _model_breakdown_problem(breakdown: object) -> str | None:
    if breakdown is None:
        return None
    if not isinstance(breakdown, list):
        return f"model_breakdown is {_show(breakdown)} (must be a list)"
    for index, entry in enumerate(breakdown):
        where = f"model_breakdown[{index}]"
        if not isinstance(entry, dict):
            return f"{where} is {_show(entry)} (must be an object)"
        model = entry.get("model")
        if not isinstance(model, str) or not model:
            return f"{where}.model is {_show(model)} (must be a non-empty string)"
        tokens = entry.get("tokens")
        if not isinstance(tokens, dict):
            return f"{where}.tokens is {_show(tokens)} (must be an object)"
        for kind in TOKEN_KINDS:
            if kind not in tokens:
                return f"{where}.tokens.{kind} is missing"
        for kind, value in tokens.items():
            problem = _count_problem(f"{where}.tokens.{kind}", value)
            if problem:
                return problem
        cost = entry.get("estimated_cost")
        if cost is not None:
            amount = cost.get("amount") if isinstance(cost, dict) else cost
            if (
                not isinstance(amount, int | float)
                or isinstance(amount, bool)
                or amount < 0
                or amount != amount
            ):
                return (
                    f"{where}.estimated_cost.amount is {_show(amount)} "
                    "(must be a non-negative number of cents)"
                )
    return None


def record_problem(record: object, day: datetime.date) -> str | None:
    """What is wrong with one record of `day`, or None when it honours the contract."""
    if not isinstance(record, dict):
        return f"is {_show(record)} (must be an object)"
    return (
        _date_problem(record.get("date"), day)
        or _actor_problem(record.get("actor"))
        or _core_metrics_problem(record.get("core_metrics"))
        or _tool_actions_problem(record.get("tool_actions"))
        or _model_breakdown_problem(record.get("model_breakdown"))
    )


def validate_page(
    body: object,
    *,
    day: datetime.date,
    page: int,
    seen_cursors: frozenset[str] | set[str] = frozenset(),
) -> Page:
    """Check one parsed page of `day` and return its records and the next cursor (or None).

    `seen_cursors` are the cursors already followed for this day: getting one back would loop
    forever. Raises BadResponseError naming the day, page, record and problem.
    """
    prefix = f"{day.isoformat()} page {page}"

    def bad(problem: str, where: str = "") -> BadResponseError:
        return BadResponseError(f"{prefix}{where}: {problem}", day=day, page=page)

    if not isinstance(body, dict):
        raise bad(f"response body is {_show(body)} (must be a JSON object)")
    data = body.get("data")
    if not isinstance(data, list):
        raise bad(f"'data' is {_show(data)} (must be a list)")
    has_more = body.get("has_more")
    if not isinstance(has_more, bool):
        raise bad(f"'has_more' is {_show(has_more)} (must be true or false)")
    next_page = body.get("next_page")
    if next_page is not None and not isinstance(next_page, str):
        raise bad(f"'next_page' is {_show(next_page)} (must be a string or null)")
    if has_more and not next_page:
        raise bad("has_more is true but next_page is missing: the rest of the day is unreachable")
    if has_more and next_page in seen_cursors:
        raise bad(f"cursor repeats: pagination loop (next_page {_show(next_page)} already seen)")
    for index, record in enumerate(data):
        problem = record_problem(record, day)
        if problem:
            raise bad(problem, f" record {index}")
    return Page(records=data, next_page=next_page if has_more else None)
