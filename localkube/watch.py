"""WATCH streams over the store's event log.

A watch without ``resourceVersion`` (or with ``"0"``, or with
``sendInitialEvents=true``) first sends the matching objects as ``ADDED``;
a watch from a given ``resourceVersion`` sends only the changes after it,
or one ``ERROR`` event with a 410 when that version has left the log (the
client then lists again, as with a real server). ``timeoutSeconds`` ends the
stream. Selectors apply to both sides of a change, so an object that stops
matching is seen as ``DELETED`` and one that starts matching as ``ADDED``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tawa.localkube.errors import BadRequest, Expired
from tawa.localkube.objects import Kind, Object, present
from tawa.localkube.selectors import Filter
from tawa.localkube.store import Event, Store

WatchEvent = dict[str, Any]


@dataclass(frozen=True)
class WatchRequest:
    kind: Kind
    filter: Filter
    since: str | None = None
    timeout: float | None = None
    initial_events: bool = False
    bookmarks: bool = False


async def stream(store: Store, request: WatchRequest) -> AsyncIterator[WatchEvent]:
    """Yield watch events until the timeout, the client leaving or shutdown."""
    loop = asyncio.get_running_loop()
    deadline = None if request.timeout is None else loop.time() + request.timeout

    # Start either from a snapshot of the current objects or from a revision.
    if request.since in (None, "", "0") or request.initial_events:
        cursor = store.revision
        for obj in store.select(request.kind, request.filter):
            yield {"type": "ADDED", "object": obj}
        if request.initial_events:
            yield _bookmark(request.kind, cursor, initial_events_end=True)
    else:
        cursor = _revision(request.since)
        if cursor < store.evicted:
            yield {"type": "ERROR", "object": _too_old(cursor)}
            return

    # Then follow the log until the deadline.
    while not store.closed:
        signal = store.signal
        for event in store.events_after(cursor):
            cursor = event.revision
            translated = _translate(event, request)
            if translated is not None:
                yield translated
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            break
        try:
            await asyncio.wait_for(signal.wait(), timeout=remaining)
        except TimeoutError:
            break
    if request.bookmarks and not store.closed:
        yield _bookmark(request.kind, cursor)


def _revision(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        raise BadRequest(
            f"resourceVersion {text!r} is not a valid version; send a number"
        ) from None


def _translate(event: Event, request: WatchRequest) -> WatchEvent | None:
    if event.key != request.kind.key:
        return None
    matches_now = request.filter.matches(event.obj)
    matched_before = event.old is not None and request.filter.matches(event.old)
    kind = event.type
    if event.type == "MODIFIED":
        if not matches_now and not matched_before:
            return None
        kind = (
            "MODIFIED" if matches_now and matched_before else "ADDED" if matches_now else "DELETED"
        )
    elif not matches_now:
        return None
    return {"type": kind, "object": present(request.kind, event.obj)}


def _bookmark(kind: Kind, revision: int, *, initial_events_end: bool = False) -> WatchEvent:
    meta: Object = {"resourceVersion": str(revision)}
    if initial_events_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {
        "type": "BOOKMARK",
        "object": {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta},
    }


def _too_old(revision: int) -> Object:
    return Expired(f"too old resource version: {revision}").to_status()
