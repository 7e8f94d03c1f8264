"""A deterministic synthetic organisation: the demo source and the test fixture.

Every (actor, day) draws from its own `random.Random(f"{seed}:{actor}:{day}")`, so a day's
records never depend on which other days were generated, in which order, in which process, or
how many seats the organisation has.

The spend spike (every third Wednesday, the `search` team at ~6x) is the only day the combined
alert fires; that separation is tested at the default 40 seats. Below ~20 seats
day totals get noisy enough that an ordinary weekday may occasionally fire, or a spike miss.
"""

import csv
import datetime
import hashlib
import io
import random
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

WORKSTREAMS = ("payments", "search", "platform", "mobile", "data-eng")
ORGANIZATION_ID = "3f6c2a9e-8b1d-4c7e-9a52-0d4e6b7f1c21"

SONNET = "claude-sonnet-4-6"
OPUS = "claude-opus-4-1-20250805"
HAIKU = "claude-haiku-4-5-20251001"
UNPRICED_MODEL = "claude-nova-preview"

CONTRACTOR = "contractor@partner.example"
CI_BOT = "ci-review-bot"
IDLE_SEAT = "idle.person@example.com"
REVIEWER = "reviewer@example.com"
NEW_HIRE = "new.hire@example.com"
UNPRICED_MODEL_USER = "dev003@example.com"
SPIKE_WORKSTREAM = "search"
SPIKE_FACTOR = 6.0

PRICE_ROWS: tuple[tuple[str, float, float, float, float], ...] = (
    ("claude-opus-4-1", 15, 75, 18.75, 1.50),
    ("claude-opus-4", 15, 75, 18.75, 1.50),
    ("claude-opus-4-5", 5, 25, 6.25, 0.50),
    ("claude-sonnet-4-6", 3, 15, 3.75, 0.30),
    ("claude-sonnet-4", 3, 15, 3.75, 0.30),
    ("claude-haiku-4-5", 1, 5, 1.25, 0.10),
)

# Monthly budgets sized for the default 40 seats, so that in the middle of any month the demo
# shows every status: mobile already over its budget, payments heading past it, the other teams
# and the organisation as a whole on track, and Unassigned without a budget. December's lower
# organisation budget shows a month's own row taking precedence over the default (empty) one.
BUDGET_ROWS: tuple[tuple[str, str, int], ...] = (
    ("payments", "", 1200),
    ("search", "", 3500),
    ("platform", "", 2500),
    ("mobile", "", 600),
    ("data-eng", "", 2500),
    ("TOTAL", "", 20000),
    ("TOTAL", "2026-12", 18000),
)

# The bill (docs/rules.md, "The bill"): a negotiated discount on every list amount, and one model
# billed at a list price 12 % above its row in the demo prices.csv, which is stale, so the
# reconciliation check fires and names it.
BILL_DISCOUNT = 0.15
STALE_PRICE_MODEL = OPUS
_BILLED_PRICE_FACTOR = {STALE_PRICE_MODEL: 1.12}

# The API's estimate for the unpriced model: it exists, so the fallback has a number to use.
_UNPRICED_RATES = (4.0, 20.0, 5.0, 0.40)

_TERMINALS = ("vscode", "iterm.app", "jetbrains", "cursor", "apple_terminal", "ghostty", "tmux")

# Mean tokens of one sonnet session, sized so an active developer costs ~$3-20 a day.
_INPUT, _OUTPUT, _CACHE_READ, _CACHE_WRITE = 100_000, 35_000, 1_800_000, 100_000

# Tokens relative to sonnet: opus users burn fewer tokens at five times the price, haiku more.
_MODEL_VOLUME = {SONNET: 1.0, OPUS: 0.3, HAIKU: 1.5, UNPRICED_MODEL: 0.25}


def is_spike_day(day: datetime.date) -> bool:
    """The demo's runaway-spend day: every third Wednesday (ordinal ≡ 10 mod 21)."""
    return day.toordinal() % 21 == 10


def _rates(model: str) -> tuple[float, float, float, float]:
    for name, *rates in sorted(PRICE_ROWS, key=lambda row: -len(row[0])):
        if model == name or model.startswith(name + "-"):
            return rates[0], rates[1], rates[2], rates[3]
    return _UNPRICED_RATES


_RATES = {model: _rates(model) for model in _MODEL_VOLUME}


@dataclass(frozen=True)
class _Developer:
    email: str
    workstream: str
    primary_model: str
    secondary_model: str
    terminal: str
    intensity: float
    monthly_cost_usd: int


@dataclass(frozen=True)
class SyntheticOrganisation:
    seats: int = 40
    seed: int = 7

    @cached_property
    def developers(self) -> tuple[_Developer, ...]:
        developers = []
        for index in range(1, self.seats + 1):
            email = f"dev{index:03d}@example.com"
            rng = random.Random(f"{self.seed}:{email}:profile")
            # Model and intensity cycle with periods coprime to the 5 workstreams, so every team
            # gets the same mix of light and heavy users and the search spike a predictable size.
            primary = OPUS if index % 7 == 2 else HAIKU if index % 9 == 4 else SONNET
            secondary = rng.choice([m for m in (SONNET, OPUS, HAIKU) if m != primary])
            cost = 200 if index % 10 == 7 else 100 if index % 13 == 5 else 150
            developers.append(
                _Developer(
                    email=email,
                    workstream=WORKSTREAMS[(index - 1) % len(WORKSTREAMS)],
                    primary_model=primary,
                    secondary_model=secondary,
                    terminal=rng.choice(_TERMINALS),
                    intensity=0.6 + 0.8 * ((index * 3) % 7) / 6,
                    monthly_cost_usd=cost,
                )
            )
        return tuple(developers)

    @cached_property
    def _actor_order(self) -> tuple[str, ...]:
        # Sorted once so records come out in actor order without a per-day sort.
        actors = [d.email for d in self.developers] + [CONTRACTOR, CI_BOT, REVIEWER]
        return tuple(sorted(actors))

    @cached_property
    def _developer_by_email(self) -> dict[str, _Developer]:
        return {d.email: d for d in self.developers}

    def ledger(self) -> list[tuple[str, str]]:
        rows = [(d.email, d.workstream) for d in self.developers]
        rows += [(CI_BOT, "platform"), (IDLE_SEAT, "mobile"), (REVIEWER, SPIKE_WORKSTREAM)]
        # The Enterprise path names API keys by id only.
        bot_key_id = _billed_actor({"type": "api_actor", "api_key_name": CI_BOT})["api_key_id"]
        rows.append((bot_key_id, "platform"))
        return rows

    def seat_rows(self) -> list[tuple[str, int, str]]:
        rows = [(d.email, d.monthly_cost_usd, "") for d in self.developers]
        rows += [
            (IDLE_SEAT, 150, "Parental leave until March"),
            (REVIEWER, 150, "Review-only role"),
            (NEW_HIRE, 150, ""),
        ]
        return rows

    def records_for(self, day: datetime.date) -> list[dict[str, Any]]:
        """The API records of one UTC day, sorted by actor id."""
        iso = day.isoformat()
        date_text = f"{iso}T00:00:00Z"
        weekday = day.weekday() < 5
        spike = is_spike_day(day)
        developers = self._developer_by_email
        records = []
        # Reseeding one generator equals `random.Random(seed_text)` without the allocation.
        rng = random.Random()
        for actor in self._actor_order:
            rng.seed(f"{self.seed}:{actor}:{iso}")
            developer = developers.get(actor)
            if developer is not None:
                record = _developer_day(rng, developer, date_text, weekday, spike)
            elif actor == CONTRACTOR:
                record = _contractor_day(rng, date_text, weekday)
            elif actor == CI_BOT:
                record = _bot_day(rng, date_text)
            else:
                record = _reviewer_day(rng, date_text, day.weekday())
            if record is not None:
                records.append(record)
        return records

    def workstreams_csv(self) -> str:
        return _csv(("actor", "workstream"), self.ledger())

    def prices_csv(self) -> str:
        rows = [(m, *(_number(v) for v in rates)) for m, *rates in PRICE_ROWS]
        return _csv(
            (
                "model",
                "input_per_mtok",
                "output_per_mtok",
                "cache_write_per_mtok",
                "cache_read_per_mtok",
            ),
            rows,
        )

    def seats_csv(self) -> str:
        return _csv(("email", "monthly_cost_usd", "note"), self.seat_rows())

    def budgets_csv(self) -> str:
        """The demo budgets of the workstreams this organisation's ledger has (a budget for a
        workstream the ledger lacks would stop every run), and the organisation's."""
        known = {workstream for _, workstream in self.ledger()} | {"TOTAL", "Unassigned"}
        rows = [row for row in BUDGET_ROWS if row[0] in known]
        return _csv(("workstream", "month", "budget_usd"), rows)

    def write_config(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "workstreams.csv").write_text(self.workstreams_csv(), encoding="utf-8")
        (directory / "prices.csv").write_text(self.prices_csv(), encoding="utf-8")
        (directory / "seats.csv").write_text(self.seats_csv(), encoding="utf-8")
        (directory / "budgets.csv").write_text(self.budgets_csv(), encoding="utf-8")


DEMO_ORGANISATION = SyntheticOrganisation()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _csv(header: tuple[str, ...], rows: list) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _model_entry(rng: random.Random, model: str, volume: float) -> dict[str, Any]:
    scale = volume * _MODEL_VOLUME[model]
    r = rng.random
    tokens_input = int(_INPUT * scale * (0.8 + 0.4 * r()))
    tokens_output = int(_OUTPUT * scale * (0.8 + 0.4 * r()))
    cache_read = int(_CACHE_READ * scale * (0.8 + 0.4 * r()))
    cache_write = int(_CACHE_WRITE * scale * (0.8 + 0.4 * r()))
    p_in, p_out, p_write, p_read = _RATES[model]
    cost = (
        tokens_input * p_in + tokens_output * p_out + cache_write * p_write + cache_read * p_read
    ) / 1e6
    # The API's own estimate tracks the price table within a few percent, like the real one.
    cents = round(cost * 100 * (0.97 + 0.06 * r()))
    return {
        "model": model,
        "tokens": {
            "input": tokens_input,
            "output": tokens_output,
            "cache_read": cache_read,
            "cache_creation": cache_write,
        },
        "estimated_cost": {"currency": "USD", "amount": cents},
    }


def _record(
    date_text: str,
    actor: dict[str, str],
    terminal: str,
    sessions: int,
    added: int,
    removed: int,
    commits: int,
    pull_requests: int,
    edits: int,
    rng: random.Random,
    breakdown: list[dict[str, Any]],
) -> dict[str, Any]:
    r = rng.random
    return {
        "date": date_text,
        "actor": actor,
        "organization_id": ORGANIZATION_ID,
        "customer_type": "api",
        "subscription_type": "enterprise",
        "terminal_type": terminal,
        "core_metrics": {
            "num_sessions": sessions,
            "lines_of_code": {"added": added, "removed": removed},
            "commits_by_claude_code": commits,
            "pull_requests_by_claude_code": pull_requests,
        },
        "tool_actions": {
            "edit_tool": {"accepted": edits, "rejected": int(edits * 0.15 * r())},
            "multi_edit_tool": {"accepted": int(edits * 0.3 * r()), "rejected": int(2 * r())},
            "write_tool": {"accepted": int(edits * 0.4 * r()), "rejected": 0},
            "notebook_edit_tool": {"accepted": 0, "rejected": 0},
        },
        "model_breakdown": breakdown,
    }


def _developer_day(
    rng: random.Random,
    developer: _Developer,
    date_text: str,
    weekday: bool,
    spike: bool,
) -> dict[str, Any] | None:
    r = rng.random
    burst = spike and developer.workstream == SPIKE_WORKSTREAM
    # A spike is a whole team pushing at once, so nobody on it sits the day out.
    if not burst and r() >= (0.92 if weekday else 0.15):
        return None
    sessions = 3 + int(r() * 6) if weekday else 1 + int(r() * 3)
    volume = sessions * developer.intensity * (0.85 + 0.3 * r())
    if burst:
        # Relative to the developer's typical weekday, not to today's draw, so the spike's size
        # does not hinge on one random session count.
        sessions = max(sessions, 6)
        volume = SPIKE_FACTOR * 5.5 * developer.intensity * (0.85 + 0.3 * r())
    added = int(50 + r() * 850) if weekday else int(20 + r() * 200)
    removed = int(added * 0.5 * r())
    terminal = developer.terminal if r() < 0.85 else _TERMINALS[int(r() * len(_TERMINALS))]
    if r() < 0.25:
        share = 0.15 + 0.3 * r()
        breakdown = [
            _model_entry(rng, developer.primary_model, volume * (1 - share)),
            _model_entry(rng, developer.secondary_model, volume * share),
        ]
    else:
        breakdown = [_model_entry(rng, developer.primary_model, volume)]
    if developer.email == UNPRICED_MODEL_USER and r() < 0.35:
        breakdown.append(_model_entry(rng, UNPRICED_MODEL, sessions * 0.5))
    return _record(
        date_text,
        {"type": "user_actor", "email_address": developer.email},
        terminal,
        sessions,
        added,
        removed,
        int(r() * 6),
        int(r() * 3),
        int(added / 25 * (0.5 + r())),
        rng,
        breakdown,
    )


def _contractor_day(rng: random.Random, date_text: str, weekday: bool) -> dict[str, Any] | None:
    r = rng.random
    if not weekday or r() >= 0.8:
        return None
    sessions = 1 + int(r() * 3)
    added = int(40 + r() * 300)
    return _record(
        date_text,
        {"type": "user_actor", "email_address": CONTRACTOR},
        "vscode",
        sessions,
        added,
        int(added * 0.3 * r()),
        int(r() * 3),
        int(r() * 2),
        int(added / 25),
        rng,
        [_model_entry(rng, SONNET, sessions * 0.5)],
    )


def _bot_day(rng: random.Random, date_text: str) -> dict[str, Any]:
    r = rng.random
    sessions = 3 + int(r() * 10)
    return _record(
        date_text,
        {"type": "api_actor", "api_key_name": CI_BOT},
        "non-interactive",
        sessions,
        int(r() * 30),
        int(r() * 10),
        0,
        0,
        int(r() * 3),
        rng,
        [_model_entry(rng, HAIKU, sessions * 0.3)],
    )


def _reviewer_day(rng: random.Random, date_text: str, weekday: int) -> dict[str, Any] | None:
    # Monday and Thursday only: at most 4 records of at most 4 lines in any 14 days, always < 20.
    if weekday not in (0, 3):
        return None
    r = rng.random
    return _record(
        date_text,
        {"type": "user_actor", "email_address": REVIEWER},
        "jetbrains",
        1,
        int(r() * 5),
        int(r() * 3),
        0,
        0,
        0,
        rng,
        [_model_entry(rng, SONNET, 0.2)],
    )


def _billed_actor(actor: dict[str, str]) -> dict[str, Any]:
    """The cost endpoint's actor: users with their id and name, API keys by id, not by name."""
    if actor["type"] == "api_actor":
        digest = hashlib.sha256(actor["api_key_name"].encode()).hexdigest()[:20]
        return {"type": "api_key_actor", "api_key_id": f"apikey_01{digest}"}
    email = actor["email_address"]
    digest = hashlib.sha256(email.encode()).hexdigest()[:20]
    return {
        "type": "user_actor",
        "user_id": f"user_01{digest}",
        "email_address": email,
        "name": email.split("@")[0],
        "deleted": False,
    }


def _cents(value: float) -> str:
    return f"{value:.6f}"


def billed_rows(records: list[dict[str, Any]], day: datetime.date) -> list[dict[str, Any]]:
    """The cost endpoint's rows for the usage `records` of `day`: one per actor × model, the
    tokens at the list price Anthropic bills (PRICE_ROWS, but for the stale model) and the
    discounted amount, in cents as decimal strings like the API's."""
    start = f"{day.isoformat()}T00:00:00Z"
    end = f"{(day + datetime.timedelta(days=1)).isoformat()}T00:00:00Z"
    rows = []
    for record in records:
        actor = _billed_actor(record["actor"])
        sessions = record["core_metrics"]["num_sessions"]
        for entry in record["model_breakdown"]:
            model, tokens = entry["model"], entry["tokens"]
            p_in, p_out, p_write, p_read = _RATES.get(model) or _rates(model)
            list_cents = (
                (
                    tokens["input"] * p_in
                    + tokens["output"] * p_out
                    + tokens["cache_creation"] * p_write
                    + tokens["cache_read"] * p_read
                )
                / 1e4
                * _BILLED_PRICE_FACTOR.get(model, 1.0)
            )
            rows.append(
                {
                    "starting_at": start,
                    "ending_at": end,
                    "group": {
                        "actor": actor,
                        "model": model,
                        "product": None,
                        "workspace_id": None,
                    },
                    "cost": {
                        "amount": _cents(list_cents * (1 - BILL_DISCOUNT)),
                        "list_amount": _cents(list_cents),
                        "currency": "USD",
                        "requests": sessions * 25,
                    },
                }
            )
    return rows


# -- The same organisation through the Claude Enterprise Analytics API ---------------------------

# On the Enterprise path the new hire uses chat and Office, not Claude Code: a seat that is used,
# just not for Claude Code. The idle seat is listed with zeros; a developer without a Claude Code
# record is listed with zeros on even days and left out on odd ones, as the API may do either.
CHAT_ONLY_SEAT = NEW_HIRE
# A seat-based plan: each member's usage up to this list-price worth a day is covered by the
# seat (billed 0); heavy users are billed for what goes beyond.
SEAT_ALLOWANCE_LIST_USD = 12.0
# A fifth of the cache writes are one-hour writes, reported apart by this path.
_ONE_HOUR_SHARE = 5


def _quiet_member(email: str) -> dict[str, Any]:
    """A member listed with zeros, several blocks absent or null as the API may send them."""
    return {
        "user": {"id": _user_id(email), "email_address": email},
        "claude_code_metrics": None,
        "chat_metrics": {"message_count": 0, "distinct_conversation_count": 0},
        "web_search_count": 0,
        "last_activity_date": None,
    }


def _user_id(email: str) -> str:
    return f"user_01{hashlib.sha256(email.encode()).hexdigest()[:20]}"


def _member_row(rng: random.Random, email: str, record: dict[str, Any] | None) -> dict[str, Any]:
    core = record["core_metrics"] if record is not None else None
    chat = rng.randrange(0, 40)
    row: dict[str, Any] = {
        "user": {"id": _user_id(email), "email_address": email},
        "claude_code_metrics": {
            "core_metrics": {
                "distinct_session_count": core["num_sessions"],
                "commit_count": core["commits_by_claude_code"],
                "pull_request_count": core["pull_requests_by_claude_code"],
                "lines_of_code": {
                    "added_count": core["lines_of_code"]["added"],
                    "removed_count": core["lines_of_code"]["removed"],
                },
            },
            "tool_actions": {
                name: {"accepted_count": v["accepted"], "rejected_count": v["rejected"]}
                for name, v in record["tool_actions"].items()
            },
        }
        if core is not None
        else None,
        "chat_metrics": {"message_count": chat, "distinct_conversation_count": chat // 6},
        "cowork_metrics": {"message_count": rng.randrange(0, 5), "distinct_session_count": 1},
        # Design is not enabled for this organisation: the API sends null.
        "design_metrics": None,
        "office_metrics": {
            "excel": {"message_count": rng.randrange(0, 4)},
            "word": {"message_count": None},
        },
        "web_search_count": rng.randrange(0, 6),
    }
    return row


def enterprise_members(organisation: "SyntheticOrganisation", day: datetime.date) -> list[dict]:
    """The /analytics/users rows of `day`: every member with Claude Code use, plus the seats
    without it (chat-only, listed with zeros, or left out)."""
    rng = random.Random(f"{organisation.seed}:{day.isoformat()}:members")
    coding = {
        r["actor"]["email_address"]: r
        for r in organisation.records_for(day)
        if r["actor"]["type"] == "user_actor"
    }
    rows = [_member_row(rng, email, record) for email, record in coding.items()]
    for email, _, _ in organisation.seat_rows():
        if email in coding:
            continue
        if email == CHAT_ONLY_SEAT:
            row = _member_row(rng, email, None)
            row["chat_metrics"]["message_count"] += 5
            rows.append(row)
        elif email == IDLE_SEAT or day.toordinal() % 2 == 0:
            rows.append(_quiet_member(email))
    return sorted(rows, key=lambda row: row["user"]["email_address"])


def enterprise_usage_rows(records: list[dict[str, Any]], day: datetime.date) -> list[dict]:
    """The /analytics/usage rows of the usage `records`: one per actor × model, API keys by id."""
    start = f"{day.isoformat()}T00:00:00Z"
    end = f"{(day + datetime.timedelta(days=1)).isoformat()}T00:00:00Z"
    rows = []
    for record in records:
        actor = _billed_actor(record["actor"])
        for entry in record["model_breakdown"]:
            tokens = entry["tokens"]
            one_hour = tokens["cache_creation"] // _ONE_HOUR_SHARE
            usage = {
                "uncached_input_tokens": tokens["input"],
                "output_tokens": tokens["output"],
                "cache_read_input_tokens": tokens["cache_read"],
                "cache_creation": {
                    "ephemeral_1h_input_tokens": one_hour,
                    "ephemeral_5m_input_tokens": tokens["cache_creation"] - one_hour,
                },
                "requests": record["core_metrics"]["num_sessions"] * 25,
            }
            usage["total_tokens"] = (
                tokens["input"] + tokens["output"] + tokens["cache_read"] + tokens["cache_creation"]
            )
            rows.append(
                {
                    "starting_at": start,
                    "ending_at": end,
                    "group": {"actor": actor, "model": entry["model"]},
                    "usage": usage,
                }
            )
    return rows


def seat_plan_billed_rows(records: list[dict[str, Any]], day: datetime.date) -> list[dict]:
    """The cost endpoint's rows on a seat-based plan: a member's usage within the seat's daily
    allowance is billed 0, beyond it at list price; API keys are billed for all of it."""
    rows = billed_rows(records, day)
    per_user: dict[str, float] = {}
    for row in rows:
        actor = row["group"]["actor"]
        if actor["type"] == "user_actor":
            key = actor["email_address"]
            per_user[key] = per_user.get(key, 0.0) + float(row["cost"]["list_amount"])
    for row in rows:
        actor = row["group"]["actor"]
        list_cents = float(row["cost"]["list_amount"])
        if actor["type"] == "user_actor":
            total = per_user[actor["email_address"]]
            beyond = max(0.0, total - SEAT_ALLOWANCE_LIST_USD * 100)
            billed = list_cents * beyond / total if total else 0.0
        else:
            billed = list_cents
        row["cost"]["amount"] = _cents(billed)
    return rows
