"""A loopback stand-in for the Claude Code Analytics Admin API (docs/rules.md, "Fetching usage").

It speaks real HTTP on 127.0.0.1 so that the demo source and the tests exercise exactly the
client code path used against api.anthropic.com, including its faults: scripted 429s, 5xx,
dropped connections, truncated bodies, slow or trickled pages, inconsistent or endless
pagination and a gateway's HTML error page that echoes the request.
"""

import argparse
import base64
import binascii
import contextlib
import datetime
import json
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson

from budget_pipeline.demo.organisation import (
    DEMO_ORGANISATION,
    SyntheticOrganisation,
    billed_rows,
    enterprise_members,
    enterprise_usage_rows,
    seat_plan_billed_rows,
)

USAGE_PATH = "/v1/organizations/usage_report/claude_code"
COST_PATH = "/v1/organizations/analytics/cost"
COST_BETA = "analytics-usage-cost-2026-08-24"
USERS_PATH = "/v1/organizations/analytics/users"
TOKENS_PATH = "/v1/organizations/analytics/usage"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}

# An "html_echo" page is the fault's `message`, then this and the key, then the request's other
# headers one a line: the key starts len(message) + len(ECHO_KEY_PREFIX) characters in.
ECHO_KEY_PREFIX = "<pre>x-api-key: "
FaultKind = Literal["status", "drop", "truncate", "slow", "trickle", "body", "endless", "html_echo"]


@dataclass
class Fault:
    """A scripted misbehaviour, served instead of (or before) the normal answer.

    A fault matches a valid request of its `endpoint` ("usage" or "cost") when its `day` and
    `page_index` (0 = first page of the day) are None or equal; each match consumes one of its
    `times`.
    """

    kind: FaultKind = "status"
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    error_type: str | None = None
    # "slow", "endless": seconds before the answer; "trickle": seconds between the body's bytes.
    # "endless" answers a page without records that has more and a new cursor (a cursor that
    # never ends: give it many `times`).
    delay: float = 0.0
    payload: dict[str, Any] | None = None
    # For "drop": send the headers and half of the announced body before closing.
    mid_response: bool = False
    times: int = 1
    day: datetime.date | None = None
    page_index: int | None = None
    endpoint: Literal["usage", "cost", "users", "tokens"] = "usage"

    def matches(self, day: datetime.date, page_index: int, endpoint: str = "usage") -> bool:
        return (
            self.endpoint == endpoint
            and (self.day is None or self.day == day)
            and (self.page_index is None or self.page_index == page_index)
        )


@dataclass
class RecordedRequest:
    """One request as the server saw it, appended on arrival.

    `status` is filled in just before the response is written, so by the time a client holds
    an answer, the server's log already shows it; it stays None when the connection was dropped.
    """

    method: str
    path: str
    query: dict[str, str]
    # The x-api-key value is replaced by "<redacted>": the log must be safe to print.
    headers: dict[str, str]
    received_at: float  # time.monotonic() on arrival
    status: int | None = None
    fault: FaultKind | None = None


def encode_cursor(day: datetime.date, offset: int, page_index: int) -> str:
    raw = f"{day.isoformat()}|{offset}|{page_index}".encode()
    return "page_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.date, int, int]:
    """Inverse of `encode_cursor`; ValueError for anything it did not produce."""
    if not cursor.startswith("page_"):
        raise ValueError("cursor does not start with page_")
    body = cursor[len("page_") :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        day_text, offset_text, index_text = raw.split("|")
        day = datetime.date.fromisoformat(day_text)
        offset, page_index = int(offset_text), int(index_text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("cursor is not valid") from exc
    if offset < 0 or page_index < 1:
        raise ValueError("cursor is not valid")
    return day, offset, page_index


class _ApiHttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type or _ERROR_TYPES.get(status, "api_error"), "message": message},
    }


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # A slow-fault handler may still be sleeping at shutdown: do not wait for it.
    block_on_close = False
    api: "UsageApiServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on purpose in the timeout tests; a traceback per hang-up is noise.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    entry: RecordedRequest
    server_version = "budget-pipeline-demo-api"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.api._handle(self)

    def do_POST(self) -> None:
        self.server.api._handle(self)


class UsageApiServer:
    """The Analytics API on a loopback port, serving a `SyntheticOrganisation`."""

    def __init__(
        self,
        organisation: SyntheticOrganisation | None = None,
        *,
        api_key: str = "sk-ant-admin-demo",
        page_latency: float = 0.0,
        cache_pages: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        enterprise_lag_days: int = 3,
        today: datetime.date | None = None,
        seat_plan: bool = False,
    ):
        self.organisation = organisation or DEMO_ORGANISATION
        # The Enterprise endpoints serve a day `enterprise_lag_days` after it ends; `today`
        # pins the clock for tests (None: the real UTC day).
        self.enterprise_lag_days = enterprise_lag_days
        self.today = today
        # The bill of a seat-based plan (the Enterprise path): usage within the seats costs 0.
        self.seat_plan = seat_plan
        self._member_overrides: dict[datetime.date, list[dict[str, Any]]] = {}
        self._usage_overrides: dict[datetime.date, list[dict[str, Any]]] = {}
        self._bill_overrides: dict[datetime.date, list[dict[str, Any]]] = {}
        self.page_latency = page_latency
        # Encoded pages kept for the server's lifetime (benchmarks): after a warm-up pass a page
        # costs this process no CPU, like a remote API whose work happens on its own machines.
        self.cache_pages = cache_pages
        self._pages: dict[tuple[datetime.date, int, int], bytes] = {}
        # While `hold` is cleared, page requests wait (at most `hold_timeout` seconds, under the
        # client's 30 s read timeout): tests use it to keep a run inside raw_usage on purpose.
        self.hold = threading.Event()
        self.hold.set()
        self.hold_timeout = 25.0
        self.requests: list[RecordedRequest] = []
        self._api_key = api_key
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._overrides: dict[datetime.date, list[dict[str, Any]]] = {}
        # Generating a 5,000-seat day takes ~0.1 s; cache it so every page does not pay again.
        self._cache: OrderedDict[datetime.date, list[dict[str, Any]]] = OrderedDict()
        self._member_cache: OrderedDict[datetime.date, list[dict[str, Any]]] = OrderedDict()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "not started"
        return f"UsageApiServer({where})"

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "UsageApiServer":
        if self._httpd is not None:
            return self
        httpd = _HttpServer((self._host, self._port), _Handler)
        httpd.api = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.hold.set()  # release handlers held on purpose, or shutdown waits for them
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "UsageApiServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_records(self, day: datetime.date, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._overrides[day] = records

    def set_members(self, day: datetime.date, rows: list[dict[str, Any]]) -> None:
        """The /analytics/users rows of `day`, as given."""
        with self._lock:
            self._member_overrides[day] = rows

    def set_bill(self, day: datetime.date, rows: list[dict[str, Any]]) -> None:
        """The cost endpoint's rows of `day`, as given."""
        with self._lock:
            self._bill_overrides[day] = rows

    def set_token_rows(self, day: datetime.date, rows: list[dict[str, Any]]) -> None:
        """The /analytics/usage rows of `day`, as given."""
        with self._lock:
            self._usage_overrides[day] = rows

    def latest_enterprise_day(self) -> datetime.date:
        today = self.today or datetime.datetime.now(datetime.UTC).date()
        return today - datetime.timedelta(days=self.enterprise_lag_days)

    def users_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == USERS_PATH]

    def tokens_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == TOKENS_PATH]

    def _enterprise_rows(self, day: datetime.date, endpoint: str) -> list[dict[str, Any]]:
        with self._lock:
            overrides = self._member_overrides if endpoint == "users" else self._usage_overrides
            if day in overrides:
                return overrides[day]
        if endpoint == "users":
            return self._members(day)
        return enterprise_usage_rows(self._records(day), day)

    def _members(self, day: datetime.date) -> list[dict[str, Any]]:
        # Like `_records`: a 5,000-member day takes ~0.4 s to generate, and it has five pages.
        with self._lock:
            cached = self._member_cache.get(day)
            if cached is not None:
                self._member_cache.move_to_end(day)
                return cached
        members = enterprise_members(self.organisation, day)
        with self._lock:
            self._member_cache[day] = members
            while len(self._member_cache) > 64:
                self._member_cache.popitem(last=False)
        return members

    def _has_enterprise_override(self, day: datetime.date, endpoint: str) -> bool:
        overrides = self._member_overrides if endpoint == "users" else self._usage_overrides
        with self._lock:
            return day in overrides or day in self._overrides

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def usage_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == USAGE_PATH]

    def cost_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == COST_PATH]

    def _records(self, day: datetime.date) -> list[dict[str, Any]]:
        with self._lock:
            if day in self._overrides:
                return self._overrides[day]
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
        records = self.organisation.records_for(day)
        with self._lock:
            self._cache[day] = records
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return records

    def _take_fault(
        self, day: datetime.date, page_index: int, endpoint: str = "usage"
    ) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(day, page_index, endpoint):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, handler: _Handler, received_at: float) -> RecordedRequest:
        split = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if "x-api-key" in headers:
            headers["x-api-key"] = "<redacted>"
        entry = RecordedRequest(
            method=handler.command,
            path=split.path,
            query=query,
            headers=headers,
            received_at=received_at,
        )
        with self._lock:
            self.requests.append(entry)
        return entry

    def _handle(self, handler: _Handler) -> None:
        handler.entry = self._record(handler, time.monotonic())
        with contextlib.suppress(OSError):
            self._respond(handler)

    def _respond(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        endpoint = {
            USAGE_PATH: "usage",
            COST_PATH: "cost",
            USERS_PATH: "users",
            TOKENS_PATH: "tokens",
        }.get(split.path)
        if endpoint is None:
            self._send_error(handler, 404, f"Not found: {split.path}")
            return
        if handler.command != "GET":
            self._send_error(handler, 405, "Method not allowed")
            return
        try:
            if endpoint in ("cost", "tokens"):
                day, offset, page_index, limit = self._parse_cost_request(handler, split.query)
            elif endpoint == "users":
                day, offset, page_index, limit = self._parse_users_request(handler, split.query)
            else:
                day, offset, page_index, limit = self._parse_request(handler, split.query)
        except _ApiHttpError as exc:
            self._send_error(handler, exc.status, exc.message)
            return

        fault = self._take_fault(day, page_index, endpoint)
        if fault is not None:
            handler.entry.fault = fault.kind
        if fault is not None and fault.kind not in ("slow", "trickle", "endless"):
            self._send_fault(handler, fault)
            return
        if fault is not None and fault.kind in ("slow", "endless"):
            time.sleep(fault.delay)
        self.hold.wait(self.hold_timeout)
        if self.page_latency:
            time.sleep(self.page_latency)
        if fault is not None and fault.kind == "endless":
            self._send_endless_page(handler, day, offset, page_index)
            return

        key = (day, offset, limit, endpoint)
        payload = self._pages.get(key) if self.cache_pages else None
        if payload is None and endpoint in ("users", "tokens"):
            payload = self._enterprise_page(day, offset, limit, page_index, endpoint)
            if self.cache_pages and not self._has_enterprise_override(day, endpoint):
                self._pages[key] = payload
        if payload is None and endpoint == "cost":
            payload = self._cost_page(day, offset, limit, page_index)
            if self.cache_pages and day not in self._overrides:
                self._pages[key] = payload
        if payload is None:
            records = self._records(day)
            page = records[offset : offset + limit]
            has_more = offset + limit < len(records)
            next_page = encode_cursor(day, offset + limit, page_index + 1) if has_more else None
            payload = orjson.dumps({"data": page, "has_more": has_more, "next_page": next_page})
            if self.cache_pages and day not in self._overrides:
                self._pages[key] = payload
        trickle = fault.delay if fault is not None and fault.kind == "trickle" else None
        self._send_bytes(handler, 200, payload, None, trickle=trickle)

    def _send_endless_page(
        self, handler: _Handler, day: datetime.date, offset: int, page_index: int
    ) -> None:
        """A cursor that never ends: no records, always more, and each time a new cursor."""
        next_page = encode_cursor(day, offset, page_index + 1)
        payload = orjson.dumps({"data": [], "has_more": True, "next_page": next_page})
        self._send_bytes(handler, 200, payload, None)

    def _authorise(self, handler: _Handler) -> None:
        """The headers every endpoint asks for: the key (401 otherwise) and the version."""
        if handler.headers.get("x-api-key") != self._api_key:
            raise _ApiHttpError(401, "invalid x-api-key")
        if not handler.headers.get("anthropic-version"):
            raise _ApiHttpError(400, "anthropic-version: header is required")

    def _parse_request(
        self, handler: _Handler, query_text: str
    ) -> tuple[datetime.date, int, int, int]:
        self._authorise(handler)
        query = parse_qs(query_text, keep_blank_values=True)
        starting_at = query.get("starting_at", [""])[-1]
        try:
            day = datetime.date.fromisoformat(starting_at)
        except ValueError:
            raise _ApiHttpError(
                400, f"starting_at: expected a date YYYY-MM-DD, got {starting_at!r}"
            ) from None
        return (day, *self._page_of(query, day, "starting_at"))

    def _cost_page(self, day: datetime.date, offset: int, limit: int, page_index: int) -> bytes:
        """A page of the day's bill, shaped as the cost endpoint's: no has_more, the cursor
        alone says whether the day goes on, and the time the figures were last refreshed."""
        bill = seat_plan_billed_rows if self.seat_plan else billed_rows
        with self._lock:
            given = self._bill_overrides.get(day)
        rows = given if given is not None else bill(self._records(day), day)
        more = offset + limit < len(rows)
        refreshed = datetime.datetime.combine(
            day + datetime.timedelta(days=2), datetime.time(8)
        ).isoformat()
        return orjson.dumps(
            {
                "data": rows[offset : offset + limit],
                "next_page": encode_cursor(day, offset + limit, page_index + 1) if more else None,
                "data_refreshed_at": refreshed + "Z",
            }
        )

    def _enterprise_page(
        self, day: datetime.date, offset: int, limit: int, page_index: int, endpoint: str
    ) -> bytes:
        """A page of the Enterprise endpoints: no has_more, the cursor alone says more."""
        rows = self._enterprise_rows(day, endpoint)
        more = offset + limit < len(rows)
        return orjson.dumps(
            {
                "data": rows[offset : offset + limit],
                "next_page": encode_cursor(day, offset + limit, page_index + 1) if more else None,
            }
        )

    def _refuse_too_early(self, day: datetime.date) -> None:
        latest = self.latest_enterprise_day()
        if day > latest:
            raise _ApiHttpError(
                400,
                f"data for {day.isoformat()} is not available yet; the latest available date "
                f"is {latest.isoformat()}",
            )

    def _parse_users_request(
        self, handler: _Handler, query_text: str
    ) -> tuple[datetime.date, int, int, int]:
        """/analytics/users as the pipeline calls it: `date`, `limit` and the cursor."""
        self._authorise(handler)
        query = parse_qs(query_text, keep_blank_values=True)
        text = query.get("date", [""])[-1]
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise _ApiHttpError(400, f"date: expected YYYY-MM-DD, got {text!r}") from None
        self._refuse_too_early(day)
        return (day, *self._page_of(query, day, "day"))

    def _page_of(self, query: dict, day: datetime.date, day_field: str) -> tuple[int, int, int]:
        """(offset, page index, limit) of the query's `limit` and cursor, which must belong to
        the day the query names in `day_field`."""
        limit_text = query.get("limit", [str(DEFAULT_LIMIT)])[-1]
        limit = int(limit_text) if limit_text.isdigit() else 0
        if not 1 <= limit <= MAX_LIMIT:
            raise _ApiHttpError(400, f"limit: must be between 1 and {MAX_LIMIT}")
        cursor = query.get("page", [None])[-1]
        if cursor is None:
            return 0, 0, limit
        try:
            cursor_day, offset, page_index = decode_cursor(cursor)
        except ValueError:
            raise _ApiHttpError(400, "page: invalid pagination cursor") from None
        if cursor_day != day:
            raise _ApiHttpError(400, f"page: cursor belongs to another {day_field}")
        return offset, page_index, limit

    def _parse_cost_request(
        self, handler: _Handler, query_text: str
    ) -> tuple[datetime.date, int, int, int]:
        """The cost endpoint as the pipeline calls it: one UTC day, Claude Code, by actor and
        model; anything else is a 400 naming the parameter."""
        self._authorise(handler)
        if handler.headers.get("anthropic-beta") != COST_BETA:
            raise _ApiHttpError(400, f"anthropic-beta: this endpoint requires {COST_BETA}")
        query = parse_qs(query_text, keep_blank_values=True)
        starting_at = query.get("starting_at", [""])[-1]
        try:
            start = datetime.datetime.fromisoformat(starting_at.replace("Z", "+00:00"))
        except ValueError:
            raise _ApiHttpError(400, f"starting_at: not a timestamp: {starting_at!r}") from None
        day = start.date()
        ending_at = f"{(day + datetime.timedelta(days=1)).isoformat()}T00:00:00Z"
        expected = {
            "starting_at": [f"{day.isoformat()}T00:00:00Z"],
            "ending_at": [ending_at],
            "time_bucket_width": ["1d"],
            "products[]": ["claude_code"],
            "group_by[]": ["actor", "model"],
        }
        for name, values in expected.items():
            if sorted(query.get(name, [])) != values:
                raise _ApiHttpError(400, f"{name}: the demo serves {values}, got {query.get(name)}")
        return (day, *self._page_of(query, day, "starting_at"))

    def _send_fault(self, handler: _Handler, fault: Fault) -> int | None:
        if fault.kind == "status":
            status = fault.status or 500
            message = fault.message or f"scripted fault {status}"
            body = error_body(status, message, fault.error_type)
            return self._send_json(handler, status, body, fault.headers)
        if fault.kind == "html_echo":
            return self._send_echo_page(handler, fault)
        if fault.kind == "body":
            return self._send_json(handler, fault.status or 200, fault.payload or {}, fault.headers)
        if fault.kind == "truncate":
            payload = json.dumps({"data": [{"date": "x"}] * 20, "has_more": False}).encode()
            truncated = payload[: len(payload) // 2]
            self._send_bytes(handler, fault.status or 200, truncated, fault.headers)
            return fault.status or 200
        # "drop": the connection dies without (or in the middle of) an answer.
        if fault.mid_response:
            payload = json.dumps({"data": [], "has_more": False, "next_page": None}).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload) * 4))
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        return None

    def _send_echo_page(self, handler: _Handler, fault: Fault) -> int:
        """What a gateway in front of the API may answer: an HTML page, not the API's JSON,
        showing the request it refused with every header, the key included."""
        status = fault.status or 403
        others = "".join(
            f"\n{name}: {value}"
            for name, value in handler.headers.items()
            if name.lower() != "x-api-key"
        )
        key = handler.headers.get("x-api-key", "")
        page = f"{fault.message or ''}{ECHO_KEY_PREFIX}{key}{others}</pre></body></html>"
        self._send_bytes(handler, status, page.encode(), fault.headers, content_type="text/html")
        return status

    def _send_error(self, handler: _Handler, status: int, message: str) -> int:
        return self._send_json(handler, status, error_body(status, message))

    def _send_json(
        self,
        handler: _Handler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> int:
        self._send_bytes(handler, status, json.dumps(body).encode(), headers)
        return status

    @staticmethod
    def _send_bytes(
        handler: _Handler,
        status: int,
        payload: bytes,
        headers: dict[str, str] | None,
        *,
        trickle: float | None = None,
        content_type: str = "application/json",
    ) -> None:
        handler.entry.status = status
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("request-id", f"req_demo_{time.monotonic_ns():x}")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if trickle is None:
            handler.wfile.write(payload)
            return
        # Each byte arrives well within any read timeout; only a deadline on the whole
        # request ends this early (a client that gives up makes the next write fail).
        for offset in range(len(payload)):
            handler.wfile.write(payload[offset : offset + 1])
            handler.wfile.flush()
            time.sleep(trickle)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the synthetic organisation over HTTP.")
    parser.add_argument("--seats", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per page request")
    parser.add_argument("--api-key", default="sk-ant-admin-demo")
    parser.add_argument(
        "--cache-pages", action="store_true", help="keep every encoded page (benchmarks)"
    )
    parser.add_argument(
        "--seat-plan", action="store_true", help="bill as a seat-based plan (the Enterprise path)"
    )
    args = parser.parse_args(argv)
    server = UsageApiServer(
        SyntheticOrganisation(seats=args.seats, seed=args.seed),
        api_key=args.api_key,
        page_latency=args.latency,
        cache_pages=args.cache_pages,
        host=args.host,
        port=args.port,
        seat_plan=args.seat_plan,
    ).start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
