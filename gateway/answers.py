"""What the gateway answers by itself, and the access log line of every request."""

from __future__ import annotations

import json
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from tawa.errors import TawaError
from tawa.gateway.forward import Send
from tawa.web import error_body

LOGGED_PATH = 512
access_log = logging.getLogger("tawa.access")


@dataclass(slots=True)
class Call:
    """What the gateway learnt about one request while answering it."""

    method: str
    path: str
    request_id: str
    service: str = "-"
    status: int = 0


async def send_bytes(
    send: Send, status: int, body: bytes, content_type: str, extra: Any = ()
) -> None:
    headers = [(b"content-type", content_type.encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, body: Any, extra: Any = ()) -> None:
    await send_bytes(send, status, json.dumps(body).encode(), "application/json", extra)


async def send_error(send: Send, exc: TawaError, request_id: str) -> None:
    extra = [(b"x-request-id", request_id.encode())]
    if exc.status == 401:
        challenge = 'Bearer realm="tawa"'
        if exc.code == "invalid_token":
            challenge += ', error="invalid_token"'
        extra.append((b"www-authenticate", challenge.encode()))
    body = error_body(exc.code, exc.message, {**exc.details, "requestId": request_id})
    # When the answer had already started (an upstream failing mid-body) nothing can be added.
    with suppress(OSError, RuntimeError):
        await send_json(send, exc.status, body, extra)


def log_access(call: Call, elapsed: float) -> None:
    access_log.info(
        "%s %s %s",
        call.method,
        call.path[:LOGGED_PATH],
        call.status,
        extra={
            "fields": {
                "request_id": call.request_id,
                "service": call.service,
                "status": call.status,
                "duration_ms": round(elapsed * 1000, 2),
            }
        },
    )
