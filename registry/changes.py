"""The registry's version counter, its change log and the Redis publisher.

Every write of the registry takes the next version from one counter document
(``$inc`` in ``find_one_and_update``, atomic in MongoDB), records a change
entry under that version and, once the write is stored, publishes
``{version, kind, op, service, environment}`` on ``tawa.registry.changes``.

Publishing is best effort by design: when Redis is down the write still
succeeds, a warning is logged and a metric counts it; the gateway heals when
it resubscribes or resyncs, reading the change log or the full table. The
log keeps the last ``retention`` entries; asking for changes it no longer
holds is :class:`~tawa.registry.errors.HistoryGone` (410).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter
from pymongo import ReturnDocument

from tawa.clients.registry import CHANNEL
from tawa.registry.errors import HistoryGone

_COUNTER_ID = "registry"

log = logging.getLogger(__name__)


class ChangeLog:
    """Versions and change entries, kept in two collections of ``db``."""

    def __init__(self, db: Any, *, retention: int, prune_every: int = 100) -> None:
        self._counters = db["counters"]
        self._entries = db["changes"]
        self._retention = max(retention, 1)
        self._prune_every = max(prune_every, 1)
        self.lock = threading.Lock()
        """Held by writers across bump + write + append, so that within one
        registry process a reader never sees version N+1 before N is logged."""

    def start_at(self, floor: int) -> None:
        """Begin counting at ``floor`` if nothing was ever counted; no-op otherwise."""
        self._counters.update_one(
            {"_id": _COUNTER_ID}, {"$setOnInsert": {"value": floor}}, upsert=True
        )

    def current(self) -> int:
        doc = self._counters.find_one({"_id": _COUNTER_ID})
        return int(doc["value"]) if doc else 0

    def next_version(self) -> int:
        doc = self._counters.find_one_and_update(
            {"_id": _COUNTER_ID},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["value"])

    def append(self, version: int, *, kind: str, op: str, **fields: Any) -> dict[str, Any]:
        entry = {"version": version, "kind": kind, "op": op, **fields}
        self._entries.insert_one({"_id": version, **entry, "at": datetime.now(UTC)})
        # Pruning is amortised: the log holds ``retention`` entries plus at most
        # ``prune_every`` more.
        if version % self._prune_every == 0:
            self._entries.delete_many({"_id": {"$lte": version - self._retention}})
        return entry

    def since(self, version: int, *, kind: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """The current version and the entries after ``version`` (of ``kind``)."""
        current = self.current()
        if version > current:
            raise HistoryGone(
                f"version {version} is ahead of the registry ({current}); reload the full table"
            )
        if version == current:
            return current, []
        entries = list(self._entries.find({"_id": {"$gt": version}}, sort=[("_id", 1)]))
        # The log reaches back far enough when it holds the version right after
        # ``version``. A gap (a write that died between taking its version and
        # logging it) answers 410 too, and a full reload is always safe.
        if not entries or int(entries[0]["_id"]) != version + 1:
            raise HistoryGone(
                f"changes after version {version} are no longer kept; reload the full table"
            )
        found = [
            {k: v for k, v in doc.items() if k not in ("_id", "at")}
            for doc in entries
            if kind is None or doc["kind"] == kind
        ]
        return current, found


class Publisher:
    """Publishes change notices on Redis; a failure is logged, never raised."""

    def __init__(self, url: str, *, timeout: float, metrics: CollectorRegistry) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._published = Counter(
            "registry_changes_published_total",
            "Change notices published on Redis",
            registry=metrics,
        )
        self._failed = Counter(
            "registry_publish_failures_total",
            "Change notices Redis did not take (the gateway heals by resync)",
            registry=metrics,
        )

    def publish(self, entry: dict[str, Any]) -> bool:
        notice = {k: entry.get(k) for k in ("version", "kind", "op", "service", "environment")}
        try:
            self._redis.publish(CHANNEL, json.dumps(notice))
        except redis.RedisError as exc:
            self._failed.inc()
            log.warning(
                "Could not publish change %s on Redis (%s); the gateway will resync.",
                entry["version"],
                type(exc).__name__,
            )
            return False
        self._published.inc()
        return True
