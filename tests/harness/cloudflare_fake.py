"""A stateful fake of the Cloudflare v4 DNS API on a free loopback port.

The real ``cloudflare`` SDK talks to it through ``base_url=fake.base_url``. It
keeps zones and DNS records in memory and answers with the v4 envelope
(``success``, ``errors``, ``messages``, ``result``, ``result_info``). It covers
what the operator's DNS step uses: zone lookup by name, record list with
``page``/``per_page`` and the ``name``/``type``/``content`` filters, create,
get, put, patch and delete; plus what tests need to provoke: a queue of
injected failures (429 with ``Retry-After``) and a log of every call.

It deliberately does not model DNS semantics beyond the one conflict rule the
real API enforces and our code must respect: a CNAME cannot share its name
with an A, AAAA or CNAME record.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TEST_TOKEN = "test-cloudflare-token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ADDRESS_TYPES = frozenset({"A", "AAAA", "CNAME"})
_ZONES = re.compile(r"^/client/v4/zones/?$")
_RECORDS = re.compile(r"^/client/v4/zones/(?P<zone>[^/]+)/dns_records/?$")
_RECORD = re.compile(r"^/client/v4/zones/(?P<zone>[^/]+)/dns_records/(?P<record>[^/]+)$")


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class Failure:
    status: int
    retry_after: str | None
    method: str | None
    """Only calls with this method fail (``None``: any)."""


@dataclass
class CloudflareState:
    token: str
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeCloudflare:
    """Handle on a running fake: seed zones and records, inspect calls."""

    def __init__(self, state: CloudflareState, port: int) -> None:
        self.state = state
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/v4"

    @property
    def token(self) -> str:
        return self.state.token

    def add_zone(self, name: str) -> str:
        zone_id = uuid.uuid4().hex
        with self.state.lock:
            self.state.zones[zone_id] = {"id": zone_id, "name": name, "status": "active"}
            self.state.records[zone_id] = {}
        return zone_id

    def add_record(self, zone_id: str, **fields: Any) -> dict[str, Any]:
        """Seed a record as if someone had created it by hand."""
        with self.state.lock:
            record = _new_record(self.state.zones[zone_id], fields)
            self.state.records[zone_id][record["id"]] = record
            return dict(record)

    def records(self, zone_id: str, *, name: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            found = self.state.records[zone_id].values()
            return [dict(r) for r in found if name is None or r["name"] == name]

    def fail_next(
        self, status: int = 429, *, retry_after: str | None = "1", times: int = 1,
        method: str | None = None,
    ) -> None:  # fmt: skip
        with self.state.lock:
            self.state.failures.extend(Failure(status, retry_after, method) for _ in range(times))

    @property
    def calls(self) -> list[Call]:
        with self.state.lock:
            return list(self.state.calls)

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method in WRITE_METHODS and c.status < 400]

    def reset_calls(self) -> None:
        with self.state.lock:
            self.state.calls.clear()


# --- records ----------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _new_record(zone: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    record = {
        "id": uuid.uuid4().hex,
        "zone_id": zone["id"],
        "zone_name": zone["name"],
        "name": str(fields["name"]).lower().rstrip("."),
        "type": fields["type"],
        "content": fields.get("content", ""),
        "proxied": bool(fields.get("proxied", False)),
        "proxiable": fields["type"] in _ADDRESS_TYPES,
        "ttl": fields.get("ttl", 1),
        "comment": fields.get("comment"),
        "tags": fields.get("tags", []),
        "settings": {},
        "meta": {},
        "created_on": _now(),
        "modified_on": _now(),
    }
    return record


def _matches(record: dict[str, Any], query: dict[str, str]) -> bool:
    checks = {
        "name": lambda r, v: r["name"] == v.lower(),
        "name.exact": lambda r, v: r["name"] == v.lower(),
        "name.startswith": lambda r, v: r["name"].startswith(v.lower()),
        "name.endswith": lambda r, v: r["name"].endswith(v.lower()),
        "type": lambda r, v: r["type"] == v,
        "content": lambda r, v: r["content"].lower() == v.lower(),
        "content.exact": lambda r, v: r["content"].lower() == v.lower(),
        "proxied": lambda r, v: r["proxied"] == (v == "true"),
    }
    return all(check(record, query[key]) for key, check in checks.items() if key in query)


def _conflict(records: dict[str, dict[str, Any]], candidate: dict[str, Any]) -> bool:
    """The real API refuses a CNAME beside another address record of the same name."""
    for other in records.values():
        if other["id"] == candidate["id"] or other["name"] != candidate["name"]:
            continue
        both_address = other["type"] in _ADDRESS_TYPES and candidate["type"] in _ADDRESS_TYPES
        if both_address and "CNAME" in (other["type"], candidate["type"]):
            return True
    return False


# --- HTTP -------------------------------------------------------------------------------------


def _envelope(
    result: Any, *, errors: list[dict[str, Any]] | None = None, info: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": not errors,
        "errors": errors or [],
        "messages": [],
        "result": result,
    }
    if info is not None:
        body["result_info"] = info
    return body


def _page(items: list[dict[str, Any]], query: dict[str, str]) -> tuple[list[Any], dict[str, Any]]:
    page = max(int(float(query.get("page", "1"))), 1)
    per_page = min(max(int(float(query.get("per_page", "100"))), 5), 5000)
    chunk = items[(page - 1) * per_page : page * per_page]
    total_pages = max((len(items) + per_page - 1) // per_page, 1)
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": total_pages,
    }
    return chunk, info


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output clean

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        state = self.server.state
        with state.lock:
            status, body, headers = self._answer(method, parts.path, query, raw)
            state.calls.append(Call(method, parts.path, query, status))
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _answer(
        self, method: str, path: str, query: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        state = self.server.state
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            return (
                403,
                _envelope(None, errors=[{"code": 10000, "message": "Authentication error"}]),
                {},
            )
        failure = next((f for f in state.failures if f.method in (None, method)), None)
        if failure is not None:
            state.failures.remove(failure)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            error = {"code": 971 if failure.status == 429 else 1000, "message": "Injected failure"}
            return failure.status, _envelope(None, errors=[error]), headers
        body = json.loads(raw) if raw else {}
        status, answer = _route(state, method, path, query, body)
        return status, answer, {}


def _route(
    state: CloudflareState, method: str, path: str, query: dict[str, str], body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if _ZONES.match(path) and method == "GET":
        zones = [z for z in state.zones.values() if query.get("name") in (None, z["name"])]
        chunk, info = _page(zones, query)
        return 200, _envelope(chunk, info=info)
    if match := _RECORDS.match(path):
        records = state.records.get(match["zone"])
        if records is None:
            return 404, _envelope(None, errors=[{"code": 7003, "message": "Could not route"}])
        if method == "GET":
            found = sorted((r for r in records.values() if _matches(r, query)), key=_order)
            chunk, info = _page(found, query)
            return 200, _envelope(chunk, info=info)
        if method == "POST":
            record = _new_record(state.zones[match["zone"]], body)
            return _store(records, record)
    if match := _RECORD.match(path):
        records = state.records.get(match["zone"], {})
        record = records.get(match["record"])
        if record is None:
            return 404, _envelope(None, errors=[{"code": 81044, "message": "Record not found"}])
        if method == "GET":
            return 200, _envelope(record)
        if method == "DELETE":
            del records[record["id"]]
            return 200, _envelope({"id": record["id"]})
        if method in ("PUT", "PATCH"):
            base = record if method == "PATCH" else {"id": record["id"]}
            merged = {**base, **body, "id": record["id"], "zone_id": record["zone_id"]}
            updated = {**_new_record(state.zones[match["zone"]], merged), "id": record["id"]}
            updated["created_on"] = record["created_on"]
            return _store(records, updated)
    return 405, _envelope(None, errors=[{"code": 10405, "message": f"{method} {path} not faked"}])


def _order(record: dict[str, Any]) -> tuple[str, str, str]:
    return (record["name"], record["type"], record["created_on"])


def _store(
    records: dict[str, dict[str, Any]], record: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if _conflict(records, record):
        message = "An A, AAAA, or CNAME record with that host already exists."
        return 400, _envelope(None, errors=[{"code": 81053, "message": message}])
    records[record["id"]] = record
    return 200, _envelope(record)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: CloudflareState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def cloudflare_fake(token: str = TEST_TOKEN) -> Iterator[FakeCloudflare]:
    """Serve a fresh fake on a free loopback port for the duration of the block."""
    state = CloudflareState(token=token)
    server = _Server(state)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="cloudflare-fake",
        daemon=True,
    )
    thread.start()
    try:
        yield FakeCloudflare(state, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
