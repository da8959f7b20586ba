"""One proxy hop: the request to the upstream and its answer back, both streamed.

What crosses the hop is decided here. Hop-by-hop headers (RFC 9110 §7.6.1:
``Connection`` and every header it names, ``Keep-Alive``, ``TE``,
``Trailer``, ``Transfer-Encoding``, ``Upgrade``, ``Proxy-*``) stay on their
side. Going up, the client's ``Host`` and every ``X-Tawa-*`` and
``X-Bill-Org`` header are dropped too: the identity an upstream receives is
the one the gateway verified, and nothing else. A client's ``X-Internal-Key``
is dropped as well: the platform's services trust it, so no outside caller
may hand one through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import aiohttp
from multidict import CIMultiDict

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_HOP_BY_HOP = frozenset(
    [b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade"]
)
# Never taken from the client: we set our own, or the body framing decides them.
_NOT_FORWARDED = frozenset([b"host", b"x-bill-org", b"x-request-id", b"expect", b"x-internal-key"])


class ClientGone(Exception):
    """The client disconnected before its request body was read."""


def _named_in_connection(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return named


def _is_hop_by_hop(name: bytes, named: set[bytes]) -> bool:
    return name in _HOP_BY_HOP or name.startswith(b"proxy-") or name in named


def upstream_headers(
    headers: list[tuple[bytes, bytes]],
    *,
    identity: Iterable[tuple[str, str]],
    request_id: str,
    client: str,
    scheme: str,
    keep_length: bool,
) -> CIMultiDict[str]:
    """The headers sent upstream for a client request with ``headers`` (ASGI, lower-case).

    ``X-Forwarded-Host`` and ``-Proto`` keep the values an ingress in front of us
    set, and otherwise say what the client asked for; ``X-Forwarded-For`` gains
    the client's address.
    """
    named = _named_in_connection(headers)
    out: CIMultiDict[str] = CIMultiDict()
    forwarded_for = ""
    host = ""
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1")
        if _is_hop_by_hop(name, named) or name in _NOT_FORWARDED or name.startswith(b"x-tawa-"):
            continue
        if name == b"content-length" and not keep_length:
            continue
        if name == b"x-forwarded-for":
            forwarded_for = value.decode("latin-1") + ", "
            continue
        out.add(name.decode("latin-1"), value.decode("latin-1"))
    for header, text in identity:
        out[header] = text
    out["X-Request-Id"] = request_id
    out["X-Forwarded-For"] = forwarded_for + client
    if host:
        out.setdefault("X-Forwarded-Host", host)
    out.setdefault("X-Forwarded-Proto", scheme)
    return out


def downstream_headers(
    raw: Iterable[tuple[bytes, bytes]], *, request_id: bytes
) -> list[tuple[bytes, bytes]]:
    """The upstream's answer headers, fit to be sent to the client."""
    pairs = [(name.lower(), value) for name, value in raw]
    named = _named_in_connection(pairs)
    out = [
        (name, value)
        for name, value in pairs
        if not _is_hop_by_hop(name, named) and name != b"x-request-id"
    ]
    out.append((b"x-request-id", request_id))
    return out


async def request_body(receive: Receive) -> tuple[bytes | None, AsyncIterator[bytes] | None]:
    """The client's body: whole bytes when it came in one message, else a stream."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    first: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return (first or None), None
    return None, _rest_of_body(first, receive)


async def _rest_of_body(first: bytes, receive: Receive) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def stream_answer(response: aiohttp.ClientResponse, send: Send, *, request_id: bytes) -> None:
    """Send the upstream's status, headers and body to the client as they arrive."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": downstream_headers(response.raw_headers, request_id=request_id),
        }
    )
    # The last chunk carries more_body=False itself: a small answer is one body message.
    content = response.content
    while True:
        chunk = await content.readany()
        last = not chunk or content.at_eof()
        await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        if last:
            return
